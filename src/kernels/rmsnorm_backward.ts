import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/rmsnorm_backward.wgsl?raw';
import weightSource from '../../shaders/rmsnorm_weight_grad.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';
import { checkRmsNormShape, rmsNormWorkgroupSize, type RmsNormShape, rmsRstdRef } from './rmsnorm.ts';

export const RMSNORM_BACKWARD = kernel({
  name: 'rmsnorm_backward',
  source,
  bindings: { x: 'read', dy: 'read', weight: 'read', dxAdd: 'read if DX_ADD', dx: 'write', rstd: 'write', p: 'uniform' },
  uniforms: { rows: 'u32', C: 'u32', eps: 'f32' },
  defines: ['DX_ADD'],
});

export const RMSNORM_WEIGHT_GRAD = kernel({
  name: 'rmsnorm_weight_grad',
  source: weightSource,
  bindings: { x: 'read', dy: 'read', rstd: 'read', dWeight: 'write', p: 'uniform' },
  uniforms: { n: 'u32', rows: 'u32' },
  defines: [],
});

/**
 * dx for y = x · rstd · weight (rstd = rsqrt(mean(x²) + eps) per row): dx = rstd·(g − x̂·mean(g·x̂)), g = dy·weight,
 * x̂ = x·rstd; plus dxAdd when given (x's gradient from its other readers; not dx's buffer). Also writes each row's
 * rstd [rows] for rmsNormWeightGrad. x, dy, dxAdd, dx are [rows, C]; weight [C].
 */
export async function rmsNormBackward(
  ctx: GpuContext,
  bufs: { x: GPUBufferBinding; dy: GPUBufferBinding; weight: GPUBufferBinding; dx: GPUBufferBinding; rstd: GPUBufferBinding; dxAdd?: GPUBufferBinding },
  shape: RmsNormShape,
  label = 'rmsnorm_backward',
): Promise<Dispatch> {
  checkRmsNormShape(label, shape);
  const n = shape.rows * shape.C;
  return dispatchKernel(ctx, RMSNORM_BACKWARD, label, {
    bufs,
    need: { x: n, dy: n, weight: shape.C, dxAdd: n, dx: n, rstd: shape.rows },
    params: shape,
    constants: { WG: rmsNormWorkgroupSize(ctx, shape.C) },
    workgroups: grid1d(ctx, shape.rows),
  });
}

const WG = 64;

/** dWeight[c] = Σ_rows dy·x·rstd, rstd [rows] as rmsNormBackward wrote it. */
export async function rmsNormWeightGrad(
  ctx: GpuContext,
  bufs: { x: GPUBufferBinding; dy: GPUBufferBinding; rstd: GPUBufferBinding; dWeight: GPUBufferBinding },
  shape: RmsNormShape,
  label = 'rmsnorm_weight_grad',
): Promise<Dispatch> {
  checkRmsNormShape(label, shape);
  const { rows, C } = shape;
  return dispatchKernel(ctx, RMSNORM_WEIGHT_GRAD, label, {
    bufs,
    need: { x: rows * C, dy: rows * C, rstd: rows, dWeight: C },
    params: { n: C, rows },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(C / WG)),
  });
}

/** CPU reference in f64, rounded to f32: dx (without dxAdd), dWeight and each row's rstd. */
export function rmsNormBackwardRef(x: Float32Array, dy: Float32Array, weight: Float32Array, shape: RmsNormShape): { dx: Float32Array; dWeight: Float32Array; rstd: Float32Array } {
  const { rows, C, eps } = shape;
  const dx = new Float32Array(rows * C);
  const dW = new Float64Array(C);
  const rstd = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const rs = rmsRstdRef(x, r, C, eps);
    rstd[r] = rs;
    let m = 0;
    for (let c = 0; c < C; c++) m += dy[r * C + c] * weight[c] * x[r * C + c] * rs;
    m /= C;
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      dx[i] = rs * (dy[i] * weight[c] - x[i] * rs * m);
      dW[c] += dy[i] * x[i] * rs;
    }
  }
  return { dx, dWeight: Float32Array.from(dW), rstd };
}
