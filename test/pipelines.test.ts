// The pipeline cache: a WGSL error becomes a thrown GpuError naming the kernel, never an uncaptured error later.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'pipeline tests' });
});
afterAll(() => ctx?.dispose());

it('a shader that does not parse fails at pipeline creation, naming the kernel', async () => {
  const source = '@compute @workgroup_size(1) fn main() { let x: f32 = ; }';
  await expect(ctx.pipelines.get({ kernel: 'broken', source })).rejects.toThrow(/kernel broken .*failed to compile/);
  expect(() => ctx.check('after')).not.toThrow();
});

it('a define the shader never tests, or one it tests but is not given, is refused', async () => {
  const source = '@compute @workgroup_size(1) fn main() {\n#if A\n#endif\n}';
  await expect(ctx.pipelines.get({ kernel: 'defines', source, defines: {} })).rejects.toThrow(/define A is used in the shader but not given/);
  await expect(ctx.pipelines.get({ kernel: 'defines', source, defines: { A: true, B: false } })).rejects.toThrow(/define B is given but the shader never tests it/);
});

it('the same kernel, defines and constants share one pipeline', async () => {
  const source = 'override N: u32 = 1;\n@compute @workgroup_size(N) fn main() {}';
  const [a, b] = await Promise.all([ctx.pipelines.get({ kernel: 'same', source, constants: { N: 4 } }), ctx.pipelines.get({ kernel: 'same', source, constants: { N: 4 } })]);
  expect(a).toBe(b);
  expect(await ctx.pipelines.get({ kernel: 'same', source, constants: { N: 8 } })).not.toBe(a);
});
