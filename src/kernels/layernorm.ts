import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/layernorm.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const LAYERNORM = kernel({
  name: 'layernorm',
  source,
  bindings: { x: 'read', residual: 'read if RESIDUAL', y: 'write', sum: 'write if SUM_OUT', weight: 'read if WEIGHT', bias: 'read if BIAS', p: 'uniform' },
  uniforms: { rows: 'u32', C: 'u32', eps: 'f32' },
  defines: ['RESIDUAL', 'SUM_OUT', 'WEIGHT', 'BIAS'],
});

/** torch.nn.LayerNorm over the last dim of [rows, C]. */
export interface LayerNormShape {
  rows: number;
  C: number;
  /** Added to the variance inside the square root (PyTorch's default 1e-5). */
  eps?: number;
  /** Threads per row, a power of two; by default 4 with ctx.kernels.rows narrow, else 64 for C <= 256 and 256 above. */
  workgroupSize?: number;
}

/**
 * y = LN(x), or y = LN(x + residual) when `residual` is given (post-norm: `norm1(x + self_attn(x))`).
 * `sum`, which needs `residual`, also receives x + residual: a pre-norm block's residual stream
 * (`h = x + sa(norm1(x))` in `sum`, `norm2(h)` in `y`) in one pass. `weight` and `bias` are optional
 * independently (elementwise_affine=False drops both, bias=False only the bias).
 * All bindings must be distinct buffers: y and sum may not alias x or residual.
 */
export interface LayerNormBuffers {
  x: GPUBufferBinding;
  y: GPUBufferBinding;
  residual?: GPUBufferBinding;
  sum?: GPUBufferBinding;
  weight?: GPUBufferBinding;
  bias?: GPUBufferBinding;
}

export const LAYERNORM_EPS = 1e-5;

function defaultWorkgroupSize(C: number): number {
  return C <= 256 ? 64 : 256;
}

export function checkLayerNormShape(ctx: GpuContext, label: string, s: LayerNormShape): Required<LayerNormShape> {
  const full = { eps: LAYERNORM_EPS, workgroupSize: ctx.kernels.rows === 'narrow' ? 4 : defaultWorkgroupSize(s.C), ...s };
  for (const k of ['rows', 'C'] as const) {
    if (!Number.isInteger(full[k]) || full[k] < 1) throw new Error(`${label}: ${k} = ${full[k]} is not a positive integer`);
  }
  if (!(full.eps >= 0) || !Number.isFinite(full.eps)) throw new Error(`${label}: eps = ${full.eps} must be finite and >= 0`);
  const wg = full.workgroupSize;
  const maxWg = Math.min(ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX);
  if (!Number.isInteger(wg) || wg < 1 || (wg & (wg - 1)) !== 0 || wg > maxWg) {
    throw new Error(`${label}: workgroupSize = ${wg} must be a power of two <= ${maxWg}`);
  }
  return full;
}

export async function layerNorm(ctx: GpuContext, bufs: LayerNormBuffers, shape: LayerNormShape, label = 'layernorm'): Promise<Dispatch> {
  const s = checkLayerNormShape(ctx, label, shape);
  if (bufs.sum && !bufs.residual) throw new Error(`${label}: a sum output needs a residual input`);
  const n = s.rows * s.C;
  return dispatchKernel(ctx, LAYERNORM, label, {
    bufs,
    need: { x: n, residual: n, y: n, sum: n, weight: s.C, bias: s.C },
    params: s,
    constants: { WG: s.workgroupSize },
    workgroups: grid1d(ctx, s.rows),
  });
}

export interface LayerNormRefInputs {
  residual?: Float32Array;
  weight?: Float32Array;
  bias?: Float32Array;
}

/** The references' statistics of row v[base .. base + C) in f64: two-pass mean, biased variance, eps in the root. */
export function rowStatsRef(v: ArrayLike<number>, base: number, C: number, eps: number): { mean: number; rstd: number } {
  let mean = 0;
  for (let c = 0; c < C; c++) mean += v[base + c];
  mean /= C;
  let s = 0;
  for (let c = 0; c < C; c++) s += (v[base + c] - mean) ** 2;
  return { mean, rstd: 1 / Math.sqrt(s / C + eps) };
}

/**
 * CPU reference in f64 (two-pass mean and biased variance). With a residual, the normalised input is
 * x + residual rounded to f32, as PyTorch materialises it; that rounded sum is returned as `sum`.
 */
export function layerNormRef(x: Float32Array, shape: LayerNormShape, inputs: LayerNormRefInputs = {}): { y: Float32Array; sum: Float32Array } {
  const { rows, C } = shape;
  const eps = shape.eps ?? LAYERNORM_EPS;
  const { residual, weight, bias } = inputs;
  const sum = residual ? x.map((v, i) => v + residual[i]) : x.slice();
  const y = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    const { mean, rstd } = rowStatsRef(sum, base, C, eps);
    for (let c = 0; c < C; c++) {
      y[base + c] = (sum[base + c] - mean) * rstd * (weight ? weight[c] : 1) + (bias ? bias[c] : 0);
    }
  }
  return { y, sum };
}
