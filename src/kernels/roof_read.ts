import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/roof_read.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

/** The streaming kernel of bench:roof: the adapter's read bandwidth. */
export const ROOF_READ = kernel({
  name: 'roof_read',
  source,
  bindings: { x: 'read V4', out: 'write', p: 'uniform' },
  uniforms: { threads: 'u32', n: 'u32' },
  defines: ['BLOCKED'],
});

export interface RoofReadShape {
  /** vec4s to read (x holds 4n f32). */
  n: number;
  /** Invocations. */
  threads: number;
  /** Contiguous runs per invocation instead of interleaved vec4s. */
  blocked: boolean;
  workgroupSize?: number;
}

export async function roofRead(ctx: GpuContext, bufs: { x: GPUBufferBinding; out: GPUBufferBinding }, s: RoofReadShape, label = 'roof_read'): Promise<Dispatch> {
  const wg = s.workgroupSize ?? 64;
  for (const [k, v] of Object.entries({ n: s.n, threads: s.threads, workgroupSize: wg })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  }
  if (4 * s.n >= 2 ** 32) throw new Error(`${label}: ${s.n} vec4s exceed 32-bit indexing`);
  return dispatchKernel(ctx, ROOF_READ, label, {
    bufs,
    need: { x: 4 * s.n, out: s.threads },
    params: { threads: s.threads, n: s.n },
    defines: { BLOCKED: s.blocked },
    constants: { WG: wg },
    workgroups: grid1d(ctx, Math.ceil(s.threads / wg)),
  });
}

/** CPU reference: each invocation's sum of the vec4s it reads (its share, as the shader splits them). */
export function roofReadRef(x: Float32Array, s: RoofReadShape): Float32Array {
  const out = new Float32Array(s.threads);
  const run = Math.ceil(s.n / s.threads);
  for (let j = 0; j < s.n; j++) {
    const t = s.blocked ? Math.floor(j / run) : j % s.threads;
    for (let l = 0; l < 4; l++) out[t] += x[4 * j + l];
  }
  return out;
}
