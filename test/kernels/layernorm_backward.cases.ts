import { layerNormBackward, type LayerNormBackwardShape, layerNormBackwardRef, layerNormParamGrads } from '../../src/kernels/layernorm_backward.ts';
import { LAYERNORM_EPS } from '../../src/kernels/layernorm.ts';
import { type GpuCase, ROW_WIDTHS, assertClose, rng, uniform, withScope } from '../harness.ts';

interface LnbOptions {
  weight?: boolean;
  dxAdd?: boolean;
  /** Input values: lo + (hi - lo) * U(0, 1). */
  lo?: number;
  hi?: number;
  /** Every row constant (zero variance). */
  constant?: boolean;
  /** Which parameter gradients to ask for (default both). */
  params?: 'both' | 'weight' | 'bias' | 'none';
  /** Skip the dx kernel (parameter gradients only). */
  noDx?: boolean;
}

/** Per-row statistics in f64, for the tolerance scales. */
function rowStats(x: Float32Array, rows: number, C: number, eps: number): { mean: Float64Array; rstd: Float64Array } {
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < C; c++) m += x[r * C + c];
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[r * C + c] - m) ** 2;
    mean[r] = m;
    rstd[r] = 1 / Math.sqrt(v / C + eps);
  }
  return { mean, rstd };
}

