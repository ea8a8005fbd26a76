// Llama / Qwen2 beyond the reference cases of hf.cases.ts: generate's step attention against full forwards (the
// grouped K/V caches), head ablation, backward hooks and relevance on grouped-query attention, and config.json
// features attnscope refuses by name.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { applyChatTemplate } from '../src/model/hf/chat.ts';
import { type CheckpointFiles, readCheckpoint } from '../src/model/hf/checkpoint.ts';
import { directoryFiles } from '../src/model/hf/dir.ts';
import type { InputTensor } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { loadTokenizer } from '../src/model/hf/tokenizer.ts';
import { readSafetensors } from '../src/model/safetensors.ts';

const dir = (name: string) => new URL(`./fixtures/hf/${name}/`, import.meta.url).pathname;
let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'llama tests' });
});
afterAll(() => ctx?.dispose());

async function llama(): Promise<{ model: Model; ids: InputTensor }> {
  const io = readSafetensors(await readFile(`${dir('llama_lm')}io.safetensors`));
  return { model: await Model.fromCheckpoint(ctx, directoryFiles(dir('llama_lm'))), ids: io.tensors.get('input_ids')! };
}

const LAYERS = ['model.layers.0.self_attn', 'model.layers.1.self_attn'];

/** A fixture folder with config.json edited by `edit` and `extra` JSON files added beside it. */
function withFiles(name: string, edit: (c: Record<string, unknown>) => void, extra: Record<string, unknown> = {}): CheckpointFiles {
  const files = directoryFiles(dir(name));
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  return {
    ...files,
    list: async () => [...(await files.list()), ...Object.keys(extra)],
    async read(n: string) {
      if (n in extra) return json(extra[n]);
      if (n !== 'config.json') return files.read(n);
      const c = JSON.parse(new TextDecoder().decode(await files.read(n))) as Record<string, unknown>;
      edit(c);
      return json(c);
    },
  };
}

it('generate: each step\'s attention rows (4 query heads over cached keys of 2 KV heads) equal a full forward\'s', async () => {
  const { model, ids } = await llama();
  try {
    const [B, L] = ids.shape;
    const N = 5;
    for (const p of LAYERS) model.setForwardHook(p, p);
    const r = await model.generate(ids, { maxNewTokens: N, eos: null });
    const T = L + N - 1;
    const prompt = Array.from(ids.data, Number);
    const full = Int32Array.from({ length: B * T }, (_, i) => {
      const [b, t] = [Math.floor(i / T), i % T];
      return t < L ? prompt[b * L + t] : r.tokens[b][t - L];
    });
    await model.forward({ input_ids: { dtype: 'I32', shape: [B, T], data: full } });
    let worst = 0;
    for (const p of LAYERS) {
      const want = model.hooks[p].output![1];
      expect(want.shape).toEqual([B, 4, T, T]);
      r.steps.forEach((s, step) => {
        const w = s[p].output![1];
        const [Lq, S, q0] = step === 0 ? [L, L, 0] : [1, L + step, L - 1 + step];
        expect(w.shape).toEqual([B, 4, Lq, S]);
        for (let bh = 0; bh < B * 4; bh++) {
          for (let l = 0; l < Lq; l++) for (let k = 0; k < S; k++) worst = Math.max(worst, Math.abs(w.data[(bh * Lq + l) * S + k] - want.data[(bh * T + q0 + l) * T + k]));
        }
      });
    }
    expect(worst).toBeLessThanOrEqual(1e-5);
  } finally {
    model.dispose();
  }
});

