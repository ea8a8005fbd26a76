import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/scale_heads.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const SCALE_HEADS = kernel({
  name: 'scale_heads',
  source,
  bindings: { x: 'read_write', scale: 'read', p: 'uniform' },
  uniforms: { n: 'u32', D: 'u32', H: 'u32' },
  defines: [],
});

const WG = 256;

/** x [rows, H*D] in place: head h's D columns times scale[h] (scale is an f32 buffer of H factors). */
export async function scaleHeads(ctx: GpuContext, bufs: { x: GPUBufferBinding; scale: GPUBufferBinding }, s: { rows: number; H: number; D: number }, label = 'scale_heads'): Promise<Dispatch> {
  for (const [k, v] of Object.entries(s)) if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  const total = s.rows * s.H * s.D;
  return dispatchKernel(ctx, SCALE_HEADS, label, {
    bufs,
    need: { x: total, scale: s.H },
    params: { n: total, D: s.D, H: s.H },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(total / WG)),
  });
}

/** CPU reference. */
export function scaleHeadsRef(x: Float32Array, scale: ArrayLike<number>, D: number): Float32Array {
  const H = scale.length;
  return x.map((v, i) => v * Math.fround(scale[Math.floor(i / D) % H]));
}
