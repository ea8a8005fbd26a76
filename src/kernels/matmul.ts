import type { GpuContext } from '../gpu/context.ts';
import { type HalfDType, roundedTo } from '../gpu/half.ts';
import directSource from '../../shaders/matmul_direct.wgsl?raw';
import source from '../../shaders/matmul.wgsl?raw';
import type { Dispatch } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

/** The tiled kernel's contract; the direct kernel (another source) has the same. */
export const MATMUL = kernel({
  name: 'matmul',
  source,
  bindings: { a: 'read T', b: 'read TH', c: 'write', bias: 'read if BIAS', p: 'uniform' },
  uniforms: {
    M: 'u32', N: 'u32', K: 'u32',
    strideA: 'u32', strideB: 'u32', strideC: 'u32',
    offA: 'u32', offB: 'u32', offC: 'u32',
    lda: 'u32', ldb: 'u32', ldc: 'u32', inner: 'u32',
    innerA: 'u32', innerB: 'u32', innerC: 'u32',
    alpha: 'f32',
  },
  defines: ['TRANS_A', 'TRANS_B', 'BIAS', 'VEC4', 'HALF', 'BF16'],
});
const MATMUL_DIRECT = { ...MATMUL, name: 'matmul_direct', source: directSource, defines: [...MATMUL.defines, 'ROW' as const, 'SUBGROUP' as const] };

/**
 * Whether the direct kernel's blocks share A's loads through subgroup broadcasts: it needs the 'subgroups' feature and
 * subgroups of exactly 4 invocations (SwiftShader's SIMD width), 4 consecutive invocations of one row of blocks.
 */
export function subgroupsOf4(ctx: GpuContext): boolean {
  return ctx.features.has('subgroups') && ctx.adapterInfo.subgroupMinSize === 4 && ctx.adapterInfo.subgroupMaxSize === 4;
}

/** Rows of C up to which the direct kernel gives each invocation one row (8 columns) instead of a 16x16 block. */
export const DIRECT_ROW_MAX_M = 3;

/**
 * C[z] = op(A[z]) · op(B[z]) (+ bias) for z < batch. Strides and offsets are in elements; a stride of 0 broadcasts.
 * Row r of operand X (a, b or c) in batch z starts at offX + (z / inner)·strideX + (z % inner)·innerStrideX + r·ldX
 * (integer division); the defaults (dense rows, inner = 1) give offX + z·strideX + r·(stored row length).
 */
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
  /**
   * How B is stored: f32 (default), or 16-bit floats packed two to a u32 word (a weight kept in its checkpoint's
   * F16 / BF16: src/tensor.ts), widened in the kernel. Offsets, strides and row lengths stay in elements.
   */
  dtypeB?: 'f32' | HalfDType;
  strideA?: number;
  strideB?: number;
  strideC?: number;
  offA?: number;
  offB?: number;
  offC?: number;
  /** Multiplies the product (before the bias); default 1. */
  alpha?: number;
  /** Row stride of A as stored (≥ K, or ≥ M with transA); default the row length. */
  lda?: number;
  /** Row stride of B as stored (≥ N, or ≥ K with transB); default the row length. */
  ldb?: number;
  /** Row stride of C (≥ N); default N. */
  ldc?: number;
  /**
   * Two-level batch: batch index z is (z / inner, z % inner); the outer index steps by strideX, the inner one by
   * innerStrideX. Default 1 (a plain batch). Attention per (batch b, head h): z = b·H + h, inner = H.
   */
  inner?: number;
  innerStrideA?: number;
  innerStrideB?: number;
  innerStrideC?: number;
}

export interface MatmulOptions {
  /**
   * Threads per side of the workgroup: 4, 8 or 16. Tiled: a (4·WG) x (4·WG) tile of C per workgroup, default 16. On
   * SwiftShader small ones win for small products (a workgroup's invocations run as coroutines switched at every
   * barrier): attention's per-head 64x64x32 products run ~2.5x faster with 4 than with 16. Direct: WG·WG invocations
   * of 16x16 blocks, a (16·WG) x (16·WG) tile, default 4.
   */
  workgroupSize?: 4 | 8 | 16;
  /**
   * The barrier-free kernel (matmul_direct.wgsl): each invocation computes a 16x16 block of C straight from global
   * memory, no workgroup memory. Same contract, shapes and results (up to summation order) as the tiled kernel;
   * made for CPU adapters (SwiftShader), where it runs ~2-3x faster than the tiled one (bench:kernels). Default:
   * ctx.kernels.matmul.
   */
  direct?: boolean;
}

export interface MatmulBuffers {
  a: GPUBufferBinding;
  b: GPUBufferBinding;
  c: GPUBufferBinding;
  bias?: GPUBufferBinding;
}

