import type { GpuContext } from '../gpu/context.ts';
import { ATTENTION, type AttentionBuffers, attentionLayout, attentionNeed, type AttentionShape, checkAttentionShape, type FullAttentionShape } from './attention.ts';
import { attentionSoftmax } from './attention_softmax.ts';
import type { Dispatch } from './dispatch.ts';
import { checkBuffers } from './kernel.ts';
import { matmul, type MatmulOptions, type MatmulShape } from './matmul.ts';

// Attention as matmuls over per-head views: the steps kernel here, and its backward (attention_backward.ts).

type Operand = 'A' | 'B' | 'C';

/** What a per-head matmul reads or writes: rows at one of the shape's layouts, or the [B, H, L, S] probabilities. */
export type HeadView = 'q' | 'k' | 'v' | 'o' | 'probs';

/**
 * Operand X of a per-head matmul viewed as `v`. Without grouped key / value heads (G = H / KVH = 1) one dispatch
 * runs every head: z = b*H + h, matmul's two-level batch with inner H, batch row b from the outer stride. With
 * them one dispatch per batch row `b` runs z = h = g*G + j (inner G): the offset holds b, and the key / value rows
 * step D per group g and 0 per query head j in it, so the G query heads of a group read the same K / V rows and
 * nothing is repeated.
 */
function headView(s: FullAttentionShape, v: HeadView, x: Operand, b?: number): Partial<MatmulShape> {
  const G = s.H / s.KVH;
  const put = (off: number, stride: number, inner: number, ld: number): Partial<MatmulShape> => ({ [`off${x}`]: off, [`stride${x}`]: stride, [`innerStride${x}`]: inner, [`ld${x.toLowerCase()}`]: ld });
  if (v === 'probs') {
    const head = s.L * s.S;
    return b === undefined ? put(0, s.H * head, head, s.S) : put(b * s.H * head, G * head, head, s.S);
  }
  const lay = s[v];
  if (b === undefined) return put(lay.off, lay.strideB, s.D, lay.strideL);
  const kv = v === 'k' || v === 'v';
  return put(lay.off + b * lay.strideB, kv ? s.D : G * s.D, kv ? 0 : s.D, lay.strideL);
}

/**
 * C = alpha · op(A) · op(B) for every (b, h), the operands viewed as `views` (A, B, C): one matmul dispatch over the
 * B*H heads, or with grouped key / value heads one per batch row (see headView).
 */
export function perHead(
  ctx: GpuContext,
  label: string,
  s: FullAttentionShape,
  shape: MatmulShape,
  views: readonly [HeadView, HeadView, HeadView],
  bufs: { a: GPUBufferBinding; b: GPUBufferBinding; c: GPUBufferBinding },
  opts?: MatmulOptions,
): Promise<Dispatch[]> {
  const G = s.H / s.KVH;
  const mm = (b?: number): MatmulShape => ({ ...shape, ...headView(s, views[0], 'A', b), ...headView(s, views[1], 'B', b), ...headView(s, views[2], 'C', b) });
  if (G === 1) return Promise.all([matmul(ctx, bufs, { batch: s.B * s.H, inner: s.H, ...mm() }, label, opts)]);
  return Promise.all(Array.from({ length: s.B }, (_, b) => matmul(ctx, bufs, { batch: s.H, inner: G, ...mm(b) }, s.B > 1 ? `${label} batch ${b}` : label, opts)));
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
 *   probs[b, h] = Q[b, h] · K[b, g]ᵀ                 matmul, z = b*H + h, Q and K rows read at their layouts (g = h / (H / KVH))
 *   probs       = softmax(scale·probs + masks)       attentionSoftmax, in place, causal and fully blocked rows as attention()
 *   O[b, h]     = probs[b, h] · V[b, g]              matmul, written at the o layout (only the H*D columns of each row)
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
  const scores = await perHead(ctx, `${label} scores`, s, { M: L, N: S, K: D, transB: true }, ['q', 'k', 'probs'], { a: bufs.q, b: bufs.k, c: probs }, mm);
  const softmax = await attentionSoftmax(ctx, { probs, mask: bufs.mask, keyPaddingMask: bufs.keyPaddingMask }, s, `${label} softmax`);
  const pv = await perHead(ctx, `${label} P·V`, s, { M: L, N: D, K: S }, ['probs', 'v', 'o'], { a: probs, b: bufs.v, c: bufs.o }, mm);
  return [...scores, softmax, ...pv];
}
