// Hugging Face's Llama (transformers/models/llama/modeling_llama.py) and Qwen2 (models/qwen2/modeling_qwen2.py: Llama
// with q/k/v biases), inference: dropout off, eager attention. Module paths are HF's: model.embed_tokens,
// model.layers.{i}.self_attn.q_proj, model.layers.{i}.mlp.gate_proj, model.norm, lm_head; class names the family's.
import { ROPE, rope, ropeInvFreq, ropeTable } from '../kernels/rope.ts';
import { RMSNORM, rmsNorm } from '../kernels/rmsnorm.ts';
import { RMSNORM_BACKWARD, RMSNORM_WEIGHT_GRAD, rmsNormBackward, rmsNormWeightGrad } from '../kernels/rmsnorm_backward.ts';
import { SWIGLU, swiglu } from '../kernels/swiglu.ts';
import { SWIGLU_BACKWARD, swigluBackward } from '../kernels/swiglu_backward.ts';
import { type Act, affine, type PlanBuilder } from '../scheduler/plan.ts';
import type { Tensor } from '../tensor.ts';
import { type AttentionArgs, attend, type KvCache, type Sources, src } from './attention_core.ts';
import { Embedding } from './embedding.ts';
import { residual } from './feedforward.ts';
import { Linear } from './linear.ts';
import { joinPath, Module, type WeightSource } from './module.ts';

export interface LlamaOptions {
  /** The class-name prefix: 'Llama' or 'Qwen2' (LlamaAttention, Qwen2Attention, …). */
  family: string;
  vocab: number;
  embed: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  layers: number;
  /** The MLP's width (intermediate_size). */
  inner: number;
  eps: number;
  /** rope_theta. */
  theta: number;
  /** max_position_embeddings: the rotary table's rows, the longest sequence. */
  positions: number;
  /** q_proj, k_proj, v_proj have biases (Qwen2; Llama's attention_bias). */
  qkvBias: boolean;
  /** o_proj has a bias (Llama's attention_bias). */
  oBias: boolean;
  /** gate_proj, up_proj, down_proj have biases (Llama's mlp_bias). */
  mlpBias: boolean;
  /** lm_head is embed_tokens (tie_word_embeddings). */
  tied: boolean;
}

/** A module named after its family (LlamaRMSNorm, Qwen2RMSNorm): HF's class names, which listings show. */
abstract class FamilyModule extends Module {
  constructor(
    path: string,
    private readonly className: string,
  ) {
    super(path);
  }

  override get kind(): string {
    return this.className;
  }
}

/** LlamaRMSNorm: x · rsqrt(mean(x²) + eps) · weight over the last dim. */
export class RMSNorm extends FamilyModule {
  readonly weight: Tensor;
  private readonly shape: { C: number; eps: number };

  constructor(
    w: WeightSource,
    path: string,
    o: LlamaOptions,
  ) {
    super(path, `${o.family}RMSNorm`);
    this.weight = w.take(`${path}.weight`, [o.embed]);
    this.shape = { C: o.embed, eps: o.eps };
  }

  forward(b: PlanBuilder, x: Act): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => {
      const y = b.act(x.shape, `${this.path} out`);
      const shape = { ...this.shape, rows: x.size / this.shape.C };
      const weight = { buffer: this.weight.buffer };
      b.step('rmsnorm', RMSNORM, { x, y }, (r) => rmsNorm(b.ctx, { ...r, weight }, shape, `${this.path} rmsnorm`), (g) => {
        const dy = g.grad(y)!;
        const dx = g.b.act(x.shape, `${this.path} grad input`);
        const rstd = g.b.act([shape.rows], `${this.path} rstd`);
        g.b.step('grad rmsnorm', RMSNORM_BACKWARD, { x, dy, dx, rstd }, (r) => rmsNormBackward(b.ctx, { ...r, weight }, shape, `${this.path} grad rmsnorm`));
        const name = `${this.path}.weight`;
        if (g.wantsParam(name)) {
          const dW = g.b.act([shape.C], `grad ${name}`);
          g.b.step('grad rmsnorm weight', RMSNORM_WEIGHT_GRAD, { x, dy, rstd, dWeight: dW }, (r) => rmsNormWeightGrad(b.ctx, r, shape, `${this.path} grad rmsnorm weight`));
          g.giveParam(name, dW);
        }
        g.give(x, dx);
      });
      return y;
    });
  }
}

/** The rotary (cos, sin) table of every position (HF's LlamaRotaryEmbedding, default rope type), shared by the layers. */
export interface Rotary {
  table: Tensor;
  positions: number;
}

