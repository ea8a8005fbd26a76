import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/swiglu_backward.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';
import { checkCount, sigmoidRef } from './swiglu.ts';

export const SWIGLU_BACKWARD = kernel({
  name: 'swiglu_backward',
  source,
  bindings: { dy: 'read', gate: 'read', up: 'read', dgate: 'write', dup: 'write', p: 'uniform' },
  uniforms: { n: 'u32' },
  defines: [],
});

const WG = 256;

/** dgate = dy · up · silu'(gate), dup = dy · silu(gate) for y = silu(gate) · up over n values. */
export async function swigluBackward(
  ctx: GpuContext,
  bufs: { dy: GPUBufferBinding; gate: GPUBufferBinding; up: GPUBufferBinding; dgate: GPUBufferBinding; dup: GPUBufferBinding },
  n: number,
  label = 'swiglu_backward',
): Promise<Dispatch> {
  checkCount(label, n);
  return dispatchKernel(ctx, SWIGLU_BACKWARD, label, {
    bufs,
    need: { dy: n, gate: n, up: n, dgate: n, dup: n },
    params: { n },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(n / WG)),
  });
}

/** CPU reference in f64, rounded to f32. */
export function swigluBackwardRef(dy: Float32Array, gate: Float32Array, up: Float32Array): { dgate: Float32Array; dup: Float32Array } {
  const dgate = new Float32Array(dy.length);
  const dup = new Float32Array(dy.length);
  for (let i = 0; i < dy.length; i++) {
    const g = gate[i];
    const s = sigmoidRef(g);
    dgate[i] = dy[i] * up[i] * s * (1 + g * (1 - s));
    dup[i] = dy[i] * g * s;
  }
  return { dgate, dup };
}
