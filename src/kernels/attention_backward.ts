import type { GpuContext } from '../gpu/context.ts';
import { type AttentionShape, attentionLayout, checkAttentionShape, layoutExtent, type RowLayout } from './attention.ts';
import { bindingElems, type Dispatch } from './dispatch.ts';
import { matmul, type MatmulShape } from './matmul.ts';
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

type FullShape = ReturnType<typeof attentionLayout>;

function checkShape(label: string, s: FullShape): void {
  checkAttentionShape(label, s);
  if (s.B * s.H * s.L * s.S >= 2 ** 32) throw new Error(`${label}: B*H*L*S = ${s.B * s.H * s.L * s.S} does not fit 32-bit indexing`);
}

/** WGSL clamps out-of-bounds accesses silently, so every element read or written must be inside its binding. */
function checkBuffers(label: string, need: [string, GPUBufferBinding, number][], written: string): void {
  for (const [name, b, n] of need) {
    if (n >= 2 ** 32) throw new Error(`${label}: buffer ${name} needs ${n} elements, past 32-bit indexing`);
    if (bindingElems(b) < n) throw new Error(`${label}: buffer ${name} holds ${bindingElems(b)} f32 elements, the shape needs ${n}`);
  }
  const out = need.find(([name]) => name === written)!;
  for (const [name, b] of need) {
    if (name !== written && b.buffer === out[1].buffer) {
      throw new Error(`${label}: buffer ${written} must not be the same GPUBuffer as ${name} (a buffer cannot be bound read-only and writable in one dispatch)`);
    }
  }
}

/** Per-head operand views for matmul's two-level batch (z = b*H + h): a strided row layout, or the [B, H, L, S] probabilities. */
type Operand = 'A' | 'B' | 'C';
function rows(lay: RowLayout, D: number, x: Operand): Partial<MatmulShape> {
  return { [`off${x}`]: lay.off, [`stride${x}`]: lay.strideB, [`innerStride${x}`]: D, [`ld${x.toLowerCase()}`]: lay.strideL };
}
function probs(s: FullShape, x: Operand): Partial<MatmulShape> {
  return { [`off${x}`]: 0, [`stride${x}`]: s.H * s.L * s.S, [`innerStride${x}`]: s.L * s.S, [`ld${x.toLowerCase()}`]: s.S };
}

/** C = alpha · op(A) · op(B) for every (b, h): one matmul dispatch over the B*H heads. */
function perHead(ctx: GpuContext, label: string, s: FullShape, shape: MatmulShape, bufs: { a: GPUBufferBinding; b: GPUBufferBinding; c: GPUBufferBinding }): Promise<Dispatch> {
  return matmul(ctx, bufs, { batch: s.B * s.H, inner: s.H, ...shape }, label);
}

/** dP[b,h,l,s] = Σ_d dO[b,h,l,d] · V[b,h,s,d]  (dO read at shape.o layout, V at shape.v layout; dP contiguous [B,H,L,S]). */
export async function attentionProbsGrad(
  ctx: GpuContext,
  bufs: { dO: GPUBufferBinding; v: GPUBufferBinding; dP: GPUBufferBinding },
  shape: AttentionShape,
  label = 'attention_probs_grad',
): Promise<Dispatch> {
  const s = attentionLayout(shape);
  checkShape(label, s);
  const E = s.H * s.D;
  checkBuffers(label, [
    ['dO', bufs.dO, layoutExtent(s.o, s.B, s.L, E)],
    ['v', bufs.v, layoutExtent(s.v, s.B, s.S, E)],
    ['dP', bufs.dP, s.B * s.H * s.L * s.S],
  ], 'dP');
  return perHead(ctx, label, s, { M: s.L, N: s.S, K: s.D, transB: true, ...rows(s.o, s.D, 'A'), ...rows(s.v, s.D, 'B'), ...probs(s, 'C') }, { a: bufs.dO, b: bufs.v, c: bufs.dP });
}

/** dQ[b,h,l,d] = scale · Σ_s dS[b,h,l,s] · K[b,h,s,d], written at shape.q layout (only the H*D columns of each q row; other columns of the buffer untouched). */
export async function attentionQueryGrad(
  ctx: GpuContext,
  bufs: { dS: GPUBufferBinding; k: GPUBufferBinding; dq: GPUBufferBinding },
  shape: AttentionShape,
  label = 'attention_query_grad',
): Promise<Dispatch> {
  const s = attentionLayout(shape);
  checkShape(label, s);
  const E = s.H * s.D;
  checkBuffers(label, [
    ['dS', bufs.dS, s.B * s.H * s.L * s.S],
    ['k', bufs.k, layoutExtent(s.k, s.B, s.S, E)],
    ['dq', bufs.dq, layoutExtent(s.q, s.B, s.L, E)],
  ], 'dq');
  return perHead(ctx, label, s, { M: s.L, N: s.D, K: s.S, alpha: s.scale, ...probs(s, 'A'), ...rows(s.k, s.D, 'B'), ...rows(s.q, s.D, 'C') }, { a: bufs.dS, b: bufs.k, c: bufs.dq });
}

