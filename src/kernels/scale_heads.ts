import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/scale_heads.wgsl?raw';
import { type Dispatch, grid1d, makeDispatch } from './dispatch.ts';

const WG = 256;

/** x [rows, H*D] in place: head h's D columns times scale[h] (scale is an f32 buffer of H factors). */
export async function scaleHeads(ctx: GpuContext, bufs: { x: GPUBufferBinding; scale: GPUBufferBinding }, s: { rows: number; H: number; D: number }, label = 'scale_heads'): Promise<Dispatch> {
  for (const [k, v] of Object.entries(s)) if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  const total = s.rows * s.H * s.D;
  const pipeline = await ctx.pipelines.get({ kernel: 'scale_heads', source, constants: { WG } });
  const params = ctx.uniform(`${label} params`, [total, s.D, s.H]);
  return makeDispatch(ctx, label, pipeline, [bufs.x, bufs.scale, { buffer: params }], grid1d(ctx, Math.ceil(total / WG)), [params]);
}

/** CPU reference. */
export function scaleHeadsRef(x: Float32Array, scale: ArrayLike<number>, D: number): Float32Array {
  const H = scale.length;
  return x.map((v, i) => v * Math.fround(scale[Math.floor(i / D) % H]));
}
