// Plan steps from kernel descriptors: reads and writes follow from the bindings, and a compiled plan prints itself.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { ADD, add } from '../src/kernels/add.ts';
import { LAYERNORM, layerNorm } from '../src/kernels/layernorm.ts';
import { SCALE_HEADS } from '../src/kernels/scale_heads.ts';
import { Plan } from '../src/scheduler/compile.ts';
import { PlanBuilder } from '../src/scheduler/plan.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'describe tests' });
});
afterAll(() => ctx?.dispose());

const never = () => Promise.reject(new Error('not compiled'));

it("a step's reads and writes follow from the kernel's bindings", () => {
  const b = new PlanBuilder(ctx);
  const [x, y, z] = ['x', 'y', 'z'].map((l) => b.act([4], l));
  b.step('add', ADD, { a: x, b: y, out: z }, never);
  b.step('in place', SCALE_HEADS, { x: z }, never);
  b.step('add in place', ADD, { b: y, out: x }, never);
  const io = b.steps.map((s) => [s.reads.map((a) => a.label), s.writes.map((a) => a.label)]);
  expect(io).toEqual([
    [['x', 'y'], ['z']],
    [['z'], ['z']],
    [['y', 'x'], ['x']],
  ]);
  expect(() => b.step('typo', ADD, { a: x, c: y } as never, never)).toThrow(/typo: add has no buffer c/);
});

it('a compiled plan describes itself: kernel, label, buffers with access, shape, slot and bytes', async () => {
  const b = new PlanBuilder(ctx);
  const x = b.input([2, 8], 'x');
  const y = b.input([2, 8], 'y');
  const sum = b.act([2, 8], 'sum');
  const out = b.act([2, 8], 'normed');
  b.step('residual add', ADD, { a: x, b: y, out: sum }, (r) => add(ctx, r, 16, 'add'));
  b.step('layernorm', LAYERNORM, { x: sum, y: out }, (r) => layerNorm(ctx, r, { rows: 2, C: 8 }, 'ln'));
  b.output(out);
  const plan = await Plan.compile(ctx, b);
  try {
    const lines = plan.describe().split('\n');
    expect(lines[0]).toMatch(/^2 steps, 2 forward dispatches, \d+ slots of \d+ bytes$/);
    expect(lines[1]).toBe('   0  add  residual add  (192 B)');
    expect(lines[2]).toMatch(/^ +a +read +x \[2, 8\] {2}slot \d+ {2}64 B$/);
    expect(lines[4]).toMatch(/^ +out +write +sum \[2, 8\] {2}slot \d+ {2}64 B$/);
    expect(lines[5]).toBe('   1  layernorm  layernorm  (128 B)');
    expect(lines.length).toBe(8);
  } finally {
    plan.dispose();
  }
});
