// BERT, RoBERTa and DistilBERT checkpoints that attnscope must refuse, each with one error naming the file and the
// field, tensor or input at fault; and the module tree's HF names. The reference cases themselves run in hf.test.ts.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { type CheckpointFiles, readCheckpoint } from '../src/model/hf/checkpoint.ts';
import { InputError } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors, writeSafetensors } from '../src/model/safetensors.ts';
import { caseFiles, hfCases } from './hf.cases.ts';

const dir = new URL('./fixtures/hf/', import.meta.url);
const read = async (p: string) => new Uint8Array(await readFile(new URL(p, dir)));
const fixture = (name: string) => caseFiles(hfCases.find((c) => c.name === name)!, read);

/** A fixture's files with config.json edited and/or model.safetensors rewritten without some tensors. */
function edited(name: string, config: (c: Record<string, unknown>) => void, drop: readonly string[] = []): CheckpointFiles {
  const files = fixture(name);
  return {
    label: `edited/${name}`,
    list: () => files.list(),
    async read(file) {
      const bytes = await files.read(file);
      if (file === 'config.json') {
        const c = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
        config(c);
        return new TextEncoder().encode(JSON.stringify(c));
      }
      if (file === 'model.safetensors' && drop.length) {
        const { tensors } = readSafetensors(bytes, file);
        return writeSafetensors([...tensors.values()].filter((t) => !drop.includes(t.name)));
      }
      return bytes;
    },
  };
}

/** The message of readCheckpoint's rejection, which must be one line. */
async function refusal(files: CheckpointFiles): Promise<string> {
  const e = await readCheckpoint(files).then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  if (!e) throw new Error(`${files.label} loaded`);
  expect(e.message).not.toContain('\n');
  return e.message;
}

describe('HF encoder checkpoints that are refused', () => {
  it.each([
    ['bert_mlm', 'position_embedding_type', 'relative_key', /position_embedding_type.*"relative_key" is not one of "absolute"/],
    ['bert_mlm', 'is_decoder', true, /is_decoder.*true is not supported/],
    ['roberta_base', 'add_cross_attention', true, /add_cross_attention.*true is not supported/],
    ['bert_base', 'hidden_act', 'silu', /hidden_act.*"silu" is not one of "gelu", "gelu_new", "gelu_pytorch_tanh", "relu"/],
    ['distilbert_mlm', 'activation', 'swish', /activation.*"swish" is not one of/],
    ['bert_mlm', 'num_attention_heads', 5, /num_attention_heads.*5 does not divide hidden_size 32/],
    ['roberta_mlm', 'pad_token_id', null, /pad_token_id.*missing or null/],
    ['distilbert_base', 'architectures', ['DistilBertForSequenceClassification'], /architectures.*"DistilBertForSequenceClassification" is not supported \(supported: DistilBertForMaskedLM, DistilBertModel\)/],
  ])('%s with %s = %j names config.json and the field', async (name, field, value, message) => {
    const msg = await refusal(edited(name, (c) => (c[field] = value)));
    expect(msg).toContain(`edited/${name}/config.json`);
    expect(msg).toMatch(message);
  });

  it('a missing field is named', async () => {
    expect(await refusal(edited('distilbert_mlm', (c) => delete c.hidden_dim))).toMatch(/config\.json: config\.json field "hidden_dim": is missing/);
  });

  it.each([
    ['bert_mlm', 'bert.encoder.layer.1.output.LayerNorm.bias', '[32]'],
    ['bert_mlm', 'cls.predictions.bias', '[88]'],
    ['roberta_mlm', 'lm_head.bias', '[80]'],
    ['distilbert_mlm', 'vocab_projector.bias', '[70]'],
    ['bert_base', 'pooler.dense.weight', '[32, 32]'],
  ])('%s without %s names the tensor and its shape', async (name, tensor, shape) => {
    expect(await refusal(edited(name, () => {}, [tensor]))).toBe(`edited/${name}: ${name.split('_')[0]} checkpoint lacks tensor "${tensor}" ${shape}`);
  });

  it('loads the old layout: position_ids buffer and the written-out tied decoder ignored, not reported', async () => {
    const { extra } = await readCheckpoint(fixture('bert_mlm_old_layout'));
    expect(extra).toEqual({});
  });
});

describe('HF encoder models on the GPU', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await createNodeContext({ who: 'HF encoder tests' });
  });
  afterAll(() => ctx?.dispose());

  const ids = (rows: number[][]) => ({ dtype: 'I64' as const, shape: [rows.length, rows[0].length], data: Int32Array.from(rows.flat()) });

  it('names modules as HF does and lists every self-attention as a non-causal encoder', async () => {
    const m = await Model.fromCheckpoint(ctx, fixture('roberta_mlm'));
    try {
      expect(m.attentionModules()).toEqual([0, 1].map((layer) => ({ path: `roberta.encoder.layer.${layer}.attention.self`, role: 'encoder', layer, heads: 2, causal: false })));
      const paths = [...m.root.modules()].map((x) => x.path);
      for (const p of ['roberta.embeddings.LayerNorm', 'roberta.encoder.layer.1.intermediate.dense', 'roberta.encoder.layer.1.output.LayerNorm', 'lm_head.layer_norm', 'lm_head.decoder']) expect(paths).toContain(p);
      expect(m.inputNames).toEqual(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids']);
    } finally {
      m.dispose();
    }
  });

  it('refuses inputs RoBERTa cannot take, naming them: a token type past type_vocab_size, more tokens than positions', async () => {
    const m = await Model.fromCheckpoint(ctx, fixture('roberta_mlm'));
    try {
      await expect(m.forward({ input_ids: ids([[0, 5, 2]]), token_type_ids: ids([[0, 1, 0]]) })).rejects.toThrow(new InputError('input token_type_ids: token id 1 at index 1 is outside the vocabulary [0, 1)'));
      // 34 positions, pad id 1: real tokens sit at 2.., so 32 fit and 33 do not.
      await expect(m.forward({ input_ids: ids([Array.from({ length: 33 }, () => 5)]) })).rejects.toThrow(
        new InputError("input_ids: row 0 has 33 tokens that are not padding (id 1); positions start at 2, so the model's 34 positions hold 32"),
      );
    } finally {
      m.dispose();
    }
  });
});
