// Profiling: GPU timestamps per dispatch, summed per kernel and per module.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { INPUT_NAMES, type ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { formatProfile } from '../src/model/profile.ts';
import { readSafetensors } from '../src/model/safetensors.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'profile tests' });
});
afterAll(() => ctx?.dispose());

it('times every dispatch and sums per kernel and module (hooks included)', async () => {
  const dir = new URL('./fixtures/', import.meta.url);
  const model = Model.load(ctx, readFileSync(new URL('post-relu-seqfirst.model.safetensors', dir)));
  const io = readSafetensors(readFileSync(new URL('post-relu-seqfirst.io.safetensors', dir)));
  const inputs: ModelInputs = {};
  for (const n of INPUT_NAMES) if (io.tensors.has(n)) inputs[n] = io.tensors.get(n)!;
  try {
    model.setForwardHook('sa', 'encoder.layers.*.self_attn');
    // An adapter that offers timestamp-query (SwiftShader does) must give the device it and the profile timestamps;
    // only one that lacks it leaves the per-dispatch checks out, and says so.
    const adapter = await ctx.gpu.requestAdapter({ powerPreference: 'high-performance' });
    const offered = adapter?.features.has('timestamp-query') ?? false;
    expect(ctx.features.has('timestamp-query'), `adapter ${ctx.adapterName} offers timestamp-query, the device lacks it`).toBe(offered);
    const r = await model.profile(inputs, { runs: 2 });
    expect(r.timestamps, 'profile timestamps').toBe(offered);
    expect(r.dispatches).toBe(model.planStats!.dispatches);
    expect(r.forwardMs).toBeGreaterThan(0);
    if (!offered) {
      console.warn(`profile test: adapter ${ctx.adapterName} has no timestamp-query; per-dispatch GPU times not checked (needs a GPU that offers it)`);
      return;
    }
    expect(r.perDispatch!.length).toBe(r.dispatches);
    expect(r.perDispatch!.every((d) => d.ms >= 0 && d.kernel !== '')).toBe(true);
    const sum = (xs: { ms: number }[]) => xs.reduce((a, x) => a + x.ms, 0);
    expect(sum(r.byKernel!)).toBeCloseTo(r.gpuMs!, 6);
    expect(r.byModule![0]).toMatchObject({ module: '', count: r.dispatches });
    expect(r.byKernel!.map((k) => k.kernel)).toEqual(expect.arrayContaining([ctx.kernels.matmul === 'direct' ? 'matmul_direct' : 'matmul', ctx.kernels.attention === 'steps' ? 'attention_softmax' : 'attention', 'layernorm']));
    // The attention's dispatches carry its module's label: one fused kernel, or the steps' three (scores, softmax, P·V).
    expect(r.perDispatch!.filter((d) => d.label.startsWith('encoder.layers.0.self_attn attention')).length).toBe(ctx.kernels.attention === 'steps' ? 3 : 1);
    const layer0 = r.byModule!.find((m) => m.module === 'encoder.layers.0')!;
    expect(layer0.count).toBe(r.perDispatch!.filter((d) => d.module.startsWith('encoder.layers.0')).length);
    expect(formatProfile(r)).toMatch(/matmul[\s\S]*encoder\.layers\.0/);
  } finally {
    model.dispose();
  }
});
