import { layerNorm, type LayerNormShape, layerNormRef } from '../../src/kernels/layernorm.ts';
import { type GpuCase, ROW_WIDTHS, assertClose, rng, uniform, withScope } from '../harness.ts';

interface LnOptions {
  residual?: boolean;
  sum?: boolean;
  weight?: boolean;
  bias?: boolean;
  /** Input values: lo + (hi - lo) * U(0, 1). */
  lo?: number;
  hi?: number;
  /** Every row constant (zero variance: the output is the bias). */
  constant?: boolean;
}

function lnCase(name: string, shape: LayerNormShape, o: LnOptions, seed: number): GpuCase {
  const label = `layernorm ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const { rows, C } = shape;
        const n = rows * C;
        const rand = rng(seed);
        const x = uniform(rand, n, o.lo ?? -1, o.hi ?? 1);
        if (o.constant) for (let i = 0; i < n; i++) x[i] = x[i - (i % C)];
        const residual = o.residual ? uniform(rand, n) : undefined;
        const weight = o.weight ? uniform(rand, C, 0.5, 1.5) : undefined;
        const bias = o.bias ? uniform(rand, C) : undefined;
        const bufs = {
          x: s.upload(x, 'x'),
          y: s.empty(n, 'y'),
          residual: residual && s.upload(residual, 'residual'),
          sum: o.sum ? s.empty(n, 'sum') : undefined,
          weight: weight && s.upload(weight, 'weight'),
          bias: bias && s.upload(bias, 'bias'),
        };
        await s.run(await layerNorm(ctx, bufs, shape, label));
        const want = layerNormRef(x, shape, { residual, weight, bias });
        assertClose(label, await s.read(bufs.y), want.y, { atol: 1e-5, shape: [rows, C] });
        if (bufs.sum) assertClose(`${label} (sum)`, await s.read(bufs.sum), want.sum, { atol: 0, shape: [rows, C] });
      }),
  };
}

const affine = { weight: true, bias: true };

// Test names say the shape (rows x C) and what is special; the runner adds each kernel set (its threads per row: 4
// narrow; 64 wide up to C = 256, 256 above) and reports which ran at which width.
const specs: [string, LayerNormShape, LnOptions][] = [
  ['C=1 (zero variance: bias)', { rows: 3, C: 1 }, affine],
  ['1x7', { rows: 1, C: 7 }, affine],
  ['5x64', { rows: 5, C: 64 }, affine],
  ['7x97 (prime C)', { rows: 7, C: 97 }, affine],
  ['3x1031 (prime C)', { rows: 3, C: 1031 }, affine],
  ['2x512 eps 1e-3', { rows: 2, C: 512, eps: 1e-3 }, affine],
  ['constant rows (var = 0)', { rows: 4, C: 33 }, { ...affine, constant: true }],
  ['large mean 1000 + noise', { rows: 6, C: 512 }, { ...affine, lo: 999, hi: 1001 }],
  ['large mean -3e4 + noise, C prime', { rows: 3, C: 211 }, { ...affine, lo: -30001, hi: -29999 }],
  ['wide range [-100, 100]', { rows: 5, C: 300 }, { ...affine, lo: -100, hi: 100 }],
  ['66000 rows (2-D grid), 1-thread workgroup', { rows: 66000, C: 3, workgroupSize: 1 }, affine],
  ['no affine', { rows: 9, C: 45 }, {}],
  ['weight only (bias=False)', { rows: 6, C: 130 }, { weight: true }],
  ['32-thread workgroup, C=100', { rows: 3, C: 100, workgroupSize: 32 }, affine],
  ['1-thread workgroup', { rows: 2, C: 19, workgroupSize: 1 }, affine],
  ['+ residual (post-norm)', { rows: 11, C: 96 }, { ...affine, residual: true }],
  ['+ residual, C=1', { rows: 2, C: 1 }, { ...affine, residual: true }],
  ['+ residual with sum out (pre-norm)', { rows: 13, C: 77 }, { ...affine, residual: true, sum: true }],
  ['bias only + residual', { rows: 5, C: 40 }, { bias: true, residual: true }],
  // Both sides of every thread count, with every input (values in [-2, 3]: the mean is not 0).
  ...ROW_WIDTHS.map((C): [string, LayerNormShape, LnOptions] => [`5x${C} + residual with sum out`, { rows: 5, C }, { ...affine, residual: true, sum: true, lo: -2, hi: 3 }]),
];

export const cases: GpuCase[] = [
  ...specs.map(([name, shape, o], i) => lnCase(name, shape, o, 300 + i)),
  {
    name: 'layernorm rejects bad arguments',
    run: async (ctx) => {
      const expectThrow = async (what: string, f: () => Promise<unknown>, re: RegExp) => {
        const err = await f().then(
          () => undefined,
          (e: unknown) => String(e),
        );
        if (err === undefined) throw new Error(`${what}: did not throw`);
        if (!re.test(err)) throw new Error(`${what}: wrong error ${err}`);
      };
      await withScope(ctx, async (s) => {
        const x = s.empty(8);
        const y = s.empty(8);
        await expectThrow('sum without residual', () => layerNorm(ctx, { x, y, sum: s.empty(8) }, { rows: 2, C: 4 }), /needs a residual/);
        await expectThrow('C = 0', () => layerNorm(ctx, { x, y }, { rows: 2, C: 0 }), /C = 0/);
        await expectThrow('workgroup 48', () => layerNorm(ctx, { x, y }, { rows: 2, C: 4, workgroupSize: 48 }), /power of two/);
        await expectThrow('eps < 0', () => layerNorm(ctx, { x, y }, { rows: 2, C: 4, eps: -1 }), /eps/);
      });
    },
  },
];
