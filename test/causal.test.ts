// Causal analysis against PyTorch run one forward per site / step (test/fixtures/causal/<case>.safetensors, made by
// tools/make_causal_fixtures.py): activation patching per position and per head, head importance (zero and mean
// ablation), the logit lens, gradient, input x gradient and integrated-gradient attributions, and a generation's
// attributions, on five parity fixtures (token lm, nn.Transformer seq-first and batch-first, encoder, token seq2seq)
// and the GPT-2, BERT and Llama reference checkpoints, under both kernel sets. Each analysis runs as batched
// forwards here.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { directoryFiles } from '../src/model/hf/dir.ts';
import type { ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors, type SafetensorsFile } from '../src/model/safetensors.ts';
import { assertClose, KERNEL_SETS, kernelSetName, withKernels } from './harness.ts';
import { attribute, attributeGeneration, headImportance, logitLens, patchingSweep } from '../src/analysis/index.ts';

const fixtures = new URL('./fixtures/', import.meta.url);
const TOL = { atol: 1e-4, rtol: 1e-4 };

interface Spec {
  layers: string[];
  attention: string[];
  position: number;
  steps: number;
  logitDiff: [number, number];
  prob: number;
  target: [number, number];
}

interface Case {
  model: Model;
  file: SafetensorsFile;
  spec: Spec;
  inputs: ModelInputs;
  corrupted: ModelInputs;
  t(name: string): Float32Array;
}

const parity = (file: string) => async (ctx: GpuContext) => Model.load(ctx, readFileSync(new URL(`${file}.model.safetensors`, fixtures)), file);
const checkpoint = (dir: string) => (ctx: GpuContext) => Model.fromCheckpoint(ctx, directoryFiles(new URL(`hf/${dir}/`, fixtures).pathname));
/** Each case's model: parity fixtures (tools/make_fixtures.py) and Hugging Face reference checkpoints. */
const CASES: Record<string, (ctx: GpuContext) => Promise<Model>> = {
  lm: parity('lm-learned-causal'), // token ids [L, B], causal, learned positions
  seq2seq: parity('post-relu-seqfirst'), // nn.Transformer, float src / tgt [L, B, E]
  encoder: parity('encoder-pre-gelu-nonorm'), // TransformerEncoder, pre-norm, float src_mask
  batchfirst: parity('pre-gelu-batchfirst'), // nn.Transformer [B, L, E], bool src_mask, src padding mask
  tokens: parity('seq2seq-sinusoidal'), // token seq2seq: src and tgt ids, each at its own embedding
  gpt2: checkpoint('gpt2_lm'),
  bert: checkpoint('bert_mlm'),
  llama: checkpoint('llama_lm'), // GQA, RMSNorm, rotary
};
const ALL = Object.keys(CASES);

let ctx: GpuContext;
const loaded = new Map<string, Case>();
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'causal analysis tests' });
});
afterAll(() => {
  for (const c of loaded.values()) c.model.dispose();
  ctx?.dispose();
});

