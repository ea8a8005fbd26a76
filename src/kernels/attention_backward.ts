import type { GpuContext } from '../gpu/context.ts';
import { attentionLayout, type AttentionShape, checkAttentionShape, type FullAttentionShape, layoutExtent, type RowLayout } from './attention.ts';
import { attentionKvGrad, attentionKvGradRef } from './attention_kv_grad.ts';
import { type HeadView, perHead } from './attention_steps.ts';
import type { Dispatch } from './dispatch.ts';
import { checkBuffers, io, type KernelIO } from './kernel.ts';
import type { MatmulShape } from './matmul.ts';
import { softmaxBackwardRef } from './softmax_backward.ts';

// The backward pass of attention(), as four strided per-head matmuls (matmul's two-level batch over B*H heads,
// row strides for the q/k/v/o layouts) plus softmaxBackward:
//   dP = dO · Vᵀ                    attentionProbsGrad   [B, H, L, S]
//   dS = softmaxBackward(P, dP)     (softmax_backward.ts, rows B*H*L, n S)
//   dQ = scale · dS · K             attentionQueryGrad   at shape.q's layout
//   dK = scale · dSᵀ · Q            attentionKeyGrad     at shape.k's layout
//   dV = Pᵀ · dO                    attentionValueGrad   at shape.v's layout
// `shape` is always the forward attention's shape. Masks need no handling here: blocked keys have P = 0,
// hence dS = 0. Each gradient kernel writes only the H*D columns of its layout, so dQ, dK and dV may be
// slices of one packed [rows, 3E] buffer (packedQkvLayouts), filled by three dispatches.
// With grouped key / value heads (KVH < H) dK and dV sum over the query heads of each group: attentionKvGrad
// (attention_kv_grad.ts) computes them, the other products stay per-head matmuls.

export const ATTENTION_PROBS_GRAD = io('attention_probs_grad', { dO: 'read', v: 'read', dP: 'write' });
export const ATTENTION_QUERY_GRAD = io('attention_query_grad', { dS: 'read', k: 'read', dq: 'write' });
export const ATTENTION_KEY_GRAD = io('attention_key_grad', { dS: 'read', q: 'read', dk: 'write' });
export const ATTENTION_VALUE_GRAD = io('attention_value_grad', { p: 'read', dO: 'read', dv: 'write' });

function extent(s: FullAttentionShape, v: HeadView): number {
  if (v === 'probs') return s.B * s.H * s.L * s.S;
  return v === 'q' || v === 'o' ? layoutExtent(s[v], s.B, s.L, s.H * s.D) : layoutExtent(s[v], s.B, s.S, s.KVH * s.D);
}

/**
 * C = op(A) · op(B) per head, the operands being the io's three buffers in order (the last written), each read at
 * its view. `product` gives M, N, K, transposes and alpha.
 */
async function headGrad<B extends string>(
  ctx: GpuContext,
  kio: KernelIO<B>,
  bufs: Readonly<Record<B, GPUBufferBinding>>,
  shape: AttentionShape,
  label: string,
  views: readonly [HeadView, HeadView, HeadView],
  product: (s: FullAttentionShape) => MatmulShape,
): Promise<Dispatch[]> {
  const s = attentionLayout(shape);
  checkAttentionShape(label, s);
  const [a, b, c] = Object.keys(kio.bindings) as B[];
  checkBuffers(label, kio, bufs, { [a]: extent(s, views[0]), [b]: extent(s, views[1]), [c]: extent(s, views[2]) } as Record<B, number>);
  if (s.KVH < s.H && (views[2] === 'k' || views[2] === 'v')) return [await attentionKvGrad(ctx, { w: bufs[a], x: bufs[b], y: bufs[c] }, views[2], s, label)];
  return perHead(ctx, label, s, product(s), views, { a: bufs[a], b: bufs[b], c: bufs[c] });
}

/** dP[b,h,l,s] = Σ_d dO[b,h,l,d] · V[b,h,s,d]  (dO read at shape.o layout, V at shape.v layout; dP contiguous [B,H,L,S]). */
export function attentionProbsGrad(ctx: GpuContext, bufs: Record<'dO' | 'v' | 'dP', GPUBufferBinding>, shape: AttentionShape, label = 'attention_probs_grad'): Promise<Dispatch[]> {
  return headGrad(ctx, ATTENTION_PROBS_GRAD, bufs, shape, label, ['o', 'v', 'probs'], (s) => ({ M: s.L, N: s.S, K: s.D, transB: true }));
}