/** Default threads per side: tiled, direct. */
const WG = 16;
const WG_DIRECT = 4;
const WORKGROUP_SIZES = [4, 8, 16];

/** Fills in the defaults for batch, strides, offsets, row strides and the inner batch. */
export function matmulLayout(s: MatmulShape): Required<MatmulShape> {
  return {
    batch: 1,
    transA: false,
    transB: false,
    dtypeB: 'f32',
    strideA: s.M * s.K,
    strideB: s.N * s.K,
    strideC: s.M * s.N,
    offA: 0,
    offB: 0,
    offC: 0,
    alpha: 1,
    lda: s.transA ? s.M : s.K,
    ldb: s.transB ? s.K : s.N,
    ldc: s.N,
    inner: 1,
    innerStrideA: 0,
    innerStrideB: 0,
    innerStrideC: 0,
    ...s,
  };
}

/** True when the shape uses row strides or a two-level batch (only the tiled matmul has them). */
function isStrided(s: Required<MatmulShape>): boolean {
  return s.lda !== (s.transA ? s.M : s.K) || s.ldb !== (s.transB ? s.K : s.N) || s.ldc !== s.N || s.inner !== 1;
}

/** Checks a filled-in shape. `strided`: the kernel reads lda / ldb / ldc and inner (matmul does, matmul_naive does not). */
export function checkMatmulShape(label: string, s: Required<MatmulShape>, strided = false): void {
  for (const [k, v] of Object.entries(s)) {
    if (k === 'alpha') continue;
    if (typeof v === 'number' && (!Number.isInteger(v) || v < 0 || v >= 2 ** 32)) throw new Error(`${label}: ${k} = ${v} is not a non-negative 32-bit integer`);
  }
  if (!Number.isFinite(s.alpha)) throw new Error(`${label}: alpha = ${s.alpha} is not finite`);
  if (!['f32', 'f16', 'bf16'].includes(s.dtypeB)) throw new Error(`${label}: dtypeB ${String(s.dtypeB)} is not f32, f16 or bf16`);
  if (s.M < 1 || s.N < 1 || s.K < 1 || s.batch < 1) throw new Error(`${label}: M, N, K and batch must be at least 1 (got ${s.M}, ${s.N}, ${s.K}, ${s.batch})`);
  if (!strided && isStrided(s)) throw new Error(`${label}: row strides (lda, ldb, ldc) and a two-level batch (inner) need the tiled matmul`);
  if (s.inner < 1) throw new Error(`${label}: inner must be at least 1 (got ${s.inner})`);
  // [name, row stride, stored rows, row length]; a stride matters only with more than one row.
  const ops: [string, number, number, number][] = [
    ['lda', s.lda, s.transA ? s.K : s.M, s.transA ? s.M : s.K],
    ['ldb', s.ldb, s.transB ? s.N : s.K, s.transB ? s.K : s.N],
    ['ldc', s.ldc, s.M, s.N],
  ];
  for (const [name, ld, rows, row] of ops) {
    if (rows > 1 && ld < row) throw new Error(`${label}: ${name} = ${ld} is shorter than a stored row (${row} elements)`);
  }
}

/** vec4 loads need every stored row of A and B (and every base offset) to start on a 4-element boundary. */
function canVec4(s: Required<MatmulShape>): boolean {
  const along = [s.transA ? s.M : s.K, s.transB ? s.K : s.N];
  return [...along, s.strideA, s.strideB, s.offA, s.offB, s.lda, s.ldb, s.innerStrideA, s.innerStrideB].every((v) => v % 4 === 0);
}

/** The largest batch offset (z / inner)·stride + (z % inner)·innerStride over z < batch. */
function maxBatchOffset(s: Required<MatmulShape>, stride: number, innerStride: number): number {
  const at = (z: number) => Math.floor(z / s.inner) * stride + (z % s.inner) * innerStride;
  // Both terms grow with their index: the maximum is at the last z or at the end of the last full inner run.
  const lastFull = Math.floor(s.batch / s.inner) * s.inner - 1;
  return Math.max(at(s.batch - 1), lastFull >= 0 ? at(lastFull) : 0);
}

/** WGSL clamps out-of-bounds accesses silently, so every element the shape reaches must be in its binding. */
/**
 * The number of elements a buffer needs for operand 'a', 'b' or 'c' of the shape: its largest batch offset
 * plus its last row's end.
 */
