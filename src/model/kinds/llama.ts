// Llama (HF model_type "llama": SmolLM, TinyLlama, Llama 2) and Qwen2 ("qwen2": Llama with q/k/v biases), as
// LlamaForCausalLM / LlamaModel and Qwen2ForCausalLM / Qwen2Model name them in config.json's architectures. Config
// features attnscope does not implement are refused naming their field.
import { LlamaForCausalLM, LlamaModel, type LlamaOptions } from '../../nn/llama.ts';
import type { KvCache } from '../../nn/attention_core.ts';
import type { Dim, PlanBuilder } from '../../scheduler/plan.ts';
import { show } from '../errors.ts';
import { InputError } from '../inputs.ts';
import type { ConfigFields } from './fields.ts';
import { architecture, HF_LIMIT, widthAndHeads } from './hf_config.ts';
import { HfInputs } from './hf_inputs.ts';
import type { ModelKind } from './kind.ts';

interface LlamaFields {
  /** *ForCausalLM ('lm': logits) or *Model ('base': the last hidden state). */
  head: 'lm' | 'base';
  vocab_size: number;
  hidden_size: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  num_hidden_layers: number;
  intermediate_size: number;
  rms_norm_eps: number;
  rope_theta: number;
  max_position_embeddings: number;
  attention_bias: boolean;
  mlp_bias: boolean;
  tie_word_embeddings: boolean;
  bos_token_id: number | null;
  /** One id or several (HF's Llama 3 / Qwen2.5 configs list them): generate stops on any. */
  eos_token_id: number | number[] | null;
}

export interface LlamaConfig extends LlamaFields {
  kind: 'llama';
}

export interface Qwen2Config extends LlamaFields {
  kind: 'qwen2';
}

type FamilyConfig = LlamaConfig | Qwen2Config;

/** Present and not null, false, 0 or an empty list: a feature switched on. */
function inUse(f: ConfigFields, k: string): boolean {
  const v = f.raw(k);
  return !(v === undefined || v === null || v === false || v === 0 || (Array.isArray(v) && v.length === 0));
}

function parse(f: ConfigFields, kind: FamilyConfig['kind']): FamilyConfig {
  const family = kind === 'llama' ? 'Llama' : 'Qwen2';
  const head = architecture<'lm' | 'base'>(f, { [`${family}ForCausalLM`]: 'lm', [`${family}Model`]: 'base' }, 'base');
  const [hidden_size, num_attention_heads] = widthAndHeads(f, 'hidden_size', 'num_attention_heads');
  const num_key_value_heads = f.has('num_key_value_heads') && f.raw('num_key_value_heads') !== null ? f.int('num_key_value_heads', 1, num_attention_heads) : num_attention_heads;
  if (num_attention_heads % num_key_value_heads !== 0) f.fail('num_key_value_heads', `${num_key_value_heads} does not divide num_attention_heads ${num_attention_heads}`);
  const head_dim = f.has('head_dim') && f.raw('head_dim') !== null ? f.int('head_dim', 2, HF_LIMIT) : hidden_size / num_attention_heads;
  if (head_dim % 2 !== 0) f.fail(f.has('head_dim') ? 'head_dim' : 'num_attention_heads', `head dim ${head_dim} is odd; rotary embedding needs an even head dim`);
  if (f.has('hidden_act') && f.raw('hidden_act') !== 'silu') f.fail('hidden_act', `${show(f.raw('hidden_act'))} is not supported (attnscope's gated MLP is SiLU: "silu")`);
  const scaling = f.raw('rope_scaling');
  if (scaling !== undefined && scaling !== null) {
    const type = typeof scaling === 'object' ? ((scaling as Record<string, unknown>).rope_type ?? (scaling as Record<string, unknown>).type) : scaling;
    if (type !== 'default') f.fail('rope_scaling', `rope type ${show(type)} is not supported (attnscope implements the default rotary embedding only)`);
  }
  for (const k of ['num_local_experts', 'num_experts', 'num_experts_per_tok', 'moe_intermediate_size', 'shared_expert_intermediate_size']) {
    if (inUse(f, k)) f.fail(k, `${show(f.raw(k))}: mixture-of-experts layers are not supported`);
  }
  if (f.has('use_sliding_window') && f.bool('use_sliding_window')) f.fail('use_sliding_window', 'true is not supported (attnscope attends to every earlier token)');
  if (kind === 'qwen2' && inUse(f, 'attention_bias')) f.fail('attention_bias', 'is not a Qwen2 field (Qwen2 has q/k/v biases and no o_proj bias)');
  const vocab_size = f.int('vocab_size', 1, HF_LIMIT);
  return {
    kind,
    head,
    vocab_size,
    hidden_size,
    num_attention_heads,
    num_key_value_heads,
    head_dim,
    num_hidden_layers: f.int('num_hidden_layers', 1, 1024),
    intermediate_size: f.int('intermediate_size', 1, HF_LIMIT),
    rms_norm_eps: f.number('rms_norm_eps', true),
    rope_theta: f.has('rope_theta') ? f.number('rope_theta', true) : 10000,
    max_position_embeddings: f.int('max_position_embeddings', 1, HF_LIMIT),
    attention_bias: f.has('attention_bias') ? f.bool('attention_bias') : false,
    mlp_bias: f.has('mlp_bias') ? f.bool('mlp_bias') : false,
    // LlamaConfig / Qwen2Config default tie_word_embeddings to False.
    tie_word_embeddings: f.has('tie_word_embeddings') ? f.bool('tie_word_embeddings') : false,
    bos_token_id: f.optionalId('bos_token_id', vocab_size, 'the vocabulary'),
    eos_token_id: f.tokenIds('eos_token_id', vocab_size, 'the vocabulary'),
  };
}

