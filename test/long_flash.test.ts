// attention_flash in a model: on the SwiftShader kernel set an lm of 300 tokens that nobody listens to runs its
// attention with attention_flash (no [L, S] buffer) and gives the output it gives when hooks make every attention
// write its probabilities (the steps kernel).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { assertClose, withKernels } from './harness.ts';
import { seededLm } from './lm_models.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'flash tests' });
});
afterAll(() => ctx?.dispose());

it('a 300-token lm: attention_flash when nobody listens, the same output as the steps kernel', async () => {
  const { model, inputs } = seededLm(ctx, 11, 300);
  try {
    await withKernels(ctx, { attention: 'steps', matmul: 'direct', rows: 'narrow' }, async () => {
      const flash = (await model.forward(inputs)).output;
      expect(model.planSteps.filter((l) => l.endsWith(': attention (flash)')).length).toBe(2);
      model.setForwardHook('all', 'encoder.layers.*.self_attn');
      const steps = (await model.forward(inputs)).output;
      expect(model.planSteps.filter((l) => l.endsWith(': attention (steps)')).length).toBe(2);
      assertClose('flash vs steps output', flash, steps, { atol: 1e-5 });
    });
  } finally {
    model.dispose();
  }
});
