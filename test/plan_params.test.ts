// Run-time plan params: one compiled plan whose copy offsets, kernel uniforms and activation sizes follow the params
// of each run (what a decode step's plan does per token), with its dispatches updated in place.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { ADD, add } from '../src/kernels/add.ts';
import { Plan } from '../src/scheduler/compile.ts';
import { affine, dimAt, PlanBuilder } from '../src/scheduler/plan.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'plan params tests' });
});
afterAll(() => ctx?.dispose());

describe('plan params', () => {
  it('a kernel step reads them: its uniforms, grid and pipeline variant follow each run; nothing is rebuilt', async () => {
    const b = new PlanBuilder(ctx);
    const n = affine(b.param('n', 7), 1, 1); // 1..8 elements: add's vec4 path is on for 4 and 8
    const [x, y] = [b.input([8], 'x'), b.input([8], 'y')];
    const out = b.act([n], 'sum');
    b.step('add', ADD, { a: x, b: y, out }, (r, p, c) => add(c, r, dimAt(n, p), 'add'));
    b.output(out);
    const plan = await Plan.compile(ctx, b, 'params');
    const bindGroups = vi.spyOn(ctx.device, 'createBindGroup');
    try {
      const xs = Float32Array.from({ length: 8 }, (_, i) => i + 1);
      const ys = Float32Array.from({ length: 8 }, (_, i) => 10 * (i + 1));
      const sums = async (k: number) => Array.from((await plan.run([xs, ys], 'params', false, 'forward', { n: k - 1 })).outputs[0]);
      for (const k of [3, 4, 8, 1, 4, 3]) expect(await sums(k)).toEqual(Array.from({ length: k }, (_, i) => 11 * (i + 1)));
      // The plan was compiled for n = 8 (vec4); the scalar variant's bind group is made once, at its first use.
      expect(bindGroups).toHaveBeenCalledTimes(1);
    } finally {
      bindGroups.mockRestore();
      plan.dispose();
    }
  });

  it('a copy offset follows them, and bad params fail before any work', async () => {
    const b = new PlanBuilder(ctx);
    const pos = b.param('pos', 3);
    const x = b.input([2], 'x');
    const cache = ctx.buffers.create(8 * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'cache');
    const kv = b.external(cache, [8], 'cache');
    b.copy('append', x, 0, kv, affine(pos, 2, 0), 2);
    const out = b.act([8], 'out');
    b.copy('read back', kv, 0, out, 0, 8);
    b.output(out);
    const plan = await Plan.compile(ctx, b, 'append');
    try {
      let last: number[] = [];
      for (const [p, v] of [[0, [1, 2]], [1, [3, 4]], [3, [7, 8]]] as const) {
        last = Array.from((await plan.run([Float32Array.from(v)], 'append', false, 'forward', { pos: p })).outputs[0]);
      }
      expect(last).toEqual([1, 2, 3, 4, 0, 0, 7, 8]);
      const x2 = [new Float32Array(2)];
      await expect(plan.run(x2)).rejects.toThrow('forward: the plan takes params {pos}, given {}');
      await expect(plan.run(x2, 'append', false, 'forward', { pos: 4 })).rejects.toThrow('param pos = 4 is not an integer in [0, 3]');
      await expect(plan.run(x2, 'append', false, 'forward', { pos: 1, len: 2 })).rejects.toThrow('takes params {pos}, given {pos, len}');
      expect(() => b.param('pos', 2)).toThrow('param pos is declared twice');
    } finally {
      plan.dispose();
      ctx.buffers.destroy(cache);
    }
  });
});
