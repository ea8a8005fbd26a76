// Hugging Face's BERT (transformers/models/bert/modeling_bert.py), inference: dropout off, eager attention, absolute
// positions, encoder only. Module paths are HF's: embeddings.word_embeddings, encoder.layer.{i}.attention.self.query,
// encoder.layer.{i}.output.LayerNorm, pooler.dense, cls.predictions.transform.dense. RoBERTa (roberta.ts) and
// DistilBERT (distilbert.ts) reuse the helpers at the top.
import type { ActivationKind } from '../kernels/activation.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import { type AttentionArgs, attend, type Heads, src } from './attention_core.ts';
import { Embedding } from './embedding.ts';
import { activate, residual } from './feedforward.ts';
import { LayerNorm } from './layernorm.ts';
import { Linear, type TiedWeight } from './linear.ts';
import { joinPath, Module, type WeightSource } from './module.ts';

export interface BertOptions {
  vocab: number;
  /** Rows of position_embeddings (max_position_embeddings). */
  positions: number;
  /** Rows of token_type_embeddings (type_vocab_size). */
  types: number;
  hidden: number;
  heads: number;
  layers: number;
  intermediate: number;
  eps: number;
  activation: ActivationKind;
}

/** A Linear's weight tied to an embedding table (the MLM decoders), named by its owner for gradients. */
export function tiedTo(e: Embedding): TiedWeight {
  return { tensor: e.weight, name: `${e.path}.weight` };
}

/**
 * An MLM decoder (BertLMPredictionHead.decoder, RobertaLMHead.decoder): weight tied to the word embeddings, bias
 * tied to the head's own `bias` parameter (HF sets `decoder.bias = self.bias`; save_pretrained keeps `<head>.bias`).
 */
export function tiedDecoder(w: WeightSource, head: string, words: Embedding): Linear {
  const bias = joinPath(head, 'bias');
  return new Linear(w, joinPath(head, 'decoder'), words.dim, words.num, true, false, tiedTo(words), { tensor: w.take(bias, [words.num]), name: bias });
}

/** norm(activation(dense(x))): BertPredictionHeadTransform, and the first half of RoBERTa's and DistilBERT's MLM heads. */
export async function transform(b: PlanBuilder, dense: Linear, kind: ActivationKind, norm: LayerNorm, x: Act, path: string): Promise<Act> {
  return norm.forward(b, activate(b, kind, await dense.forward(b, x), path));
}

/**
 * softmax(q·kᵀ/√d + key padding)·v over the heads, q, k and v each projected from x by its own Linear (BERT's
 * query / key / value, DistilBERT's q_lin / k_lin / v_lin): the merged heads [B, L, E] and the probabilities when
 * someone listens.
 */
export async function projectAndAttend(b: PlanBuilder, h: Heads, [query, key, value]: readonly [Linear, Linear, Linear], x: Act, a: AttentionArgs): Promise<{ o: Act; probs?: Act }> {
  const E = h.numHeads * h.headDim;
  const [q, k, v] = [await query.forward(b, x), await key.forward(b, x), await value.forward(b, x)];
  return attend(b, h, { q: src(a, q, E, 0, a.L), k: src(a, k, E, 0, a.S), v: src(a, v, E, 0, a.S), S: a.S }, a);
}

/** BertEmbeddings: LayerNorm(word(ids) + token_type(types) + position(positions)) [B, L, E], HF's order of the sum. */
export class BertEmbeddings extends Module {
  readonly wordEmbeddings: Embedding;
  readonly positionEmbeddings: Embedding;
  readonly tokenTypeEmbeddings: Embedding;
  readonly layerNorm: LayerNorm;

  constructor(w: WeightSource, path: string, o: BertOptions) {
    super(path);
    const p = (n: string) => joinPath(path, n);
    this.wordEmbeddings = new Embedding(w, p('word_embeddings'), o.vocab, o.hidden);
    this.positionEmbeddings = new Embedding(w, p('position_embeddings'), o.positions, o.hidden);
    this.tokenTypeEmbeddings = new Embedding(w, p('token_type_embeddings'), o.types, o.hidden);
    this.layerNorm = new LayerNorm(w, p('LayerNorm'), o.hidden, o.eps, true);
  }

