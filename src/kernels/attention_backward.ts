import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attention_backward.wgsl?raw';
import { type AttentionShape, attentionLayout, layoutExtent, MAX_HEAD_DIM, type RowLayout } from './attention.ts';
import { type Dispatch, grid1d, makeDispatch } from './dispatch.ts';
import { softmaxBackwardRef } from './softmax_backward.ts';

// The backward pass of attention(), as four strided per-head products plus softmaxBackward:
//   dP = dO · Vᵀ                    attentionProbsGrad   [B, H, L, S]
//   dS = softmaxBackward(P, dP)     (softmax_backward.ts, rows B*H*L, n S)
//   dQ = scale · dS · K             attentionQueryGrad   at shape.q's layout
//   dK = scale · dSᵀ · Q            attentionKeyGrad     at shape.k's layout
//   dV = Pᵀ · dO                    attentionValueGrad   at shape.v's layout
// `shape` is always the forward attention's shape. Masks need no handling here: blocked keys have P = 0,
// hence dS = 0. Each gradient kernel writes only the H*D columns of its layout, so dQ, dK and dV may be
// slices of one packed [rows, 3E] buffer (packedQkvLayouts), filled by three dispatches.

/** Threads per side of the workgroup (WG x WG = 64 threads); each thread computes a 4x4 block, a 32x32 tile. */
const WG = 8;
const TILE = 4 * WG;

type FullShape = ReturnType<typeof attentionLayout>;

/** Operand (m, k), (k, n) or (m, n) of batch b, head h at off + b*strideB + h*strideH + i*strideI + j*strideJ. */
interface View {
  off: number;
  strideB: number;
  strideH: number;
  /** Stride of the first index (m for A and C, k for B). */
  strideI: number;
  /** Stride of the second index (k for A, n for B and C). */
  strideJ: number;
}

/** The rows (i = l or s, j = d) of a strided Q/K/V/O layout, or their transpose. */
function rows(lay: RowLayout, D: number): View {
  return { off: lay.off, strideB: lay.strideB, strideH: D, strideI: lay.strideL, strideJ: 1 };
}

function transpose(v: View): View {
  return { ...v, strideI: v.strideJ, strideJ: v.strideI };
}

/** The contiguous [B, H, L, S] probabilities (or their gradients): (l, s). */
function probsView(s: FullShape): View {
  return { off: 0, strideB: s.H * s.L * s.S, strideH: s.L * s.S, strideI: s.S, strideJ: 1 };
}

function bindingBytes(b: GPUBufferBinding): number {
  return b.size ?? b.buffer.size - (b.offset ?? 0);
}

function checkShape(label: string, s: FullShape): void {
  const ints: [string, number][] = [
    ['B', s.B], ['H', s.H], ['L', s.L], ['S', s.S], ['D', s.D],
    ...(['q', 'k', 'v', 'o'] as const).flatMap((n) => [[`${n}.off`, s[n].off], [`${n}.strideB`, s[n].strideB], [`${n}.strideL`, s[n].strideL]] as [string, number][]),
  ];
  for (const [k, v] of ints) {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32) throw new Error(`${label}: ${k} = ${v} is not a non-negative 32-bit integer`);
  }
  if (s.B < 1 || s.H < 1 || s.L < 1 || s.S < 1 || s.D < 1) throw new Error(`${label}: B, H, L, S and D must be at least 1 (got ${s.B}, ${s.H}, ${s.L}, ${s.S}, ${s.D})`);
  if (s.D > MAX_HEAD_DIM) throw new Error(`${label}: head dim D = ${s.D} exceeds the attention kernel's maximum of ${MAX_HEAD_DIM}`);
  if (!Number.isFinite(s.scale)) throw new Error(`${label}: scale ${s.scale} is not finite`);
  if (s.B * s.H * s.L * s.S >= 2 ** 32) throw new Error(`${label}: B*H*L*S = ${s.B * s.H * s.L * s.S} does not fit 32-bit indexing`);
}

/** WGSL clamps out-of-bounds accesses silently, so every element read or written must be inside its binding. */
function checkBuffers(label: string, need: [string, GPUBufferBinding, number][], written: string): void {
  for (const [name, b, n] of need) {
    if (n >= 2 ** 32) throw new Error(`${label}: buffer ${name} needs ${n} elements, past 32-bit indexing`);
    if (bindingBytes(b) < 4 * n) throw new Error(`${label}: buffer ${name} holds ${bindingBytes(b) / 4} f32 elements, the shape needs ${n}`);
  }
  const out = need.find(([name]) => name === written)!;
  for (const [name, b] of need) {
    if (name !== written && b.buffer === out[1].buffer) {
      throw new Error(`${label}: buffer ${written} must not be the same GPUBuffer as ${name} (a buffer cannot be bound read-only and writable in one dispatch)`);
    }
  }
}

/** C(m, n) = alpha · Σ_k A(m, k) · B(k, n) for every (b, h): one dispatch of attention_backward.wgsl. */
async function product(
  ctx: GpuContext,
  label: string,
  s: FullShape,
  dims: { M: number; N: number; K: number; alpha: number },
  ops: { a: [GPUBufferBinding, View]; b: [GPUBufferBinding, View]; c: [GPUBufferBinding, View] },
): Promise<Dispatch> {
  const pipeline = await ctx.pipelines.get({ kernel: 'attention_backward', source, constants: { WG } });
  const tilesM = Math.ceil(dims.M / TILE);
  const tilesN = Math.ceil(dims.N / TILE);
  const count = s.B * s.H * tilesM * tilesN;
  if (count >= 2 ** 32) throw new Error(`${label}: ${count} workgroups do not fit 32-bit indexing`);
  const view = (v: View) => [v.off, v.strideB, v.strideH, v.strideI, v.strideJ];
  const words = [dims.M, dims.N, dims.K, s.H, tilesM, tilesN, count, dims.alpha, ...view(ops.a[1]), ...view(ops.b[1]), ...view(ops.c[1])];
  const params = ctx.uniform(`${label} params`, words, new Set([7]));
  return makeDispatch(ctx, label, pipeline, [ops.a[0], ops.b[0], ops.c[0], { buffer: params }], grid1d(ctx, count), [params]);
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
  return product(ctx, label, s, { M: s.L, N: s.S, K: s.D, alpha: 1 }, {
    a: [bufs.dO, rows(s.o, s.D)],
    b: [bufs.v, transpose(rows(s.v, s.D))],
    c: [bufs.dP, probsView(s)],
  });
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
  return product(ctx, label, s, { M: s.L, N: s.D, K: s.S, alpha: s.scale }, {
    a: [bufs.dS, probsView(s)],
    b: [bufs.k, rows(s.k, s.D)],
    c: [bufs.dq, rows(s.q, s.D)],
  });
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
  return product(ctx, label, s, { M: s.S, N: s.D, K: s.L, alpha: s.scale }, {
    a: [bufs.dS, transpose(probsView(s))],
    b: [bufs.q, rows(s.q, s.D)],
    c: [bufs.dk, rows(s.k, s.D)],
  });
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
  return product(ctx, label, s, { M: s.S, N: s.D, K: s.L, alpha: 1 }, {
    a: [bufs.p, transpose(probsView(s))],
    b: [bufs.dO, rows(s.o, s.D)],
    c: [bufs.dv, rows(s.v, s.D)],
  });
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