/** dK[b,h,s,d] = scale · Σ_l dS[b,h,l,s] · Q[b,h,l,d], written at shape.k layout. */
export async function attentionKeyGrad(
  ctx: GpuContext,
  bufs: { dS: GPUBufferBinding; q: GPUBufferBinding; dk: GPUBufferBinding },
  shape: AttentionShape,
  label = 'attention_key_grad',
): Promise<Dispatch> {
  const s = attentionLayout(shape);
  checkShape(label, s);
  const E = s.H * s.D;
  checkBuffers(label, [
    ['dS', bufs.dS, s.B * s.H * s.L * s.S],
    ['q', bufs.q, layoutExtent(s.q, s.B, s.L, E)],
    ['dk', bufs.dk, layoutExtent(s.k, s.B, s.S, E)],
  ], 'dk');
  return perHead(ctx, label, s, { M: s.S, N: s.D, K: s.L, alpha: s.scale, transA: true, ...probs(s, 'A'), ...rows(s.q, s.D, 'B'), ...rows(s.k, s.D, 'C') }, { a: bufs.dS, b: bufs.q, c: bufs.dk });
}

/** dV[b,h,s,d] = Σ_l P[b,h,l,s] · dO[b,h,l,d], written at shape.v layout (dO at shape.o layout). */
export async function attentionValueGrad(
  ctx: GpuContext,
  bufs: { p: GPUBufferBinding; dO: GPUBufferBinding; dv: GPUBufferBinding },
  shape: AttentionShape,
  label = 'attention_value_grad',
): Promise<Dispatch> {
  const s = attentionLayout(shape);
  checkShape(label, s);
  const E = s.H * s.D;
  checkBuffers(label, [
    ['p', bufs.p, s.B * s.H * s.L * s.S],
    ['dO', bufs.dO, layoutExtent(s.o, s.B, s.L, E)],
    ['dv', bufs.dv, layoutExtent(s.v, s.B, s.S, E)],
  ], 'dv');
  return perHead(ctx, label, s, { M: s.S, N: s.D, K: s.L, transA: true, ...probs(s, 'A'), ...rows(s.o, s.D, 'B'), ...rows(s.v, s.D, 'C') }, { a: bufs.p, b: bufs.dO, c: bufs.dv });
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
  const need: [string, Float32Array, number][] = [
    ['q', q, layoutExtent(s.q, B, L, E)],
    ['k', k, layoutExtent(s.k, B, S, E)],
    ['v', v, layoutExtent(s.v, B, S, E)],
    ['probs', probs, B * H * L * S],
    ['dO', dO, layoutExtent(s.o, B, L, E)],
  ];
  for (const [name, a, n] of need) if (a.length < n) throw new Error(`attentionBackwardRef: ${name} has ${a.length} elements, the shape needs ${n}`);
  const dP = new Float32Array(B * H * L * S);
  const dq = new Float32Array(layoutExtent(s.q, B, L, E));
  const dk = new Float32Array(layoutExtent(s.k, B, S, E));
  const dv = new Float32Array(layoutExtent(s.v, B, S, E));
  const at = (lay: RowLayout, b: number, h: number, i: number) => lay.off + b * lay.strideB + i * lay.strideL + h * D;

  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let l = 0; l < L; l++) {
        const ob = at(s.o, b, h, l);
        for (let j = 0; j < S; j++) {
          const vb = at(s.v, b, h, j);
          let acc = 0;
          for (let d = 0; d < D; d++) acc += dO[ob + d] * v[vb + d];
          dP[((b * H + h) * L + l) * S + j] = acc;
        }
      }
    }
  }
  const dS = softmaxBackwardRef(probs, dP, { rows: B * H * L, n: S });

  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const pb = (b * H + h) * L * S;
      for (let l = 0; l < L; l++) {
        acc.fill(0);
        for (let j = 0; j < S; j++) {
          const g = dS[pb + l * S + j];
          if (g === 0) continue;
          const kb = at(s.k, b, h, j);
          for (let d = 0; d < D; d++) acc[d] += g * k[kb + d];
        }
        const qb = at(s.q, b, h, l);
        for (let d = 0; d < D; d++) dq[qb + d] = scale * acc[d];
      }
      for (let j = 0; j < S; j++) {
        acc.fill(0);
        for (let l = 0; l < L; l++) {
          const g = dS[pb + l * S + j];
          if (g === 0) continue;
          const qb = at(s.q, b, h, l);
          for (let d = 0; d < D; d++) acc[d] += g * q[qb + d];
        }
        const kb = at(s.k, b, h, j);
        for (let d = 0; d < D; d++) dk[kb + d] = scale * acc[d];
        acc.fill(0);
        for (let l = 0; l < L; l++) {
          const w = probs[pb + l * S + j];
          if (w === 0) continue;
          const ob = at(s.o, b, h, l);
          for (let d = 0; d < D; d++) acc[d] += w * dO[ob + d];
        }
        const vb = at(s.v, b, h, j);
        for (let d = 0; d < D; d++) dv[vb + d] = acc[d];
      }
    }
  }
  return { dP, dS, dq, dk, dv };
}
