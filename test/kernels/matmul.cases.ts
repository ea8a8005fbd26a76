import { halfBits } from '../../src/gpu/half.ts';
import { matmul, matmulExtent, type MatmulOptions, type MatmulShape, matmulRef } from '../../src/kernels/matmul.ts';
import { matmulNaive } from '../../src/kernels/matmul_naive.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

const abs = (x: Float32Array) => x.map(Math.abs);

const kernels = { matmul, matmul_naive: matmulNaive };

function matmulCase(
  name: string,
  shape: MatmulShape,
  withBias: boolean,
  seed: number,
  kernel: keyof typeof kernels = 'matmul',
  opts: MatmulOptions = {},
): GpuCase {
  const label = `${kernel}${opts.direct ? ' direct' : ''} ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const a = uniform(rand, matmulExtent(shape, 'a'));
        const b = uniform(rand, matmulExtent(shape, 'b'));
        const bias = withBias ? uniform(rand, shape.N) : undefined;
        // C starts random: elements outside the M x N blocks (row and batch gaps) must come back untouched.
        const cLen = matmulExtent(shape, 'c');
        const c0 = uniform(rand, cLen, 5, 6);
        // A packed B goes up as its 16-bit patterns (words viewed as f32: every bit kept); the reference rounds alike.
        const bStored = shape.dtypeB && shape.dtypeB !== 'f32' ? new Float32Array(halfBits(shape.dtypeB, b).buffer) : b;
        const bufs = { a: s.upload(a), b: s.upload(bStored), c: s.upload(c0), bias: bias && s.upload(bias) };
        await s.run(kernel === 'matmul' ? await matmul(ctx, bufs, shape, 'matmul', opts) : await kernels[kernel](ctx, bufs, shape));
        const got = await s.read(bufs.c);
        const want = matmulRef(a, b, shape, bias, c0.slice());
        // Relative to sum |a||b| (+|bias|): the scale of the rounding error of any summation order.
        const scale = matmulRef(abs(a), abs(b), shape, bias && abs(bias), new Float32Array(cLen));
        assertClose(label, got, want, { rtol: 1e-5, scale, shape: [cLen] });
      }),
  };
}

const shapes: [string, MatmulShape][] = [
  ['1x1x1', { M: 1, N: 1, K: 1 }],
  ['M=1 (vector-matrix)', { M: 1, N: 130, K: 96 }],
  ['one row, transposed B, odd K 1x77x37', { M: 1, N: 77, K: 37, transB: true }],
  ['one row past one direct workgroup of rows 1x1100x16', { M: 1, N: 1100, K: 16 }],
  ['two rows, transposed A, odd K 2x20x13', { M: 2, N: 20, K: 13, transA: true }],
  ['two rows batched 3x 2x36x40, transposed B', { M: 2, N: 36, K: 40, batch: 3, transB: true }],
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
  // vec4 loads along M and N with a K that is no multiple of 4: the direct kernel's K tail under VEC4.
  ['transposed A vec4, odd K 12x20x13', { M: 12, N: 20, K: 13, transA: true }],
  ['transposed A and B odd 19x23x37', { M: 19, N: 23, K: 37, transA: true, transB: true }],
  ['transposed A and B vec4 2x 40x36x64', { M: 40, N: 36, K: 64, batch: 2, transA: true, transB: true }],
  ['transposed A batched offsets 3x 9x25x16', { M: 9, N: 25, K: 16, batch: 3, offA: 5, offB: 3, offC: 7, transA: true }],
  ['transposed A batched vec4 offsets, broadcast B', { M: 12, N: 20, K: 24, batch: 3, offA: 8, offB: 4, strideB: 0, transA: true }],
  ['transposed A and B batched offsets, padded strides', { M: 7, N: 11, K: 13, batch: 2, offA: 1, offB: 2, offC: 3, strideA: 100, strideB: 150, strideC: 80, transA: true, transB: true }],
];

/** Attention's per-head products as matmul sees them (attentionSteps): z = b*H + h over packed [rows, 3E] Q/K/V. */
function headShapes(B: number, H: number, L: number, D: number, seqFirst: boolean): [string, MatmulShape][] {
  const E = H * D;
  const row = 3 * E;
  const [strideB, strideL] = seqFirst ? [row, B * row] : [L * row, row];
  const order = seqFirst ? 'seq-first' : 'batch-first';
  return [
    [`per-head Q·Kᵀ, packed ${order} B=${B} H=${H} L=${L} D=${D}`, {
      M: L, N: L, K: D, batch: B * H, inner: H, transB: true,
      offA: 0, strideA: strideB, innerStrideA: D, lda: strideL,
      offB: E, strideB, innerStrideB: D, ldb: strideL,
      strideC: H * L * L, innerStrideC: L * L,
    }],
    [`per-head P·V, packed ${order} B=${B} H=${H} L=${L} D=${D}, output rows of ${E + 3}`, {
      M: L, N: D, K: L, batch: B * H, inner: H,
      strideA: H * L * L, innerStrideA: L * L,
      offB: 2 * E, strideB, innerStrideB: D, ldb: strideL,
      offC: 1, strideC: seqFirst ? E + 3 : L * (E + 3), innerStrideC: D, ldc: seqFirst ? B * (E + 3) : E + 3,
    }],
  ];
}

// Row strides (lda, ldb, ldc) and the two-level batch (inner), scalar and vec4 loads, every transpose.
const strided: [string, MatmulShape][] = [
  ['row strides, scalar 3x 19x23x37', { M: 19, N: 23, K: 37, batch: 3, lda: 41, ldb: 29, ldc: 30, strideA: 19 * 41 + 5, strideB: 37 * 29, strideC: 19 * 30 + 2 }],
  ['row strides, vec4 2x 20x24x32', { M: 20, N: 24, K: 32, batch: 2, lda: 36, ldb: 28, ldc: 27, strideA: 20 * 36, strideB: 32 * 28, strideC: 20 * 27 + 3, offA: 4, offB: 8, offC: 1 }],
  ['row strides, transposed B vec4 70x96x64', { M: 70, N: 96, K: 64, transB: true, lda: 68, ldb: 72, ldc: 100 }],
  ['row strides, transposed A odd 30x36x17', { M: 30, N: 36, K: 17, transA: true, lda: 33, ldb: 40, ldc: 37 }],
  ['row strides, transposed A and B vec4 2x 40x36x64', { M: 40, N: 36, K: 64, batch: 2, transA: true, transB: true, lda: 44, ldb: 68, ldc: 39, strideA: 64 * 44, strideB: 36 * 68, strideC: 40 * 39 }],
  ['inner batch 3 of 5 (partial last run), broadcast inner B', { M: 9, N: 13, K: 11, batch: 5, inner: 3, strideA: 3 * 99 + 7, innerStrideA: 99, strideB: 143, innerStrideB: 0, strideC: 3 * 117 + 2, innerStrideC: 117 }],
  ['inner batch, interleaved heads 2x3 of 17x8x8 (rows of 24)', { M: 17, N: 8, K: 8, batch: 6, inner: 3, lda: 24, strideA: 17 * 24, innerStrideA: 8, ldb: 24, strideB: 8 * 24, innerStrideB: 8, ldc: 24, strideC: 17 * 24, innerStrideC: 8 }],
  ['one row: lda shorter than K is fine', { M: 1, N: 5, K: 9, lda: 2, batch: 3, strideA: 9 }],
  ...headShapes(3, 2, 17, 8, false),
  ...headShapes(3, 5, 17, 13, true),
  ...headShapes(1, 8, 64, 32, true),
];

/** Workgroups of 4x4 and 8x8 threads (16x16 and 32x32 tiles): edges, batches and transposes. */
const smallTiles: [string, MatmulShape][] = [
  ['primes 67x71x73', { M: 67, N: 71, K: 73 }],
  ['exact tiles 32x48x64', { M: 32, N: 48, K: 64 }],
  ['transposed B batched 3x 19x23x37', { M: 19, N: 23, K: 37, batch: 3, transB: true }],
  ['transposed A vec4 64x96x144', { M: 64, N: 96, K: 144, transA: true }],
  ['transposed A and B odd 19x23x37', { M: 19, N: 23, K: 37, transA: true, transB: true }],
  ...headShapes(3, 2, 17, 8, true),
];

/**
 * B as 16-bit floats packed in pairs (a weight kept in its checkpoint's F16 / BF16), run as f16 and as bf16: odd row
 * lengths and offsets put a pair across two rows, an odd element count ends in a pad half.
 */
const halfShapes: [string, MatmulShape][] = [
  ['Linear, transposed B, vec4 70x96x64', { M: 70, N: 96, K: 64, transB: true }],
  ['transposed B, odd K (pairs straddle rows) 19x23x37', { M: 19, N: 23, K: 37, transB: true }],
  ['odd N (pairs straddle rows) 17x29x13', { M: 17, N: 29, K: 13 }],
  ['vec4 along N 33x40x20', { M: 33, N: 40, K: 20 }],
  ['odd offset into B, transposed 9x24x16', { M: 9, N: 24, K: 16, offA: 5, offB: 3, offC: 7, transB: true }],
  ['vec4 offset into B (in_proj k|v rows) 12x20x24', { M: 12, N: 20, K: 24, offB: 48, transB: true }],
  ['odd row stride ldb 29, transposed 10x12x20', { M: 10, N: 12, K: 20, ldb: 29, transB: true }],
  ['one row (decode), transposed, odd K 1x77x37', { M: 1, N: 77, K: 37, transB: true }],
  ['two rows, transposed vec4 2x36x40', { M: 2, N: 36, K: 40, transB: true }],
  ['1x1x1 (one element and a pad half)', { M: 1, N: 1, K: 1 }],
  ['broadcast B over batch, odd 3x 13x21x11', { M: 13, N: 21, K: 11, batch: 3, strideB: 0, transB: true }],
  ['transposed A, odd 30x36x17', { M: 30, N: 36, K: 17, transA: true }],
];

/**
 * Every matmul case, for the tiled kernel and for the direct one (opts.direct: 8x8 blocks per invocation, no
 * workgroup memory), same tolerances. The direct kernel's workgroups of 4x4 and 16x16 invocations (32x32 and
 * 128x128 tiles) run the small-tile shapes too; its default is 8x8.
 */
const kernelCases = (direct: boolean): GpuCase[] => [
  ...shapes.flatMap(([name, shape], i) => [
    matmulCase(name, shape, false, 100 + i, 'matmul', { direct }),
    matmulCase(`${name} + bias`, shape, true, 200 + i, 'matmul', { direct }),
  ]),
  ...strided.flatMap(([name, shape], i) => [
    matmulCase(name, shape, false, 400 + i, 'matmul', { direct }),
    matmulCase(`${name} + bias`, shape, true, 450 + i, 'matmul', { direct }),
  ]),
  // Every shape as f16; bf16 differs only in how a half widens (half.wgsl), so every other shape.
  ...(['f16', 'bf16'] as const).flatMap((dtypeB, d) =>
    halfShapes
      .filter((_, i) => dtypeB === 'f16' || i % 2 === 0)
      .map(([name, shape], i) => matmulCase(`${dtypeB} B: ${name}${i % 2 ? ' + bias' : ''}`, { ...shape, dtypeB }, i % 2 === 1, 600 + 20 * d + i, 'matmul', { direct })),
  ),
  ...(direct ? ([4, 16] as const) : ([4, 8] as const)).flatMap((wg) =>
    smallTiles.map(([name, shape], i) =>
      matmulCase(`workgroup ${wg}x${wg}: ${name}${i % 2 ? ' + bias' : ''}`, shape, i % 2 === 1, 500 + wg * 10 + i, 'matmul', { workgroupSize: wg, direct }),
    ),
  ),
];

export const cases: GpuCase[] = [
  ...kernelCases(false),
  ...kernelCases(true),
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
          ['a', { M: 3, N: 5, K: 5 }, /mm: buffer a holds 12 elements, the shape needs 15/],
          ['b with offset', { M: 3, N: 5, K: 4, offB: 1, transA: true }, /mm: buffer b holds 20 elements, the shape needs 21/],
          ['c batched', { M: 3, N: 5, K: 2, batch: 2, strideB: 0 }, /mm: buffer c holds 15 elements, the shape needs 30/],
          // Two-level batch: the largest offset is at z = 2 (outer 0, inner 2): 2*6 + 3, not at z = 3 (outer 1, inner 0): 4 + 3.
          ['a inner batch', { M: 1, N: 1, K: 3, batch: 4, inner: 3, strideA: 4, innerStrideA: 6, strideB: 0, strideC: 1, innerStrideC: 0 }, /mm: buffer a holds 12 elements, the shape needs 15/],
          ['c row stride', { M: 3, N: 2, K: 1, ldc: 7 }, /mm: buffer c holds 15 elements, the shape needs 16/],
          ['lda short', { M: 2, N: 2, K: 3, lda: 2 }, /mm: lda = 2 is shorter than a stored row \(3 elements\)/],
          ['ldb short (transB)', { M: 2, N: 2, K: 3, ldb: 2, transB: true }, /mm: ldb = 2 is shorter than a stored row \(3 elements\)/],
          ['ldc short', { M: 2, N: 3, K: 2, ldc: 2 }, /mm: ldc = 2 is shorter than a stored row \(3 elements\)/],
          ['inner 0', { M: 2, N: 2, K: 2, inner: 0 }, /mm: inner must be at least 1/],
        ];
        for (const direct of [false, true]) {
          for (const [what, shape, re] of bad) {
            const err = await matmul(ctx, { a, b, c }, shape, 'mm', { direct }).then(
              () => 'no error',
              (e: unknown) => String(e),
            );
            if (!re.test(err)) throw new Error(`matmul${direct ? ' direct' : ''} small ${what}: got '${err}', want ${re}`);
          }
          const wg = await matmul(ctx, { a, b, c }, { M: 1, N: 1, K: 1 }, 'mm', { workgroupSize: 5 as 4, direct }).then(() => 'no error', String);
          if (!/mm: workgroupSize 5 is not one of 4, 8, 16/.test(wg)) throw new Error(`matmul${direct ? ' direct' : ''} workgroupSize 5: got '${wg}'`);
        }
        const naive = await matmulNaive(ctx, { a, b, c }, { M: 2, N: 2, K: 2, ldc: 3 }, 'naive').then(() => 'no error', String);
        if (!/naive: row strides .* need the tiled matmul/.test(naive)) throw new Error(`matmul_naive with ldc: got '${naive}'`);
      }),
  },
];
