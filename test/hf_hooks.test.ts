// Hooks and interventions on Hugging Face attention modules (GPT2Attention, BertSelfAttention, …), which are not
// torch's MultiheadAttention: head cuts on the GPU and head ablation, each checked against an independent path.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { directoryFiles } from '../src/model/hf/dir.ts';
import type { InputTensor } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors } from '../src/model/safetensors.ts';

const dir = (name: string) => new URL(`./fixtures/hf/${name}/`, import.meta.url).pathname;
let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'HF hook tests' });
});
afterAll(() => ctx?.dispose());

async function gpt2(): Promise<{ model: Model; inputs: { input_ids: InputTensor } }> {
  const io = readSafetensors(await readFile(`${dir('gpt2_lm')}io.safetensors`));
  return { model: await Model.fromCheckpoint(ctx, directoryFiles(dir('gpt2_lm'))), inputs: { input_ids: io.tensors.get('input_ids')! } };
}

it('averageHeads and heads cut a GPT2Attention capture on the GPU: equal to the full weights averaged / sliced', async () => {
  const { model, inputs } = await gpt2();
  try {
    const path = 'transformer.h.1.attn';
    model.setForwardHook('full', path);
    model.setForwardHook('mean', path, undefined, { averageHeads: true });
    model.setForwardHook('two', path, undefined, { heads: [2] });
    await model.forward(inputs);
    const full = model.hooks.full.output![1];
    const [B, H, L, S] = full.shape;
    const mean = model.hooks.mean.output![1];
    const two = model.hooks.two.output![1];
    expect(mean.shape).toEqual([B, L, S]);
    expect(two.shape).toEqual([B, 1, L, S]);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < L * S; i++) {
        let m = 0;
        for (let h = 0; h < H; h++) m += full.data[(b * H + h) * L * S + i];
        expect(mean.data[b * L * S + i]).toBeCloseTo(m / H, 6);
        expect(two.data[b * L * S + i]).toBe(full.data[(b * H + 2) * L * S + i]);
      }
    }
  } finally {
    model.dispose();
  }
});

it('scaleHeads ablates a GPT-2 head: equal to zeroing its columns of c_proj input in a pre-hook (on the CPU)', async () => {
  const { model, inputs } = await gpt2();
  try {
    const path = 'transformer.h.0.attn';
    const before = (await model.forward(inputs)).output;
    model.scaleHeads('ablate', path, { 1: 0 });
    const ablated = (await model.forward(inputs)).output;
    model.delHook('ablate');
    const D = 10; // n_embd 30 / n_head 3
    model.setForwardPreHook('zero', `${path}.c_proj`, (_m, input) => {
      const x = input[0].data.slice();
      for (let r = 0; r < x.length / 30; r++) x.fill(0, r * 30 + D, r * 30 + 2 * D);
      return [{ shape: input[0].shape, data: x }];
    });
    const reference = (await model.forward(inputs)).output;
    let changed = 0;
    for (let i = 0; i < before.length; i++) {
      expect(Math.abs(ablated[i] - reference[i])).toBeLessThanOrEqual(1e-5);
      changed = Math.max(changed, Math.abs(ablated[i] - before[i]));
    }
    expect(changed).toBeGreaterThan(1e-3);
  } finally {
    model.dispose();
  }
});

it('head options on a module that is not an attention module are refused, naming its class', async () => {
  const { model } = await gpt2();
  try {
    expect(() => model.scaleHeads('x', 'transformer.h.0.mlp', { 0: 0 })).toThrow(/transformer\.h\.0\.mlp is a GPT2MLP, not an attention module/);
    expect(() => model.setForwardHook('y', 'transformer.h.0.ln_1', undefined, { averageHeads: true })).toThrow(/attention modules only \(transformer\.h\.0\.ln_1 is a LayerNorm\)/);
  } finally {
    model.dispose();
  }
});
