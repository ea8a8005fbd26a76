import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/rmsnorm.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const RMSNORM = kernel({
  name: 'rmsnorm',
  source,
  bindings: { x: 'read', y: 'write', weight: 'read', p: 'uniform' },
  uniforms: { rows: 'u32', C: 'u32', eps: 'f32' },
  defines: [],
});

/** RMSNorm over the last dim of [rows, C]; eps is added to the mean square inside the root (HF's rms_norm_eps). */
export interface RmsNormShape {
  rows: number;
  C: number;
  eps: number;
}

/** Threads per row: a power of two, at most 64, each with at least 4 elements (4 at most where ctx.kernels.rows is narrow). */
export function rmsNormWorkgroupSize(ctx: GpuContext, C: number): number {
  let wg = 1;
  while (wg < (ctx.kernels.rows === 'narrow' ? 4 : 64) && wg * 2 * 4 <= C) wg *= 2;
  return wg;
}

export function checkRmsNormShape(label: string, s: RmsNormShape): void {
  for (const k of ['rows', 'C'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`${label}: ${k} = ${s[k]} is not a positive integer`);
  }
  if (s.rows * s.C >= 2 ** 32) throw new Error(`${label}: rows * C = ${s.rows * s.C} does not fit 32-bit indexing`);
  if (!(s.eps >= 0) || !Number.isFinite(s.eps)) throw new Error(`${label}: eps = ${s.eps} must be finite and >= 0`);
}

/** y = x · rsqrt(mean(x²) + eps) · weight per row (HF LlamaRMSNorm / Qwen2RMSNorm in f32). y must not be x. */
export async function rmsNorm(ctx: GpuContext, bufs: { x: GPUBufferBinding; y: GPUBufferBinding; weight: GPUBufferBinding }, shape: RmsNormShape, label = 'rmsnorm'): Promise<Dispatch> {
  checkRmsNormShape(label, shape);
  const n = shape.rows * shape.C;
  return dispatchKernel(ctx, RMSNORM, label, {
    bufs,
    need: { x: n, y: n, weight: shape.C },
    params: shape,
    constants: { WG: rmsNormWorkgroupSize(ctx, shape.C) },
    workgroups: grid1d(ctx, shape.rows),
  });
}

/** 1 / sqrt(mean of the squares of row r + eps), in f64. */
export function rmsRstdRef(x: ArrayLike<number>, r: number, C: number, eps: number): number {
  let s = 0;
  for (let c = 0; c < C; c++) s += x[r * C + c] ** 2;
  return 1 / Math.sqrt(s / C + eps);
}

/** CPU reference in f64, rounded to f32. */
export function rmsNormRef(x: Float32Array, weight: Float32Array, shape: RmsNormShape): Float32Array {
  const { rows, C, eps } = shape;
  const y = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++) {
    const rstd = rmsRstdRef(x, r, C, eps);
    for (let c = 0; c < C; c++) y[r * C + c] = weight[c] * x[r * C + c] * rstd;
  }
  return y;
}
