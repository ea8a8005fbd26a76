import { rmsNorm, rmsNormRef, type RmsNormShape } from '../../src/kernels/rmsnorm.ts';
import { type GpuCase, ROW_WIDTHS, assertClose, rng, uniform, withScope } from '../harness.ts';

function rmsNormCase(name: string, shape: RmsNormShape, seed: number, lo = -2, hi = 2): GpuCase {
  const label = `rmsnorm ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const x = uniform(rand, shape.rows * shape.C, lo, hi);
        const w = uniform(rand, shape.C, 0.5, 1.5);
        const y = s.empty(x.length, 'y');
        await s.run(await rmsNorm(ctx, { x: s.upload(x, 'x'), y, weight: s.upload(w, 'weight') }, shape, label));
        assertClose(label, await s.read(y), rmsNormRef(x, w, shape), { atol: 1e-6, rtol: 1e-5, shape: [shape.rows, shape.C] });
      }),
  };
}

const specs: [string, RmsNormShape, number?, number?][] = [
  ['1x1', { rows: 1, C: 1, eps: 1e-6 }],
  ['3x7', { rows: 3, C: 7, eps: 1e-5 }],
  ['17x64', { rows: 17, C: 64, eps: 1e-6 }],
  ['5x576 (SmolLM width)', { rows: 5, C: 576, eps: 1e-5 }],
  ['2x1030 values near 1000', { rows: 2, C: 1030, eps: 1e-6 }, 999, 1001],
  ['4x33 tiny values, eps dominates', { rows: 4, C: 33, eps: 1e-2 }, -1e-3, 1e-3],
];

export const cases: GpuCase[] = [
  ...specs.map(([name, shape, lo, hi], i) => rmsNormCase(name, shape, 1800 + i, lo, hi)),
  ...ROW_WIDTHS.map((C, i) => rmsNormCase(`5x${C}`, { rows: 5, C, eps: 1e-5 }, 1900 + i)),
  {
    name: 'rmsnorm rejects bad shapes and short buffers',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const [x, y, w] = [s.empty(12), s.empty(12), s.empty(4)];
        const bad: [string, RmsNormShape, RegExp][] = [
          ['C = 0', { rows: 3, C: 0, eps: 1e-6 }, /rn: C = 0 is not a positive integer/],
          ['eps < 0', { rows: 3, C: 4, eps: -1 }, /rn: eps = -1 must be finite and >= 0/],
          ['short x', { rows: 4, C: 4, eps: 1e-6 }, /rn: buffer x holds 12 elements, the shape needs 16/],
        ];
        for (const [what, shape, re] of bad) {
          const err = await rmsNorm(ctx, { x, y, weight: w }, shape, 'rn').then(() => 'no error', String);
          if (!re.test(err)) throw new Error(`rmsnorm ${what}: got '${err}', want ${re}`);
        }
      }),
  },
];
