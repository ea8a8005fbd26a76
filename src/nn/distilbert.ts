// Hugging Face's DistilBERT (transformers/models/distilbert/modeling_distilbert.py), inference: dropout off, eager
// attention. Module paths are HF's: embeddings.word_embeddings, transformer.layer.{i}.attention.q_lin, sa_layer_norm,
// ffn.lin1, output_layer_norm, vocab_transform, vocab_projector. Every LayerNorm has eps 1e-12, hard-coded in HF.
import type { ActivationKind } from '../kernels/activation.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { AttentionArgs } from './attention_core.ts';
import { LayerStack, projectAndAttend, tiedTo, transform } from './bert.ts';
import { Embedding } from './embedding.ts';
import { feedForward } from './feedforward.ts';
import { LayerNorm } from './layernorm.ts';
import { Linear } from './linear.ts';
import { joinPath, Module, type WeightSource } from './module.ts';

export interface DistilBertOptions {
  vocab: number;
  /** Rows of position_embeddings (max_position_embeddings). */
  positions: number;
  dim: number;
  heads: number;
  layers: number;
  /** The FFN's width (hidden_dim). */
  hidden: number;
  activation: ActivationKind;
}

const EPS = 1e-12;

/** Embeddings: LayerNorm(word(ids) + position(positions)) [B, L, E]; no token types. */
export class Embeddings extends Module {
  readonly wordEmbeddings: Embedding;
  readonly positionEmbeddings: Embedding;
  readonly layerNorm: LayerNorm;

  constructor(w: WeightSource, path: string, o: DistilBertOptions) {
    super(path);
    this.wordEmbeddings = new Embedding(w, joinPath(path, 'word_embeddings'), o.vocab, o.dim);
    this.positionEmbeddings = new Embedding(w, joinPath(path, 'position_embeddings'), o.positions, o.dim);
    this.layerNorm = new LayerNorm(w, joinPath(path, 'LayerNorm'), o.dim, EPS, true);
  }

  override children(): Module[] {
    return [this.wordEmbeddings, this.positionEmbeddings, this.layerNorm];
  }

  forward(b: PlanBuilder, ids: Act, positionIds: Act): Promise<Act> {
    return b.module(this.path, [ids, positionIds], async ([ids, positionIds]) => (await this.layerNorm.addAndForward(b, await this.wordEmbeddings.forward(b, ids), await this.positionEmbeddings.forward(b, positionIds)))[1]);
  }
}

/**
 * MultiHeadSelfAttention (`attention`): q_lin / k_lin / v_lin -> attention -> out_lin. Outputs [out, weights?] as HF's.
 * HF divides q by √d before the product and replaces masked scores by finfo.min instead of adding -inf: the same
 * probabilities, to rounding, as every row has a real key.
 */
export class MultiHeadSelfAttention extends Module {
  readonly qLin: Linear;
  readonly kLin: Linear;
  readonly vLin: Linear;
  readonly outLin: Linear;
  readonly headDim: number;

  constructor(
    w: WeightSource,
    path: string,
    dim: number,
    readonly numHeads: number,
  ) {
    super(path);
    if (dim % numHeads !== 0) throw new Error(`${path}: dim ${dim} is not divisible by n_heads ${numHeads}`);
    this.headDim = dim / numHeads;
    const lin = (n: string) => new Linear(w, joinPath(path, n), dim, dim, true);
    this.qLin = lin('q_lin');
    this.kLin = lin('k_lin');
    this.vLin = lin('v_lin');
    this.outLin = lin('out_lin');
  }

  override children(): Module[] {
    return [this.qLin, this.kLin, this.vLin, this.outLin];
  }

  forward(b: PlanBuilder, x: Act, a: AttentionArgs): Promise<Act[]> {
    return b.module(this.path, [x], async ([x]) => {
      const { o, probs } = await projectAndAttend(b, this, [this.qLin, this.kLin, this.vLin], x, a);
      const out = await this.outLin.forward(b, o);
      return probs ? [out, probs] : [out];
    });
  }
}

/** FFN: lin2(activation(lin1(x))). */
export class FFN extends Module {
  readonly lin1: Linear;
  readonly lin2: Linear;

  constructor(
    w: WeightSource,
    path: string,
    private readonly o: DistilBertOptions,
  ) {
    super(path);
    this.lin1 = new Linear(w, joinPath(path, 'lin1'), o.dim, o.hidden, true);
    this.lin2 = new Linear(w, joinPath(path, 'lin2'), o.hidden, o.dim, true);
  }

