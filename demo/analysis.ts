// One analysis of an input: greedy generation (with per-step cross-attention), then one full forward with a
// forward hook on every attention module, giving the full [1, H, L, S] maps of every kind.
import { type GenerateResult, generateSquareSubsequentMask, type InputTensor, isHfConfig, type Model, type ModelInputs } from '../src/index.ts';
import { type AttnKind, type AttnMap, attnKind } from './attention.ts';
import { type Relevance, relevance } from './relevance.ts';
import { detokenize, outputVocab, tokenize, tokenLabel } from './tokenize.ts';

/** One generated token and where it looked: head-mean attention over the keys, per layer. */
export interface Step {
  token: number;
  label: string;
  /** Per layer: mean over heads of the step's attention row (cross-attention for seq2seq, self for lm). */
  byLayer: Float32Array[];
}

export interface Analysis {
  /** The text that was run (empty for embedding models). */
  text: string;
  /** Generated text (specials dropped); undefined when the model cannot generate. */
  output?: string;
  generatedIds: number[];
  /** Token labels of each axis kind: queries and keys of every AttnKind. */
  axes: Partial<Record<AttnKind, { rows: string[]; cols: string[]; rowsPredicted?: string[] }>>;
  maps: AttnMap[];
  /** Relevance of the input tokens for each output position (gradient × attention, rolled out). */
  relevance: Relevance;
  steps: Step[];
  /** Keys of the per-step view (source tokens, or the growing sequence of an lm). */
  stepKeys: string[];
  /** What the full forward was fed, as the CLI's inputs file holds it. */
  inputs: ModelInputs;
  timings: { generateMs?: number; forwardMs: number; relevanceMs: number };
  notes: string[];
}

const ids = (xs: readonly number[], batchFirst: boolean): InputTensor => ({
  dtype: 'I32',
  shape: batchFirst ? [1, xs.length] : [xs.length, 1],
  data: Int32Array.from(xs),
});

/** Seeded normal-ish floats for models that take embeddings. */
function randomInput(shape: number[], seed: number): InputTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    let u = 0;
    for (let k = 0; k < 3; k++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      u += s / 4294967296;
    }
    data[i] = (u - 1.5) * 2;
  }
  return { dtype: 'F32', shape, data };
}

/** Deletes hooks by name; names that are not registered are skipped. */
function clearHooks(model: Model, names: Iterable<string>): void {
  for (const n of names) {
    try {
      model.delHook(n);
    } catch {
      // not registered
    }
  }
}

export interface RunOptions {
  text: string;
  maxNewTokens: number;
  /** Embedding models: sequence length of the seeded random inputs. */
  length: number;
}