function options(c: FamilyConfig): LlamaOptions {
  const qwen = c.kind === 'qwen2';
  return {
    family: qwen ? 'Qwen2' : 'Llama',
    vocab: c.vocab_size,
    embed: c.hidden_size,
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads,
    headDim: c.head_dim,
    layers: c.num_hidden_layers,
    inner: c.intermediate_size,
    eps: c.rms_norm_eps,
    theta: c.rope_theta,
    positions: c.max_position_embeddings,
    qkvBias: qwen || c.attention_bias,
    oBias: c.attention_bias,
    mlpBias: c.mlp_bias,
    tied: c.tie_word_embeddings,
  };
}

function llamaFamily<C extends FamilyConfig>(kind: C['kind']): ModelKind<C> {
  return {
    // Older checkpoints saved each layer's rotary inv_freq buffer; HF ignores it on load.
    hf: { prefix: 'model', ignore: [/\.rotary_emb\.inv_freq$/], tied: ['lm_head.weight'] },
    inputs: ['input_ids', 'attention_mask', 'position_ids'],
    gradInputs: [],
    parse: (f) => parse(f, kind) as C,
    build(w, c) {
      const o = options(c);
      const root = c.head === 'lm' ? new LlamaForCausalLM(w, o) : new LlamaModel(w, '', o);
      const base = root instanceof LlamaForCausalLM ? root.model : root;
      const P = c.max_position_embeddings;
      return {
        root,
        batchFirst: true,
        feed(f, x) {
          const n = new HfInputs(f, x, kind);
          const ids = n.ids('input_ids', c.vocab_size);
          const a = { B: n.B, L: n.L, S: n.L, batchFirst: true, causal: true, keyPaddingMask: n.keyPadding() };
          const positions = n.positions(P);
          return { shape: [n.B, n.L, c.head === 'lm' ? c.vocab_size : c.hidden_size], body: () => root.forward(f.b, ids, positions, a) };
        },
        attentionModules: () => base.layers.map((layer, i) => ({ path: layer.selfAttn.path, role: 'encoder' as const, layer: i, heads: c.num_attention_heads, causal: true })),
        ...(root instanceof LlamaForCausalLM
          ? {
              /** The prompt runs once (prefill), then one decode plan per token; the caches hold rotated keys and values per KV head. */
              async generate(d, src, go) {
                const [B, L] = src.shape;
                const V = c.vocab_size;
                const KV = c.num_key_value_heads * c.head_dim;
                const eos = (go.eos === undefined ? c.eos_token_id : go.eos) ?? undefined;
                const maxT = L + d.maxNewTokens;
                if (maxT > P) throw new InputError(`generate: prompt ${L} + maxNewTokens ${d.maxNewTokens} exceeds the model's ${P} positions (max_position_embeddings)`);
                const bufs = base.layers.map((_, i) => [d.buffer(B * maxT * KV, `k cache ${i}`), d.buffer(B * maxT * KV, `v cache ${i}`)]);
                const caches = (b: PlanBuilder, pos: Dim): KvCache[] =>
                  bufs.map(([k, v], i) => ({ kind: 'kv', k: b.external(k, [B * maxT * KV], `k cache ${i}`), v: b.external(v, [B * maxT * KV], `v cache ${i}`), maxT, pos }));
                await d.causalLm(src, V, eos, (b, ids, positions, a, pos) => root.forward(b, ids, positions, a, caches(b, pos)));
              },
            }
          : {}),
      };
    },
  };
}

export const llamaKind = llamaFamily<LlamaConfig>('llama');
export const qwen2Kind = llamaFamily<Qwen2Config>('qwen2');
