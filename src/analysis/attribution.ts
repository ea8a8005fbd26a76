// Attribution of one output element to the inputs (Captum's Saliency, InputXGradient, IntegratedGradients): float
// inputs directly, token inputs at their embeddings (the token embedding module's output, as Captum's
// LayerIntegratedGradients on it). Every integration step (or, for a generation, every generated token) is a row
// of one batched forward and backward: token embeddings are set per row by a row patch whose backward passes the
// gradient straight through, and a backward hook on the embedding module reads it.
import type { Model } from '../model/model.ts';
import { InputError, type InputTensor, type ModelInputs } from '../model/inputs.ts';
import type { RelevanceMaps } from '../model/relevance.ts';
import { isCausalLm } from './logit_lens.ts';
import { batchAxis, batchOf, forwardWithCaptures, inChunks, rowOf, tileInputs, variantsPerForward, withRowPatches, analysisTag } from './variants.ts';

export type AttributionMethod = 'grad' | 'ixg' | 'ig';

/** The output element attributed: a position of the output's sequence (negative: from the end) and an index of its last dim. */
export interface OutputElement {
  position: number;
  index: number;
}

export interface AttributionOptions {
  /** 'grad' (saliency: the gradient), 'ixg' (input x gradient), 'ig' (integrated gradients). */
  method: AttributionMethod;
  /** The last position by default; the index defaults to the largest output there. */
  target?: Partial<OutputElement>;
  /** ig: points from the baseline to the input, both ends included (32 by default; at least 2). */
  steps?: number;
  /** ig: a baseline per attributed input (its float input, or its token embeddings [L·E]); zeros by default. */
  baselines?: Readonly<Record<string, Float32Array>>;
  maxBatch?: number;
}

export interface InputAttribution {
  /** The input's name. */
  name: string;
  /** Token inputs: the embedding module whose output is attributed. */
  via?: string;
  /** Positions and features: the attribution is [positions, features] (the batch-1 input's rows). */
  positions: number;
  features: number;
  attribution: Float32Array;
  /** Per position: the attribution summed over features (ixg, ig), or the gradient's L2 norm (grad). */
  tokens: Float32Array;
}

export interface Attribution {
  method: AttributionMethod;
  target: OutputElement;
  /** The target output element on the inputs. */
  value: number;
  inputs: InputAttribution[];
  /** ig: F(input) - F(baseline), and |Σ attributions - (F(input) - F(baseline))| (the completeness error). */
  completeness?: { expected: number; error: number };
  /** grad, ixg: the relevance maps (Chefer et al.) from the same backward. */
  relevance?: RelevanceMaps;
}

/** Which token embedding module an input's ids go through, by the module's last path segment. */
const TOKEN_EMBEDDINGS: Readonly<Record<string, readonly string[]>> = {
  input_ids: ['wte', 'word_embeddings', 'embed_tokens'],
  src: ['embed', 'src_embed'],
  tgt: ['tgt_embed'],
};
const FLOAT_INPUTS = new Set(['src', 'tgt', 'memory']);
const isFloat = (t: InputTensor) => t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'F64';

/** An attributed input: its rows x [L, E] (batch 1), its baseline, and, for a token input, its embedding module. */
interface Attributed {
  name: string;
  via?: string;
  L: number;
  E: number;
  x: Float32Array;
  baseline: Float32Array;
}

function embeddingOf(model: Model, name: string): string | undefined {
  const ends = TOKEN_EMBEDDINGS[name] ?? [];
  return [...model.namedModules().entries()].find(([p, m]) => m.kind === 'Embedding' && ends.some((e) => p === e || p.endsWith(`.${e}`)))?.[0];
}

/** The output position and index to attribute, checked against an output of `shape`; the index defaults to the argmax. */
function resolveTarget(target: Partial<OutputElement> | undefined, output: Float32Array, shape: readonly number[], bf: boolean): OutputElement {
  if (shape.length !== 3) throw new InputError(`attribute: the output [${shape.join(', ')}] is not a sequence [batch, positions, values]`);
  const [L, V] = [bf ? shape[1] : shape[0], shape[2]];
  const at = target?.position ?? -1;
  const position = at < 0 ? at + L : at;
  if (!Number.isInteger(position) || position < 0 || position >= L) throw new InputError(`attribute: target position ${at} is outside the output's ${L} positions`);
  const off = rowOf(bf, 1, L, 0, position) * V;
  let index = target?.index;
  if (index === undefined) {
    index = 0;
    for (let v = 1; v < V; v++) if (output[off + v] > output[off + index]) index = v;
  }
  if (!Number.isInteger(index) || index < 0 || index >= V) throw new InputError(`attribute: target index ${index} is outside the output's ${V} values`);
  return { position, index };
}

