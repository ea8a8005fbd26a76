import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attn_entropy.wgsl?raw';
import type { AttnDims } from './attn_select.ts';
import { checkWindow, type RowWindow } from './attn_window.ts';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const ATTN_ENTROPY = kernel({
  name: 'attn_entropy',
  source,
  bindings: { probs: 'read', out: 'write', p: 'uniform' },
  uniforms: { L: 'u32', S: 'u32', l0: 'u32', LT: 'u32', n: 'u32' },
  defines: [],
});

/** The entropy in nats of every row (b, h, l) of `probs` [B, H, L, S] into `out` [B, H, LT] (rows l0 .. l0 + L - 1, see RowWindow); 0 ln 0 counts as 0. */
export async function attnEntropy(
  ctx: GpuContext,
  bufs: { probs: GPUBufferBinding; out: GPUBufferBinding },
  d: AttnDims,
  w: RowWindow = { l0: 0, LT: d.L },
  label = 'attn_entropy',
): Promise<Dispatch> {
  checkWindow(label, d, w);
  const rows = d.B * d.H * d.L;
  const WG = 64;
  return dispatchKernel(ctx, ATTN_ENTROPY, label, {
    bufs,
    need: { probs: rows * d.S, out: d.B * d.H * w.LT },
    params: { L: d.L, S: d.S, l0: w.l0, LT: w.LT, n: rows },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(rows / WG)),
  });
}

/** CPU reference in f64. */
export function attnEntropyRef(probs: Float32Array, d: AttnDims): Float32Array {
  const rows = d.B * d.H * d.L;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let h = 0;
    for (let s = r * d.S; s < (r + 1) * d.S; s++) if (probs[s] > 0) h -= probs[s] * Math.log(probs[s]);
    out[r] = h;
  }
  return out;
}