async function load(name: string): Promise<Case> {
  const had = loaded.get(name);
  if (had) return had;
  const file = readSafetensors(readFileSync(new URL(`causal/${name}.safetensors`, fixtures)), name);
  const pick = (prefix: string) => Object.fromEntries([...file.tensors].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  const t = (n: string) => {
    const x = file.tensors.get(n);
    if (!x) throw new Error(`${name}: fixture has no ${n}`);
    return x.data as Float32Array;
  };
  const c: Case = { model: await CASES[name](ctx), file, spec: JSON.parse(file.metadata.spec), inputs: pick('input.'), corrupted: pick('corrupted.'), t };
  loaded.set(name, c);
  return c;
}

/** The layers' and attention modules' glob ('encoder.layers.*'), from the fixture's paths. */
const glob = (paths: string[]) => paths[0].replace(/\.0(\.|$)/, '.*$1');

// Every comparison with torch runs under both kernel sets (test/harness.ts): a model's plans are cached per set.
describe.each(KERNEL_SETS.map((k) => [kernelSetName(k), k] as const))('%s', (_, kernels) => {
  /** The test body under this kernel set. */
  const under = (body: () => Promise<void>) => () => withKernels(ctx, kernels, body);

  describe.each(ALL)('%s: patching', (name) => {
    it('per position: every layer output at every position patched from the corrupted run, one forward per 5 sites', under(async () => {
      const { model, spec, inputs, corrupted, t } = await load(name);
      const r = await patchingSweep(model, { clean: inputs, corrupted, sites: glob(spec.layers), metric: { logitDiff: spec.logitDiff, position: spec.position }, maxBatch: 5 });
      expect(r.modules).toEqual(spec.layers);
      assertClose('clean', [r.clean, r.corrupted], [t('patch.clean')[0], t('patch.corrupted')[0]], TOL);
      assertClose('patch.position', r.values, t('patch.position'), { ...TOL, shape: [r.modules.length, r.columns] });
      expect(r.forwards).toBe(2 + Math.ceil(r.values.length / 5));
    }));

    it('per head: each head of each attention module patched at every position', under(async () => {
      const { model, spec, inputs, corrupted, t } = await load(name);
      const r = await patchingSweep(model, { clean: inputs, corrupted, sites: spec.attention, per: 'head', metric: { logitDiff: spec.logitDiff, position: spec.position } });
      expect(r.modules).toEqual(spec.attention);
      assertClose('patch.head', r.values, t('patch.head'), { ...TOL, shape: [r.modules.length, r.columns] });
      expect(r.forwards).toBe(3);
    }));
  });

  describe.each(ALL)('%s: head importance and attribution', (name) => {
    it.each(['zero', 'mean'] as const)('%s ablation of every head, in batched forwards of 3 variants', (ablation) => withKernels(ctx, kernels, async () => {
      const { model, spec, inputs, t } = await load(name);
      const r = await headImportance(model, inputs, { prob: spec.prob, position: spec.position }, { ablation, modules: spec.attention, maxBatch: 3 });
      assertClose('base', [r.base], t('heads.base'), TOL);
      assertClose(`heads.${ablation}`, r.importance, t(`heads.${ablation}`), { ...TOL, shape: [r.modules.length, r.heads] });
    }));

    it.each(['grad', 'ixg', 'ig'] as const)('%s of the target logit, at the token embeddings or the float inputs', (method) => withKernels(ctx, kernels, async () => {
      const { model, spec, inputs, file, t } = await load(name);
      const [position, index] = spec.target;
      // A fixture's baseline.<input> (Llama's: token 0's embeddings) replaces the zero baseline of ig.
      const baselines = Object.fromEntries([...file.tensors.keys()].filter((k) => k.startsWith('baseline.')).map((k) => [k.slice('baseline.'.length), t(k)]));
      const r = await attribute(model, inputs, { method, target: { position, index }, steps: spec.steps, maxBatch: 3, ...(method === 'ig' && Object.keys(baselines).length ? { baselines } : {}) });
      expect(r.target).toEqual({ position, index });
      for (const a of r.inputs) assertClose(`${method} ${a.name}`, a.attribution, t(`attr.${method}.${a.name}`), { ...TOL, shape: [a.positions, a.features] });
      const names = [...file.tensors.keys()].filter((k) => k.startsWith(`attr.${method}.`) && k !== 'attr.ig.expected').map((k) => k.slice(`attr.${method}.`.length));
      expect(r.inputs.map((a) => a.name).sort()).toEqual(names.sort());
      if (method === 'ig') {
        assertClose('completeness', [r.completeness!.expected], t('attr.ig.expected'), TOL);
        const total = r.inputs.reduce((s, a) => s + a.attribution.reduce((x, y) => x + y, 0), 0);
        expect(Math.abs(total - r.completeness!.expected)).toBeCloseTo(r.completeness!.error, 5);
      } else expect(r.relevance).toBeDefined();
    }));
  });

  it('the logit lens: final norm + unembedding of every layer stream, top-k and ranks from those logits (lm, gpt2, llama)', under(async () => {
    for (const name of ['lm', 'gpt2', 'llama']) {
      const { model, spec, inputs, t } = await load(name);
      const r = await logitLens(model, inputs, { topK: 3, target: spec.prob });
      expect(r.streams).toEqual(['embeddings', ...spec.layers]);
      assertClose(`${name} lens`, r.logits, t('lens.logits'), { ...TOL, shape: [r.streams.length, r.positions, r.vocab] });
      const want = t('lens.logits');
      for (let row = 0; row < r.streams.length * r.positions; row++) {
        const logits = [...want.subarray(row * r.vocab, (row + 1) * r.vocab)];
        const order = logits.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i);
        expect([...r.topIds.subarray(row * 3, row * 3 + 3)]).toEqual(order.slice(0, 3));
        expect(r.ranks![row]).toBe(order.indexOf(spec.prob));
      }
    }
  }));

  it.each(['gpt2', 'llama'])('%s: a generation attributed as Inseq shows it: each greedy token to the prompt and the tokens before it (ixg)', (name) => withKernels(ctx, kernels, async () => {
    const { model, file, t } = await load(name);
    const prompt = file.tensors.get('gen.prompt')!;
    const r = await attributeGeneration(model, prompt, { maxNewTokens: 3, method: 'ixg' });
    const want = [...(file.tensors.get('gen.tokens')!.data as Int32Array)];
    expect(r.tokens).toEqual([...prompt.data, ...want]);
    assertClose('gen.ixg', r.scores, t('gen.ixg'), { ...TOL, shape: [3, r.tokens.length - 1] });
  }));
});

