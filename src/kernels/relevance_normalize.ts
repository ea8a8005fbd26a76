import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/relevance_normalize.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const RELEVANCE_NORMALIZE = kernel({
  name: 'relevance_normalize',
  source,
  bindings: { q: 'read', s: 'read', u: 'read if U', out: 'write', p: 'uniform' },
  uniforms: { n: 'u32' },
  defines: ['U'],
});

/** out = u + q / s elementwise over n, where s = 0 gives 0 for q / s (u: zeros when not given). See the shader. */
export async function relevanceNormalize(
  ctx: GpuContext,
  bufs: { q: GPUBufferBinding; s: GPUBufferBinding; u?: GPUBufferBinding; out: GPUBufferBinding },
  n: number,
  label = 'relevance_normalize',
): Promise<Dispatch> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${label}: n = ${n} is not a positive integer`);
  const WG = 64;
  return dispatchKernel(ctx, RELEVANCE_NORMALIZE, label, {
    bufs,
    need: { q: n, s: n, u: n, out: n },
    params: { n },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(n / WG)),
  });
}

/** CPU reference. */
export function relevanceNormalizeRef(q: Float32Array, s: Float32Array, u?: Float32Array): Float32Array {
  return q.map((v, i) => (s[i] !== 0 ? v / s[i] : 0) + (u ? u[i] : 0));
}