/** x [.., heads·D] rotated per head by each row's position (pos [B, L], u32), with its backward (the inverse rotation). */
function rotate(b: PlanBuilder, x: Act, pos: Act, rot: Rotary, heads: number, D: number, path: string): Act {
  const y = b.act(x.shape, `${path} rotated`);
  const shape = { rows: x.size / (heads * D), heads, D, P: rot.positions };
  const table = { buffer: rot.table.buffer };
  b.step('rope', ROPE, { x, pos, y }, (r) => rope(b.ctx, { ...r, table }, shape, `${path} rope`), (g) => {
    const dx = g.b.act(x.shape, `${path} grad rope`);
    g.b.step('grad rope', ROPE, { x: g.grad(y)!, pos, y: dx }, (r) => rope(b.ctx, { ...r, table }, { ...shape, inverse: true }, `${path} grad rope`));
    g.give(x, dx);
  });
  return y;
}

/**
 * LlamaAttention: q_proj, k_proj, v_proj (kvHeads key / value heads), rotary embedding of q and k, causal
 * grouped-query attention, o_proj. Outputs [attn_output, weights [B, H, L, S]?] (H the query heads). With a cache the
 * rotated keys and the values are appended at its position and read from it.
 */
export class LlamaAttention extends FamilyModule {
  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly oProj: Linear;

  constructor(
    w: WeightSource,
    path: string,
    readonly o: LlamaOptions,
  ) {
    super(path, `${o.family}Attention`);
    const p = (n: string) => joinPath(path, n);
    const [E, Q, KV] = [o.embed, o.heads * o.headDim, o.kvHeads * o.headDim];
    this.qProj = new Linear(w, p('q_proj'), E, Q, o.qkvBias);
    this.kProj = new Linear(w, p('k_proj'), E, KV, o.qkvBias);
    this.vProj = new Linear(w, p('v_proj'), E, KV, o.qkvBias);
    this.oProj = new Linear(w, p('o_proj'), Q, E, o.oBias);
  }

  override children(): Module[] {
    return [this.qProj, this.kProj, this.vProj, this.oProj];
  }

  forward(b: PlanBuilder, x: Act, pos: Act, rot: Rotary, a: AttentionArgs, cache?: KvCache): Promise<Act[]> {
    return b.module(this.path, [x], async ([x]) => {
      const { heads: H, kvHeads: KVH, headDim: D } = this.o;
      const q = rotate(b, await this.qProj.forward(b, x), pos, rot, H, D, `${this.path} q`);
      const k = rotate(b, await this.kProj.forward(b, x), pos, rot, KVH, D, `${this.path} k`);
      const v = await this.vProj.forward(b, x);
      const { o, probs } = attend(b, { path: this.path, numHeads: H, headDim: D, kvHeads: KVH }, kvSources(b, q, k, v, H * D, KVH * D, a, cache), a, cache);
      const out = await this.oProj.forward(b, o);
      return probs ? [out, probs] : [out];
    });
  }
}

/**
 * q [.., Q], k and v [.., KV] as attention's sources. With a cache (batch-first rows) the new rows of k and v are
 * appended at [pos, pos + L) of its [B, maxT, KV] buffers, and keys and values are read from there.
 */
function kvSources(b: PlanBuilder, q: Act, k: Act, v: Act, Q: number, KV: number, a: AttentionArgs, cache?: KvCache): Sources {
  const { B, L } = a;
  if (!cache) return { q: src(a, q, Q, 0, L), k: src(a, k, KV, 0, a.S), v: src(a, v, KV, 0, a.S), S: a.S };
  if (!a.batchFirst) throw new Error('a grouped-query KV cache takes batch-first rows');
  const { maxT, pos } = cache;
  for (let bt = 0; bt < B; bt++) {
    b.copy('k cache append', k, bt * L * KV, cache.k, affine(pos, KV, bt * maxT * KV), L * KV);
    b.copy('v cache append', v, bt * L * KV, cache.v, affine(pos, KV, bt * maxT * KV), L * KV);
  }
  const lay = { off: 0, strideB: maxT * KV, strideL: KV };
  return { q: src(a, q, Q, 0, L), k: { act: cache.k, lay }, v: { act: cache.v, lay }, S: affine(pos, 1, L) };
}

/** LlamaMLP: down_proj(silu(gate_proj(x)) · up_proj(x)). */
export class LlamaMLP extends FamilyModule {
  readonly gateProj: Linear;
  readonly upProj: Linear;
  readonly downProj: Linear;

  constructor(w: WeightSource, path: string, o: LlamaOptions) {
    super(path, `${o.family}MLP`);
    const p = (n: string) => joinPath(path, n);
    this.gateProj = new Linear(w, p('gate_proj'), o.embed, o.inner, o.mlpBias);
    this.upProj = new Linear(w, p('up_proj'), o.embed, o.inner, o.mlpBias);
    this.downProj = new Linear(w, p('down_proj'), o.inner, o.embed, o.mlpBias);
  }

  override children(): Module[] {
    return [this.gateProj, this.upProj, this.downProj];
  }

