import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/softmax.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const SOFTMAX = kernel({
  name: 'softmax',
  source,
  bindings: { x: 'read', y: 'write', p: 'uniform' },
  uniforms: { rows: 'u32', n: 'u32', offX: 'u32', offY: 'u32' },
  defines: [],
});

/** Softmax over the last dim of a row-major [rows, n] tensor. Offsets are in elements. */
export interface SoftmaxShape {
  rows: number;
  n: number;
  offX?: number;
  offY?: number;
}

export interface SoftmaxBuffers {
  /** X [rows, n]. */
  x: GPUBufferBinding;
  /** Y [rows, n]; a different buffer from X (or at least a non-overlapping range). */
  y: GPUBufferBinding;
}

export interface SoftmaxOptions {
  /**
   * Threads per workgroup (one workgroup per row): a power of two, default 64. Rows of any length are walked
   * in strides of it. SwiftShader pays per thread at every barrier: 64 runs 5x faster there than 256.
   */
  workgroupSize?: number;
}

const WG = 64;

function layout(s: SoftmaxShape): Required<SoftmaxShape> {
  return { offX: 0, offY: 0, ...s };
}

function check(ctx: GpuContext, label: string, s: Required<SoftmaxShape>, wg: number): void {
  for (const [k, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${label}: ${k} = ${v} is not a non-negative integer`);
  }
  if (s.rows < 1 || s.n < 1) throw new Error(`${label}: rows and n must be at least 1 (got ${s.rows}, ${s.n})`);
  if (!Number.isInteger(wg) || wg < 1 || (wg & (wg - 1)) !== 0) throw new Error(`${label}: workgroupSize ${wg} is not a power of two`);
  const max = Math.min(ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX, ctx.limits.maxComputeWorkgroupStorageSize / 4);
  if (wg > max) throw new Error(`${label}: workgroupSize ${wg} is over this device's limit of ${max}`);
}

/**
 * y[r, :] = softmax(x[r, :]), numerically stable (the row max is subtracted first), one workgroup per row.
 * A fully masked row (all -inf) gives all zeros rather than NaN, as PyTorch >= 2.5's MultiheadAttention does
 * (PyTorch 1.13 gives NaN).
 */
export async function softmax(ctx: GpuContext, bufs: SoftmaxBuffers, shape: SoftmaxShape, label = 'softmax', opts: SoftmaxOptions = {}): Promise<Dispatch> {
  const s = layout(shape);
  const wg = opts.workgroupSize ?? WG;
  check(ctx, label, s, wg);
  return dispatchKernel(ctx, SOFTMAX, label, {
    bufs,
    need: { x: s.offX + s.rows * s.n, y: s.offY + s.rows * s.n },
    params: s,
    constants: { WG: wg },
    workgroups: grid1d(ctx, s.rows),
  });
}

/** CPU reference in f64, with the same fully-masked-row rule (all -inf -> all 0). */
export function softmaxRef(x: Float32Array, shape: SoftmaxShape, y?: Float32Array): Float32Array {
  const s = layout(shape);
  const out = y ?? new Float32Array(s.offY + s.rows * s.n);
  const e = new Float64Array(s.n);
  for (let r = 0; r < s.rows; r++) {
    const bx = s.offX + r * s.n;
    const by = s.offY + r * s.n;
    let m = -Infinity;
    for (let i = 0; i < s.n; i++) m = Math.max(m, x[bx + i]);
    if (m === -Infinity) {
      out.fill(0, by, by + s.n);
      continue;
    }
    let sum = 0;
    for (let i = 0; i < s.n; i++) {
      e[i] = Math.exp(x[bx + i] - m);
      sum += e[i];
    }
    for (let i = 0; i < s.n; i++) out[by + i] = e[i] / sum;
  }
  return out;
}
