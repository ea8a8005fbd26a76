import { sumRows, type SumRowsShape, sumRowsRef } from '../../src/kernels/sum_rows.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

function sumRowsCase(name: string, shape: SumRowsShape, seed: number, lo = -1, hi = 1): GpuCase {
  const label = `sum_rows ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const { rows, n } = shape;
        const x = uniform(rng(seed), rows * n, lo, hi);
        const bufs = { x: s.upload(x, 'x'), y: s.empty(n, 'y') };
        await s.run(await sumRows(ctx, bufs, shape, label));
        // Relative to Σ_rows |x|, the scale of any summation order's rounding (measured: at most 1.3e-7 of it).
        const scale = sumRowsRef(x.map(Math.abs), shape);
        assertClose(label, await s.read(bufs.y), sumRowsRef(x, shape), { rtol: 1e-6, scale, shape: [n] });
      }),
  };
}

const specs: [string, SumRowsShape, number?, number?][] = [
  ['1x1', { rows: 1, n: 1 }],
  ['1x7', { rows: 1, n: 7 }],
  ['3x33', { rows: 3, n: 33 }],
  ['17x5', { rows: 17, n: 5 }],
  ['vec4 9x4', { rows: 9, n: 4 }],
  ['vec4 5x40 (4 row lanes)', { rows: 5, n: 40 }],
  ['1000x257', { rows: 1000, n: 257 }],
  ['vec4 1025x68 (partial chunk)', { rows: 1025, n: 68 }],
  ['4096 rows x 5', { rows: 4096, n: 5 }],
  ['vec4 4096 rows x 256', { rows: 4096, n: 256 }],
  ['4096 rows x 33 of 1000 + noise', { rows: 4096, n: 33 }, 999, 1001],
  ['vec4 4096 rows x 64 of positive values', { rows: 4096, n: 64 }, 0, 1],
  ['70 rows x 1030 (many workgroups)', { rows: 70, n: 1030 }],
  ['1 row x 1048593 (2-D grid)', { rows: 1, n: 1048593 }],
];

export const cases: GpuCase[] = [
  ...specs.map(([name, shape, lo, hi], i) => sumRowsCase(name, shape, 900 + i, lo, hi)),
  {
    name: 'sum_rows rejects bad arguments',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const x = s.empty(12, 'x');
        const y = s.empty(4, 'y');
        const bad: [string, () => Promise<unknown>, RegExp][] = [
          ['rows = 0', () => sumRows(ctx, { x, y }, { rows: 0, n: 4 }, 'db'), /db: rows = 0 is not a positive integer/],
          ['n = 1.5', () => sumRows(ctx, { x, y }, { rows: 2, n: 1.5 }, 'db'), /db: n = 1.5/],
          ['short x', () => sumRows(ctx, { x, y }, { rows: 4, n: 4 }, 'db'), /db: buffer x holds 12 elements, the shape needs 16/],
          ['short y', () => sumRows(ctx, { x, y }, { rows: 2, n: 6 }, 'db'), /db: buffer y holds 4 elements, the shape needs 6/],
          ['y is x', () => sumRows(ctx, { x, y: x }, { rows: 3, n: 4 }, 'db'), /db: buffer y must not be the same GPUBuffer as x/],
        ];
        for (const [what, f, re] of bad) {
          const err = await f().then(
            () => 'no error',
            (e: unknown) => String(e),
          );
          if (!re.test(err)) throw new Error(`sum_rows ${what}: got '${err}', want ${re}`);
        }
      }),
  },
];
