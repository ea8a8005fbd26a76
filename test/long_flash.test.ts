// attention_flash in a model: on the SwiftShader kernel set an lm of 300 tokens that nobody listens to runs its
// attention with attention_flash (no [L, S] buffer) and gives the output it gives when hooks make every attention
// write its probabilities (the steps kernel).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { expectedTensors, type FileConfig, writeModelFile } from '../src/model/config.ts';
import { Model } from '../src/model/model.ts';
import { assertClose, rng, uniform, withKernels } from './harness.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'flash tests' });
});
afterAll(() => ctx?.dispose());

it('a 300-token lm: attention_flash when nobody listens, the same output as the steps kernel', async () => {
  const config = { format_version: 1, kind: 'lm', d_model: 16, nhead: 2, dim_feedforward: 24, num_encoder_layers: 2, num_decoder_layers: 0, decoder_norm: false, activation: 'relu', layer_norm_eps: 1e-5, norm_first: true, batch_first: true, bias: true, encoder_norm: true, vocab: ['<pad>', '<s>', '</s>', 'a', 'b', 'c'], positional: 'sinusoidal', max_len: 512, embed_scale: 4, pad_id: 0, bos_id: 1, eos_id: 2, causal: true } as unknown as FileConfig;
  const rand = rng(11);
  const tensors = new Map([...expectedTensors(config)].map(([n, shape]) => [n, uniform(rand, shape.reduce((a, b) => a * b, 1), -0.5, 0.5)]));
  const model = Model.load(ctx, writeModelFile(config, tensors), 'flash lm');
  try {
    await withKernels(ctx, { attention: 'steps', matmul: 'direct', rows: 'narrow' }, async () => {
      const src = { dtype: 'I32' as const, data: new Int32Array(300).map(() => 3 + Math.floor(rand() * 3)), shape: [1, 300] };
      const flash = (await model.forward({ src })).output;
      expect(model.planSteps.filter((l) => l.endsWith(': attention (flash)')).length).toBe(2);
      model.setForwardHook('all', 'encoder.layers.*.self_attn');
      const steps = (await model.forward({ src })).output;
      expect(model.planSteps.filter((l) => l.endsWith(': attention (steps)')).length).toBe(2);
      assertClose('flash vs steps output', flash, steps, { atol: 1e-5 });
    });
  } finally {
    model.dispose();
  }
});
