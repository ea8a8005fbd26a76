import type { GpuContext } from '../gpu/context.ts';
import { ATTENTION, type AttentionBuffers, attentionLayout, attentionNeed, type AttentionShape, checkAttentionShape, type FullAttentionShape, type RowLayout } from './attention.ts';
import { attentionSoftmax } from './attention_softmax.ts';
import type { Dispatch } from './dispatch.ts';
import { checkBuffers } from './kernel.ts';
import { matmul, type MatmulOptions, type MatmulShape } from './matmul.ts';

// Attention as matmuls over per-head views: the steps kernel here, and its backward (attention_backward.ts).

type Operand = 'A' | 'B' | 'C';

/** Operand X of a per-head matmul (z = b*H + h, matmul's two-level batch) read as strided rows at `lay`. */
export function headRows(lay: RowLayout, D: number, x: Operand): Partial<MatmulShape> {
  return { [`off${x}`]: lay.off, [`stride${x}`]: lay.strideB, [`innerStride${x}`]: D, [`ld${x.toLowerCase()}`]: lay.strideL };
}

/** Operand X of a per-head matmul read as the contiguous [B, H, L, S] probabilities. */
export function headProbs(s: FullAttentionShape, x: Operand): Partial<MatmulShape> {
  return { [`off${x}`]: 0, [`stride${x}`]: s.H * s.L * s.S, [`innerStride${x}`]: s.L * s.S, [`ld${x.toLowerCase()}`]: s.S };
}

/** C = alpha · op(A) · op(B) for every (b, h): one matmul dispatch over the B*H heads. */
export function perHead(
  ctx: GpuContext,
  label: string,
  s: FullAttentionShape,
  shape: MatmulShape,
  bufs: { a: GPUBufferBinding; b: GPUBufferBinding; c: GPUBufferBinding },
  opts?: MatmulOptions,
): Promise<Dispatch> {
  return matmul(ctx, bufs, { batch: s.B * s.H, inner: s.H, ...shape }, label, opts);
}

export interface AttentionStepsOptions {
  /**
   * Threads per side of the two matmuls' workgroups (matmul's workgroupSize), default 4: a 16x16 tile of the
   * per-head products, the fastest on SwiftShader for attention-sized heads (64x64x32: ~1.3x over 8, ~2.5x over 16).
   */
  workgroupSize?: 4 | 8 | 16;
}

/**
 * The same contract as attention(..., { writeProbs: true }) (probs required, [B, H, L, S]), as three dispatches:
 * scores (matmul), masked softmax in place on probs, P·V (matmul).
 *
 *   probs[b, h] = Q[b, h] · K[b, h]ᵀ                 matmul, z = b*H + h, Q and K rows read at their layouts
 *   probs       = softmax(scale·probs + masks)       attentionSoftmax, in place, causal and fully blocked rows as attention()
 *   O[b, h]     = probs[b, h] · V[b, h]              matmul, written at the o layout (only the H*D columns of each row)
 *
 * Any head dim D (no MAX_HEAD_DIM limit). On SwiftShader this runs several times faster than the fused kernel (which
 * pays per thread at each of its many workgroup barriers); it always materialises the probabilities.
 * `o` must not share a GPUBuffer with probs, q, k or v; `probs` not with q, k, v or the masks.
 */
export async function attentionSteps(ctx: GpuContext, bufs: AttentionBuffers, shape: AttentionShape, label = 'attention_steps', opts: AttentionStepsOptions = {}): Promise<Dispatch[]> {
  const s = attentionLayout(shape);
  checkAttentionShape(label, s, false);
  const probs = bufs.probs;
  if (!probs) throw new Error(`${label}: attentionSteps needs a probs buffer [B, H, L, S]`);
  checkBuffers(label, ATTENTION, bufs, attentionNeed(s));
  const { L, S, D } = s;
  const mm = { workgroupSize: opts.workgroupSize ?? 4 };
  const scores = await perHead(ctx, `${label} scores`, s, {
    M: L, N: S, K: D, transB: true, ...headRows(s.q, D, 'A'), ...headRows(s.k, D, 'B'), ...headProbs(s, 'C'),
  }, { a: bufs.q, b: bufs.k, c: probs }, mm);
  const softmax = await attentionSoftmax(ctx, { probs, mask: bufs.mask, keyPaddingMask: bufs.keyPaddingMask }, s, `${label} softmax`);
  const pv = await perHead(ctx, `${label} P·V`, s, {
    M: L, N: D, K: S, ...headProbs(s, 'A'), ...headRows(s.v, D, 'B'), ...headRows(s.o, D, 'C'),
  }, { a: probs, b: bufs.v, c: bufs.o }, mm);
  return [scores, softmax, pv];
}
