// The logit lens (nostalgebraist 2020): the final norm and the unembedding applied to the residual stream after
// every layer (and to the embeddings before the first). Run on the GPU by the model's own head: variant s of one
// batched forward has the last layer's output replaced by stream s, so what follows it (final norm, unembedding)
// turns that stream into logits.
import type { Model } from '../model/model.ts';
import { InputError, type ModelInputs } from '../model/inputs.ts';
import { KEEP } from '../kernels/patch_rows.ts';
import { batchOf, forwardWithCaptures, inChunks, rowOf, tileInputs, variantsPerForward, withRowPatches } from './variants.ts';

export interface LogitLensOptions {
  /** Top tokens kept per layer and position (5 by default). */
  topK?: number;
  /** A token whose rank is reported at every layer and position: one id, or one per position. */
  target?: number | readonly number[];
  maxBatch?: number;
}

export interface LogitLens {
  /** The streams, the table's rows: 'embeddings' (the first layer's input), then each layer's path (its output). */
  streams: string[];
  positions: number;
  vocab: number;
  /** [streams, positions, vocab] */
  logits: Float32Array;
  k: number;
  /** [streams, positions, k]: the top-k token ids, best first, and their logits. */
  topIds: Uint32Array;
  topLogits: Float32Array;
  /** [streams, positions]: the target's rank (0: the top token), when a target was given. */
  ranks?: Uint32Array;
}

/** The causal LM kinds (their layers' outputs run straight into the final norm and the unembedding). */
const CAUSAL_LMS: Readonly<Record<string, (m: Model) => boolean>> = {
  lm: () => true,
  gpt2: (m) => (m.config as { head?: string }).head === 'lm',
  llama: (m) => (m.config as { head?: string }).head === 'lm',
  qwen2: (m) => (m.config as { head?: string }).head === 'lm',
};

/** Whether the model is a causal LM with an unembedding (an lm, or a GPT-2 / Llama / Qwen2 LM-head model). */
export const isCausalLm = (m: Model): boolean => CAUSAL_LMS[m.config.kind]?.(m) ?? false;

/** See LogitLensOptions. Inputs of batch 1. */
export async function logitLens(model: Model, inputs: ModelInputs, o: LogitLensOptions = {}): Promise<LogitLens> {
  const kind = model.config.kind;
  if (!isCausalLm(model)) throw new InputError(`logitLens: a ${kind} model is not a causal LM with an unembedding (lm, GPT-2, Llama and Qwen2 LM-head models are)`);
  if (batchOf(model, inputs, 'logitLens') !== 1) throw new InputError('logitLens: the inputs must be one sequence (batch 1)');
  const k = o.topK ?? 5;
  // The layers are the attention modules' parents (encoder.layers.i, transformer.h.i).
  const layers = model.attentionModules().map((m) => m.path.slice(0, m.path.lastIndexOf('.')));
  const last = layers[layers.length - 1];
  const bf = model.batchFirst;

  const base = await forwardWithCaptures(model, inputs, layers);
  const [E] = base.records[0].input[0].shape.slice(-1);
  const L = base.records[0].input[0].data.length / E;
  const V = base.shape[2];
  if (!Number.isInteger(k) || k < 1 || k > V) throw new InputError(`logitLens: topK ${k} must be an integer in [1, ${V}]`);
  const targets = o.target === undefined ? undefined : typeof o.target === 'number' ? new Array<number>(L).fill(o.target) : [...o.target];
  if (targets && (targets.length !== L || targets.some((t) => !Number.isInteger(t) || t < 0 || t >= V))) {
    throw new InputError(`logitLens: target must be a token id in [0, ${V}) or one per position (${L})`);
  }
  // Stream s, row l: value row s·L + l (batch-1 captures hold one row per position in either layout).
  const streams = [base.records[0].input[0].data, ...base.records.map((r) => r.output![0].data)];
  const values = new Float32Array(streams.length * L * E);
  streams.forEach((d, s) => values.set(d, s * L * E));
  const S = streams.length;
  const K = variantsPerForward(model, S, (base.output.length) * 4, o.maxBatch);
  const logits = new Float32Array(S * L * V);
  const tiled = tileInputs(inputs, K, bf);
  await withRowPatches(model, [{ module: last, at: 'output', segment: E, segments: K * L, values }], (write) =>
    inChunks(S, K, async (first, n) => {
      const index = new Uint32Array(K * L).fill(KEEP);
      for (let j = 0; j < n; j++) for (let l = 0; l < L; l++) index[rowOf(bf, K, L, j, l)] = (first + j) * L + l;
      write(0, index);
      const { output } = await model.forward(tiled);
      for (let j = 0; j < n; j++) for (let l = 0; l < L; l++) {
        const from = rowOf(bf, K, L, j, l) * V;
        logits.set(output.subarray(from, from + V), ((first + j) * L + l) * V);
      }
    }),
  );
  const topIds = new Uint32Array(S * L * k);
  const topLogits = new Float32Array(S * L * k);
  const ranks = targets ? new Uint32Array(S * L) : undefined;
  for (let r = 0; r < S * L; r++) {
    const row = logits.subarray(r * V, (r + 1) * V);
    const top = topOf(row, k);
    top.forEach((id, i) => {
      topIds[r * k + i] = id;
      topLogits[r * k + i] = row[id];
    });
    if (ranks) {
      const t = row[targets![r % L]];
      // Ties rank by id, as a stable sort by descending logit would.
      let rank = 0;
      for (let v = 0; v < V; v++) if (row[v] > t || (row[v] === t && v < targets![r % L])) rank++;
      ranks[r] = rank;
    }
  }
  return { streams: ['embeddings', ...layers], positions: L, vocab: V, logits, k, topIds, topLogits, ...(ranks ? { ranks } : {}) };
}

/** The ids of the k largest values, largest first (ties: smaller id first). */
export function topOf(row: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let v = 0; v < row.length; v++) {
    if (best.length === k && row[v] <= row[best[k - 1]]) continue;
    let i = best.length === k ? k - 1 : best.length;
    while (i > 0 && row[best[i - 1]] < row[v]) i--;
    best.splice(i, 0, v);
    if (best.length > k) best.pop();
  }
  return best;
}