  override children(): Module[] {
    return [this.wordEmbeddings, this.positionEmbeddings, this.tokenTypeEmbeddings, this.layerNorm];
  }

  forward(b: PlanBuilder, ids: Act, positionIds: Act, tokenTypeIds: Act): Promise<Act> {
    return b.module(this.path, [ids, positionIds, tokenTypeIds], async ([ids, positionIds, tokenTypeIds]) => {
      const x = residual(b, await this.wordEmbeddings.forward(b, ids), await this.tokenTypeEmbeddings.forward(b, tokenTypeIds), this.path);
      return (await this.layerNorm.addAndForward(b, x, await this.positionEmbeddings.forward(b, positionIds)))[1];
    });
  }
}

/** BertSelfAttention (`attention.self`): query / key / value -> attention. Outputs [context, weights?] as HF's. */
export class BertSelfAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly headDim: number;

  constructor(
    w: WeightSource,
    path: string,
    hidden: number,
    readonly numHeads: number,
  ) {
    super(path);
    if (hidden % numHeads !== 0) throw new Error(`${path}: hidden_size ${hidden} is not divisible by num_attention_heads ${numHeads}`);
    this.headDim = hidden / numHeads;
    const p = (n: string) => joinPath(path, n);
    this.query = new Linear(w, p('query'), hidden, hidden, true);
    this.key = new Linear(w, p('key'), hidden, hidden, true);
    this.value = new Linear(w, p('value'), hidden, hidden, true);
  }

  override children(): Module[] {
    return [this.query, this.key, this.value];
  }

  forward(b: PlanBuilder, x: Act, a: AttentionArgs): Promise<Act[]> {
    return b.module(this.path, [x], async ([x]) => {
      const { o, probs } = await projectAndAttend(b, this, [this.query, this.key, this.value], x, a);
      return probs ? [o, probs] : [o];
    });
  }
}

/** BertSelfOutput: LayerNorm(dense(h) + input), the post-norm residual join after attention. */
export class BertSelfOutput extends Module {
  readonly dense: Linear;
  readonly layerNorm: LayerNorm;

  constructor(w: WeightSource, path: string, inFeatures: number, o: BertOptions) {
    super(path);
    this.dense = new Linear(w, joinPath(path, 'dense'), inFeatures, o.hidden, true);
    this.layerNorm = new LayerNorm(w, joinPath(path, 'LayerNorm'), o.hidden, o.eps, true);
  }

  override children(): Module[] {
    return [this.dense, this.layerNorm];
  }

  forward(b: PlanBuilder, h: Act, input: Act): Promise<Act> {
    return b.module(this.path, [h, input], async ([h, input]) => (await this.layerNorm.addAndForward(b, await this.dense.forward(b, h), input))[1]);
  }
}

/** BertOutput: the same join after the intermediate layer (dense from intermediate_size). */
export class BertOutput extends BertSelfOutput {}

/** BertAttention: `self` then `output`. Outputs [attention_output, weights?] as HF's. */
export class BertAttention extends Module {
  readonly self: BertSelfAttention;
  readonly output: BertSelfOutput;

  constructor(w: WeightSource, path: string, o: BertOptions) {
    super(path);
    this.self = new BertSelfAttention(w, joinPath(path, 'self'), o.hidden, o.heads);
    this.output = new BertSelfOutput(w, joinPath(path, 'output'), o.hidden, o);
  }

  override children(): Module[] {
    return [this.self, this.output];
  }

  forward(b: PlanBuilder, x: Act, a: AttentionArgs): Promise<Act[]> {
    return b.module(this.path, [x], async ([x]) => {
      const [context, probs] = await this.self.forward(b, x, a);
      const out = await this.output.forward(b, context, x);
      return probs ? [out, probs] : [out];
    });
  }
}