it('misuse is named: mismatched clean / corrupted, no heads to patch, bad metric, kinds without a lens, bad steps', async () => {
  const { model, spec, inputs, corrupted } = await load('gpt2');
  const metric = { logitDiff: spec.logitDiff, position: -1 };
  const short = { input_ids: { ...inputs.input_ids!, shape: [1, 3], data: inputs.input_ids!.data.slice(0, 3) } } as ModelInputs;
  await expect(patchingSweep(model, { clean: inputs, corrupted: short, sites: 'transformer.h.*', metric })).rejects.toThrow(/input input_ids is \[1, 7\] clean, \[1, 3\] corrupted/);
  await expect(patchingSweep(model, { clean: inputs, corrupted, sites: 'transformer.h.*', per: 'head', metric })).rejects.toThrow(/transformer.h.0 is not an attention module/);
  await expect(patchingSweep(model, { clean: inputs, corrupted, sites: 'transformer.x.*', metric })).rejects.toThrow(/matches no module/);
  await expect(headImportance(model, inputs, { logitDiff: [0, 9999] })).rejects.toThrow(/two indices in \[0, 298\)/);
  await expect(headImportance(model, inputs, { prob: 1, position: 7 })).rejects.toThrow(/position 7 is outside the output's 7 positions/);
  await expect(attribute(model, inputs, { method: 'ig', steps: 1 })).rejects.toThrow(/steps 1 must be an integer >= 2/);
  await expect(attribute(model, inputs, { method: 'ig', baselines: { src: new Float32Array(3) } })).rejects.toThrow(/a baseline for src, which is not an attributed input/);
  await expect(attribute(model, inputs, { method: 'saliency' as 'grad' })).rejects.toThrow(/method must be 'grad', 'ixg' or 'ig'/);
  const bert = await load('bert');
  await expect(logitLens(bert.model, bert.inputs)).rejects.toThrow(/a bert model is not a causal LM/);
  expect(() => model.patchRows('p', 'transformer.h.0', { at: 'heads', segment: 10, index: new Uint32Array(21), values: new Float32Array(10) })).toThrow(/not an attention module/);
  expect(() => model.patchRows('p', 'transformer.h.0', { at: 'output', segment: 30, index: new Uint32Array([0, 1]), values: new Float32Array(30) })).toThrow(/index\[1\] = 1 names no row of the 1 value rows/);
  model.patchRows('p', 'transformer.h.0', { at: 'output', segment: 30, index: new Uint32Array(5), values: new Float32Array(30) });
  await expect(model.forward(inputs)).rejects.toThrow(/5 segments of 30 do not cover transformer.h.0's output \[1, 7, 30\]/);
  expect(() => model.writeRows('p', new Uint32Array(4))).toThrow(/the 5 segments it was registered with/);
  model.delHook('p');
  expect(model.hookNames()).toEqual([]);
});