/** dQ[b,h,l,d] = scale · Σ_s dS[b,h,l,s] · K[b,h,s,d], written at shape.q layout (only the H*D columns of each q row; other columns of the buffer untouched). */
export function attentionQueryGrad(ctx: GpuContext, bufs: Record<'dS' | 'k' | 'dq', GPUBufferBinding>, shape: AttentionShape, label = 'attention_query_grad'): Promise<Dispatch[]> {
  return headGrad(ctx, ATTENTION_QUERY_GRAD, bufs, shape, label, ['probs', 'k', 'q'], (s) => ({ M: s.L, N: s.D, K: s.S, alpha: s.scale }));
}

/** dK[b,g,s,d] = scale · Σ_{h of group g} Σ_l dS[b,h,l,s] · Q[b,h,l,d], written at shape.k layout (g = h without grouped heads). */
export function attentionKeyGrad(ctx: GpuContext, bufs: Record<'dS' | 'q' | 'dk', GPUBufferBinding>, shape: AttentionShape, label = 'attention_key_grad'): Promise<Dispatch[]> {
  return headGrad(ctx, ATTENTION_KEY_GRAD, bufs, shape, label, ['probs', 'q', 'k'], (s) => ({ M: s.S, N: s.D, K: s.L, alpha: s.scale, transA: true }));
}

/** dV[b,g,s,d] = Σ_{h of group g} Σ_l P[b,h,l,s] · dO[b,h,l,d], written at shape.v layout (dO at shape.o layout). */
export function attentionValueGrad(ctx: GpuContext, bufs: Record<'p' | 'dO' | 'dv', GPUBufferBinding>, shape: AttentionShape, label = 'attention_value_grad'): Promise<Dispatch[]> {
  return headGrad(ctx, ATTENTION_VALUE_GRAD, bufs, shape, label, ['probs', 'o', 'v'], (s) => ({ M: s.S, N: s.D, K: s.L, transA: true }));
}

/**
 * CPU reference (f64 accumulation) of the whole chain: dP = dO·Vᵀ, dS = softmaxBackward(P, dP), dQ = scale·dS·K,
 * dK = scale·dSᵀ·Q, dV = Pᵀ·dO. dP and dS are [B, H, L, S]; dq, dk and dv are arrays sized layoutExtent(...) of
 * the q, k and v layouts, zero outside the written columns. `probs` is the forward's [B, H, L, S] output.
 */
export function attentionBackwardRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  probs: Float32Array,
  dO: Float32Array,
  shape: AttentionShape,
): { dP: Float32Array; dS: Float32Array; dq: Float32Array; dk: Float32Array; dv: Float32Array } {
  const s = attentionLayout(shape);
  const { B, H, L, S, D, scale } = s;
  const E = H * D;
  const G = H / s.KVH;
  const need: [string, Float32Array, number][] = [
    ['q', q, layoutExtent(s.q, B, L, E)],
    ['k', k, layoutExtent(s.k, B, S, s.KVH * D)],
    ['v', v, layoutExtent(s.v, B, S, s.KVH * D)],
    ['probs', probs, B * H * L * S],
    ['dO', dO, layoutExtent(s.o, B, L, E)],
  ];
  for (const [name, a, n] of need) if (a.length < n) throw new Error(`attentionBackwardRef: ${name} has ${a.length} elements, the shape needs ${n}`);
  const dP = new Float32Array(B * H * L * S);
  const dq = new Float32Array(layoutExtent(s.q, B, L, E));
  const at = (lay: RowLayout, b: number, h: number, i: number) => lay.off + b * lay.strideB + i * lay.strideL + h * D;

  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let l = 0; l < L; l++) {
        const ob = at(s.o, b, h, l);
        for (let j = 0; j < S; j++) {
          const vb = at(s.v, b, Math.floor(h / G), j);
          let acc = 0;
          for (let d = 0; d < D; d++) acc += dO[ob + d] * v[vb + d];
          dP[((b * H + h) * L + l) * S + j] = acc;
        }
      }
    }
  }
  const dS = softmaxBackwardRef(probs, dP, { rows: B * H * L, n: S });

  // dQ[b, h, l] = scale · Σ_j dS[b, h, l, j] · K[b, h / G, j]; dK and dV sum over each group's query heads.
  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let l = 0; l < L; l++) {
        acc.fill(0);
        const pb = ((b * H + h) * L + l) * S;
        for (let j = 0; j < S; j++) {
          const g = dS[pb + j];
          if (g === 0) continue;
          const kb = at(s.k, b, Math.floor(h / G), j);
          for (let d = 0; d < D; d++) acc[d] += g * k[kb + d];
        }
        const qb = at(s.q, b, h, l);
        for (let d = 0; d < D; d++) dq[qb + d] = scale * acc[d];
      }
    }
  }
  const dk = attentionKvGradRef(dS, q, 'k', s);
  const dv = attentionKvGradRef(probs, dO, 'v', s);
  return { dP, dS, dq, dk, dv };
}
