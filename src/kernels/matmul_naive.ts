import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/matmul_naive.wgsl?raw';
import type { Dispatch } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';
import { checkMatmulShape, type MatmulBuffers, matmulLayout, matmulNeed, type MatmulShape } from './matmul.ts';

export const MATMUL_NAIVE = kernel({
  name: 'matmul_naive',
  source,
  bindings: { a: 'read', b: 'read', c: 'write', bias: 'read if BIAS', p: 'uniform' },
  uniforms: { M: 'u32', N: 'u32', K: 'u32', strideA: 'u32', strideB: 'u32', strideC: 'u32', offA: 'u32', offB: 'u32', offC: 'u32' },
  defines: ['TRANS_B', 'BIAS'],
});

/** The untiled baseline for bench/kernels.ts; matmul's contract (and CPU reference, matmulRef) without transA. */
export async function matmulNaive(ctx: GpuContext, bufs: MatmulBuffers, shape: MatmulShape, label = 'matmul_naive'): Promise<Dispatch> {
  const s = matmulLayout(shape);
  checkMatmulShape(label, s);
  if (s.transA) throw new Error(`${label}: the naive baseline has no transA (only the tiled matmul does)`);
  if (s.dtypeB !== 'f32') throw new Error(`${label}: the naive baseline reads only an f32 B (got ${s.dtypeB})`);
  return dispatchKernel(ctx, MATMUL_NAIVE, label, {
    bufs,
    need: matmulNeed(s),
    params: s,
    defines: { TRANS_B: s.transB },
    workgroups: [Math.ceil(s.N / 16), Math.ceil(s.M / 16), s.batch],
  });
}
