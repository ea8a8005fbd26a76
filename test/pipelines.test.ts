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

it('#include pastes a shared file once; an unknown one is refused', async () => {
  const twice = '#include grid\n#include grid\n@compute @workgroup_size(1) fn main() { _ = workgroupIndex(vec3<u32>(0u), vec3<u32>(1u)); }';
  await expect(ctx.pipelines.get({ kernel: 'twice', source: twice })).resolves.toBeDefined();
  await expect(ctx.pipelines.get({ kernel: 'unknown', source: '#include nope\n' })).rejects.toThrow(/kernel unknown: unknown #include nope/);
});

it("a described kernel gets its bindings and struct Params from the descriptor, and must not differ from it", async () => {
  const bindings = [{ name: 'out', kind: 'read_write', type: 'u32' }, { name: 'p', kind: 'uniform', type: 'Params' }] as const;
  const source = '@compute @workgroup_size(1) fn main() { out[0] = p.n; }';
  await expect(ctx.pipelines.get({ kernel: 'described', source, params: { n: 'u32' }, bindings })).resolves.toBeDefined();
  await expect(ctx.pipelines.get({ kernel: 'unread', source, params: { n: 'u32', m: 'f32' }, bindings })).rejects.toThrow(/uniform m is packed but the shader never reads it/);
  const declared = `@group(0) @binding(0) var<storage, read_write> out: array<u32>;\n${source}`;
  await expect(ctx.pipelines.get({ kernel: 'declared', source: declared, params: { n: 'u32' }, bindings })).rejects.toThrow(/declares bindings; they come from its descriptor/);
});
