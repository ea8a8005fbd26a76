import { swigluRef } from '../../src/kernels/swiglu.ts';
import { swigluBackward, swigluBackwardRef } from '../../src/kernels/swiglu_backward.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

function backwardCase(n: number, seed: number): GpuCase {
  const label = `swiglu_backward n=${n}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const [gate, up, dy] = [uniform(rand, n, -8, 8), uniform(rand, n, -2, 2), uniform(rand, n)];
        const want = swigluBackwardRef(dy, gate, up);
        const [dgate, dup] = [s.empty(n, 'dgate'), s.empty(n, 'dup')];
        await s.run(await swigluBackward(ctx, { dy: s.upload(dy, 'dy'), gate: s.upload(gate, 'gate'), up: s.upload(up, 'up'), dgate, dup }, n, label));
        assertClose(`${label}: dgate`, await s.read(dgate), want.dgate, { atol: 1e-6, rtol: 1e-5, shape: [n] });
        assertClose(`${label}: dup`, await s.read(dup), want.dup, { atol: 1e-6, rtol: 1e-5, shape: [n] });
      }),
  };
}

export const cases: GpuCase[] = [
  backwardCase(1, 1960),
  backwardCase(1000, 1961),
  {
    name: 'swiglu_backward reference is the gradient of swigluRef (finite differences)',
    run: async () => {
      const rand = rng(1962);
      const [gate, up, dy] = [uniform(rand, 50, -6, 6), uniform(rand, 50, -2, 2), uniform(rand, 50)];
      const g = swigluBackwardRef(dy, gate, up);
      const f = (gt: number, u: number) => (gt / (1 + Math.exp(-gt))) * u;
      for (let i = 0; i < 50; i++) {
        const fdG = (dy[i] * (f(gate[i] + 1e-4, up[i]) - f(gate[i] - 1e-4, up[i]))) / 2e-4;
        const fdU = (dy[i] * (f(gate[i], up[i] + 1e-4) - f(gate[i], up[i] - 1e-4))) / 2e-4;
        if (Math.abs(fdG - g.dgate[i]) > 1e-5 + 1e-4 * Math.abs(fdG) || Math.abs(fdU - g.dup[i]) > 1e-5 + 1e-4 * Math.abs(fdU)) {
          throw new Error(`swiglu_backward ref at ${i}: (${g.dgate[i]}, ${g.dup[i]}) vs finite differences (${fdG}, ${fdU})`);
        }
      }
      if (Math.abs(swigluRef(Float32Array.of(2), Float32Array.of(3))[0] - Math.fround((2 * 3) / (1 + Math.exp(-2)))) > 1e-6) throw new Error('swigluRef(2, 3)');
    },
  },
];
