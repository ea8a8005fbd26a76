// One analysis of an input: greedy generation (with per-step attention), then one full forward with a forward hook
// on every attention module, giving the full [1, H, L, S] maps of every kind.
import { type GenerateResult, generateSquareSubsequentMask, headMean, type HookRecord, type InputTensor, type Model, type ModelConfig, type ModelInputs } from '../src/index.ts';
import { type AttnKind, type AttnMap, attnKind } from './attention.ts';
import { type Confidence, confidence } from './confidence.ts';
import { type Relevance, RelevanceJob } from './relevance.ts';
import { type Fill, idTensor, type TextModel } from './text-model.ts';
import { detokenize, tokenize, tokenLabel } from './tokenize.ts';

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
  /** Generated text (specials dropped), or a masked lm's input with each mask filled; undefined otherwise. */
  output?: string;
  /** A masked lm's candidates for each mask in the input. */
  fills: Fill[];
  generatedIds: number[];
  /** Token labels of each axis kind: queries and keys of every AttnKind. */
  axes: Partial<Record<AttnKind, { rows: string[]; cols: string[]; rowsPredicted?: string[] }>>;
  maps: AttnMap[];
  /**
   * Relevance of the input tokens for each output position (gradient × attention, rolled out): its rows arrive after
   * the maps, computed by `relevanceJob` when the page lets it run.
   */
  relevance: Relevance;
  relevanceJob: RelevanceJob;
  /** Next-token probabilities at each position of the forward (models with a vocabulary head). */
  confidence?: Confidence;
  steps: Step[];
  /** Keys of the per-step view (source tokens, or the growing sequence of an lm). */
  stepKeys: string[];
  /** What the full forward was fed, as the CLI's inputs file holds it. */
  inputs: ModelInputs;
  timings: { generateMs?: number; forwardMs: number };
  notes: string[];
}

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
  /**
   * A causal lm's tokens as they are generated (streaming): the steps so far, the keys of the step view (prompt and
   * tokens so far) and the continuation's text.
   */
  onToken?: (p: { steps: readonly Step[]; keys: string[]; text: string }) => void;
  /** The relevance job's callbacks: after each row or change of state, and whether the page lets it run now. */
  relevance: { onChange: () => void; canRun: () => boolean };
  /**
   * Stops the analysis: generation between two steps (generate's signal), else before the next stage (the fill, the
   * full forward, the relevance job). An aborted analysis rejects with the signal's reason and leaves nothing running.
   */
  signal?: AbortSignal;
}

/** What a branch of analyse() hands the full forward: its inputs, axes, and what generation produced. */
interface Prepared {
  inputs: ModelInputs;
  fills?: Fill[];
  axes: Analysis['axes'];
  steps: Step[];
  stepKeys: string[];
  generatedIds: number[];
  output?: string;
  generateMs?: number;
  /** Positions whose predictions are the output (generated tokens, filled masks): their relevance rows come first. */
  outputPositions: number[];
  /** A token's label in the output vocabulary, for the top-k next tokens; undefined for models without one. */
  outLabel?: (id: number) => string;
}

/**
 * Greedy generation with a hook on each of `paths` (cross-attention for seq2seq, self for lm): per generated token,
 * layer by layer, the head mean of the attention row of the query that predicted it (the last row of its step),
 * handed to `onStep` as each token is picked. The heads are averaged here, not by the hook: Hugging Face attention
 * modules take no averageHeads.
 */
async function generateWithSteps(model: Model, src: InputTensor, maxNewTokens: number, paths: readonly string[], label: (id: number) => string, signal: AbortSignal | undefined, onStep?: (steps: readonly Step[]) => void) {
  const names = paths.map((p) => `gen:${p}`);
  paths.forEach((p, i) => model.setForwardHook(names[i], p));
  const t0 = performance.now();
  const steps: Step[] = [];
  const stepOf = (token: number, records: Readonly<Record<string, HookRecord>>): Step => {
    const byLayer = names.map((n) => {
      const weights = records[n]?.output?.[1]; // [B, H, L, S]; an lm's S grows by one a step
      if (!weights) return new Float32Array(0);
      const w = headMean(weights);
      const [, L, S] = w.shape;
      return w.data.slice((L - 1) * S, L * S);
    });
    return { token, label: label(token), byLayer };
  };
  let gen: GenerateResult;
  try {
    gen = await model.generate(src, {
      maxNewTokens,
      signal,
      onStep: ({ tokens, records }) => {
        if (tokens[0].length <= steps.length) return; // the row had ended
        steps.push(stepOf(tokens[0][steps.length], records));
        onStep?.(steps);
      },
    });
  } finally {
    clearHooks(model, names);
  }
  return { ids: gen.tokens[0], steps, ms: performance.now() - t0 };
}