/** BertIntermediate: activation(dense(x)) [.., intermediate_size]. */
export class BertIntermediate extends Module {
  readonly dense: Linear;
  private readonly activation: ActivationKind;

  constructor(w: WeightSource, path: string, o: BertOptions) {
    super(path);
    this.dense = new Linear(w, joinPath(path, 'dense'), o.hidden, o.intermediate, true);
    this.activation = o.activation;
  }

  override children(): Module[] {
    return [this.dense];
  }

  forward(b: PlanBuilder, x: Act): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => activate(b, this.activation, await this.dense.forward(b, x), this.path));
  }
}

/** BertLayer (post-norm): a = attention(x); out = output(intermediate(a), a). */
export class BertLayer extends Module {
  readonly attention: BertAttention;
  readonly intermediate: BertIntermediate;
  readonly output: BertOutput;

  constructor(w: WeightSource, path: string, o: BertOptions) {
    super(path);
    this.attention = new BertAttention(w, joinPath(path, 'attention'), o);
    this.intermediate = new BertIntermediate(w, joinPath(path, 'intermediate'), o);
    this.output = new BertOutput(w, joinPath(path, 'output'), o.intermediate, o);
  }

  override children(): Module[] {
    return [this.attention, this.intermediate, this.output];
  }

  forward(b: PlanBuilder, x: Act, a: AttentionArgs): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => {
      const [att] = await this.attention.forward(b, x, a);
      return this.output.forward(b, await this.intermediate.forward(b, att), att);
    });
  }
}

/** An encoder layer: [B, L, E] -> [B, L, E]. */
interface EncoderLayer extends Module {
  forward(b: PlanBuilder, x: Act, a: AttentionArgs): Promise<Act>;
}

/** Layers `layer.{i}` run in turn: BertEncoder, DistilBERT's Transformer. */
export class LayerStack<T extends EncoderLayer> extends Module {
  readonly layer: T[];

  constructor(path: string, n: number, make: (path: string) => T) {
    super(path);
    this.layer = Array.from({ length: n }, (_, i) => make(joinPath(path, `layer.${i}`)));
  }

  override children(): Module[] {
    return this.layer;
  }

  forward(b: PlanBuilder, x: Act, a: AttentionArgs): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => {
      for (const layer of this.layer) x = await layer.forward(b, x, a);
      return x;
    });
  }
}

/** BertEncoder: layer.{i}, BertLayers. */
export class BertEncoder extends LayerStack<BertLayer> {
  constructor(w: WeightSource, path: string, o: BertOptions) {
    super(path, o.layers, (p) => new BertLayer(w, p, o));
  }
}

/**
 * BertPooler's parameters (pooler.dense), so that checkpoints with a pooler load and are checked. Not run:
 * pooler_output = tanh(dense(first token)) needs a tanh no kernel has yet, and it is not the model's first output.
 */
export class BertPooler extends Module {
  readonly dense: Linear;

  constructor(w: WeightSource, path: string, hidden: number) {
    super(path);
    this.dense = new Linear(w, joinPath(path, 'dense'), hidden, hidden, true);
  }

  override children(): Module[] {
    return [this.dense];
  }
}

/** BertModel: embeddings -> encoder, the last hidden state [B, L, E]; a pooler's parameters when `pooler`. */
export class BertModel extends Module {
  readonly embeddings: BertEmbeddings;
  readonly encoder: BertEncoder;
  readonly pooler?: BertPooler;

  constructor(w: WeightSource, path: string, o: BertOptions, pooler: boolean) {
    super(path);
    this.embeddings = new BertEmbeddings(w, joinPath(path, 'embeddings'), o);
    this.encoder = new BertEncoder(w, joinPath(path, 'encoder'), o);
    if (pooler) this.pooler = new BertPooler(w, joinPath(path, 'pooler'), o.hidden);
  }

  override children(): Module[] {
    return [this.embeddings, this.encoder, ...(this.pooler ? [this.pooler] : [])];
  }

