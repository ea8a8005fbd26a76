import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/relevance_weighted.wgsl?raw';
import type { AttnDims } from './attn_select.ts';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const RELEVANCE_WEIGHTED = kernel({
  name: 'relevance_weighted',
  source,
  bindings: { probs: 'read', grad: 'read', out: 'write', p: 'uniform' },
  uniforms: { H: 'u32', b: 'u32', n: 'u32' },
  defines: [],
});

/** Ā = mean over heads of max(0, grad ⊙ probs) for batch element `b`: `probs` and `grad` [B, H, L, S] into `out` [L, S]. */
export async function relevanceWeighted(
  ctx: GpuContext,
  bufs: { probs: GPUBufferBinding; grad: GPUBufferBinding; out: GPUBufferBinding },
  d: AttnDims,
  b: number,
  label = 'relevance_weighted',
): Promise<Dispatch> {
  for (const [k, v] of Object.entries(d)) if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  if (!Number.isInteger(b) || b < 0 || b >= d.B) throw new Error(`${label}: batch element ${b} of ${d.B}`);
  const n = d.L * d.S;
  const WG = 64;
  return dispatchKernel(ctx, RELEVANCE_WEIGHTED, label, {
    bufs,
    need: { probs: d.B * d.H * n, grad: d.B * d.H * n, out: n },
    params: { H: d.H, b, n },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(n / WG)),
  });
}

/** CPU reference in f64: [L, S]. */
export function relevanceWeightedRef(probs: Float32Array, grad: Float32Array, d: AttnDims, b: number): Float32Array {
  const { H, L, S } = d;
  const out = new Float32Array(L * S);
  for (let i = 0; i < L * S; i++) {
    let acc = 0;
    for (let h = 0; h < H; h++) acc += Math.max(0, grad[(b * H + h) * L * S + i] * probs[(b * H + h) * L * S + i]);
    out[i] = acc / H;
  }
  return out;
}