export async function analyse(model: Model, o: RunOptions): Promise<Analysis> {
  const c = model.config;
  if (isHfConfig(c)) throw new Error('this page shows attnscope model files; Hugging Face checkpoints are run with the library and the CLI');
  const bf = model.batchFirst;
  const modules = model.attentionModules();
  const paths = modules.map((m) => m.path);
  clearHooks(model, paths); // last analysis's capture hooks: generation should not copy them every step
  const notes: string[] = [];
  const axes: Analysis['axes'] = {};
  const steps: Step[] = [];
  let stepKeys: string[] = [];
  let inputs: ModelInputs;
  let generatedIds: number[] = [];
  let output: string | undefined;
  let generateMs: number | undefined;

  if (c.kind === 'seq2seq' || c.kind === 'lm') {
    const src = tokenize(o.text, c);
    const inVocab = c.kind === 'seq2seq' ? c.src_vocab : c.vocab;
    const outVocab = outputVocab(c)!;
    // Generation, with the head mean of the attention each new token pays (cross for seq2seq, self for lm).
    const genPaths = modules
      .filter((m) => c.kind === 'lm' || m.role === 'cross')
      .sort((x, y) => x.layer - y.layer)
      .map((m) => m.path);
    const genNames = genPaths.map((p) => `gen:${p}`);
    genPaths.forEach((p, i) => model.setForwardHook(genNames[i], p, undefined, { averageHeads: true }));
    const canGenerate = c.kind === 'seq2seq' || c.causal;
    const budget = c.kind === 'seq2seq' ? c.max_len : c.max_len - src.length;
    const maxNewTokens = Math.min(o.maxNewTokens, budget);
    if (canGenerate && maxNewTokens < 1) throw new Error(`the prompt fills the model's max_len ${c.max_len}: no room to generate`);
    const t0 = performance.now();
    let gen: GenerateResult = { tokens: [[]], steps: [] };
    try {
      if (canGenerate) gen = await model.generate(ids(src, bf), { maxNewTokens });
    } finally {
      clearHooks(model, genNames);
    }
    if (canGenerate) {
      generateMs = performance.now() - t0;
      if (maxNewTokens < o.maxNewTokens) notes.push(`Generation was capped at ${maxNewTokens} tokens by the model's max_len ${c.max_len}.`);
    }
    generatedIds = gen.tokens[0];
    output = canGenerate ? detokenize(generatedIds, outVocab) : undefined;
    const srcLabels = src.map((i) => tokenLabel(inVocab[i]));
    if (c.kind === 'seq2seq') {
      stepKeys = srcLabels;
      generatedIds.forEach((tok, t) => {
        const byLayer = genNames.map((n) => {
          const w = gen.steps[t]?.[n]?.output?.[1];
          return w ? Float32Array.from(w.data) : new Float32Array(src.length);
        });
        steps.push({ token: tok, label: tokenLabel(outVocab[tok]), byLayer });
      });
      // Full forward on [bos, generated tokens except the last]: query t is the input of step t and predicts token t.
      const bos = c.bos_id ?? 0;
      const tgt = [bos, ...generatedIds.slice(0, -1)];
      const tgtLabels = tgt.map((i) => tokenLabel(outVocab[i]));
      const predicted = generatedIds.map((i) => tokenLabel(outVocab[i]));
      axes.enc = { rows: srcLabels, cols: srcLabels };
      axes.dec = { rows: tgtLabels, cols: tgtLabels, rowsPredicted: predicted };
      axes.cross = { rows: tgtLabels, cols: srcLabels, rowsPredicted: predicted };
      inputs = { src: ids(src, bf), tgt: ids(tgt, bf), tgt_mask: generateSquareSubsequentMask(tgt.length) };
    } else {
      const all = [...src, ...generatedIds];
      const seq = all.slice(0, Math.max(src.length, all.length - 1));
      const labels = seq.map((i) => tokenLabel(c.vocab[i]));
      stepKeys = labels;
      generatedIds.forEach((tok, t) => {
        const byLayer = genNames.map((n) => {
          const w = gen.steps[t]?.[n]?.output?.[1];
          const row = new Float32Array(seq.length);
          if (w) {
            // [B, L, S] averaged: the last query row is the one that predicted this token
            const [, L, S] = w.shape;
            row.set(w.data.subarray((L - 1) * S, L * S).subarray(0, Math.min(S, seq.length)));
          }
          return row;
        });
        steps.push({ token: tok, label: tokenLabel(c.vocab[tok]), byLayer });
      });
      const predicted = seq.map((_, i) => (i + 1 < all.length ? tokenLabel(c.vocab[all[i + 1]]) : ''));
      axes[attnKind(modules[0])] = { rows: labels, cols: labels, rowsPredicted: predicted };
      inputs = { src: ids(seq, bf) };
      if (!c.causal) notes.push('This lm is not causal (bidirectional): it cannot generate; its self-attention over the prompt is shown.');
    }
  } else {
    // Embedding models: seeded random inputs of the chosen length (there is no vocabulary to tokenise with).
    const L = o.length;
    const E = c.d_model;
    const shape = bf ? [1, L, E] : [L, 1, E];
    const pos = Array.from({ length: L }, (_, i) => String(i));
    notes.push(`A ${c.kind} model takes embeddings, not tokens: it is fed seeded random inputs of length ${L}; axes are positions.`);
    if (c.kind === 'encoder') {
      inputs = { src: randomInput(shape, 1) };
      axes.enc = { rows: pos, cols: pos };
    } else if (c.kind === 'decoder') {
      inputs = { tgt: randomInput(shape, 2), memory: randomInput(shape, 3), tgt_mask: generateSquareSubsequentMask(L) };
      axes.dec = { rows: pos, cols: pos };
      axes.cross = { rows: pos, cols: pos };
    } else {
      inputs = { src: randomInput(shape, 1), tgt: randomInput(shape, 2), tgt_mask: generateSquareSubsequentMask(L) };
      axes.enc = { rows: pos, cols: pos };
      axes.dec = { rows: pos, cols: pos };
      axes.cross = { rows: pos, cols: pos };
    }
  }

  // One full forward with a hook per attention module (hook name = module path, like the CLI's captures).
  // They stay registered after it, so profile() times the same forward, captures included. It keeps what the
  // relevance backwards need.
  for (const p of paths) model.setForwardHook(p, p);
  const t1 = performance.now();
  const fwd = await model.forward(inputs, { grad: true });
  const forwardMs = performance.now() - t1;
  const rel = await relevance(model, fwd);
  const maps: AttnMap[] = modules.map((m) => {
    const w = model.hooks[m.path]?.output?.[1];
    if (!w) throw new Error(`no attention weights were captured for ${m.path}`);
    return { ...m, kind: attnKind(m), shape: w.shape, data: w.data };
  });
  return { text: o.text, output, generatedIds, axes, maps, relevance: rel, steps, stepKeys, inputs, timings: { generateMs, forwardMs, relevanceMs: rel.ms }, notes };
}

/** Removes the capture hooks analyse() left on the model. */
export function removeCaptureHooks(model: Model): void {
  clearHooks(model, model.attentionModules().map((m) => m.path));
}
