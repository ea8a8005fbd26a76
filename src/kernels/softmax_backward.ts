import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/softmax_backward.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const SOFTMAX_BACKWARD = kernel({
  name: 'softmax_backward',
  source,
  bindings: { probs: 'read', dp: 'read', dx: 'write', p: 'uniform' },
  uniforms: { rows: 'u32', n: 'u32' },
  defines: [],
});

/** The gradient through a softmax over the last dim of a contiguous row-major [rows, n] tensor. */
export interface SoftmaxBackwardShape {
  rows: number;
  n: number;
}

export interface SoftmaxBackwardBuffers {
  /** P [rows, n]: the forward softmax's output. */
  probs: GPUBufferBinding;
  /** dP [rows, n]: the gradient of the loss with respect to P. */
  dp: GPUBufferBinding;
  /** dX [rows, n]: the gradient with respect to the softmax input; must not share a GPUBuffer with probs or dp. */
  dx: GPUBufferBinding;
}

/** Threads per workgroup (one workgroup per row): 64, or 4 with ctx.kernels.rows narrow (SwiftShader pays per thread at every barrier). */
const WG = 64;
const WG_NARROW = 4;

/**
 * dx = p ⊙ (dp − Σ_j p_j dp_j) per row of [rows, n]: the gradient through y = softmax(x) given y = p and dL/dy = dp.
 * Zero probabilities (masked keys, fully blocked rows) give zero gradients, not NaN. One workgroup per row.
 */
export async function softmaxBackward(ctx: GpuContext, bufs: SoftmaxBackwardBuffers, shape: SoftmaxBackwardShape, label = 'softmax_backward'): Promise<Dispatch> {
  const { rows, n } = shape;
  for (const [k, v] of [['rows', rows], ['n', n]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  }
  return dispatchKernel(ctx, SOFTMAX_BACKWARD, label, {
    bufs,
    need: { probs: rows * n, dp: rows * n, dx: rows * n },
    params: { rows, n },
    constants: { WG: ctx.kernels.rows === 'narrow' ? WG_NARROW : WG },
    workgroups: grid1d(ctx, rows),
  });
}

/** CPU reference, accumulating the row dot product in f64. */
export function softmaxBackwardRef(p: Float32Array, dp: Float32Array, shape: SoftmaxBackwardShape): Float32Array {
  const { rows, n } = shape;
  if (p.length < rows * n || dp.length < rows * n) throw new Error(`softmaxBackwardRef: p has ${p.length} and dp ${dp.length} elements, the shape needs ${rows * n}`);
  const dx = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const b = r * n;
    let dot = 0;
    for (let i = 0; i < n; i++) dot += p[b + i] * dp[b + i];
    for (let i = 0; i < n; i++) dx[b + i] = p[b + i] * (dp[b + i] - dot);
  }
  return dx;
}
