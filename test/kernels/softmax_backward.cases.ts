import { softmaxRef } from '../../src/kernels/softmax.ts';
import { softmaxBackward, type SoftmaxBackwardShape, softmaxBackwardRef } from '../../src/kernels/softmax_backward.ts';
import { type GpuCase, ROW_WIDTHS, assertClose, rng, uniform, withScope } from '../harness.ts';

/**
 * P = softmax of random logits with about `pInf` of them -inf (exact zeros in P); rows in `fullRows` entirely -inf
 * (an all-zero row of P, as a fully blocked query gives). dP uniform in [-1, 1].
 */
function softmaxBackwardCase(name: string, shape: SoftmaxBackwardShape, seed: number, opts: { pInf?: number; fullRows?: number[] } = {}): GpuCase {
  const label = `softmax backward ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const { rows, n } = shape;
        const rand = rng(seed);
        const x = uniform(rand, rows * n, -4, 4);
        for (let i = 0; i < x.length; i++) if (i % n !== 0 && rand() < (opts.pInf ?? 0)) x[i] = -Infinity;
        for (const r of opts.fullRows ?? []) x.fill(-Infinity, r * n, (r + 1) * n);
        const p = softmaxRef(x, shape);
        const dp = uniform(rand, rows * n);
        const dx = sc.empty(rows * n, 'dx');
        await sc.run(await softmaxBackward(ctx, { probs: sc.upload(p, 'p'), dp: sc.upload(dp, 'dp'), dx }, shape, label));
        const got = await sc.read(dx);
        const want = softmaxBackwardRef(p, dp, shape);
        // |dx| <= p (|dp| + Σ p|dp|) <= 2 p: the f32 error of the row dot is relative to 1.
        assertClose(label, got, want, { atol: 1e-6, rtol: 1e-5, shape: [rows, n] });
        if (got.some(Number.isNaN)) throw new Error(`${label}: NaN in the output`);
        for (let i = 0; i < p.length; i++) {
          if (p[i] === 0 && got[i] !== 0) throw new Error(`${label}: dx[${i}] = ${got[i]} where p = 0`);
        }
        // The gradient of a softmax sums to zero along each row (softmax is invariant to adding a constant).
        for (let r = 0; r < rows; r++) {
          let sum = 0;
          for (let i = 0; i < n; i++) sum += want[r * n + i];
          if (Math.abs(sum) > 1e-5) throw new Error(`${label}: reference row ${r} sums to ${sum}, not 0`);
        }
      }),
  };
}

// Names say the shape (rows x n); the runner adds each kernel set (threads per row: 4 narrow, 64 wide).
const cases: GpuCase[] = [];
let seed = 1300;
for (const n of [7, 1000, 4099]) {
  for (const rows of [1, 70]) cases.push(softmaxBackwardCase(`${rows}x${n}`, { rows, n }, seed++));
}
// Both sides of every thread count.
for (const n of ROW_WIDTHS) cases.push(softmaxBackwardCase(`3x${n}`, { rows: 3, n }, seed++));
cases.push(
  softmaxBackwardCase('zeros in P (masked keys), 70x65', { rows: 70, n: 65 }, seed++, { pInf: 0.4 }),
  softmaxBackwardCase('zeros in P, 3x4099', { rows: 3, n: 4099 }, seed++, { pInf: 0.5 }),
  softmaxBackwardCase('an all-zero row (fully blocked query) gives zeros, 5x130', { rows: 5, n: 130 }, seed++, { pInf: 0.2, fullRows: [0, 3] }),
  softmaxBackwardCase('every row zero, 3x7', { rows: 3, n: 7 }, seed++, { fullRows: [0, 1, 2] }),
  softmaxBackwardCase('70000 rows (2-D grid)', { rows: 70000, n: 3 }, seed),
  {
    name: 'softmax backward rejects a short buffer, a bad shape and dx aliasing p',
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const a = sc.empty(12);
        const b = sc.empty(12);
        const expectThrow = async (what: string, f: () => Promise<unknown>, re: RegExp) => {
          const err = await f().then(
            () => undefined,
            (e: unknown) => e,
          );
          if (!(err instanceof Error) || !re.test(err.message)) throw new Error(`softmax backward: ${what} should fail with ${re}, got ${String(err)}`);
        };
        const c = sc.empty(12);
        await expectThrow('short', () => softmaxBackward(ctx, { probs: a, dp: b, dx: c }, { rows: 4, n: 4 }, 'sb'), /sb: buffer probs holds 12 elements, the shape needs 16/);
        await expectThrow('bad shape', () => softmaxBackward(ctx, { probs: a, dp: b, dx: c }, { rows: 1.5, n: 4 }, 'sb'), /sb: rows = 1.5 is not a positive integer/);
        await expectThrow('alias', () => softmaxBackward(ctx, { probs: a, dp: b, dx: a }, { rows: 3, n: 4 }, 'sb'), /sb: buffer dx must not be the same GPUBuffer as probs/);
      }),
  },
);

export { cases };
