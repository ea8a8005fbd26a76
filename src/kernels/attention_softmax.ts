import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attention_softmax.wgsl?raw';
import { type AttentionMasks, attentionLayout, attentionNeed, type AttentionShape, checkAttentionShape, checkMasksRef, probsRowRef } from './attention.ts';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const ATTENTION_SOFTMAX = kernel({
  name: 'attention_softmax',
  source,
  bindings: { probs: 'read_write', mask: 'read if MASK', keyPaddingMask: 'read if KPM', p: 'uniform' },
  uniforms: { n: 'u32', L: 'u32', S: 'u32', H: 'u32', scale: 'f32', causal: 'u32', causalOffset: 'i32', maskStrideBH: 'u32' },
  defines: ['MASK', 'KPM'],
});

export interface AttentionSoftmaxBuffers {
  /** [B, H, L, S] contiguous: the raw scores Q·Kᵀ in, the probabilities out. */
  probs: GPUBufferBinding;
  /** Additive f32 attn mask, [L, S] or [B*H, L, S] (shape.maskBatched). */
  mask?: GPUBufferBinding;
  /** Additive f32 key-padding mask [B, S]. */
  keyPaddingMask?: GPUBufferBinding;
}

/** Threads per workgroup, one row each (no barriers, so the size only sets the grid's granularity). */
const WG = 64;

/**
 * In place on probs [B, H, L, S]: P = softmax_s(scale·P + mask + keyPaddingMask), with attention()'s masking rules
 * (shape.scale default 1/sqrt(D), shape.causal blocks key s for query l when s > l + causalOffset, default
 * S - L; a fully blocked query gets zeros, not NaN). Only B, H, L, S, scale, causal, causalOffset and maskBatched
 * of `shape` are read. One thread per row: see shaders/attention_softmax.wgsl for why.
 */
export async function attentionSoftmax(ctx: GpuContext, bufs: AttentionSoftmaxBuffers, shape: AttentionShape, label = 'attention_softmax'): Promise<Dispatch> {
  const s = attentionLayout(shape);
  checkAttentionShape(label, s, false);
  const { B, H, L, S } = s;
  const rows = B * H * L;
  return dispatchKernel(ctx, ATTENTION_SOFTMAX, label, {
    bufs,
    need: attentionNeed(s),
    params: { n: rows, L, S, H, scale: s.scale, causal: s.causal, causalOffset: s.causalOffset, maskStrideBH: s.maskBatched ? L * S : 0 },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(rows / WG)),
  });
}

/** CPU reference in f64 of attentionSoftmax: returns the probabilities [B, H, L, S] for the scores [B, H, L, S]. */
export function attentionSoftmaxRef(scores: Float32Array, shape: AttentionShape, masks: AttentionMasks = {}): Float32Array {
  const s = attentionLayout(shape);
  const { B, H, L, S } = s;
  if (scores.length < B * H * L * S) throw new Error(`attentionSoftmaxRef: scores have ${scores.length} elements, the shape needs ${B * H * L * S}`);
  checkMasksRef('attentionSoftmaxRef', s, masks);
  const out = new Float32Array(B * H * L * S);
  const x = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let l = 0; l < L; l++) {
        const r = ((b * H + h) * L + l) * S;
        probsRowRef(s, masks, b, h, l, x, (j) => scores[r + j]);
        out.set(x, r);
      }
    }
  }
  return out;
}