  override children(): Module[] {
    return [this.lin1, this.lin2];
  }

  forward(b: PlanBuilder, x: Act): Promise<Act> {
    return b.module(this.path, [x], ([x]) => feedForward(b, this.lin1, this.lin2, this.o.activation, x, this.path));
  }
}

/** TransformerBlock (post-norm): sa = sa_layer_norm(attention(x) + x); out = output_layer_norm(ffn(sa) + sa). */
export class TransformerBlock extends Module {
  readonly attention: MultiHeadSelfAttention;
  readonly saLayerNorm: LayerNorm;
  readonly ffn: FFN;
  readonly outputLayerNorm: LayerNorm;

  constructor(w: WeightSource, path: string, o: DistilBertOptions) {
    super(path);
    const p = (n: string) => joinPath(path, n);
    this.attention = new MultiHeadSelfAttention(w, p('attention'), o.dim, o.heads);
    this.saLayerNorm = new LayerNorm(w, p('sa_layer_norm'), o.dim, EPS, true);
    this.ffn = new FFN(w, p('ffn'), o);
    this.outputLayerNorm = new LayerNorm(w, p('output_layer_norm'), o.dim, EPS, true);
  }

  override children(): Module[] {
    return [this.attention, this.saLayerNorm, this.ffn, this.outputLayerNorm];
  }

  forward(b: PlanBuilder, x: Act, a: AttentionArgs): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => {
      const [att] = await this.attention.forward(b, x, a);
      const [, sa] = await this.saLayerNorm.addAndForward(b, att, x);
      return (await this.outputLayerNorm.addAndForward(b, await this.ffn.forward(b, sa), sa))[1];
    });
  }
}

/** Transformer: layer.{i}, TransformerBlocks. */
export class Transformer extends LayerStack<TransformerBlock> {
  constructor(w: WeightSource, path: string, o: DistilBertOptions) {
    super(path, o.layers, (p) => new TransformerBlock(w, p, o));
  }
}

/** DistilBertModel: embeddings -> transformer, the last hidden state [B, L, E]. */
export class DistilBertModel extends Module {
  readonly embeddings: Embeddings;
  readonly transformer: Transformer;

  constructor(w: WeightSource, path: string, o: DistilBertOptions) {
    super(path);
    this.embeddings = new Embeddings(w, joinPath(path, 'embeddings'), o);
    this.transformer = new Transformer(w, joinPath(path, 'transformer'), o);
  }

  override children(): Module[] {
    return [this.embeddings, this.transformer];
  }

  /** ids and position ids, each [B, L] -> [B, L, E]. */
  forward(b: PlanBuilder, ids: Act, positionIds: Act, a: AttentionArgs): Promise<Act> {
    return b.module(this.path, [ids, positionIds], async ([ids, positionIds]) => this.transformer.forward(b, await this.embeddings.forward(b, ids, positionIds), a));
  }
}

/**
 * DistilBertForMaskedLM: `distilbert`, then vocab_layer_norm(activation(vocab_transform(x))) and vocab_projector, its
 * weight tied to the word embeddings, its bias its own: logits [B, L, V].
 */
export class DistilBertForMaskedLM extends Module {
  readonly distilbert: DistilBertModel;
  readonly vocabTransform: Linear;
  readonly vocabLayerNorm: LayerNorm;
  readonly vocabProjector: Linear;

  constructor(
    w: WeightSource,
    private readonly o: DistilBertOptions,
  ) {
    super('');
    this.distilbert = new DistilBertModel(w, 'distilbert', o);
    this.vocabTransform = new Linear(w, 'vocab_transform', o.dim, o.dim, true);
    this.vocabLayerNorm = new LayerNorm(w, 'vocab_layer_norm', o.dim, EPS, true);
    this.vocabProjector = new Linear(w, 'vocab_projector', o.dim, o.vocab, true, false, tiedTo(this.distilbert.embeddings.wordEmbeddings));
  }

  override children(): Module[] {
    return [this.distilbert, this.vocabTransform, this.vocabLayerNorm, this.vocabProjector];
  }

  forward(b: PlanBuilder, ids: Act, positionIds: Act, a: AttentionArgs): Promise<Act> {
    return b.module(this.path, [ids, positionIds], async ([ids, positionIds]) => {
      const h = await this.distilbert.forward(b, ids, positionIds, a);
      return this.vocabProjector.forward(b, await transform(b, this.vocabTransform, this.o.activation, this.vocabLayerNorm, h, this.vocabTransform.path));
    });
  }
}
