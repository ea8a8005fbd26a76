import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/roof_fma.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

/** The register-only multiply-add kernel of bench:roof: the adapter's peak f32 throughput. */
export const ROOF_FMA = kernel({
  name: 'roof_fma',
  source,
  bindings: { out: 'write', p: 'uniform' },
  uniforms: { n: 'u32', iters: 'u32', m: 'f32', c: 'f32' },
  defines: ['MULADD'],
});

export interface RoofFmaShape {
  /** Invocations. */
  n: number;
  /** Loop iterations: 32 steps of each of the 2 vec4 chains. */
  iters: number;
  /** Threads per workgroup (default 64). */
  workgroupSize?: number;
  /** fma(acc, m, c) (default) or acc * m + c: bench:roof times both and counts the better. */
  op?: 'fma' | 'muladd';
}

/** Multiplier and addend: |m| < 1 keeps every chain bounded (it tends to c / (1 - m) = 1). */
const M = 0.5;
const C = 0.5;

/** Steps of each chain per loop iteration (roof_fma.wgsl's body, unrolled by hand). */
const STEPS = 32;

/** Flops one dispatch does: 2 chains x 4 lanes x 2 (a multiply and an add) x 32 steps per iteration per invocation. */
export const roofFmaFlops = (s: RoofFmaShape): number => 2 * 4 * 2 * STEPS * s.n * s.iters;

export async function roofFma(ctx: GpuContext, bufs: { out: GPUBufferBinding }, s: RoofFmaShape, label = 'roof_fma'): Promise<Dispatch> {
  const wg = s.workgroupSize ?? 64;
  for (const [k, v] of Object.entries({ n: s.n, iters: s.iters, workgroupSize: wg })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${label}: ${k} = ${v} is not a positive integer`);
  }
  if (s.op !== undefined && s.op !== 'fma' && s.op !== 'muladd') throw new Error(`${label}: op ${String(s.op)} is not 'fma' or 'muladd'`);
  return dispatchKernel(ctx, ROOF_FMA, label, {
    bufs,
    need: { out: s.n },
    params: { n: s.n, iters: s.iters, m: M, c: C },
    defines: { MULADD: s.op === 'muladd' },
    constants: { WG: wg },
    workgroups: grid1d(ctx, Math.ceil(s.n / wg)),
  });
}

/** CPU reference: each invocation's sum, in f32 steps (fused or not, the chains agree to a few ulps). */
export function roofFmaRef(s: RoofFmaShape): Float32Array {
  const f = Math.fround;
  return Float32Array.from({ length: s.n }, (_, i) => {
    let sum = 0;
    for (let j = 0; j < 2; j++) {
      for (let l = 0; l < 4; l++) {
        let a = f(f((i % 7) / 8 + l / 64) + j / 16);
        for (let k = 0; k < STEPS * s.iters; k++) a = f(a * M + C);
        sum += a;
      }
    }
    return sum;
  });
}