/** One row of the batched backward: the interpolation point and the output element it differentiates. */
interface GradRow {
  alpha: number;
  target: OutputElement;
}

/**
 * Gradients for `rows` (each a copy of the batch-1 inputs with every attributed input at baseline + alpha·(x -
 * baseline), differentiating its own target), in batched forwards and backwards. Returns per row the target's value
 * and, per attributed input, the gradient [L, E].
 */
async function gradRows(model: Model, inputs: ModelInputs, attributed: readonly Attributed[], rows: readonly GradRow[], maxBatch?: number, rowBytes = 0) {
  const bf = model.batchFirst;
  const K = variantsPerForward(model, rows.length, rowBytes, maxBatch);
  const grads = attributed.map((a) => rows.map(() => new Float32Array(a.L * a.E)));
  const values = new Float64Array(rows.length);
  const tokens = attributed.filter((a) => a.via);
  const point = (a: Attributed, alpha: number) => a.baseline.map((b, i) => b + alpha * (a.x[i] - b));
  const tag = analysisTag('attribute');
  const last: { result?: Awaited<ReturnType<Model['backward']>> } = {};
  try {
    tokens.forEach((a, i) => model.setBackwardHook(`${tag}.${i}`, a.via!));
    const patches = tokens.map((a) => ({ module: a.via!, at: 'output' as const, segment: a.E, segments: K * a.L, values: new Float32Array(K * a.L * a.E) }));
    await withRowPatches(model, patches, (write) =>
      inChunks(rows.length, K, async (first, n) => {
        const alphas = Array.from({ length: K }, (_, j) => (j < n ? rows[first + j].alpha : 0));
        // Token inputs: every row (j, l) of the embedding output takes value row (j, l) in the same layout.
        tokens.forEach((a, i) => {
          const v = patches[i].values;
          for (let j = 0; j < K; j++) {
            const p = point(a, alphas[j]);
            for (let l = 0; l < a.L; l++) v.set(p.subarray(l * a.E, (l + 1) * a.E), rowOf(bf, K, a.L, j, l) * a.E);
          }
          write(i, Uint32Array.from({ length: K * a.L }, (_, s) => s), v);
        });
        const tiled = tileInputs(inputs, K, bf);
        for (const a of attributed.filter((x) => !x.via)) {
          const t = tiled[a.name]!;
          const data = new Float32Array(K * a.L * a.E);
          for (let j = 0; j < K; j++) {
            const p = point(a, alphas[j]);
            for (let l = 0; l < a.L; l++) data.set(p.subarray(l * a.E, (l + 1) * a.E), rowOf(bf, K, a.L, j, l) * a.E);
          }
          tiled[a.name] = { dtype: 'F32', shape: t.shape, data };
        }
        const { output, shape } = await model.forward(tiled, { grad: true });
        const [Lo, V] = [bf ? shape[1] : shape[0], shape[2]];
        const seed = new Float32Array(output.length);
        for (let j = 0; j < n; j++) {
          const { position, index } = rows[first + j].target;
          const at = rowOf(bf, K, Lo, j, position) * V + index;
          seed[at] = 1;
          values[first + j] = output[at];
        }
        const result = await model.backward({ grad: seed });
        last.result = result;
        attributed.forEach((a, i) => {
          const g = a.via ? model.hooks[`${tag}.${tokens.indexOf(a)}`].output![0].data : result.inputs[a.name].data;
          for (let j = 0; j < n; j++) for (let l = 0; l < a.L; l++) grads[i][first + j].set(g.subarray(rowOf(bf, K, a.L, j, l) * a.E, (rowOf(bf, K, a.L, j, l) + 1) * a.E), l * a.E);
        });
      }),
    );
  } finally {
    tokens.forEach((_, i) => model.hookNames().includes(`${tag}.${i}`) && model.delHook(`${tag}.${i}`));
  }
  return { values, grads, last: last.result! };
}

