import { swiglu, swigluRef } from '../../src/kernels/swiglu.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

function swigluCase(n: number, seed: number): GpuCase {
  const label = `swiglu n=${n}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const gate = uniform(rand, n, -8, 8);
        const up = uniform(rand, n, -2, 2);
        const y = s.empty(n, 'y');
        await s.run(await swiglu(ctx, { gate: s.upload(gate, 'gate'), up: s.upload(up, 'up'), y }, n, label));
        assertClose(label, await s.read(y), swigluRef(gate, up), { atol: 1e-6, rtol: 1e-5, shape: [n] });
      }),
  };
}

export const cases: GpuCase[] = [
  swigluCase(1, 1950),
  swigluCase(257, 1951),
  swigluCase(70001, 1952),
  {
    name: 'swiglu: silu(0) = 0, silu(large) = identity, silu(very negative) = 0; n = 0 refused',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const gate = Float32Array.from([0, 30, -30, 1]);
        const y = s.empty(4, 'y');
        await s.run(await swiglu(ctx, { gate: s.upload(gate), up: s.upload(Float32Array.from([5, 2, 2, 1])), y }, 4));
        assertClose('swiglu fixed points', await s.read(y), [0, 60, -30 * 2 * Math.exp(-30), 1 / (1 + Math.exp(-1))], { atol: 1e-6, rtol: 1e-6, shape: [4] });
        const err = await swiglu(ctx, { gate: y, up: y, y: s.empty(4) }, 0, 'sw').then(() => 'no error', String);
        if (!/sw: n = 0 is not a positive 32-bit integer/.test(err)) throw new Error(`swiglu n = 0: got '${err}'`);
      }),
  },
];
