import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attention_kv_grad.wgsl?raw';
import { attentionLayout, type AttentionShape, checkAttentionShape, layoutExtent, type RowLayout } from './attention.ts';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const ATTENTION_KV_GRAD = kernel({
  name: 'attention_kv_grad',
  source,
  bindings: { w: 'read', x: 'read', y: 'write', p: 'uniform' },
  uniforms: {
    n: 'u32', H: 'u32', G: 'u32', L: 'u32', S: 'u32', D: 'u32', alpha: 'f32',
    xOff: 'u32', xStrideB: 'u32', xStrideL: 'u32',
    yOff: 'u32', yStrideB: 'u32', yStrideL: 'u32',
  },
  defines: [],
});

/** Which gradient: dK = scale·Σ dSᵀ·Q (x read at the q layout, y written at k's) or dV = Σ Pᵀ·dO (x at o, y at v). */
export type KvGradOf = 'k' | 'v';

const WG = 64;

function operands(which: KvGradOf, shape: AttentionShape): { x: RowLayout; y: RowLayout; alpha: number; s: ReturnType<typeof attentionLayout> } {
  const s = attentionLayout(shape);
  return which === 'k' ? { x: s.q, y: s.k, alpha: s.scale, s } : { x: s.o, y: s.v, alpha: 1, s };
}

/**
 * The key (which 'k': w = dS, x = Q) or value (which 'v': w = P, x = dO) gradient of attention with KVH key / value
 * heads, each the sum over the H / KVH query heads that read it:
 * y[b, g, s, :] = alpha · Σ_{h of group g} Σ_l w[b, h, l, s] · x[b, h, l, :]. `shape` is the forward's.
 */
export async function attentionKvGrad(
  ctx: GpuContext,
  bufs: { w: GPUBufferBinding; x: GPUBufferBinding; y: GPUBufferBinding },
  which: KvGradOf,
  shape: AttentionShape,
  label = 'attention_kv_grad',
): Promise<Dispatch> {
  const { x, y, alpha, s } = operands(which, shape);
  checkAttentionShape(label, s, false);
  const n = s.B * s.KVH * s.S * s.D;
  return dispatchKernel(ctx, ATTENTION_KV_GRAD, label, {
    bufs,
    need: { w: s.B * s.H * s.L * s.S, x: layoutExtent(x, s.B, s.L, s.H * s.D), y: layoutExtent(y, s.B, s.S, s.KVH * s.D) },
    params: {
      n, H: s.H, G: s.H / s.KVH, L: s.L, S: s.S, D: s.D, alpha,
      xOff: x.off, xStrideB: x.strideB, xStrideL: x.strideL,
      yOff: y.off, yStrideB: y.strideB, yStrideL: y.strideL,
    },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(n / WG)),
  });
}

/** CPU reference in f64: y (zeros outside the written columns, sized for y's layout) from w [B, H, L, S] and x rows. */
export function attentionKvGradRef(w: Float32Array, xs: Float32Array, which: KvGradOf, shape: AttentionShape): Float32Array {
  const { x, y, alpha, s } = operands(which, shape);
  const { B, H, L, S, D } = s;
  const G = H / s.KVH;
  const out = new Float32Array(layoutExtent(y, B, S, s.KVH * D));
  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let g = 0; g < s.KVH; g++) {
      for (let j = 0; j < S; j++) {
        acc.fill(0);
        for (let h = g * G; h < (g + 1) * G; h++) {
          for (let l = 0; l < L; l++) {
            const wt = w[((b * H + h) * L + l) * S + j];
            const xb = x.off + b * x.strideB + l * x.strideL + h * D;
            for (let d = 0; d < D; d++) acc[d] += wt * xs[xb + d];
          }
        }
        const yb = y.off + b * y.strideB + j * y.strideL + g * D;
        for (let d = 0; d < D; d++) out[yb + d] = alpha * acc[d];
      }
    }
  }
  return out;
}