/** The inputs attribute() attributes: float sequences as they are, token ids at their embedding module's output. */
async function attributedInputs(model: Model, inputs: ModelInputs, baselines: Readonly<Record<string, Float32Array>> = {}) {
  if (batchOf(model, inputs, 'attribute') !== 1) throw new InputError('attribute: the inputs must be one sequence (batch 1)');
  const bf = model.batchFirst;
  const given = Object.entries(inputs).filter((e): e is [string, InputTensor] => !!e[1]);
  const floats = given.filter(([n, t]) => FLOAT_INPUTS.has(n) && isFloat(t));
  const tokens = given.flatMap(([n, t]) => {
    const via = isFloat(t) ? undefined : embeddingOf(model, n);
    return via ? [{ name: n, via }] : [];
  });
  if (!floats.length && !tokens.length) throw new InputError(`attribute: none of the inputs (${given.map(([n]) => n).join(', ')}) is a float sequence or token ids with an embedding`);
  const base = await forwardWithCaptures(model, inputs, tokens.map((t) => t.via));
  const make = (name: string, via: string | undefined, shape: readonly number[], x: Float32Array): Attributed => {
    const E = shape[shape.length - 1];
    const baseline = baselines[name] ?? new Float32Array(x.length);
    if (!(baseline instanceof Float32Array) || baseline.length !== x.length) throw new InputError(`attribute: the baseline of ${name} must be a Float32Array of ${x.length} values`);
    return { name, via, L: x.length / E, E, x, baseline };
  };
  const attributed = [
    ...floats.map(([n, t]) => {
      if (t.shape.length !== 3 || t.shape[batchAxis(n, t.shape, bf)!] !== 1) throw new InputError(`attribute: ${n} [${t.shape.join(', ')}] is not a batch-1 sequence`);
      return make(n, undefined, t.shape, Float32Array.from(t.data as ArrayLike<number>));
    }),
    ...tokens.map((t, i) => make(t.name, t.via, base.records[i].output![0].shape, base.records[i].output![0].data)),
  ];
  for (const k of Object.keys(baselines)) if (!attributed.some((a) => a.name === k)) throw new InputError(`attribute: a baseline for ${k}, which is not an attributed input (${attributed.map((a) => a.name).join(', ')})`);
  return { attributed, base };
}

const sumRows = (x: Float32Array, L: number, E: number, f: (v: number) => number, post: (s: number) => number = (s) => s) =>
  Float32Array.from({ length: L }, (_, l) => {
    let s = 0;
    for (let e = 0; e < E; e++) s += f(x[l * E + e]);
    return post(s);
  });

