// GPT-2 (HF model_type "gpt2"): GPT2Model or GPT2LMHeadModel as config.json's architectures names them.
import { GPT2LMHeadModel, GPT2Model, type Gpt2Options } from '../../nn/gpt2.ts';
import { InputError } from '../inputs.ts';
import type { ModelKind } from './kind.ts';
import { ACT2FN, architecture, HF_LIMIT, widthAndHeads } from './hf_config.ts';
import { HfInputs } from './hf_inputs.ts';

export interface Gpt2Config {
  kind: 'gpt2';
  /** GPT2LMHeadModel ('lm': logits) or GPT2Model ('base': the last hidden state). */
  head: 'lm' | 'base';
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  /** The MLP's width; 4 · n_embd when config.json has null. */
  n_inner: number;
  activation_function: string;
  layer_norm_epsilon: number;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
}

const ARCHITECTURES = { GPT2LMHeadModel: 'lm', GPT2Model: 'base' } as const;

export const gpt2Kind: ModelKind<Gpt2Config> = {
  hf: { prefix: 'transformer', ignore: [/\.attn\.(masked_)?bias$/], tied: ['lm_head.weight'] },
  inputs: ['input_ids', 'attention_mask', 'position_ids'],
  gradInputs: [],
  parse(f) {
    const head = architecture(f, ARCHITECTURES, 'base');
    const [n_embd, n_head] = widthAndHeads(f, 'n_embd', 'n_head');
    const act = f.oneOf('activation_function', Object.keys(ACT2FN));
    for (const [k, want] of [['scale_attn_weights', true], ['scale_attn_by_inverse_layer_idx', false], ['add_cross_attention', false]] as const) {
      if (f.has(k) && f.bool(k) !== want) f.fail(k, `${!want} is not supported (attnscope runs GPT-2 as published: ${k} ${want})`);
    }
    const vocab_size = f.int('vocab_size', 1, HF_LIMIT);
    return {
      kind: 'gpt2',
      head,
      vocab_size,
      n_positions: f.int('n_positions', 1, HF_LIMIT),
      n_embd,
      n_layer: f.int('n_layer', 1, 1024),
      n_head,
      n_inner: f.raw('n_inner') === null || !f.has('n_inner') ? 4 * n_embd : f.int('n_inner', 1, HF_LIMIT),
      activation_function: act,
      layer_norm_epsilon: f.number('layer_norm_epsilon', true),
      bos_token_id: f.optionalId('bos_token_id', vocab_size, 'the vocabulary'),
      eos_token_id: f.tokenIds('eos_token_id', vocab_size, 'the vocabulary'),
    };
  },
  build(w, c) {
    const o: Gpt2Options = {
      vocab: c.vocab_size,
      positions: c.n_positions,
      embed: c.n_embd,
      heads: c.n_head,
      layers: c.n_layer,
      inner: c.n_inner,
      eps: c.layer_norm_epsilon,
      activation: ACT2FN[c.activation_function],
    };
    const root = c.head === 'lm' ? new GPT2LMHeadModel(w, o) : new GPT2Model(w, '', o);
    const base = root instanceof GPT2LMHeadModel ? root.transformer : root;
    return {
      root,
      batchFirst: true,
      feed(f, x) {
        const n = new HfInputs(f, x, 'gpt2');
        const ids = n.ids('input_ids', c.vocab_size);
        const a = { B: n.B, L: n.L, S: n.L, batchFirst: true, causal: true, keyPaddingMask: n.keyPadding() };
        const positions = n.positions(c.n_positions);
        return { shape: [n.B, n.L, c.head === 'lm' ? c.vocab_size : c.n_embd], body: () => root.forward(f.b, ids, positions, a) };
      },
      attentionModules: () => base.h.map((block, layer) => ({ path: block.attn.path, role: 'encoder' as const, layer, heads: c.n_head, causal: true })),
      ...(root instanceof GPT2LMHeadModel
        ? {
            /** The prompt runs once (prefill), then one decode plan per token; positions continue from the cache. */
            async generate(d, src, o) {
              const [B, L] = src.shape;
              const E = c.n_embd;
              const V = c.vocab_size;
              const eos = (o.eos === undefined ? c.eos_token_id : o.eos) ?? undefined;
              const maxT = L + d.maxNewTokens;
              if (maxT > c.n_positions) throw new InputError(`generate: prompt ${L} + maxNewTokens ${d.maxNewTokens} exceeds the model's ${c.n_positions} positions`);
              const selfBufs = base.h.map((_, i) => d.buffer(B * maxT * 3 * E, `kv cache ${i}`));
              await d.causalLm(src, V, eos, (b, ids, positions, a, pos) => root.forward(b, ids, positions, a, d.selfCaches(b, selfBufs, maxT, pos, E)));
            },
          }
        : {}),
    };
  },
};
