import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attention_flash.wgsl?raw';
import { type AttentionBuffers, attentionLayout, type AttentionMasks, attentionNeed, type AttentionShape, checkAttentionShape, probsRowRef } from './attention.ts';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

/** attention()'s contract without probabilities (its bindings and uniforms less B: n = B*H*L rows), one invocation per query row. */
export const ATTENTION_FLASH = kernel({
  name: 'attention_flash',
  source,
  bindings: { q: 'read', k: 'read', v: 'read', o: 'write', mask: 'read', keyPaddingMask: 'read', p: 'uniform' },
  uniforms: {
    H: 'u32', L: 'u32', S: 'u32', D: 'u32', G: 'u32', scale: 'f32', causal: 'u32', causalOffset: 'i32',
    qOff: 'u32', qStrideB: 'u32', qStrideL: 'u32',
    kOff: 'u32', kStrideB: 'u32', kStrideL: 'u32',
    vOff: 'u32', vStrideB: 'u32', vStrideL: 'u32',
    oOff: 'u32', oStrideB: 'u32', oStrideL: 'u32',
    maskStrideBH: 'u32', hasMask: 'u32', hasKpm: 'u32', n: 'u32',
  },
  defines: [],
});

/**
 * attention() without probabilities (its reference is attentionRef), for CPU adapters and long sequences: one
 * invocation per query row (b, h, l) with an online softmax over the keys, no workgroup memory or barriers, and no
 * buffer of size [L, S] (the steps kernel writes one; the fused kernel keeps key blocks in workgroup memory). Same
 * layouts, masks, causal rule, grouped key / value heads, fully blocked rows (zeros) and head-dim limit (256).
 */
export async function attentionFlash(ctx: GpuContext, bufs: Omit<AttentionBuffers, 'probs'>, shape: AttentionShape, label = 'attention_flash'): Promise<Dispatch> {
  const s = attentionLayout(shape);
  checkAttentionShape(label, s);
  const need = attentionNeed(s);
  const rows = s.B * s.H * Math.ceil(s.L / 4);
  const WG = 64;
  return dispatchKernel(ctx, ATTENTION_FLASH, label, {
    bufs: { ...bufs, mask: bufs.mask ?? bufs.q, keyPaddingMask: bufs.keyPaddingMask ?? bufs.q },
    need: { q: need.q, k: need.k, v: need.v, o: need.o, mask: bufs.mask && need.mask, keyPaddingMask: bufs.keyPaddingMask && need.keyPaddingMask },
    params: {
      H: s.H, L: s.L, S: s.S, D: s.D, G: s.H / s.KVH, scale: s.scale, causal: s.causal, causalOffset: s.causalOffset,
      qOff: s.q.off, qStrideB: s.q.strideB, qStrideL: s.q.strideL,
      kOff: s.k.off, kStrideB: s.k.strideB, kStrideL: s.k.strideL,
      vOff: s.v.off, vStrideB: s.v.strideB, vStrideL: s.v.strideL,
      oOff: s.o.off, oStrideB: s.o.strideB, oStrideL: s.o.strideL,
      maskStrideBH: s.maskBatched ? s.L * s.S : 0, hasMask: !!bufs.mask, hasKpm: !!bufs.keyPaddingMask, n: rows,
    },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(rows / WG)),
  });
}

/**
 * One output row of attentionRef (batch b, head h, query l: D values, f64) without its [B, H, L, S] probabilities: the
 * reference for sampled rows of an attention too long for the whole reference (8,192 tokens).
 */
export function attentionRowRef(q: Float32Array, k: Float32Array, v: Float32Array, shape: AttentionShape, masks: AttentionMasks, b: number, h: number, l: number): Float64Array {
  const s = attentionLayout(shape);
  const { S, D } = s;
  const kh = Math.floor(h / (s.H / s.KVH));
  const qb = s.q.off + b * s.q.strideB + l * s.q.strideL + h * D;
  const row = new Float64Array(S);
  probsRowRef(s, masks, b, h, l, row, (j) => {
    const kb = s.k.off + b * s.k.strideB + j * s.k.strideL + kh * D;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += q[qb + d] * k[kb + d];
    return dot;
  });
  const out = new Float64Array(D);
  for (let j = 0; j < S; j++) {
    if (row[j] === 0) continue;
    const vb = s.v.off + b * s.v.strideB + j * s.v.strideL + kh * D;
    for (let d = 0; d < D; d++) out[d] += row[j] * v[vb + d];
  }
  return out;
}