/** A seq2seq model (attnscope's own, one character per token): generate, then the maps of [bos, generated]. */
async function prepareSeq2seq(model: Model, c: Extract<ModelConfig, { kind: 'seq2seq' }>, o: RunOptions): Promise<Prepared> {
  const bf = model.batchFirst;
  const src = tokenize(o.text, c);
  const srcLabels = src.map((i) => tokenLabel(c.src_vocab[i]));
  const outLabel = (i: number) => tokenLabel(c.tgt_vocab[i]);
  const cross = model.attentionModules().filter((m) => m.role === 'cross').sort((x, y) => x.layer - y.layer);
  const gen = await generateWithSteps(model, idTensor(src, bf), Math.min(o.maxNewTokens, c.max_len), cross.map((m) => m.path), outLabel, o.signal);
  // Full forward on [bos, generated tokens except the last]: query t is the input of step t and predicts token t.
  const tgt = [c.bos_id ?? 0, ...gen.ids.slice(0, -1)];
  const tgtLabels = tgt.map(outLabel);
  const predicted = gen.ids.map(outLabel);
  return {
    inputs: { src: idTensor(src, bf), tgt: idTensor(tgt, bf), tgt_mask: generateSquareSubsequentMask(tgt.length) },
    axes: { enc: { rows: srcLabels, cols: srcLabels }, dec: { rows: tgtLabels, cols: tgtLabels, rowsPredicted: predicted }, cross: { rows: tgtLabels, cols: srcLabels, rowsPredicted: predicted } },
    steps: gen.steps,
    stepKeys: srcLabels,
    generatedIds: gen.ids,
    output: detokenize(gen.ids, c.tgt_vocab),
    generateMs: gen.ms,
    outputPositions: gen.ids.map((_, t) => t),
    outLabel,
  };
}

/** A model reading one token sequence: a causal lm continues it, and the maps cover prompt + continuation. */
async function prepareText(model: Model, text: TextModel, o: RunOptions, notes: string[]): Promise<Prepared> {
  const src = text.encode(o.text);
  const modules = model.attentionModules().sort((x, y) => x.layer - y.layer);
  let gen: Awaited<ReturnType<typeof generateWithSteps>> | undefined;
  if (text.generates) {
    const maxNewTokens = Math.min(o.maxNewTokens, text.maxLen - src.length);
    if (maxNewTokens < 1) throw new Error(`the prompt fills the model's ${text.maxLen} positions: no room to generate`);
    if (maxNewTokens < o.maxNewTokens) notes.push(`Generation was capped at ${maxNewTokens} tokens by the model's ${text.maxLen} positions.`);
    const srcLabels = src.map(text.label);
    const stream = o.onToken && ((steps: readonly Step[]) => {
      const ids = steps.map((st) => st.token);
      o.onToken!({ steps, keys: [...srcLabels, ...steps.slice(0, -1).map((st) => st.label)], text: text.decode(ids) });
    });
    gen = await generateWithSteps(model, idTensor(src, model.batchFirst), maxNewTokens, modules.map((m) => m.path), text.label, o.signal, stream);
  }
  // a masked lm's guesses, from a forward of its own before the capture hooks are set
  o.signal?.throwIfAborted();
  const fills = text.mask && src.includes(text.mask.id) ? await text.mask.fill(o.text) : [];
  const filled = fills.length ? text.decode(src.map((id, i) => fills.find((f) => f.position === i)?.guesses[0].id ?? id)) : undefined;
  const all = [...src, ...(gen?.ids ?? [])];
  // the last generated token is never an input: the forward covers the positions that predicted each token
  const seq = all.slice(0, Math.max(src.length, all.length - 1));
  const labels = seq.map(text.label);
  const predicted = text.generates ? seq.map((_, i) => (i + 1 < all.length ? text.label(all[i + 1]) : '')) : undefined;
  return {
    inputs: text.inputs(seq),
    fills,
    axes: { [attnKind(modules[0])]: { rows: labels, cols: labels, rowsPredicted: predicted } },
    steps: gen?.steps ?? [],
    stepKeys: labels,
    generatedIds: gen?.ids ?? [],
    output: filled ?? (gen && text.decode(gen.ids)),
    generateMs: gen?.ms,
    // position i predicts token i + 1: the generated tokens come from the prompt's last position on
    outputPositions: gen ? gen.ids.map((_, t) => src.length - 1 + t).filter((p) => p < seq.length) : fills.map((f) => f.position),
    outLabel: text.predicts ? text.label : undefined,
  };
}

