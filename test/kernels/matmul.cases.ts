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
  // transA: A stored [K, M], as dY [rows, out] for a weight gradient dW = dYᵀ · X.
  ['transposed A 1x1x1', { M: 1, N: 1, K: 1, transA: true }],
  ['transposed A odd 67x71x73', { M: 67, N: 71, K: 73, transA: true }],
  ['transposed A vec4 64x96x144', { M: 64, N: 96, K: 144, transA: true }],
  ['transposed A, M % 4 != 0 (scalar loads) 30x36x64', { M: 30, N: 36, K: 64, transA: true }],
  ['transposed A weight gradient 4096 rows 40x24x4096', { M: 40, N: 24, K: 4096, transA: true }],
  ['transposed A and B odd 19x23x37', { M: 19, N: 23, K: 37, transA: true, transB: true }],
  ['transposed A and B vec4 2x 40x36x64', { M: 40, N: 36, K: 64, batch: 2, transA: true, transB: true }],
  ['transposed A batched offsets 3x 9x25x16', { M: 9, N: 25, K: 16, batch: 3, offA: 5, offB: 3, offC: 7, transA: true }],
  ['transposed A batched vec4 offsets, broadcast B', { M: 12, N: 20, K: 24, batch: 3, offA: 8, offB: 4, strideB: 0, transA: true }],
  ['transposed A and B batched offsets, padded strides', { M: 7, N: 11, K: 13, batch: 2, offA: 1, offB: 2, offC: 3, strideA: 100, strideB: 150, strideC: 80, transA: true, transB: true }],
];

export const cases: GpuCase[] = [
  ...shapes.flatMap(([name, shape], i) => [
    matmulCase(name, shape, false, 100 + i),
    matmulCase(`${name} + bias`, shape, true, 200 + i),
  ]),
  matmulCase('primes 67x71x73 + bias', { M: 67, N: 71, K: 73 }, true, 300, 'matmul_naive'),
  matmulCase('transposed batched', { M: 19, N: 23, K: 37, batch: 2, transB: true }, false, 301, 'matmul_naive'),
  {
    name: 'matmul reference with transA is the product with Aᵀ stored explicitly (weight gradient dYᵀ·X)',
    run: async () => {
      const rand = rng(310);
      const [rows, out, inF] = [5, 3, 4];
      const dY = uniform(rand, rows * out);
      const x = uniform(rand, rows * inF);
      const dYt = new Float32Array(out * rows);
      for (let r = 0; r < rows; r++) for (let o = 0; o < out; o++) dYt[o * rows + r] = dY[r * out + o];
      const got = matmulRef(dY, x, { M: out, N: inF, K: rows, transA: true });
      assertClose('transA ref', got, matmulRef(dYt, x, { M: out, N: inF, K: rows }), { atol: 0 });
      // Entry by entry: dW[o, i] = Σ_r dY[r, o] x[r, i].
      const want = Array.from({ length: out * inF }, (_, k) => {
        let acc = 0;
        for (let r = 0; r < rows; r++) acc += dY[r * out + Math.floor(k / inF)] * x[r * inF + (k % inF)];
        return acc;
      });
      assertClose('transA ref by hand', got, want, { atol: 1e-6 });
    },
  },
  {
    name: 'matmul rejects buffers smaller than the shape',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const a = s.empty(12);
        const b = s.empty(20);
        const c = s.empty(15);
        const bad: [string, MatmulShape, RegExp][] = [
          ['a', { M: 3, N: 5, K: 5 }, /mm: buffer a holds 12 f32 elements, the shape needs 15/],
          ['b with offset', { M: 3, N: 5, K: 4, offB: 1, transA: true }, /mm: buffer b holds 20 f32 elements, the shape needs 21/],
          ['c batched', { M: 3, N: 5, K: 2, batch: 2, strideB: 0 }, /mm: buffer c holds 15 f32 elements, the shape needs 30/],
        ];
        for (const [what, shape, re] of bad) {
          const err = await matmul(ctx, { a, b, c }, shape, 'mm').then(
            () => 'no error',
            (e: unknown) => String(e),
          );
          if (!re.test(err)) throw new Error(`matmul small ${what}: got '${err}', want ${re}`);
        }
      }),
  },
];
