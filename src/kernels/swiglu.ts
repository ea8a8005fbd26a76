import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/swiglu.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const SWIGLU = kernel({
  name: 'swiglu',
  source,
  bindings: { gate: 'read', up: 'read', y: 'write', p: 'uniform' },
  uniforms: { n: 'u32' },
  defines: [],
});

const WG = 256;

export function checkCount(label: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n >= 2 ** 32) throw new Error(`${label}: n = ${n} is not a positive 32-bit integer`);
}

/** y = silu(gate) · up elementwise over n values (HF LlamaMLP's act_fn(gate_proj(x)) * up_proj(x), hidden_act silu). */
export async function swiglu(ctx: GpuContext, bufs: { gate: GPUBufferBinding; up: GPUBufferBinding; y: GPUBufferBinding }, n: number, label = 'swiglu'): Promise<Dispatch> {
  checkCount(label, n);
  return dispatchKernel(ctx, SWIGLU, label, { bufs, need: { gate: n, up: n, y: n }, params: { n }, constants: { WG }, workgroups: grid1d(ctx, Math.ceil(n / WG)) });
}

export const sigmoidRef = (g: number) => 1 / (1 + Math.exp(-g));

/** CPU reference in f64, rounded to f32. */
export function swigluRef(gate: Float32Array, up: Float32Array): Float32Array {
  return gate.map((g, i) => g * sigmoidRef(g) * up[i]);
}
