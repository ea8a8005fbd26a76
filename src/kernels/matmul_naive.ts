import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/matmul_naive.wgsl?raw';
import { type Dispatch, makeDispatch } from './dispatch.ts';
import { checkMatmulShape, type MatmulBuffers, type MatmulShape, matmulLayout } from './matmul.ts';

/** The untiled baseline for bench/kernels.ts; matmul's contract (and CPU reference, matmulRef) without transA. */
export async function matmulNaive(ctx: GpuContext, bufs: MatmulBuffers, shape: MatmulShape, label = 'matmul_naive'): Promise<Dispatch> {
  const s = matmulLayout(shape);
  checkMatmulShape(label, s);
  if (s.transA) throw new Error(`${label}: the naive baseline has no transA (only the tiled matmul does)`);
  const pipeline = await ctx.pipelines.get({ kernel: 'matmul_naive', source, defines: { TRANS_B: s.transB, BIAS: !!bufs.bias } });
  const params = ctx.uniform(`${label} params`, [s.M, s.N, s.K, s.batch, s.strideA, s.strideB, s.strideC, s.offA, s.offB, s.offC]);
  const grid: [number, number, number] = [Math.ceil(s.N / 16), Math.ceil(s.M / 16), s.batch];
  return makeDispatch(ctx, label, pipeline, [bufs.a, bufs.b, bufs.c, bufs.bias, { buffer: params }], grid, [params]);
}
