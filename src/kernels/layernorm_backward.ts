import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/layernorm_backward.wgsl?raw';
import paramSource from '../../shaders/layernorm_param_grads.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';
import { LAYERNORM_EPS, rowStatsRef } from './layernorm.ts';

const UNIFORMS = { rows: 'u32', C: 'u32', eps: 'f32' } as const;

export const LAYERNORM_BACKWARD = kernel({
  name: 'layernorm_backward',
  source,
  bindings: { x: 'read', dy: 'read', weight: 'read if WEIGHT', dxAdd: 'read if DX_ADD', dx: 'write', p: 'uniform' },
  uniforms: UNIFORMS,
  defines: ['WEIGHT', 'DX_ADD'],
});

/** x is bound only for dWeight (the statistics): an unread binding would be dropped from the 'auto' layout. */
export const LAYERNORM_PARAM_GRADS = kernel({
  name: 'layernorm_param_grads',
  source: paramSource,
  bindings: { x: 'read if WEIGHT_GRAD', dy: 'read', dWeight: 'write if WEIGHT_GRAD', dBias: 'write if BIAS_GRAD', p: 'uniform' },
  uniforms: UNIFORMS,
  defines: ['WEIGHT_GRAD', 'BIAS_GRAD'],
});

/** The gradient of torch.nn.LayerNorm over the last dim of [rows, C]. */
export interface LayerNormBackwardShape {
  rows: number;
  C: number;
  /** As in the forward (default LAYERNORM_EPS, PyTorch's 1e-5). */
  eps?: number;
}

/** Columns per workgroup of the parameter-gradient kernel (the shader's CB). */
const PARAM_COLS = 64;

/**
 * Threads per row of the dx kernel, a power of two: at least 4 elements each (a short row does not pay for
 * barriers of idle threads, which SwiftShader charges per thread), at most 64, or 256 past C = 1024.
 */
function dxWorkgroupSize(C: number): number {
  if (C > 1024) return 256;
  let wg = 1;
  while (wg < 64 && wg * 2 * 4 <= C) wg *= 2;
  return wg;
}

function checkShape(label: string, s: LayerNormBackwardShape): Required<LayerNormBackwardShape> {
  const full = { eps: LAYERNORM_EPS, ...s };
  for (const k of ['rows', 'C'] as const) {
    if (!Number.isInteger(full[k]) || full[k] < 1) throw new Error(`${label}: ${k} = ${full[k]} is not a positive integer`);
  }
  if (full.rows * full.C >= 2 ** 32) throw new Error(`${label}: rows * C = ${full.rows * full.C} does not fit 32-bit indexing`);
  if (!(full.eps >= 0) || !Number.isFinite(full.eps)) throw new Error(`${label}: eps = ${full.eps} must be finite and >= 0`);
  return full;
}

/**
 * dx for y = LN(x) (affine weight γ optional, bias irrelevant): x̂ = (x−μ)·rstd, g = dy·γ,
 * dx = rstd·(g − mean(g) − x̂·mean(g·x̂)). With `dxAdd` the result is dx + dxAdd (gradient arriving at x from
 * elsewhere; dxAdd must be a different buffer from dx). Mean/rstd are recomputed from x (biased variance, eps
 * inside sqrt, as the forward). x, dy, dxAdd and dx are [rows, C]; weight is [C].
 * One workgroup per row (C / 4 threads rounded down to a power of two, at most 64; 256 past C = 1024).
 */
export async function layerNormBackward(
  ctx: GpuContext,
  bufs: { x: GPUBufferBinding; dy: GPUBufferBinding; dx: GPUBufferBinding; weight?: GPUBufferBinding; dxAdd?: GPUBufferBinding },
  shape: LayerNormBackwardShape,
  label = 'layernorm_backward',
): Promise<Dispatch> {
  const s = checkShape(label, shape);
  const n = s.rows * s.C;
  // ctx.kernels.rows narrow (SwiftShader): 4 threads per row at most, as the forward.
  const wg = ctx.kernels.rows === 'narrow' ? Math.min(4, dxWorkgroupSize(s.C)) : dxWorkgroupSize(s.C);
  return dispatchKernel(ctx, LAYERNORM_BACKWARD, label, {
    bufs,
    need: { x: n, dy: n, dx: n, dxAdd: n, weight: s.C },
    params: s,
    constants: { WG: wg },
    workgroups: grid1d(ctx, s.rows),
  });
}

/**
 * dWeight[c] = Σ_rows dy·x̂, dBias[c] = Σ_rows dy (either optional but at least one). x and dy are [rows, C].
 * One workgroup per 64 columns walks every row: chunk partials of at most 64 rows per thread, four lanes added
 * at the end (no long f32 chains). Each workgroup recomputes every row's mean and rstd for dWeight, so x is
 * read ceil(C / 64) + 1 times in all.
 */
export async function layerNormParamGrads(
  ctx: GpuContext,
  bufs: { x: GPUBufferBinding; dy: GPUBufferBinding; dWeight?: GPUBufferBinding; dBias?: GPUBufferBinding },
  shape: LayerNormBackwardShape,
  label = 'layernorm_param_grads',
): Promise<Dispatch> {
  const s = checkShape(label, shape);
  const n = s.rows * s.C;
  if (!bufs.dWeight && !bufs.dBias) throw new Error(`${label}: neither dWeight nor dBias is given; nothing to compute`);
  return dispatchKernel(ctx, LAYERNORM_PARAM_GRADS, label, {
    bufs: { ...bufs, x: bufs.dWeight && bufs.x },
    need: { x: n, dy: n, dWeight: s.C, dBias: s.C },
    params: s,
    workgroups: grid1d(ctx, Math.ceil(s.C / PARAM_COLS)),
  });
}

/**
 * CPU reference in f64 (two-pass mean and biased variance per row, as the forward's reference), results
 * rounded to f32: dx as layerNormBackward computes it (without dxAdd), dWeight and dBias as layerNormParamGrads.
 */
export function layerNormBackwardRef(
  x: Float32Array,
  dy: Float32Array,
  shape: LayerNormBackwardShape,
  weight?: Float32Array,
): { dx: Float32Array; dWeight: Float32Array; dBias: Float32Array } {
  const { rows, C } = shape;
  const eps = shape.eps ?? LAYERNORM_EPS;
  if (x.length < rows * C || dy.length < rows * C) throw new Error(`layerNormBackwardRef: x has ${x.length} and dy ${dy.length} elements, the shape needs ${rows * C}`);
  if (weight && weight.length < C) throw new Error(`layerNormBackwardRef: weight has ${weight.length} elements, C = ${C}`);
  const dx = new Float32Array(rows * C);
  const dW = new Float64Array(C);
  const dB = new Float64Array(C);
  const xh = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    const { mean, rstd } = rowStatsRef(x, base, C, eps);
    let mg = 0;
    let mgx = 0;
    for (let c = 0; c < C; c++) {
      xh[c] = (x[base + c] - mean) * rstd;
      const g = dy[base + c] * (weight ? weight[c] : 1);
      mg += g;
      mgx += g * xh[c];
      dW[c] += dy[base + c] * xh[c];
      dB[c] += dy[base + c];
    }
    mg /= C;
    mgx /= C;
    for (let c = 0; c < C; c++) {
      const g = dy[base + c] * (weight ? weight[c] : 1);
      dx[base + c] = rstd * (g - mg - xh[c] * mgx);
    }
  }
  return { dx, dWeight: Float32Array.from(dW), dBias: Float32Array.from(dB) };
}
