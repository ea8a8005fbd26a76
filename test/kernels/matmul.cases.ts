import { matmul, type MatmulShape, matmulLayout, matmulRef } from '../../src/kernels/matmul.ts';
import { matmulNaive } from '../../src/kernels/matmul_naive.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

const abs = (x: Float32Array) => x.map(Math.abs);

const kernels = { matmul, matmul_naive: matmulNaive };

function matmulCase(name: string, shape: MatmulShape, withBias: boolean, seed: number, kernel: keyof typeof kernels = 'matmul'): GpuCase {
  return {
    name: `${kernel} ${name}`,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const l = matmulLayout(shape);
        const rand = rng(seed);
        const a = uniform(rand, l.offA + (l.batch - 1) * l.strideA + l.M * l.K);
        const b = uniform(rand, l.offB + (l.batch - 1) * l.strideB + l.N * l.K);
        const bias = withBias ? uniform(rand, l.N) : undefined;
        const cLen = l.offC + (l.batch - 1) * l.strideC + l.M * l.N;
        const bufs = { a: s.upload(a), b: s.upload(b), c: s.empty(cLen), bias: bias && s.upload(bias) };
        await s.run(await kernels[kernel](ctx, bufs, shape));
        const got = await s.read(bufs.c);
        const want = matmulRef(a, b, shape, bias, new Float32Array(cLen));
        // Relative to sum |a||b| (+|bias|): the scale of the rounding error of any summation order.
        const scale = matmulRef(abs(a), abs(b), shape, bias && abs(bias), new Float32Array(cLen));
        assertClose(`${kernel} ${name}`, got, want, { rtol: 1e-5, scale, shape: [cLen] });
      }),
  };
}

const shapes: [string, MatmulShape][] = [
  ['1x1x1', { M: 1, N: 1, K: 1 }],
  ['M=1 (vector-matrix)', { M: 1, N: 130, K: 96 }],
  ['N=1', { M: 67, N: 1, K: 33 }],
  ['K=1', { M: 17, N: 29, K: 1 }],
  ['primes 67x71x73', { M: 67, N: 71, K: 73 }],
  ['exact tile 64x64x64', { M: 64, N: 64, K: 64 }],
  ['beyond one tile 129x200x48', { M: 129, N: 200, K: 48 }],
  ['deep K 33x17x1031', { M: 33, N: 17, K: 1031 }],
  ['batched 3x 31x45x19', { M: 31, N: 45, K: 19, batch: 3 }],
  ['batched vec4 2x 40x36x64', { M: 40, N: 36, K: 64, batch: 2 }],
  ['transposed B (Linear) 70x96x64', { M: 70, N: 96, K: 64, transB: true }],
  ['transposed B odd K 19x23x37', { M: 19, N: 23, K: 37, transB: true }],
  ['broadcast B over batch', { M: 13, N: 20, K: 12, batch: 4, strideB: 0, transB: true }],
  ['offsets into packed buffers', { M: 9, N: 24, K: 16, offA: 5, offB: 3, offC: 7, transB: true }],
  ['large 256x256x256', { M: 256, N: 256, K: 256 }],
];

export const cases: GpuCase[] = [
  ...shapes.flatMap(([name, shape], i) => [
    matmulCase(name, shape, false, 100 + i),
    matmulCase(`${name} + bias`, shape, true, 200 + i),
  ]),
  matmulCase('primes 67x71x73 + bias', { M: 67, N: 71, K: 73 }, true, 300, 'matmul_naive'),
  matmulCase('transposed batched', { M: 19, N: 23, K: 37, batch: 2, transB: true }, false, 301, 'matmul_naive'),
];
