import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attention_softmax.wgsl?raw';
import { type AttentionMasks, type AttentionShape, attentionLayout } from './attention.ts';
import { bindingElems, type Dispatch, grid1d, makeDispatch } from './dispatch.ts';

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
export async function attentionSoftmax(
  ctx: GpuContext,
  bufs: AttentionSoftmaxBuffers,
  shape: AttentionShape,
  label = 'attention_softmax',
): Promise<Dispatch> {
  const s = attentionLayout(shape);
  const { B, H, L, S } = s;
  for (const [k, v] of [['B', B], ['H', H], ['L', L], ['S', S]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  }
  if (!Number.isFinite(s.scale)) throw new Error(`${label}: scale ${s.scale} is not finite`);
  if (!Number.isInteger(s.causalOffset) || Math.abs(s.causalOffset) >= 2 ** 31) throw new Error(`${label}: causalOffset ${s.causalOffset} is not a 32-bit integer`);
  const rows = B * H * L;
  const need: [string, GPUBufferBinding | undefined, number][] = [
    ['probs', bufs.probs, rows * S],
    ['mask', bufs.mask, (s.maskBatched ? B * H : 1) * L * S],
    ['keyPaddingMask', bufs.keyPaddingMask, B * S],
  ];
  for (const [name, b, n] of need) {
    if (n >= 2 ** 32) throw new Error(`${label}: buffer ${name} needs ${n} elements, past 32-bit indexing`);
    if (b && bindingElems(b) < n) throw new Error(`${label}: buffer ${name} holds ${bindingElems(b)} f32 elements, the shape needs ${n}`);
  }
  for (const [name, b] of [['mask', bufs.mask], ['keyPaddingMask', bufs.keyPaddingMask]] as const) {
    if (b?.buffer === bufs.probs.buffer) throw new Error(`${label}: buffer probs must not be the same GPUBuffer as ${name} (it is written)`);
  }
  const pipeline = await ctx.pipelines.get({
    kernel: 'attention_softmax',
    source,
    defines: { MASK: !!bufs.mask, KPM: !!bufs.keyPaddingMask },
    constants: { WG },
  });
  // A negative causalOffset is stored as its two's complement (the Uint32Array write wraps), read back as i32.
  const params = ctx.uniform(`${label} params`, [rows, L, S, H, s.scale, s.causal ? 1 : 0, s.causalOffset, s.maskBatched ? L * S : 0], new Set([4]));
  return makeDispatch(ctx, label, pipeline, [bufs.probs, bufs.mask, bufs.keyPaddingMask, { buffer: params }], grid1d(ctx, Math.ceil(rows / WG)), [params]);
}

/** CPU reference in f64 of attentionSoftmax: returns the probabilities [B, H, L, S] for the scores [B, H, L, S]. */
export function attentionSoftmaxRef(scores: Float32Array, shape: AttentionShape, masks: AttentionMasks = {}): Float32Array {
  const s = attentionLayout(shape);
  const { B, H, L, S } = s;
  const { mask, keyPaddingMask: kpm } = masks;
  if (scores.length < B * H * L * S) throw new Error(`attentionSoftmaxRef: scores have ${scores.length} elements, the shape needs ${B * H * L * S}`);
  if (mask && mask.length !== (s.maskBatched ? B * H : 1) * L * S) throw new Error(`attentionSoftmaxRef: mask has ${mask.length} elements`);
  if (kpm && kpm.length !== B * S) throw new Error(`attentionSoftmaxRef: keyPaddingMask has ${kpm.length} elements`);
  const out = new Float32Array(B * H * L * S);
  const x = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let l = 0; l < L; l++) {
        const r = ((b * H + h) * L + l) * S;
        let m = -Infinity;
        for (let j = 0; j < S; j++) {
          if (s.causal && j > l + s.causalOffset) {
            x[j] = -Infinity;
            continue;
          }
          let v = s.scale * scores[r + j];
          if (mask) v += mask[(s.maskBatched ? (b * H + h) * L * S : 0) + l * S + j];
          if (kpm) v += kpm[b * S + j];
          x[j] = v;
          m = Math.max(m, v);
        }
        let sum = 0;
        for (let j = 0; j < S; j++) {
          x[j] = m === -Infinity ? 0 : Math.exp(x[j] - m);
          sum += x[j];
        }
        for (let j = 0; j < S; j++) out[r + j] = sum > 0 ? x[j] / sum : 0;
      }
    }
  }
  return out;
}
