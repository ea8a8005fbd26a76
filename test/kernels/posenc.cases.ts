import { posEnc, type PosEncShape, posEncRef, sinusoid, sinusoidalTable } from '../../src/kernels/posenc.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

function peCase(name: string, shape: PosEncShape, maxLen: number, inPlace: boolean, seed: number): GpuCase {
  const label = `posenc ${name}${inPlace ? ' in place' : ''}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const n = shape.B * shape.L * shape.C;
        const x = uniform(rng(seed), n);
        const xBuf = s.upload(x, 'x');
        const out = inPlace ? xBuf : s.empty(n, 'out');
        const pe = s.upload(sinusoidalTable(maxLen, shape.C), 'pe');
        await s.run(await posEnc(ctx, { x: inPlace ? undefined : xBuf, pe, out }, shape, maxLen, label));
        const dims = shape.batchFirst ? [shape.B, shape.L, shape.C] : [shape.L, shape.B, shape.C];
        // Against sin/cos in f64: the f32 table and the f32 sum round by 1 ulp of |x + pe| <= 2 at most.
        assertClose(label, await s.read(out), posEncRef(x, shape), { atol: 1e-6, shape: dims });
      }),
  };
}

const specs: [string, PosEncShape, number, boolean][] = [
  ['1x1x1', { B: 1, L: 1, C: 1, batchFirst: true }, 1, false],
  ['batch-first 2x5x8', { B: 2, L: 5, C: 8, batchFirst: true }, 16, false],
  ['seq-first 7x3x13 (odd C)', { B: 3, L: 7, C: 13, batchFirst: false }, 7, false],
  ['batch-first 3x11x64, positions 990..1000', { B: 3, L: 11, C: 64, batchFirst: true, posOffset: 990 }, 1001, false],
  ['seq-first 9x2x30, positions 995..1003', { B: 2, L: 9, C: 30, batchFirst: false, posOffset: 995 }, 1024, false],
  ['seq-first 1x4x64 (one decoding step at 777)', { B: 4, L: 1, C: 64, batchFirst: false, posOffset: 777 }, 1000, true],
  ['batch-first 4x300x64 (76800 elements)', { B: 4, L: 300, C: 64, batchFirst: true }, 300, true],
  ['seq-first 300x2x123 (73800 elements)', { B: 2, L: 300, C: 123, batchFirst: false, posOffset: 700 }, 1000, true],
];

function cpuCase(name: string, body: () => void): GpuCase {
  return { name, run: async () => body() };
}

export const cases: GpuCase[] = [
  cpuCase('posenc sinusoid follows the tutorial formula', () => {
    const C = 6;
    const got = [0, 1, 2, 3, 4, 5].map((j) => sinusoid(0, j, C));
    assertClose('PE[0]', got, [0, 1, 0, 1, 0, 1], { atol: 0 });
    const w1 = 10000 ** (-2 / C);
    const want = [Math.sin(7), Math.cos(7), Math.sin(7 * w1), Math.cos(7 * w1), Math.sin(7 * 10000 ** (-4 / C)), Math.cos(7 * 10000 ** (-4 / C))];
    assertClose('PE[7]', [0, 1, 2, 3, 4, 5].map((j) => sinusoid(7, j, C)), want, { atol: 1e-15 });
    // Odd C: the last column is a sine of its own frequency.
    assertClose('PE[3, 4] of C=5', [sinusoid(3, 4, 5)], [Math.sin(3 * 10000 ** (-4 / 5))], { atol: 1e-15 });
  }),
  cpuCase('posenc table within 3e-8 of f64 up to position 2000', () => {
    const C = 33;
    const maxLen = 2001;
    const t = sinusoidalTable(maxLen, C);
    const want = new Float64Array(maxLen * C);
    for (let p = 0; p < maxLen; p++) for (let c = 0; c < C; c++) want[p * C + c] = sinusoid(p, c, C);
    assertClose('sinusoidalTable', t, want, { atol: 3e-8, shape: [maxLen, C] });
  }),
  ...specs.map(([name, shape, maxLen, inPlace], i) => peCase(name, shape, maxLen, inPlace, 900 + i)),
  {
    name: 'posenc rejects positions past the table',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const err = await posEnc(ctx, { x: s.empty(8), pe: s.empty(8), out: s.empty(8) }, { B: 1, L: 2, C: 4, batchFirst: true, posOffset: 1 }, 2).then(
          () => undefined,
          (e: unknown) => String(e),
        );
        if (!err || !/positions 1\.\.2 exceed the 2-position/.test(err)) throw new Error(`got ${err}`);
      }),
  },
];