function lnbCase(name: string, shape: LayerNormBackwardShape, o: LnbOptions, seed: number): GpuCase {
  const label = `layernorm backward ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const { rows, C } = shape;
        const eps = shape.eps ?? LAYERNORM_EPS;
        const n = rows * C;
        const rand = rng(seed);
        const x = uniform(rand, n, o.lo ?? -1, o.hi ?? 1);
        if (o.constant) for (let i = 0; i < n; i++) x[i] = x[i - (i % C)];
        const dy = uniform(rand, n);
        const weight = o.weight ? uniform(rand, C, 0.5, 1.5) : undefined;
        const dxAdd = o.dxAdd ? uniform(rand, n) : undefined;
        const want = layerNormBackwardRef(x, dy, shape, weight);
        const xBuf = s.upload(x, 'x');
        const dyBuf = s.upload(dy, 'dy');
        const { mean, rstd } = rowStats(x, rows, C, eps);

        if (!o.noDx) {
          const bufs = { x: xBuf, dy: dyBuf, dx: s.empty(n, 'dx'), weight: weight && s.upload(weight, 'weight'), dxAdd: dxAdd && s.upload(dxAdd, 'dxAdd') };
          await s.run(await layerNormBackward(ctx, bufs, shape, label));
          const wantDx = dxAdd ? want.dx.map((v, i) => v + dxAdd[i]) : want.dx;
          // Relative to the magnitudes the formula adds: rstd (|g| + mean|g| + |x̂| mean|g x̂|) + |dxAdd|
          // (measured on SwiftShader: at most 3.2e-7 of it).
          const scale = new Float64Array(n);
          for (let r = 0; r < rows; r++) {
            let mg = 0;
            let mgx = 0;
            for (let c = 0; c < C; c++) {
              const g = Math.abs(dy[r * C + c] * (weight ? weight[c] : 1));
              mg += g / C;
              mgx += (g * Math.abs(x[r * C + c] - mean[r]) * rstd[r]) / C;
            }
            for (let c = 0; c < C; c++) {
              const i = r * C + c;
              const g = Math.abs(dy[i] * (weight ? weight[c] : 1));
              scale[i] = rstd[r] * (g + mg + Math.abs(x[i] - mean[r]) * rstd[r] * mgx) + (dxAdd ? Math.abs(dxAdd[i]) : 0);
            }
          }
          assertClose(`${label} (dx)`, await s.read(bufs.dx), wantDx, { rtol: 4e-6, scale, shape: [rows, C] });
        }

        const which = o.params ?? 'both';
        if (which !== 'none') {
          const pb = {
            x: xBuf,
            dy: dyBuf,
            dWeight: which !== 'bias' ? s.empty(C, 'dWeight') : undefined,
            dBias: which !== 'weight' ? s.empty(C, 'dBias') : undefined,
          };
          await s.run(await layerNormParamGrads(ctx, pb, shape, `${label} params`));
          // Relative to Σ_rows |dy x̂| and Σ_rows |dy|, the scale of any summation order's rounding (measured:
          // at most 1.3e-6 and 1.2e-7 of it; dWeight's is x̂'s error, from the statistics in f32).
          const sW = new Float64Array(C);
          const sB = new Float64Array(C);
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < C; c++) {
              const i = r * C + c;
              sW[c] += Math.abs(dy[i] * (x[i] - mean[r]) * rstd[r]);
              sB[c] += Math.abs(dy[i]);
            }
          }
          if (pb.dWeight) assertClose(`${label} (dWeight)`, await s.read(pb.dWeight), want.dWeight, { rtol: 5e-6, scale: sW, shape: [C] });
          if (pb.dBias) assertClose(`${label} (dBias)`, await s.read(pb.dBias), want.dBias, { rtol: 1e-6, scale: sB, shape: [C] });
        }
      }),
  };
}

// Names say the shape (rows x C) and the inputs; the runner adds each kernel set (dx threads per row: C / 4 rounded
// down to a power of two, at most 4 narrow, 64 wide, 256 wide past C = 1024) and reports which ran at which width.
const specs: [string, LayerNormBackwardShape, LnbOptions][] = [
  ['C=1 (zero variance)', { rows: 3, C: 1 }, { weight: true }],
  ['1x5', { rows: 1, C: 5 }, { weight: true }],
  ['7x5 no weight', { rows: 7, C: 5 }, {}],
  ['9x33 + weight', { rows: 9, C: 33 }, { weight: true }],
  ['9x33 + weight + dxAdd', { rows: 9, C: 33 }, { weight: true, dxAdd: true }],
  ['4x64, dxAdd, no weight', { rows: 4, C: 64 }, { dxAdd: true }],
  ['5x257 + weight', { rows: 5, C: 257 }, { weight: true }],
  ['3x1031 (prime C) + weight + dxAdd', { rows: 3, C: 1031 }, { weight: true, dxAdd: true }],
  ['2x512 eps 1e-3', { rows: 2, C: 512, eps: 1e-3 }, { weight: true }],
  ['constant rows (var = 0)', { rows: 4, C: 33 }, { weight: true, constant: true }],
  ['large mean 1000 + noise', { rows: 6, C: 130 }, { weight: true, lo: 999, hi: 1001 }],
  ['wide range [-100, 100]', { rows: 5, C: 300 }, { weight: true, lo: -100, hi: 100 }],
  ['4096 rows x 33 + weight + dxAdd', { rows: 4096, C: 33 }, { weight: true, dxAdd: true }],
  ['4096 rows x 257, parameter gradients', { rows: 4096, C: 257 }, { weight: true, noDx: true }],
  ['300 rows x 130 (3 column blocks, partial chunk)', { rows: 300, C: 130 }, { weight: true }],
  ['66000 rows x 3 (2-D grid)', { rows: 66000, C: 3 }, { weight: true }],
  ['dWeight only', { rows: 70, C: 45 }, { weight: true, params: 'weight' }],
  ['dBias only', { rows: 70, C: 45 }, { params: 'bias' }],
  // Both sides of every thread count (values in [-2, 3]: the mean is not 0).
  ...ROW_WIDTHS.map((C): [string, LayerNormBackwardShape, LnbOptions] => [`5x${C} + weight + dxAdd`, { rows: 5, C }, { weight: true, dxAdd: true, lo: -2, hi: 3 }]),
];

/** y = LN(x) γ + β in f64, and Σ y·dy: the scalar whose derivatives the backward computes. */
function lossF64(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, dy: ArrayLike<number>, rows: number, C: number, eps: number): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < C; c++) m += x[r * C + c];
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[r * C + c] - m) ** 2;
    const rstd = 1 / Math.sqrt(v / C + eps);
    for (let c = 0; c < C; c++) total += ((x[r * C + c] - m) * rstd * w[c] + b[c]) * dy[r * C + c];
  }
  return total;
}

function finiteDifferenceCase(): GpuCase {
  return {
    name: 'layernorm backward reference is the gradient (central differences on x, weight, bias)',
    run: async () => {
      const rows = 3;
      const C = 7;
      const eps = LAYERNORM_EPS;
      const rand = rng(390);
      const x = uniform(rand, rows * C, -2, 2);
      const dy = uniform(rand, rows * C);
      const w = uniform(rand, C, 0.5, 1.5);
      const b = uniform(rand, C);
      const ref = layerNormBackwardRef(x, dy, { rows, C }, w);
      const h = 1e-6;
      const fd = (v: Float32Array, i: number, f: (p: Float64Array) => number) => {
        const plus = Float64Array.from(v);
        const minus = Float64Array.from(v);
        plus[i] += h;
        minus[i] -= h;
        return (f(plus) - f(minus)) / (2 * h);
      };
      const gx = Array.from(x, (_, i) => fd(x, i, (p) => lossF64(p, w, b, dy, rows, C, eps)));
      const gw = Array.from(w, (_, i) => fd(w, i, (p) => lossF64(x, p, b, dy, rows, C, eps)));
      const gb = Array.from(b, (_, i) => fd(b, i, (p) => lossF64(x, w, p, dy, rows, C, eps)));
      // 1e-3 of the largest gradient: a wrong term in the formula is off by O(1); the differences are good to ~1e-8.
      const tol = (g: ArrayLike<number>) => ({ atol: 1e-3 * Math.max(...Array.from(g, Math.abs)) });
      assertClose('d/dx', gx, ref.dx, tol(ref.dx));
      assertClose('d/dweight', gw, ref.dWeight, tol(ref.dWeight));
      assertClose('d/dbias', gb, ref.dBias, tol(ref.dBias));
      // The sums of dx over a row vanish (shifting a row leaves LN unchanged), and so does Σ dx·x̂ without a weight.
      const plain = layerNormBackwardRef(x, dy, { rows, C });
      for (let r = 0; r < rows; r++) {
        const row = plain.dx.subarray(r * C, (r + 1) * C);
        const s = row.reduce((a, v) => a + v, 0);
        if (Math.abs(s) > 1e-5) throw new Error(`layernorm backward ref: row ${r} of dx sums to ${s}, want 0`);
      }
    },
  };
}

async function expectThrow(what: string, f: () => Promise<unknown>, re: RegExp): Promise<void> {
  const err = await f().then(
    () => 'no error',
    (e: unknown) => String(e),
  );
  if (!re.test(err)) throw new Error(`${what}: got '${err}', want ${re}`);
}

export const cases: GpuCase[] = [
  finiteDifferenceCase(),
  ...specs.map(([name, shape, o], i) => lnbCase(name, shape, o, 400 + i)),
  {
    name: 'layernorm backward rejects bad arguments',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const x = s.empty(8, 'x');
        const dy = s.empty(8, 'dy');
        const dx = s.empty(8, 'dx');
        const w = s.empty(4, 'w');
        const sh = { rows: 2, C: 4 };
        await expectThrow('C = 0', () => layerNormBackward(ctx, { x, dy, dx }, { rows: 2, C: 0 }, 'lnb'), /lnb: C = 0 is not a positive integer/);
        await expectThrow('rows = 1.5', () => layerNormBackward(ctx, { x, dy, dx }, { rows: 1.5, C: 4 }, 'lnb'), /lnb: rows = 1.5/);
        await expectThrow('eps < 0', () => layerNormBackward(ctx, { x, dy, dx }, { ...sh, eps: -1 }, 'lnb'), /lnb: eps = -1/);
        await expectThrow('short dy', () => layerNormBackward(ctx, { x, dy, dx }, { rows: 3, C: 4 }, 'lnb'), /lnb: buffer x holds 8 elements, the shape needs 12/);
        await expectThrow('short weight', () => layerNormBackward(ctx, { x, dy, dx, weight: w }, { rows: 1, C: 8 }, 'lnb'), /lnb: buffer weight holds 4/);
        await expectThrow('dxAdd is dx', () => layerNormBackward(ctx, { x, dy, dx, dxAdd: dx }, sh, 'lnb'), /lnb: buffer dx must not be the same GPUBuffer as dxAdd/);
        await expectThrow('dx is x', () => layerNormBackward(ctx, { x, dy, dx: x }, sh, 'lnb'), /lnb: buffer dx must not be the same GPUBuffer as x/);
        await expectThrow('no outputs', () => layerNormParamGrads(ctx, { x, dy }, sh, 'lnp'), /lnp: neither dWeight nor dBias/);
        await expectThrow('short dWeight', () => layerNormParamGrads(ctx, { x, dy, dWeight: w }, { rows: 1, C: 8 }, 'lnp'), /lnp: buffer dWeight holds 4/);
        await expectThrow('dWeight is dBias', () => layerNormParamGrads(ctx, { x, dy, dWeight: w, dBias: w }, sh, 'lnp'), /lnp: buffer dWeight must not be the same GPUBuffer as dBias/);
      }),
  },
];
