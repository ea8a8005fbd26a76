import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/rollout_hat.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const ROLLOUT_HAT = kernel({
  name: 'rollout_hat',
  source,
  bindings: { probs: 'read', out: 'write', p: 'uniform' },
  uniforms: { H: 'u32', L: 'u32', n: 'u32' },
  defines: [],
});

/** Square self-attention probabilities [B, H, L, L]. */
export interface RolloutDims {
  B: number;
  H: number;
  L: number;
}

/**
 * One layer's rollout factor Â = rownorm(0.5·mean_h(P) + 0.5·I) of `probs` [B, H, L, L] into `out` [B, L, L]; the
 * rollout up to a layer is Â_layer · (the rollout up to the layer before), a batched matmul.
 */
export async function rolloutHat(ctx: GpuContext, bufs: { probs: GPUBufferBinding; out: GPUBufferBinding }, d: RolloutDims, label = 'rollout_hat'): Promise<Dispatch> {
  const rows = d.B * d.L;
  const WG = 64;
  return dispatchKernel(ctx, ROLLOUT_HAT, label, {
    bufs,
    need: { probs: d.B * d.H * d.L * d.L, out: rows * d.L },
    params: { H: d.H, L: d.L, n: rows },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(rows / WG)),
  });
}

/** CPU reference in f64. */
export function rolloutHatRef(probs: Float32Array, d: RolloutDims): Float32Array {
  const { B, H, L } = d;
  const out = new Float32Array(B * L * L);
  const v = new Float64Array(L);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      let sum = 0;
      for (let j = 0; j < L; j++) {
        let acc = 0;
        for (let h = 0; h < H; h++) acc += probs[((b * H + h) * L + i) * L + j];
        v[j] = (0.5 * acc) / H + (i === j ? 0.5 : 0);
        sum += v[j];
      }
      for (let j = 0; j < L; j++) out[(b * L + i) * L + j] = sum > 0 ? v[j] / sum : v[j];
    }
  }
  return out;
}