/** Models that take embeddings: seeded random inputs of the chosen length (there is no vocabulary to read text with). */
function prepareEmbeddings(model: Model, o: RunOptions, notes: string[]): Prepared {
  const c = model.config as Extract<ModelConfig, { d_model: number }>;
  const L = o.length;
  const shape = model.batchFirst ? [1, L, c.d_model] : [L, 1, c.d_model];
  const pos = Array.from({ length: L }, (_, i) => String(i));
  const square = { rows: pos, cols: pos };
  notes.push(`A ${c.kind} model takes embeddings, not tokens: it is fed seeded random inputs of length ${L}; axes are positions.`);
  const base = { steps: [], stepKeys: [], generatedIds: [], outputPositions: [] };
  if (c.kind === 'encoder') return { ...base, inputs: { src: randomInput(shape, 1) }, axes: { enc: square } };
  if (c.kind === 'decoder') {
    return { ...base, inputs: { tgt: randomInput(shape, 2), memory: randomInput(shape, 3), tgt_mask: generateSquareSubsequentMask(L) }, axes: { dec: square, cross: square } };
  }
  return { ...base, inputs: { src: randomInput(shape, 1), tgt: randomInput(shape, 2), tgt_mask: generateSquareSubsequentMask(L) }, axes: { enc: square, dec: square, cross: square } };
}

/** `text`: how the model reads text, for every model reading one token sequence (textModel()). */
export async function analyse(model: Model, text: TextModel | undefined, o: RunOptions): Promise<Analysis> {
  const c = model.config;
  const modules = model.attentionModules();
  const paths = modules.map((m) => m.path);
  clearHooks(model, paths); // last analysis's capture hooks: generation should not copy them every step
  const notes: string[] = [];
  const p = c.kind === 'seq2seq' ? await prepareSeq2seq(model, c, o) : text ? await prepareText(model, text, o, notes) : prepareEmbeddings(model, o, notes);

  // One full forward with a hook per attention module (hook name = module path, like the CLI's captures).
  // They stay registered after it, so profile() times the same forward, captures included. It keeps what the
  // relevance backwards need.
  o.signal?.throwIfAborted();
  for (const path of paths) model.setForwardHook(path, path);
  const t1 = performance.now();
  const fwd = await model.forward(p.inputs, { grad: true });
  const forwardMs = performance.now() - t1;
  o.signal?.throwIfAborted();
  const maps: AttnMap[] = modules.map((m) => {
    const w = model.hooks[m.path]?.output?.[1];
    if (!w) throw new Error(`no attention weights were captured for ${m.path}`);
    return { ...m, kind: attnKind(m), shape: w.shape, data: w.data };
  });
  const tokens = c.kind === 'seq2seq' || !!text?.predicts;
  const job = new RelevanceJob(model, fwd, p.inputs, tokens, relevanceDims(maps), p.outputPositions, o.relevance.onChange, o.relevance.canRun);
  const conf = tokens && p.outLabel ? confidence(fwd.output, fwd.shape, model.batchFirst, p.outLabel, p.outputPositions) : undefined;
  return {
    text: o.text,
    output: p.output,
    fills: p.fills ?? [],
    generatedIds: p.generatedIds,
    axes: p.axes,
    maps,
    relevance: job.relevance,
    relevanceJob: job,
    confidence: conf,
    steps: p.steps,
    stepKeys: p.stepKeys,
    inputs: p.inputs,
    timings: { generateMs: p.generateMs, forwardMs },
    notes,
  };
}

/**
 * The map relevance rows come from (as the library picks it: cross-attention when the model has it, else the encoder's
 * self-attention, else the decoder's) and its size: output positions x input tokens, read off a captured map.
 */
function relevanceDims(maps: readonly AttnMap[]): { map: Relevance['map']; rows: number; cols: number } {
  const role = (['cross', 'encoder', 'decoder'] as const).find((r) => maps.some((m) => m.role === r));
  const m = maps.find((x) => x.role === role);
  if (!role || !m) throw new Error('relevance: the model has no attention modules');
  const [, , rows, cols] = m.shape;
  return { map: role === 'cross' ? 'cross' : role === 'encoder' ? 'source' : 'target', rows, cols };
}

/** Removes the capture hooks analyse() left on the model. */
export function removeCaptureHooks(model: Model): void {
  clearHooks(model, model.attentionModules().map((m) => m.path));
}