export function matmulExtent(shape: MatmulShape, operand: 'a' | 'b' | 'c'): number {
  const s = matmulLayout(shape);
  const [off, stride, inner, ld, rows, row] =
    operand === 'a' ? [s.offA, s.strideA, s.innerStrideA, s.lda, s.transA ? s.K : s.M, s.transA ? s.M : s.K]
    : operand === 'b' ? [s.offB, s.strideB, s.innerStrideB, s.ldb, s.transB ? s.N : s.K, s.transB ? s.K : s.N]
    : [s.offC, s.strideC, s.innerStrideC, s.ldc, s.M, s.N];
  return off + maxBatchOffset(s, stride, inner) + (rows - 1) * ld + row;
}

/** 4-byte words each operand's buffer must hold (a packed B: half its elements, rounded up). */
export function matmulNeed(s: MatmulShape): Record<keyof MatmulBuffers, number> {
  const b = matmulExtent(s, 'b');
  return { a: matmulExtent(s, 'a'), b: (s.dtypeB ?? 'f32') === 'f32' ? b : Math.ceil(b / 2), c: matmulExtent(s, 'c'), bias: s.N };
}

/**
 * The matmul: one dispatch; tiled, a (4·WG) x (4·WG) tile of C per workgroup (WG = opts.workgroupSize, default 16),
 * or with opts.direct the barrier-free kernel, a (16·WG) x (16·WG) tile (default WG 4).
 * C must not share a GPUBuffer with A, B or the bias (WebGPU usage rules); C's rows may be strided (ldc), and only
 * the M x N elements of each batch are written.
 */
export async function matmul(ctx: GpuContext, bufs: MatmulBuffers, shape: MatmulShape, label = 'matmul', opts: MatmulOptions = {}): Promise<Dispatch> {
  const s = matmulLayout(shape);
  const direct = opts.direct ?? ctx.kernels.matmul === 'direct';
  const wg = opts.workgroupSize ?? (direct ? WG_DIRECT : WG);
  if (!WORKGROUP_SIZES.includes(wg)) throw new Error(`${label}: workgroupSize ${wg} is not one of ${WORKGROUP_SIZES.join(', ')}`);
  checkMatmulShape(label, s, true);
  const call = {
    bufs,
    need: matmulNeed(s),
    params: { ...s, innerA: s.innerStrideA, innerB: s.innerStrideB, innerC: s.innerStrideC },
    constants: { WG: wg },
  };
  const defines = { TRANS_A: s.transA, TRANS_B: s.transB, VEC4: canVec4(s), HALF: s.dtypeB !== 'f32', BF16: s.dtypeB === 'bf16' };
  if (!direct) return dispatchKernel(ctx, MATMUL, label, { ...call, defines, workgroups: [Math.ceil(s.N / (4 * wg)), Math.ceil(s.M / (4 * wg)), s.batch] });
  const row = s.M <= DIRECT_ROW_MAX_M;
  const workgroups: [number, number, number] = row ? [Math.ceil(s.N / (8 * wg * wg)), s.M, s.batch] : [Math.ceil(s.N / (16 * wg)), Math.ceil(s.M / (16 * wg)), s.batch];
  return dispatchKernel(ctx, MATMUL_DIRECT, label, { ...call, defines: { ...defines, ROW: row, SUBGROUP: !row && subgroupsOf4(ctx) }, workgroups });
}

/**
 * CPU reference, accumulating in f64. Writes only the M x N elements of each batch of C. `b` holds B's values; with
 * dtypeB f16 / bf16 they are rounded to it first, as the kernel reads them.
 */
export function matmulRef(a: Float32Array, bValues: Float32Array, shape: MatmulShape, bias?: Float32Array, c?: Float32Array): Float32Array {
  const s = matmulLayout(shape);
  const b = s.dtypeB === 'f32' ? bValues : roundedTo(s.dtypeB, bValues);
  const out = c ?? new Float32Array(matmulExtent(s, 'c'));
  for (let z = 0; z < s.batch; z++) {
    const [zo, zi] = [Math.floor(z / s.inner), z % s.inner];
    const ba = s.offA + zo * s.strideA + zi * s.innerStrideA;
    const bb = s.offB + zo * s.strideB + zi * s.innerStrideB;
    const bc = s.offC + zo * s.strideC + zi * s.innerStrideC;
    for (let m = 0; m < s.M; m++) {
      for (let n = 0; n < s.N; n++) {
        let acc = 0;
        for (let k = 0; k < s.K; k++) {
          acc += (s.transA ? a[ba + k * s.lda + m] : a[ba + m * s.lda + k]) * (s.transB ? b[bb + n * s.ldb + k] : b[bb + k * s.ldb + n]);
        }
        out[bc + m * s.ldc + n] = Math.fround(s.alpha) * acc + (bias ? bias[n] : 0);
      }
    }
  }
  return out;
}