/** See AttributionOptions. Inputs of batch 1. */
export async function attribute(model: Model, inputs: ModelInputs, o: AttributionOptions): Promise<Attribution> {
  const method = o?.method;
  if (method !== 'grad' && method !== 'ixg' && method !== 'ig') throw new InputError(`attribute: method must be 'grad', 'ixg' or 'ig', not ${String(method)}`);
  const steps = o.steps ?? 32;
  if (method === 'ig' && (!Number.isInteger(steps) || steps < 2)) throw new InputError(`attribute: steps ${steps} must be an integer >= 2 (both ends are included)`);
  if (method !== 'ig' && o.baselines) throw new InputError(`attribute: baselines apply to 'ig' only`);
  const { attributed, base } = await attributedInputs(model, inputs, o.baselines);
  const target = resolveTarget(o.target, base.output, base.shape, model.batchFirst);
  const value = base.output[rowOf(model.batchFirst, 1, model.batchFirst ? base.shape[1] : base.shape[0], 0, target.position) * base.shape[2] + target.index];
  const rowBytes = base.output.length * 4;
  if (method !== 'ig') {
    const { grads, last } = await gradRows(model, inputs, attributed, [{ alpha: 1, target }], 1, rowBytes);
    return {
      method,
      target,
      value,
      inputs: attributed.map((a, i) => {
        const g = grads[i][0];
        const attribution = method === 'grad' ? g : g.map((v, k) => v * a.x[k]);
        const tokens = method === 'grad' ? sumRows(g, a.L, a.E, (v) => v * v, Math.sqrt) : sumRows(attribution, a.L, a.E, (v) => v);
        return { name: a.name, ...(a.via ? { via: a.via } : {}), positions: a.L, features: a.E, attribution, tokens };
      }),
      relevance: model.relevanceMaps(last),
    };
  }
  // Captum's riemann_trapezoid: alphas linspace(0, 1, steps), step sizes 1 / (steps - 1), halved at both ends.
  const rows = Array.from({ length: steps }, (_, k) => ({ alpha: k / (steps - 1), target }));
  const weight = (k: number) => (k === 0 || k === steps - 1 ? 0.5 : 1) / (steps - 1);
  const { values, grads } = await gradRows(model, inputs, attributed, rows, o.maxBatch, rowBytes);
  let total = 0;
  const out = attributed.map((a, i) => {
    const attribution = new Float32Array(a.L * a.E);
    for (let c = 0; c < attribution.length; c++) {
      let s = 0;
      for (let k = 0; k < steps; k++) s += weight(k) * grads[i][k][c];
      attribution[c] = (a.x[c] - a.baseline[c]) * s;
      total += attribution[c];
    }
    return { name: a.name, ...(a.via ? { via: a.via } : {}), positions: a.L, features: a.E, attribution, tokens: sumRows(attribution, a.L, a.E, (v) => v) };
  });
  const expected = values[steps - 1] - values[0];
  return { method, target, value, inputs: out, completeness: { expected, error: Math.abs(total - expected) } };
}

export interface GenerationAttribution {
  method: 'grad' | 'ixg';
  /** The prompt's ids, then the generated ones. */
  tokens: number[];
  prompt: number;
  /** [generated, prompt + generated - 1]: row g attributes generated token g to every token before it (0 after it). */
  scores: Float32Array;
}

/**
 * Inseq's view of a generation: greedy generation from a batch-1 prompt of a causal LM, then every generated token
 * attributed (grad or ixg at the token embeddings) to the prompt and the tokens generated before it, all generated
 * tokens as rows of one batched forward and backward over the whole sequence.
 */
export async function attributeGeneration(model: Model, prompt: InputTensor, o: { maxNewTokens: number; method?: 'grad' | 'ixg'; maxBatch?: number }): Promise<GenerationAttribution> {
  const method = o.method ?? 'ixg';
  if (method !== 'grad' && method !== 'ixg') throw new InputError(`attributeGeneration: method must be 'grad' or 'ixg', not ${String(method)}`);
  const name = model.inputNames.includes('input_ids') ? 'input_ids' : 'src';
  if (!isCausalLm(model)) throw new InputError(`attributeGeneration: a ${model.config.kind} model is not a causal LM (lm, GPT-2, Llama and Qwen2 LM-head models are)`);
  const { tokens } = await model.generate(prompt, { maxNewTokens: o.maxNewTokens });
  if (tokens.length !== 1) throw new InputError('attributeGeneration: the prompt must be one sequence (batch 1)');
  const P = prompt.data.length;
  const gen = tokens[0];
  const G = gen.length;
  const all = [...Array.from(prompt.data as ArrayLike<number>), ...gen];
  const L = P + G - 1;
  const seq: InputTensor = { dtype: 'I32', shape: model.batchFirst ? [1, L] : [L, 1], data: Int32Array.from(all.slice(0, L)) };
  const { attributed, base } = await attributedInputs(model, { [name]: seq });
  const rows = gen.map((t, g) => ({ alpha: 1, target: { position: P - 1 + g, index: t } }));
  const { grads } = await gradRows(model, { [name]: seq }, attributed, rows, o.maxBatch, base.output.length * 4);
  const [a] = attributed;
  const scores = new Float32Array(G * L);
  for (let g = 0; g < G; g++) {
    const v = grads[0][g];
    const row = method === 'grad' ? sumRows(v, L, a.E, (x) => x * x, Math.sqrt) : sumRows(v.map((x, k) => x * a.x[k]), L, a.E, (x) => x);
    scores.set(row, g * L);
  }
  return { method, tokens: all, prompt: P, scores };
}