it('scaleHeads ablates a query head of a grouped-query layer: equal to zeroing its columns of o_proj\'s input', async () => {
  const { model, ids } = await llama();
  try {
    const path = 'model.layers.0.self_attn';
    const before = (await model.forward({ input_ids: ids })).output;
    model.scaleHeads('ablate', path, { 3: 0 });
    const ablated = (await model.forward({ input_ids: ids })).output;
    model.delHook('ablate');
    const [E, D] = [32, 8];
    model.setForwardPreHook('zero', `${path}.o_proj`, (_m, input) => {
      const x = input[0].data.slice();
      for (let r = 0; r < x.length / E; r++) x.fill(0, r * E + 3 * D, r * E + 4 * D);
      return [{ shape: input[0].shape, data: x }];
    });
    const reference = (await model.forward({ input_ids: ids })).output;
    let changed = 0;
    for (let i = 0; i < before.length; i++) {
      expect(Math.abs(ablated[i] - reference[i])).toBeLessThanOrEqual(1e-5);
      changed = Math.max(changed, Math.abs(ablated[i] - before[i]));
    }
    expect(changed).toBeGreaterThan(1e-3);
    expect(() => model.scaleHeads('x', 'model.layers.0.mlp', { 0: 0 })).toThrow(/model\.layers\.0\.mlp is a LlamaMLP, not an attention module/);
  } finally {
    model.dispose();
  }
});

it('backward hooks on self_attn get its output gradient; relevance maps come from every layer\'s [B, H, L, L] probabilities and gradients', async () => {
  const { model, ids } = await llama();
  try {
    const [B, L] = ids.shape;
    model.setBackwardHook('g', LAYERS[1]);
    await model.forward({ input_ids: ids }, { grad: true, params: [] });
    const r = await model.backward({ index: [B - 1, L - 1, 7] });
    const g = model.hooks.g;
    // torch's full backward hook: (grad_input, grad_output); here also the probabilities' gradient.
    expect(g.output?.[0].shape).toEqual([B, L, 32]);
    expect(g.output![0].data.some((x) => x !== 0)).toBe(true);
    expect(g.input[0].shape).toEqual([B, L, 32]);
    expect(g.weightsGrad?.shape).toEqual([B, 4, L, L]);
    expect(Array.from(g.weightsGrad!.data)).toEqual(Array.from(r.attention[1].grad.data));
    expect(r.attention.map((a) => [a.path, a.grad.shape])).toEqual(LAYERS.map((p) => [p, [B, 4, L, L]]));
    const maps = model.relevanceMaps(r);
    expect(maps.source?.shape).toEqual([B, L, L]);
    // Causal: no position draws relevance from a later token.
    for (let b = 0; b < B; b++) for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) expect(maps.source!.data[(b * L + i) * L + j]).toBe(0);
  } finally {
    model.dispose();
  }
});

