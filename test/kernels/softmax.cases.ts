import { softmax, type SoftmaxShape, softmaxRef } from '../../src/kernels/softmax.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

/** Fills x with a row pattern; `edit` may overwrite entries (large magnitudes, -inf). */
function softmaxCase(
  name: string,
  shape: SoftmaxShape,
  seed: number,
  opts: { lo?: number; hi?: number; workgroupSize?: number; edit?: (x: Float32Array, s: Required<SoftmaxShape>, rand: () => number) => void } = {},
): GpuCase {
  return {
    name: `softmax ${name}`,
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const s: Required<SoftmaxShape> = { offX: 0, offY: 0, ...shape };
        const rand = rng(seed);
        const x = uniform(rand, s.offX + s.rows * s.n, opts.lo ?? -4, opts.hi ?? 4);
        opts.edit?.(x, s, rand);
        const yLen = s.offY + s.rows * s.n;
        const bufs = { x: sc.upload(x), y: sc.empty(yLen) };
        await sc.run(await softmax(ctx, bufs, shape, 'softmax', { workgroupSize: opts.workgroupSize }));
        const got = await sc.read(bufs.y);
        const want = softmaxRef(x, shape, new Float32Array(yLen));
        assertClose(`softmax ${name}`, got, want, { atol: 1e-6, shape: [yLen] });
        if (got.some(Number.isNaN)) throw new Error(`softmax ${name}: NaN in the output`);
      }),
  };
}

/** Sets some entries of every row to -inf (never all of them), and makes row `full` entirely -inf. */
function withNegInf(full?: number) {
  return (x: Float32Array, s: Required<SoftmaxShape>, rand: () => number) => {
    for (let r = 0; r < s.rows; r++) {
      const b = s.offX + r * s.n;
      for (let i = 1; i < s.n; i++) if (rand() < 0.4) x[b + i] = -Infinity;
      if (r === full) x.fill(-Infinity, b, b + s.n);
    }
  };
}

const cases: GpuCase[] = [];
let seed = 300;
for (const n of [1, 2, 7, 64, 65, 257, 1000, 4099]) {
  for (const rows of [1, 3, 70]) cases.push(softmaxCase(`${rows}x${n}`, { rows, n }, seed++));
}
cases.push(
  softmaxCase('large magnitudes ±80, 3x1000', { rows: 3, n: 1000 }, seed++, { lo: -80, hi: 80 }),
  softmaxCase('large magnitudes ±80, 70x65', { rows: 70, n: 65 }, seed++, { lo: -80, hi: 80 }),
  softmaxCase('one large entry dominates', { rows: 3, n: 257 }, seed++, {
    edit: (x, s) => {
      for (let r = 0; r < s.rows; r++) x[r * s.n + r * 7] = 80;
    },
  }),
  softmaxCase('some -inf entries, 70x65', { rows: 70, n: 65 }, seed++, { edit: withNegInf() }),
  softmaxCase('some -inf entries, 3x4099', { rows: 3, n: 4099 }, seed++, { edit: withNegInf() }),
  softmaxCase('a fully -inf row gives zeros, 3x7', { rows: 3, n: 7 }, seed++, { edit: withNegInf(1) }),
  softmaxCase('a fully -inf row gives zeros, 3x1000', { rows: 3, n: 1000 }, seed++, { edit: withNegInf(2) }),
  softmaxCase('all rows -inf, 3x1', { rows: 3, n: 1 }, seed++, { edit: (x) => x.fill(-Infinity) }),
  softmaxCase('offsets', { rows: 5, n: 33, offX: 3, offY: 11 }, seed++),
  softmaxCase('workgroup of 32, 3x1000', { rows: 3, n: 1000 }, seed++, { workgroupSize: 32 }),
  softmaxCase('workgroup of 256, 3x4099 with -inf', { rows: 3, n: 4099 }, seed++, { workgroupSize: 256, edit: withNegInf(1) }),
  softmaxCase('70000 rows (2-D grid), workgroup of 4', { rows: 70000, n: 5 }, seed, { workgroupSize: 4 }),
);

export { cases };