  forward(b: PlanBuilder, x: Act): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => {
      const gate = await this.gateProj.forward(b, x);
      const up = await this.upProj.forward(b, x);
      const h = b.act(gate.shape, `${this.path} silu(gate)·up`);
      b.step('swiglu', SWIGLU, { gate, up, y: h }, (r) => swiglu(b.ctx, r, h.size, `${this.path} swiglu`), (g) => {
        const dgate = g.b.act(gate.shape, `${this.path} grad gate`);
        const dup = g.b.act(up.shape, `${this.path} grad up`);
        g.b.step('grad swiglu', SWIGLU_BACKWARD, { dy: g.grad(h)!, gate, up, dgate, dup }, (r) => swigluBackward(b.ctx, r, h.size, `${this.path} grad swiglu`));
        g.give(gate, dgate);
        g.give(up, dup);
      });
      return this.downProj.forward(b, h);
    });
  }
}

/** LlamaDecoderLayer (pre-norm): h = x + self_attn(input_layernorm(x)); out = h + mlp(post_attention_layernorm(h)). */
export class LlamaDecoderLayer extends FamilyModule {
  readonly inputLayernorm: RMSNorm;
  readonly selfAttn: LlamaAttention;
  readonly postAttentionLayernorm: RMSNorm;
  readonly mlp: LlamaMLP;

  constructor(w: WeightSource, path: string, o: LlamaOptions) {
    super(path, `${o.family}DecoderLayer`);
    const p = (n: string) => joinPath(path, n);
    this.selfAttn = new LlamaAttention(w, p('self_attn'), o);
    this.mlp = new LlamaMLP(w, p('mlp'), o);
    this.inputLayernorm = new RMSNorm(w, p('input_layernorm'), o);
    this.postAttentionLayernorm = new RMSNorm(w, p('post_attention_layernorm'), o);
  }

  override children(): Module[] {
    return [this.selfAttn, this.mlp, this.inputLayernorm, this.postAttentionLayernorm];
  }

  forward(b: PlanBuilder, x: Act, pos: Act, rot: Rotary, a: AttentionArgs, cache?: KvCache): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => {
      const [attn] = await this.selfAttn.forward(b, await this.inputLayernorm.forward(b, x), pos, rot, a, cache);
      const h = residual(b, x, attn, this.path);
      return residual(b, h, await this.mlp.forward(b, await this.postAttentionLayernorm.forward(b, h)), this.path);
    });
  }
}

/** LlamaModel: embed_tokens(ids) -> layers.{i} (rotary positions from position ids) -> norm: the last hidden state [B, L, E]. */
export class LlamaModel extends FamilyModule {
  readonly embedTokens: Embedding;
  readonly layers: LlamaDecoderLayer[];
  readonly norm: RMSNorm;
  readonly rotary: Rotary;

  constructor(
    w: WeightSource,
    path: string,
    readonly o: LlamaOptions,
  ) {
    super(path, `${o.family}Model`);
    const p = (n: string) => joinPath(path, n);
    this.embedTokens = new Embedding(w, p('embed_tokens'), o.vocab, o.embed);
    this.layers = Array.from({ length: o.layers }, (_, i) => new LlamaDecoderLayer(w, p(`layers.${i}`), o));
    this.norm = new RMSNorm(w, p('norm'), o);
    const half = o.headDim / 2;
    this.rotary = { table: w.constant(`${p('rotary_emb')} cos|sin`, [o.positions, half, 2], () => ropeTable(ropeInvFreq(o.theta, o.headDim), o.positions)), positions: o.positions };
  }

  override children(): Module[] {
    return [this.embedTokens, ...this.layers, this.norm];
  }

  /** ids [B, L] at positions `positionIds` [B, L] -> [B, L, E]; with caches the earlier keys come from them. */
  forward(b: PlanBuilder, ids: Act, positionIds: Act, a: AttentionArgs, caches?: readonly KvCache[]): Promise<Act> {
    return b.module(this.path, [ids, positionIds], async ([ids, positionIds]) => {
      let x = await this.embedTokens.forward(b, ids);
      for (const [i, layer] of this.layers.entries()) x = await layer.forward(b, x, positionIds, this.rotary, a, caches?.[i]);
      return this.norm.forward(b, x);
    });
  }
}

/** LlamaForCausalLM: `model` (a LlamaModel), then `lm_head` (tied to model.embed_tokens when the config says so): logits [B, L, V]. */
export class LlamaForCausalLM extends FamilyModule {
  readonly model: LlamaModel;
  readonly lmHead: Linear;

  constructor(w: WeightSource, o: LlamaOptions) {
    super('', `${o.family}ForCausalLM`);
    this.model = new LlamaModel(w, 'model', o);
    const emb = this.model.embedTokens;
    this.lmHead = new Linear(w, 'lm_head', o.embed, o.vocab, false, false, o.tied ? { tensor: emb.weight, name: `${emb.path}.weight` } : undefined);
  }

  override children(): Module[] {
    return [this.model, this.lmHead];
  }

  forward(b: PlanBuilder, ids: Act, positionIds: Act, a: AttentionArgs, caches?: readonly KvCache[]): Promise<Act> {
    return b.module(this.path, [ids, positionIds], async ([ids, positionIds]) => this.lmHead.forward(b, await this.model.forward(b, ids, positionIds, a, caches)));
  }
}
