import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/add.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const ADD = kernel({
  name: 'add',
  source,
  bindings: { a: 'read T if !INPLACE', b: 'read T', out: 'write T inplace INPLACE', p: 'uniform' },
  uniforms: { n: 'u32' },
  defines: ['INPLACE', 'VEC4'],
});

/**
 * out = a + b over n elements (residual add). Without `out` the sum is written into `a` (its own
 * variant: WebGPU cannot bind one buffer as both read-only and writable storage in one dispatch).
 * `b` must be a different buffer from `a` and `out`.
 */
export interface AddBuffers { a: GPUBufferBinding; b: GPUBufferBinding; out?: GPUBufferBinding }

const WG = 256;

export async function add(ctx: GpuContext, bufs: AddBuffers, n: number, label = 'add'): Promise<Dispatch> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${label}: n = ${n} is not a positive integer`);
  if (bufs.b.buffer === bufs.a.buffer) throw new Error(`${label}: b must be a different buffer from a`);
  if (bufs.out && bufs.out.buffer === bufs.a.buffer) throw new Error(`${label}: out is a; omit out to add in place`);
  const vec4 = n % 4 === 0;
  const units = vec4 ? n / 4 : n;
  return dispatchKernel(ctx, ADD, label, {
    bufs: { a: bufs.out && bufs.a, b: bufs.b, out: bufs.out ?? bufs.a },
    need: { a: n, b: n, out: n },
    params: { n: units },
    defines: { VEC4: vec4 },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(units / WG)),
  });
}

/** CPU reference: the f32 sum (exact in f64, then rounded once, as the GPU rounds it). */
export function addRef(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => v + b[i]);
}