describe('eos_token_id as a list (Llama 3, Qwen2.5): generation stops on any of its ids', () => {
  // The reference's greedy tokens (tools/hf_reference.py, full recompute): row 0 repeats 126, row 1 is
  // 78 137 277 41 172 126. Each row must end at its first token in the eos set, the eos included.
  const cut = (rows: number[][], eos: number[]) => rows.map((r) => (r.some((t) => eos.includes(t)) ? r.slice(0, r.findIndex((t) => eos.includes(t)) + 1) : r));
  const run = async (files: CheckpointFiles, eos?: number[] | null) => {
    const io = readSafetensors(await readFile(`${dir('llama_lm')}io.safetensors`));
    const want = io.tensors.get('generate.tokens')!;
    const [B, N] = want.shape;
    const rows = Array.from({ length: B }, (_, b) => Array.from(want.data.slice(b * N, (b + 1) * N), Number));
    expect(rows).toEqual([[126, 126, 126, 126, 126, 126], [78, 137, 277, 41, 172, 126]]);
    const model = await Model.fromCheckpoint(ctx, files);
    try {
      const r = await model.generate(io.tensors.get('input_ids')!, { maxNewTokens: N, ...(eos === undefined ? {} : { eos }) });
      return { rows, tokens: r.tokens, steps: r.steps.length };
    } finally {
      model.dispose();
    }
  };

  it('config.json [277, 126]: row 0 stops at its first 126 (the second id listed), row 1 at 277; three steps, not six', async () => {
    const { rows, tokens, steps } = await run(withFiles('llama_lm', (c) => (c.eos_token_id = [277, 126])));
    expect(tokens).toEqual(cut(rows, [277, 126]));
    expect(tokens).toEqual([[126], [78, 137, 277]]);
    expect(steps).toBe(3);
  });

  it('generation_config.json\'s list replaces config.json\'s id, as HF\'s generate reads it; options.eos replaces both', async () => {
    const files = withFiles('llama_lm', (c) => (c.eos_token_id = 277), { 'generation_config.json': { bos_token_id: 1, eos_token_id: [172, 126] } });
    expect((await readCheckpoint(files)).config).toMatchObject({ eos_token_id: [172, 126] });
    expect((await run(files)).tokens).toEqual([[126], [78, 137, 277, 41, 172]]);
    expect((await run(files, [41])).tokens).toEqual([[126, 126, 126, 126, 126, 126], [78, 137, 277, 41]]);
    expect((await run(files, null)).tokens).toEqual((await run(files, [])).rows);
  });

  it('a list with an id outside the vocabulary is refused naming the file and the field', async () => {
    await expect(readCheckpoint(withFiles('llama_lm', (c) => (c.eos_token_id = [2, 298])))).rejects.toThrow(/config\.json: config\.json field "eos_token_id": \[2,298\] is not a list of token ids in 0\.\.297/);
    const gen = withFiles('llama_lm', () => {}, { 'generation_config.json': { eos_token_id: [1, 'x'] } });
    await expect(readCheckpoint(gen)).rejects.toThrow(/generation_config\.json: generation_config\.json field "eos_token_id": \[1,"x"\] is not a list of token ids/);
  });
});

describe('config.json features attnscope does not implement are refused naming the field', () => {
  const cases: [string, string, (c: Record<string, unknown>) => void, RegExp][] = [
    ['llama_lm', 'rope_scaling linear', (c) => (c.rope_scaling = { type: 'linear', factor: 2 }), /field "rope_scaling": rope type "linear" is not supported/],
    ['llama_lm', 'rope_scaling llama3', (c) => (c.rope_scaling = { rope_type: 'llama3', factor: 8 }), /field "rope_scaling": rope type "llama3" is not supported/],
    ['llama_lm', 'MoE', (c) => (c.num_local_experts = 8), /field "num_local_experts": 8: mixture-of-experts layers are not supported/],
    ['qwen2_lm', 'sliding window', (c) => (c.use_sliding_window = true), /field "use_sliding_window": true is not supported/],
    ['llama_lm', 'hidden_act', (c) => (c.hidden_act = 'gelu'), /field "hidden_act": "gelu" is not supported/],
    ['llama_lm', 'KV heads', (c) => (c.num_key_value_heads = 3), /field "num_key_value_heads": 3 does not divide num_attention_heads 4/],
    ['llama_lm', 'architecture', (c) => (c.architectures = ['LlamaForSequenceClassification']), /field "architectures": "LlamaForSequenceClassification" is not supported/],
  ];
  for (const [name, what, edit, re] of cases) it(what, () => expect(readCheckpoint(withFiles(name, edit))).rejects.toThrow(re));
});

it('applyChatTemplate renders tokenizer_config.json\'s ChatML template as HF does; a tokenizer without one is refused', async () => {
  const tok = (await loadTokenizer(directoryFiles(dir('llama_lm'))))!;
  const messages = [
    { role: 'system' as const, content: 'Be brief.' },
    { role: 'user' as const, content: 'hi' },
  ];
  // ChatML: <|im_start|>ROLE\nCONTENT<|im_end|>\n per message, then the assistant's turn opened.
  expect(applyChatTemplate(tok, messages)).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
  expect(applyChatTemplate(tok, messages, { addGenerationPrompt: false })).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n');
  const gpt2 = (await loadTokenizer(directoryFiles(dir('gpt2_lm'))))!;
  expect(() => applyChatTemplate(gpt2, messages)).toThrow(/no chat_template in tokenizer_config.json/);
});
