import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/matmul.wgsl?raw';
import { type Dispatch, makeDispatch } from './dispatch.ts';

/** C[b] = op(A[b]) · op(B[b]) (+ bias). Strides and offsets are in elements; a stride of 0 broadcasts. */
export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  batch?: number;
  /**
   * A is stored [K, M] (C = Aᵀ·op(B)). A Linear's weight gradient dW [out, in] = dYᵀ · X is
   * { a: dY [rows, out], b: X [rows, in], M: out, N: in, K: rows, transA: true }.
   */
  transA?: boolean;
  /** B is stored [N, K] (PyTorch Linear weight) instead of [K, N]. */
  transB?: boolean;
  strideA?: number;
  strideB?: number;
  strideC?: number;
  offA?: number;
  offB?: number;
  offC?: number;
}

export interface MatmulBuffers {
  a: GPUBufferBinding;
  b: GPUBufferBinding;
  c: GPUBufferBinding;
  bias?: GPUBufferBinding;
}

const WG = 16;
const TILE = 4 * WG;

/** Fills in the defaults for batch, strides and offsets. */
export function matmulLayout(s: MatmulShape): Required<MatmulShape> {
  return {
    batch: 1,
    transA: false,
    transB: false,
    strideA: s.M * s.K,
    strideB: s.N * s.K,
    strideC: s.M * s.N,
    offA: 0,
    offB: 0,
    offC: 0,
    ...s,
  };
}

export function checkMatmulShape(label: string, s: Required<MatmulShape>): void {
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'number' && (!Number.isInteger(v) || v < 0)) throw new Error(`${label}: ${k} = ${v} is not a non-negative integer`);
  }
  if (s.M < 1 || s.N < 1 || s.K < 1 || s.batch < 1) throw new Error(`${label}: M, N, K and batch must be at least 1 (got ${s.M}, ${s.N}, ${s.K}, ${s.batch})`);
}

/** vec4 loads need every stored row of A and B (and every base offset) to start on a 4-element boundary. */
function canVec4(s: Required<MatmulShape>): boolean {
  const along = [s.transA ? s.M : s.K, s.transB ? s.K : s.N];
  return [...along, s.strideA, s.strideB, s.offA, s.offB].every((v) => v % 4 === 0);
}

/** Elements a binding exposes to the shader (f32). */
function elems(b: GPUBufferBinding): number {
  return Math.floor((b.size ?? b.buffer.size - (b.offset ?? 0)) / 4);
}

/** WGSL clamps out-of-bounds accesses silently, so every element the shape reaches must be in its binding. */
function checkMatmulBuffers(label: string, bufs: MatmulBuffers, s: Required<MatmulShape>): void {
  const extent = (off: number, stride: number, size: number) => off + (s.batch - 1) * stride + size;
  const need: [string, GPUBufferBinding | undefined, number][] = [
    ['a', bufs.a, extent(s.offA, s.strideA, s.M * s.K)],
    ['b', bufs.b, extent(s.offB, s.strideB, s.N * s.K)],
    ['c', bufs.c, extent(s.offC, s.strideC, s.M * s.N)],
    ['bias', bufs.bias, s.N],
  ];
  for (const [name, b, n] of need) {
    if (b && elems(b) < n) throw new Error(`${label}: buffer ${name} holds ${elems(b)} f32 elements, the shape needs ${n}`);
  }
}

export async function matmul(ctx: GpuContext, bufs: MatmulBuffers, shape: MatmulShape, label = 'matmul'): Promise<Dispatch> {
  const s = matmulLayout(shape);
  checkMatmulShape(label, s);
  checkMatmulBuffers(label, bufs, s);
  const pipeline = await ctx.pipelines.get({
    kernel: 'matmul',
    source,
    defines: { TRANS_A: s.transA, TRANS_B: s.transB, BIAS: !!bufs.bias, VEC4: canVec4(s) },
    constants: { WG },
  });
  const params = ctx.uniform(`${label} params`, [s.M, s.N, s.K, s.batch, s.strideA, s.strideB, s.strideC, s.offA, s.offB, s.offC]);
  const grid: [number, number, number] = [Math.ceil(s.N / TILE), Math.ceil(s.M / TILE), s.batch];
  return makeDispatch(ctx, label, pipeline, [bufs.a, bufs.b, bufs.c, bufs.bias, { buffer: params }], grid, [params]);
}

/** CPU reference, accumulating in f64. */
export function matmulRef(a: Float32Array, b: Float32Array, shape: MatmulShape, bias?: Float32Array, c?: Float32Array): Float32Array {
  const s = matmulLayout(shape);
  const out = c ?? new Float32Array(s.offC + (s.batch - 1) * s.strideC + s.M * s.N);
  for (let bt = 0; bt < s.batch; bt++) {
    const ba = s.offA + bt * s.strideA;
    const bb = s.offB + bt * s.strideB;
    const bc = s.offC + bt * s.strideC;
    for (let m = 0; m < s.M; m++) {
      for (let n = 0; n < s.N; n++) {
        let acc = bias ? bias[n] : 0;
        for (let k = 0; k < s.K; k++) {
          acc += (s.transA ? a[ba + k * s.M + m] : a[ba + m * s.K + k]) * (s.transB ? b[bb + n * s.K + k] : b[bb + k * s.N + n]);
        }
        out[bc + m * s.N + n] = acc;
      }
    }
  }
  return out;
}
