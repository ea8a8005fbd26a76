// Hugging Face's GPT-2 (transformers/models/gpt2/modeling_gpt2.py), inference: dropout off, eager attention.
// Module paths are HF's: transformer.wte, transformer.h.{i}.attn.c_attn, transformer.ln_f, lm_head.
import type { ActivationKind } from '../kernels/activation.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import { type AttentionArgs, attend, packedSources, type SelfCache } from './attention_core.ts';
import { Embedding } from './embedding.ts';
import { feedForward, residual } from './feedforward.ts';
import { LayerNorm } from './layernorm.ts';
import { Conv1D, Linear } from './linear.ts';
import { joinPath, Module, type WeightSource } from './module.ts';

export interface Gpt2Options {
  vocab: number;
  /** Rows of wpe: the longest sequence. */
  positions: number;
  embed: number;
  heads: number;
  layers: number;
  /** The MLP's width (n_inner, 4·n_embd by default). */
  inner: number;
  eps: number;
  activation: ActivationKind;
}

/** GPT2Attention: c_attn (Conv1D E -> 3E, packed q|k|v) -> causal attention -> c_proj. Outputs [attn_output, weights?]. */
export class GPT2Attention extends Module {
  readonly cAttn: Conv1D;
  readonly cProj: Conv1D;
  readonly headDim: number;

  constructor(
    w: WeightSource,
    path: string,
    readonly embed: number,
    readonly numHeads: number,
  ) {
    super(path);
    if (embed % numHeads !== 0) throw new Error(`${path}: n_embd ${embed} is not divisible by n_head ${numHeads}`);
    this.headDim = embed / numHeads;
    this.cAttn = new Conv1D(w, joinPath(path, 'c_attn'), embed, 3 * embed);
    this.cProj = new Conv1D(w, joinPath(path, 'c_proj'), embed, embed);
  }

  override children(): Module[] {
    return [this.cAttn, this.cProj];
  }

  forward(b: PlanBuilder, x: Act, a: AttentionArgs, cache?: SelfCache): Promise<Act[]> {
    return b.module(this.path, [x], async ([x]) => {
      const qkv = await this.cAttn.forward(b, x);
      const { o, probs } = attend(b, this, packedSources(b, qkv, this.embed, a, cache), a, cache);
      const out = await this.cProj.forward(b, o);
      return probs ? [out, probs] : [out];
    });
  }
}

/** GPT2MLP: c_fc (Conv1D E -> inner) -> activation -> c_proj (Conv1D inner -> E). */
export class GPT2MLP extends Module {
  readonly cFc: Conv1D;
  readonly cProj: Conv1D;
  private readonly activation: ActivationKind;

  constructor(
    w: WeightSource,
    path: string,
    o: Gpt2Options,
  ) {
    super(path);
    this.cFc = new Conv1D(w, joinPath(path, 'c_fc'), o.embed, o.inner);
    this.cProj = new Conv1D(w, joinPath(path, 'c_proj'), o.inner, o.embed);
    this.activation = o.activation;
  }

  override children(): Module[] {
    return [this.cFc, this.cProj];
  }

  forward(b: PlanBuilder, x: Act): Promise<Act> {
    return b.module(this.path, [x], ([x]) => feedForward(b, this.cFc, this.cProj, this.activation, x, this.path));
  }
}

/** GPT2Block (pre-norm): h = x + attn(ln_1(x)); out = h + mlp(ln_2(h)). */
export class GPT2Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: GPT2Attention;
  readonly ln2: LayerNorm;
  readonly mlp: GPT2MLP;

  constructor(w: WeightSource, path: string, o: Gpt2Options) {
    super(path);
    const p = (n: string) => joinPath(path, n);
    this.ln1 = new LayerNorm(w, p('ln_1'), o.embed, o.eps, true);
    this.attn = new GPT2Attention(w, p('attn'), o.embed, o.heads);
    this.ln2 = new LayerNorm(w, p('ln_2'), o.embed, o.eps, true);
    this.mlp = new GPT2MLP(w, p('mlp'), o);
  }

  override children(): Module[] {
    return [this.ln1, this.attn, this.ln2, this.mlp];
  }

  forward(b: PlanBuilder, x: Act, a: AttentionArgs, cache?: SelfCache): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => {
      const [attn] = await this.attn.forward(b, await this.ln1.forward(b, x), a, cache);
      const [h, n2] = await this.ln2.addAndForward(b, attn, x);
      return residual(b, h, await this.mlp.forward(b, n2), this.path);
    });
  }
}

/** GPT2Model: wte(ids) + wpe(position ids) -> h.{i} -> ln_f, the last hidden state [B, L, E]. */
export class GPT2Model extends Module {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly h: GPT2Block[];
  readonly lnF: LayerNorm;

  constructor(
    w: WeightSource,
    path: string,
    readonly o: Gpt2Options,
  ) {
    super(path);
    const p = (n: string) => joinPath(path, n);
    this.wte = new Embedding(w, p('wte'), o.vocab, o.embed);
    this.wpe = new Embedding(w, p('wpe'), o.positions, o.embed);
    this.h = Array.from({ length: o.layers }, (_, i) => new GPT2Block(w, p(`h.${i}`), o));
    this.lnF = new LayerNorm(w, p('ln_f'), o.embed, o.eps, true);
  }

  override children(): Module[] {
    return [this.wte, this.wpe, ...this.h, this.lnF];
  }

  /** ids [B, L] at positions `positionIds` [B, L] -> [B, L, E]; with caches the earlier keys come from them. */
  forward(b: PlanBuilder, ids: Act, positionIds: Act, a: AttentionArgs, caches?: readonly SelfCache[]): Promise<Act> {
    return b.module(this.path, [ids, positionIds], async ([ids, positionIds]) => {
      let x = residual(b, await this.wte.forward(b, ids), await this.wpe.forward(b, positionIds), this.path);
      for (const [i, block] of this.h.entries()) x = await block.forward(b, x, a, caches?.[i]);
      return this.lnF.forward(b, x);
    });
  }
}

/** GPT2LMHeadModel: `transformer` (a GPT2Model), then `lm_head`, tied to transformer.wte: logits [B, L, V]. */
export class GPT2LMHeadModel extends Module {
  readonly transformer: GPT2Model;
  readonly lmHead: Linear;

  constructor(w: WeightSource, o: Gpt2Options) {
    super('');
    this.transformer = new GPT2Model(w, 'transformer', o);
    const wte = this.transformer.wte;
    this.lmHead = new Linear(w, 'lm_head', o.embed, o.vocab, false, false, { tensor: wte.weight, name: `${wte.path}.weight` });
  }

  override children(): Module[] {
    return [this.transformer, this.lmHead];
  }

  forward(b: PlanBuilder, ids: Act, positionIds: Act, a: AttentionArgs, caches?: readonly SelfCache[]): Promise<Act> {
    return b.module(this.path, [ids, positionIds], async ([ids, positionIds]) => this.lmHead.forward(b, await this.transformer.forward(b, ids, positionIds, a, caches)));
  }
}
