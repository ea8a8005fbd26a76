import { add, addRef } from '../../src/kernels/add.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

function addCase(name: string, n: number, inPlace: boolean, seed: number): GpuCase {
  const label = `add ${name}${inPlace ? ' in place' : ''}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const a = uniform(rand, n, -100, 100);
        const b = uniform(rand, n, -1, 1);
        const aBuf = s.upload(a, 'a');
        const bBuf = s.upload(b, 'b');
        const out = inPlace ? aBuf : s.empty(n, 'out');
        await s.run(await add(ctx, { a: aBuf, b: bBuf, out: inPlace ? undefined : out }, n, label));
        // f32 addition is correctly rounded: bit-exact.
        assertClose(label, await s.read(out), addRef(a, b), { atol: 0 });
        if (!inPlace) assertClose(`${label} (a untouched)`, await s.read(aBuf), a, { atol: 0 });
      }),
  };
}

const sizes: [string, number][] = [
  ['n=1', 1],
  ['n=3', 3],
  ['n=4 (vec4)', 4],
  ['n=1001', 1001],
  ['n=1024 (one vec4 workgroup)', 1024],
  ['n=70001', 70001],
  ['n=65540 (vec4)', 65540],
  ['n=300000 (vec4)', 300000],
];

export const cases: GpuCase[] = [
  ...sizes.flatMap(([name, n], i) => [addCase(name, n, false, 700 + i), addCase(name, n, true, 750 + i)]),
  {
    name: 'add rejects aliased bindings',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const a = s.empty(8);
        for (const [what, bufs] of [
          ['b = a', { a, b: a, out: s.empty(8) }],
          ['out = a', { a, b: s.empty(8), out: a }],
        ] as const) {
          const err = await add(ctx, bufs, 8).then(
            () => undefined,
            (e: unknown) => e,
          );
          if (!err) throw new Error(`add with ${what} did not throw`);
        }
      }),
  },
];
