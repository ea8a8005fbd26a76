import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/softmax_backward.wgsl?raw';
import { type Dispatch, grid1d, makeDispatch } from './dispatch.ts';

/** The gradient through a softmax over the last dim of a contiguous row-major [rows, n] tensor. */
export interface SoftmaxBackwardShape {
  rows: number;
  n: number;
}

export interface SoftmaxBackwardBuffers {
  /** P [rows, n]: the forward softmax's output. */
  p: GPUBufferBinding;
  /** dP [rows, n]: the gradient of the loss with respect to P. */
  dp: GPUBufferBinding;
  /** dX [rows, n]: the gradient with respect to the softmax input; must not share a GPUBuffer with p or dp. */
  dx: GPUBufferBinding;
}

/** Threads per workgroup (one workgroup per row): 64, or 4 with ctx.kernels.rows narrow (SwiftShader pays per thread at every barrier). */
const WG = 64;
const WG_NARROW = 4;

function check(label: string, s: SoftmaxBackwardShape, bufs: SoftmaxBackwardBuffers): void {
  for (const [k, v] of [['rows', s.rows], ['n', s.n]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  }
  const n = s.rows * s.n;
  if (n >= 2 ** 32) throw new Error(`${label}: rows * n = ${n} does not fit 32-bit indexing`);
  for (const [name, b] of Object.entries(bufs) as [string, GPUBufferBinding][]) {
    const bytes = b.size ?? b.buffer.size - (b.offset ?? 0);
    if (bytes < 4 * n) throw new Error(`${label}: buffer ${name} holds ${bytes / 4} f32 elements, the shape [${s.rows}, ${s.n}] needs ${n}`);
  }
  if (bufs.dx.buffer === bufs.p.buffer || bufs.dx.buffer === bufs.dp.buffer) {
    throw new Error(`${label}: buffer dx must not be the same GPUBuffer as p or dp (a buffer cannot be bound read-only and writable in one dispatch)`);
  }
}

/**
 * dx = p ⊙ (dp − Σ_j p_j dp_j) per row of [rows, n]: the gradient through y = softmax(x) given y = p and dL/dy = dp.
 * Zero probabilities (masked keys, fully blocked rows) give zero gradients, not NaN. One workgroup per row.
 */
export async function softmaxBackward(
  ctx: GpuContext,
  bufs: SoftmaxBackwardBuffers,
  shape: SoftmaxBackwardShape,
  label = 'softmax_backward',
): Promise<Dispatch> {
  check(label, shape, bufs);
  const pipeline = await ctx.pipelines.get({ kernel: 'softmax_backward', source, constants: { WG: ctx.kernels.rows === 'narrow' ? WG_NARROW : WG } });
  const params = ctx.uniform(`${label} params`, [shape.rows, shape.n]);
  return makeDispatch(ctx, label, pipeline, [bufs.p, bufs.dp, bufs.dx, { buffer: params }], grid1d(ctx, shape.rows), [params]);
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
