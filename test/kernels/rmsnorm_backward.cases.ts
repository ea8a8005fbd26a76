import { type RmsNormShape, rmsNormRef } from '../../src/kernels/rmsnorm.ts';
import { rmsNormBackward, rmsNormBackwardRef, rmsNormWeightGrad } from '../../src/kernels/rmsnorm_backward.ts';
import { type GpuCase, ROW_WIDTHS, assertClose, rng, uniform, withScope } from '../harness.ts';

/** dx (with and without dxAdd), rstd and dWeight against rmsNormBackwardRef. */
function backwardCase(name: string, shape: RmsNormShape, seed: number): GpuCase {
  const label = `rmsnorm_backward ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const { rows, C } = shape;
        const x = uniform(rand, rows * C, -2, 2);
        const dy = uniform(rand, rows * C);
        const w = uniform(rand, C, 0.5, 1.5);
        const add = uniform(rand, rows * C);
        const want = rmsNormBackwardRef(x, dy, w, shape);
        const b = { x: s.upload(x, 'x'), dy: s.upload(dy, 'dy'), weight: s.upload(w, 'weight') };
        const [dx, dx2, rstd, dW] = [s.empty(rows * C, 'dx'), s.empty(rows * C, 'dx + add'), s.empty(rows, 'rstd'), s.empty(C, 'dW')];
        await s.run(
          await rmsNormBackward(ctx, { ...b, dx, rstd }, shape, `${label} dx`),
          await rmsNormBackward(ctx, { ...b, dx: dx2, rstd: s.empty(rows, 'rstd 2'), dxAdd: s.upload(add, 'dxAdd') }, shape, `${label} dx + add`),
          await rmsNormWeightGrad(ctx, { x: b.x, dy: b.dy, rstd, dWeight: dW }, shape, `${label} dW`),
        );
        assertClose(`${label}: dx`, await s.read(dx), want.dx, { atol: 1e-5, rtol: 1e-5, shape: [rows, C] });
        assertClose(`${label}: dx + dxAdd`, await s.read(dx2), want.dx.map((v, i) => v + add[i]), { atol: 1e-5, rtol: 1e-5, shape: [rows, C] });
        assertClose(`${label}: rstd`, await s.read(rstd), want.rstd, { atol: 0, rtol: 1e-6, shape: [rows] });
        assertClose(`${label}: dWeight`, await s.read(dW), want.dWeight, { atol: 1e-5 * rows, rtol: 1e-5, shape: [C] });
      }),
  };
}

/** The reference is the gradient of Σ rmsNormRef(x, w) · dy: central differences in x and w. */
function finiteDifferenceCase(): GpuCase {
  const label = 'rmsnorm_backward reference is the gradient (finite differences)';
  return {
    name: label,
    run: async () => {
      const rand = rng(1899);
      const shape = { rows: 3, C: 6, eps: 1e-5 };
      const x = new Float64Array(uniform(rand, 18, -2, 2));
      const w = new Float64Array(uniform(rand, 6, 0.5, 1.5));
      const dy = uniform(rand, 18);
      const g = rmsNormBackwardRef(Float32Array.from(x), dy, Float32Array.from(w), shape);
      const loss = () => {
        let sum = 0;
        for (let r = 0; r < 3; r++) {
          let ms = 0;
          for (let c = 0; c < 6; c++) ms += x[r * 6 + c] ** 2;
          const rs = 1 / Math.sqrt(ms / 6 + shape.eps);
          for (let c = 0; c < 6; c++) sum += w[c] * x[r * 6 + c] * rs * dy[r * 6 + c];
        }
        return sum;
      };
      for (const [what, arr, grad] of [['dx', x, g.dx], ['dWeight', w, g.dWeight]] as const) {
        for (let i = 0; i < arr.length; i++) {
          const x0 = arr[i];
          arr[i] = x0 + 1e-6;
          const up = loss();
          arr[i] = x0 - 1e-6;
          const down = loss();
          arr[i] = x0;
          const fd = (up - down) / 2e-6;
          if (!(Math.abs(fd - grad[i]) <= 1e-4 + 1e-4 * Math.abs(fd))) throw new Error(`${label}: ${what}[${i}] = ${grad[i]}, finite difference ${fd}`);
        }
      }
      // And the reference forward it differentiates is rmsNormRef's.
      const y = rmsNormRef(Float32Array.from(x), Float32Array.from(w), shape);
      if (!(Math.abs(y[0] - (w[0] * x[0]) / Math.sqrt((x[0] ** 2 + x[1] ** 2 + x[2] ** 2 + x[3] ** 2 + x[4] ** 2 + x[5] ** 2) / 6 + shape.eps)) < 1e-6)) throw new Error(`${label}: rmsNormRef row 0`);
    },
  };
}

const specs: [string, RmsNormShape][] = [
  ['1x1', { rows: 1, C: 1, eps: 1e-6 }],
  ['3x7', { rows: 3, C: 7, eps: 1e-5 }],
  ['33x64', { rows: 33, C: 64, eps: 1e-6 }],
  ['130x576 (chunks of rows)', { rows: 130, C: 576, eps: 1e-5 }],
];

export const cases: GpuCase[] = [
  ...specs.map(([name, shape], i) => backwardCase(name, shape, 1850 + i)),
  ...ROW_WIDTHS.map((C, i) => backwardCase(`5x${C}`, { rows: 5, C, eps: 1e-5 }, 1950 + i)),
  finiteDifferenceCase(),
];
