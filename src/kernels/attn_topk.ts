import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attn_topk.wgsl?raw';
import type { AttnDims } from './attn_select.ts';
import { checkWindow, type RowWindow } from './attn_window.ts';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const ATTN_TOPK = kernel({
  name: 'attn_topk',
  source,
  bindings: { probs: 'read', values: 'write', indices: 'write', p: 'uniform' },
  uniforms: { L: 'u32', S: 'u32', K: 'u32', l0: 'u32', LT: 'u32', n: 'u32' },
  defines: [],
});

/** Key indices come back as f32: exact up to 2^24 keys. */
const MAX_KEYS = 2 ** 24;

/** K must be a whole number of keys in [1, S]; S must be exact in f32. */
export function checkTopk(label: string, d: AttnDims, K: number): void {
  if (!Number.isInteger(K) || K < 1 || K > d.S) throw new Error(`${label}: topk ${K} is not a whole number in [1, ${d.S}] (the keys of a row)`);
  if (d.S > MAX_KEYS) throw new Error(`${label}: ${d.S} keys; top-k indices are f32, exact up to ${MAX_KEYS}`);
}

/**
 * Per row (b, h, l) of `probs` [B, H, L, S]: the K largest probabilities, descending, into `values` [B, H, LT, K] and
 * their key indices (as f32) into `indices` (rows l0 .. l0 + L - 1, see RowWindow); equal probabilities keep the lower
 * index first.
 */
export async function attnTopk(
  ctx: GpuContext,
  bufs: { probs: GPUBufferBinding; values: GPUBufferBinding; indices: GPUBufferBinding },
  d: AttnDims,
  K: number,
  w: RowWindow = { l0: 0, LT: d.L },
  label = 'attn_topk',
): Promise<Dispatch> {
  checkTopk(label, d, K);
  checkWindow(label, d, w);
  const rows = d.B * d.H * d.L;
  const WG = 64;
  return dispatchKernel(ctx, ATTN_TOPK, label, {
    bufs,
    need: { probs: rows * d.S, values: d.B * d.H * w.LT * K, indices: d.B * d.H * w.LT * K },
    params: { L: d.L, S: d.S, K, l0: w.l0, LT: w.LT, n: rows },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(rows / WG)),
  });
}

/** CPU reference: a stable sort of each row by probability, descending (ties: lower index first), cut at K. */
export function attnTopkRef(probs: Float32Array, d: AttnDims, K: number): { values: Float32Array; indices: Float32Array } {
  checkTopk('attnTopkRef', d, K);
  const rows = d.B * d.H * d.L;
  const values = new Float32Array(rows * K);
  const indices = new Float32Array(rows * K);
  const order = Array.from({ length: d.S }, (_, s) => s);
  for (let r = 0; r < rows; r++) {
    const row = probs.subarray(r * d.S, (r + 1) * d.S);
    const best = [...order].sort((a, b) => row[b] - row[a] || a - b).slice(0, K);
    best.forEach((s, j) => {
      values[r * K + j] = row[s];
      indices[r * K + j] = s;
    });
  }
  return { values, indices };
}
