import { roofRead, roofReadRef, type RoofReadShape } from '../../src/kernels/roof_read.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

const shapes: [string, RoofReadShape][] = [
  ['interleaved, 1000 vec4s over 96 invocations', { n: 1000, threads: 96, blocked: false }],
  ['blocked, 1000 vec4s over 96 invocations (a short last run, idle ones)', { n: 1000, threads: 96, blocked: true }],
  ['blocked, more invocations than vec4s', { n: 5, threads: 70, blocked: true }],
  ['interleaved, workgroups of 256, 4096 vec4s', { n: 4096, threads: 300, blocked: false, workgroupSize: 256 }],
];

export const cases: GpuCase[] = shapes.map(([name, s], i) => ({
  name: `roof_read ${name}`,
  run: (ctx) =>
    withScope(ctx, async (sc) => {
      const x = uniform(rng(900 + i), 4 * s.n);
      const out = sc.empty(s.threads, 'out');
      await sc.run(await roofRead(ctx, { x: sc.upload(x), out }, s, `roof_read ${name}`));
      assertClose(`roof_read ${name}`, await sc.read(out), roofReadRef(x, s), { atol: 1e-5, shape: [s.threads] });
    }),
}));
