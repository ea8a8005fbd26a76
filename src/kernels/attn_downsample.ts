import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attn_downsample.wgsl?raw';
import type { AttnDims } from './attn_select.ts';
import { checkWindow, type RowWindow } from './attn_window.ts';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const ATTN_DOWNSAMPLE = kernel({
  name: 'attn_downsample',
  source,
  bindings: { probs: 'read', blockMax: 'write', blockMean: 'write', p: 'uniform' },
  uniforms: { L: 'u32', S: 'u32', N: 'u32', l0: 'u32', LT: 'u32', n: 'u32' },
  defines: [],
});

/**
 * [from, to) of cell i of an N-cell grid over `len` positions: from = floor(i·len/N), to = max(floor((i+1)·len/N),
 * from + 1). For N <= len the cells partition the positions (sizes differ by at most one); for N > len each position
 * serves one or more cells.
 */
export function blockEdges(i: number, N: number, len: number): [number, number] {
  const from = Math.floor((i * len) / N);
  return [from, Math.max(Math.floor(((i + 1) * len) / N), from + 1)];
}

export function checkDownsample(label: string, d: AttnDims, N: number): void {
  if (!Number.isInteger(N) || N < 1) throw new Error(`${label}: downsample ${N} is not a whole number of cells >= 1`);
  if ((N + 1) * Math.max(d.L, d.S) >= 2 ** 32) throw new Error(`${label}: downsample ${N} over ${Math.max(d.L, d.S)} positions passes 32-bit block edges`);
}

/**
 * Each head's [LT, S] map reduced to an N x N grid of blocks (edges: blockEdges): the block max into `blockMax` and its
 * mean into `blockMean`, both [B, H, N, N]. `probs` [B, H, L, S] holds rows l0 .. l0 + L - 1 (see RowWindow): called
 * for consecutive windows in order, each adds its rows to the blocks (blockMean holds a block's running sum until
 * its last rows come).
 */
export async function attnDownsample(
  ctx: GpuContext,
  bufs: { probs: GPUBufferBinding; blockMax: GPUBufferBinding; blockMean: GPUBufferBinding },
  d: AttnDims,
  N: number,
  w: RowWindow = { l0: 0, LT: d.L },
  label = 'attn_downsample',
): Promise<Dispatch> {
  checkDownsample(label, { ...d, L: w.LT }, N);
  checkWindow(label, d, w);
  const cells = d.B * d.H * N * N;
  const WG = 64;
  return dispatchKernel(ctx, ATTN_DOWNSAMPLE, label, {
    bufs,
    need: { probs: d.B * d.H * d.L * d.S, blockMax: cells, blockMean: cells },
    params: { L: d.L, S: d.S, N, l0: w.l0, LT: w.LT, n: cells },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(cells / WG)),
  });
}

/** CPU reference: the kernel's f32 arithmetic in its order (row-major sum, then one division), so it matches exactly. */
export function attnDownsampleRef(probs: Float32Array, d: AttnDims, N: number): { max: Float32Array; mean: Float32Array } {
  checkDownsample('attnDownsampleRef', d, N);
  const max = new Float32Array(d.B * d.H * N * N);
  const mean = new Float32Array(max.length);
  const f = Math.fround;
  for (let bh = 0; bh < d.B * d.H; bh++) {
    for (let i = 0; i < N; i++) {
      const [r0, r1] = blockEdges(i, N, d.L);
      for (let j = 0; j < N; j++) {
        const [c0, c1] = blockEdges(j, N, d.S);
        let m = 0;
        let sum = 0;
        for (let l = r0; l < r1; l++) {
          for (let s = c0; s < c1; s++) {
            const x = probs[(bh * d.L + l) * d.S + s];
            m = Math.max(m, x);
            sum = f(sum + x);
          }
        }
        const o = (bh * N + i) * N + j;
        max[o] = m;
        mean[o] = f(sum / ((r1 - r0) * (c1 - c0)));
      }
    }
  }
  return { max, mean };
}
