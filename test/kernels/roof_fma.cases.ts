import { roofFma, roofFmaRef, type RoofFmaShape } from '../../src/kernels/roof_fma.ts';
import { type GpuCase, assertClose, withScope } from '../harness.ts';

const shapes: [string, RoofFmaShape][] = [
  ['one invocation, one step', { n: 1, iters: 1 }],
  ['100 invocations (a partial workgroup), 37 steps', { n: 100, iters: 37 }],
  ['workgroups of 32, 300 invocations, 200 steps', { n: 300, iters: 200, workgroupSize: 32 }],
  ['multiply then add, 100 invocations, 37 steps', { n: 100, iters: 37, op: 'muladd' }],
];

export const cases: GpuCase[] = shapes.map(([name, s]) => ({
  name: `roof_fma ${name}`,
  run: (ctx) =>
    withScope(ctx, async (sc) => {
      const out = sc.empty(s.n, 'out');
      await sc.run(await roofFma(ctx, { out }, s, `roof_fma ${name}`));
      // 8 chain lanes near 1 each: a fused and an unfused step differ by an ulp or so per chain.
      assertClose(`roof_fma ${name}`, await sc.read(out), roofFmaRef(s), { atol: 1e-4, shape: [s.n] });
    }),
}));