  /** ids, position ids and token type ids, each [B, L] -> [B, L, E]. */
  forward(b: PlanBuilder, ids: Act, positionIds: Act, tokenTypeIds: Act, a: AttentionArgs): Promise<Act> {
    return b.module(this.path, [ids, positionIds, tokenTypeIds], async ([ids, positionIds, tokenTypeIds]) => this.encoder.forward(b, await this.embeddings.forward(b, ids, positionIds, tokenTypeIds), a));
  }
}

/** BertPredictionHeadTransform: LayerNorm(activation(dense(x))). */
export class BertPredictionHeadTransform extends Module {
  readonly dense: Linear;
  readonly layerNorm: LayerNorm;
  private readonly activation: ActivationKind;

  constructor(w: WeightSource, path: string, o: BertOptions) {
    super(path);
    this.dense = new Linear(w, joinPath(path, 'dense'), o.hidden, o.hidden, true);
    this.layerNorm = new LayerNorm(w, joinPath(path, 'LayerNorm'), o.hidden, o.eps, true);
    this.activation = o.activation;
  }

  override children(): Module[] {
    return [this.dense, this.layerNorm];
  }

  forward(b: PlanBuilder, x: Act): Promise<Act> {
    return b.module(this.path, [x], ([x]) => transform(b, this.dense, this.activation, this.layerNorm, x, this.path));
  }
}

/** BertLMPredictionHead (`cls.predictions`): transform, then the tied decoder: logits [B, L, V]. */
export class BertLMPredictionHead extends Module {
  readonly transform: BertPredictionHeadTransform;
  readonly decoder: Linear;

  constructor(w: WeightSource, path: string, o: BertOptions, words: Embedding) {
    super(path);
    // The decoder takes `<path>.bias` first: a module's own parameters lead its state_dict, as in PyTorch.
    this.decoder = tiedDecoder(w, path, words);
    this.transform = new BertPredictionHeadTransform(w, joinPath(path, 'transform'), o);
  }

  override children(): Module[] {
    return [this.transform, this.decoder];
  }

  forward(b: PlanBuilder, x: Act): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => this.decoder.forward(b, await this.transform.forward(b, x)));
  }
}

/** BertOnlyMLMHead (`cls`): `predictions`. */
export class BertOnlyMLMHead extends Module {
  readonly predictions: BertLMPredictionHead;

  constructor(w: WeightSource, path: string, o: BertOptions, words: Embedding) {
    super(path);
    this.predictions = new BertLMPredictionHead(w, joinPath(path, 'predictions'), o, words);
  }

  override children(): Module[] {
    return [this.predictions];
  }

  forward(b: PlanBuilder, x: Act): Promise<Act> {
    return b.module(this.path, [x], ([x]) => this.predictions.forward(b, x));
  }
}

/** An MLM head: the last hidden state [B, L, E] -> logits [B, L, V]. */
export interface MlmHead extends Module {
  forward(b: PlanBuilder, x: Act): Promise<Act>;
}

/**
 * BertForMaskedLM: `bert` (a BertModel without pooler) then `cls`, logits [B, L, V]. RobertaForMaskedLM is the same
 * with its own base model and head.
 */
export class BertForMaskedLM extends Module {
  readonly head: MlmHead;

  constructor(
    w: WeightSource,
    o: BertOptions,
    readonly base: BertModel = new BertModel(w, 'bert', o, false),
    head?: MlmHead,
  ) {
    super('');
    this.head = head ?? new BertOnlyMLMHead(w, 'cls', o, base.embeddings.wordEmbeddings);
  }

  override children(): Module[] {
    return [this.base, this.head];
  }

  forward(b: PlanBuilder, ids: Act, positionIds: Act, tokenTypeIds: Act, a: AttentionArgs): Promise<Act> {
    return b.module(this.path, [ids, positionIds, tokenTypeIds], async ([ids, positionIds, tokenTypeIds]) => this.head.forward(b, await this.base.forward(b, ids, positionIds, tokenTypeIds, a)));
  }
}
