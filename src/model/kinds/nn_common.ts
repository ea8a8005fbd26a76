// What the nn.Transformer kinds share: the common config fields, layer options, and how their inputs (float
// sequences, token ids, PyTorch masks) are checked and fed.
import type { AttentionModuleInfo } from '../../analysis/attention_modules.ts';
import type { ActivationKind } from '../../kernels/activation.ts';
import type { TransformerDecoder } from '../../nn/decoder.ts';
import type { MemoryArgs } from '../../nn/decoder_layer.ts';
import type { TransformerEncoder } from '../../nn/encoder.ts';
import type { LayerOptions, SelfAttentionArgs } from '../../nn/encoder_layer.ts';
import type { TokenOptions } from '../../nn/seq2seq.ts';
import type { Act } from '../../scheduler/plan.ts';
import type { Feeder } from '../feeder.ts';
import { floatInput, InputError, type InputTensor, type ModelInputs, tokenInput } from '../inputs.ts';
import type { ConfigFields } from './fields.ts';

/** Caps well beyond any model this runs, so a hostile or garbled config fails here rather than in an allocation. */
export const CONFIG_LIMITS = {
  d_model: 65536,
  dim_feedforward: 1 << 20,
  layers: 1024,
  vocab: 10_000_000,
  max_len: 1_000_000,
} as const;

export type Activation = ActivationKind;
export type Positional = 'sinusoidal' | 'learned' | 'none';

export interface CommonConfig {
  format_version: 1;
  /** Embedding dim E. */
  d_model: number;
  /** Heads H; divides d_model. */
  nhead: number;
  dim_feedforward: number;
  /** 0 where the kind has no encoder. */
  num_encoder_layers: number;
  /** 0 where the kind has no decoder. */
  num_decoder_layers: number;
  /** gelu is exact (erf). */
  activation: Activation;
  layer_norm_eps: number;
  /** Pre-norm when true. */
  norm_first: boolean;
  /** Input layout [B, L, E] when true, else [L, B, E]. */
  batch_first: boolean;
  /** false: no biases in Linear / MultiheadAttention / LayerNorm. */
  bias: boolean;
  /** A final encoder.norm exists (true for transformer / seq2seq, false where there is no encoder). */
  encoder_norm: boolean;
  /** A final decoder.norm exists (true for transformer / seq2seq, false where there is no decoder). */
  decoder_norm: boolean;
}

export interface TokenConfig {
  positional: Positional;
  /** Longest sequence (rows of pos_embed.weight when learned). */
  max_len: number;
  /** Token embeddings are multiplied by this (sqrt(E) in the PyTorch tutorial; 1 for none). */
  embed_scale: number;
  /** Special token ids (target vocabulary for seq2seq); null when there is none. */
  pad_id: number | null;
  bos_id: number | null;
  eos_id: number | null;
}

export const COMMON_KEYS = [
  'd_model',
  'nhead',
  'dim_feedforward',
  'num_encoder_layers',
  'num_decoder_layers',
  'activation',
  'layer_norm_eps',
  'norm_first',
  'batch_first',
  'bias',
  'encoder_norm',
  'decoder_norm',
] as const;
export const TOKEN_KEYS = ['positional', 'max_len', 'embed_scale', 'pad_id', 'bos_id', 'eos_id'] as const;

/** The common fields; `stacks` says which of encoder and decoder the kind has and whether nn.Transformer owns them. */
export function parseCommon(f: ConfigFields, kind: string, stacks: { encoder: boolean; decoder: boolean; transformer: boolean }): CommonConfig {
  const d_model = f.int('d_model', 1, CONFIG_LIMITS.d_model);
  const nhead = f.int('nhead', 1, CONFIG_LIMITS.d_model);
  if (d_model % nhead !== 0) f.fail('nhead', `${nhead} does not divide d_model ${d_model}`);
  const c: CommonConfig = {
    format_version: 1,
    d_model,
    nhead,
    dim_feedforward: f.int('dim_feedforward', 1, CONFIG_LIMITS.dim_feedforward),
    num_encoder_layers: f.int('num_encoder_layers', 0, CONFIG_LIMITS.layers),
    num_decoder_layers: f.int('num_decoder_layers', 0, CONFIG_LIMITS.layers),
    activation: f.oneOf<Activation>('activation', ['relu', 'gelu']),
    layer_norm_eps: f.number('layer_norm_eps', true),
    norm_first: f.bool('norm_first'),
    batch_first: f.bool('batch_first'),
    bias: f.bool('bias'),
    encoder_norm: f.bool('encoder_norm'),
    decoder_norm: f.bool('decoder_norm'),
  };
  if (!stacks.encoder && c.num_encoder_layers !== 0) f.fail('num_encoder_layers', `${c.num_encoder_layers} must be 0 for kind "${kind}" (it has no encoder)`);
  if (!stacks.decoder && c.num_decoder_layers !== 0) f.fail('num_decoder_layers', `${c.num_decoder_layers} must be 0 for kind "${kind}" (it has no decoder)`);
  if (!stacks.encoder && c.encoder_norm) f.fail('encoder_norm', `true but kind "${kind}" has no encoder`);
  if (!stacks.decoder && c.decoder_norm) f.fail('decoder_norm', `true but kind "${kind}" has no decoder`);
  if (stacks.transformer) {
    if (!c.encoder_norm) f.fail('encoder_norm', `false but nn.Transformer (kind "${kind}") always has a final encoder norm`);
    if (!c.decoder_norm) f.fail('decoder_norm', `false but nn.Transformer (kind "${kind}") always has a final decoder norm`);
  }
  return c;
}

/** The token fields; `before` parses the vocabularies (after embed_scale, before the special ids, which index `ids`). */
export function parseToken<V>(f: ConfigFields, before: () => V, ids: (v: V) => { n: number; of: string }): { token: TokenConfig; vocabs: V } {
  const positional = f.oneOf<Positional>('positional', ['sinusoidal', 'learned', 'none']);
  const max_len = f.int('max_len', 1, CONFIG_LIMITS.max_len);
  const embed_scale = f.number('embed_scale');
  const vocabs = before();
  const { n, of } = ids(vocabs);
  const token = { positional, max_len, embed_scale, pad_id: f.optionalId('pad_id', n, of), bos_id: f.optionalId('bos_id', n, of), eos_id: f.optionalId('eos_id', n, of) };
  return { token, vocabs };
}

export function layerOptions(c: CommonConfig): LayerOptions {
  return {
    dModel: c.d_model,
    nhead: c.nhead,
    dimFeedforward: c.dim_feedforward,
    activation: c.activation,
    layerNormEps: c.layer_norm_eps,
    normFirst: c.norm_first,
    bias: c.bias,
  };
}

export function tokenOptions(c: TokenConfig): TokenOptions {
  return { positional: c.positional, maxLen: c.max_len, embedScale: c.embed_scale };
}

/** The names of a kind's inputs: its sequences, each one's masks, and the cross-attention masks where it has them. */
export function inputNames(seqs: readonly ('src' | 'tgt' | 'memory')[], cross: boolean): string[] {
  const own = seqs.filter((s) => s !== 'memory');
  return [...seqs, ...own.flatMap((s) => [`${s}_mask`, `${s}_key_padding_mask`]), ...(cross ? ['memory_mask', 'memory_key_padding_mask'] : [])];
}

/**
 * Checks and feeds the inputs of an nn.Transformer kind. Sequences are [L, B, ·] or, batch first, [B, L, ·];
 * masks as PyTorch takes them (attn masks [L, S] or [B·H, L, S], key-padding masks [B, S]).
 */
export class NnInputs {
  constructor(
    readonly f: Feeder,
    readonly x: ModelInputs,
    readonly c: CommonConfig,
    readonly kind: string,
  ) {}

  need(name: string): InputTensor {
    const t = this.x[name];
    if (!t) throw new InputError(`input ${name} is required for a ${this.kind} model`);
    return t;
  }

  /** (B, L) of a [L, B] / [B, L] leading pair. */
  private bl(t: InputTensor): [number, number] {
    return this.c.batch_first ? [t.shape[0], t.shape[1]] : [t.shape[1], t.shape[0]];
  }

  /** [L, B, E] / [B, L, E] of a sequence. */
  shape(B: number, L: number, E = this.c.d_model): number[] {
    return this.c.batch_first ? [B, L, E] : [L, B, E];
  }

  /** A float sequence [L, B, E] ([B, L, E]): its act and (B, L). */
  seq(name: string): { act: Act; B: number; L: number } {
    const t = this.need(name);
    const E = this.c.d_model;
    if (t.shape.length !== 3 || t.shape[2] !== E) throw new InputError(`input ${name}: shape [${t.shape.join(', ')}], expected ${this.c.batch_first ? '[B, L, E]' : '[L, B, E]'} with E = ${E}`);
    const [B, L] = this.bl(t);
    const shape = this.shape(B, L);
    return { act: this.f.tensor(name, shape, floatInput(name, t, shape)), B, L };
  }

  /** Token ids [L, B] ([B, L]) in [0, vocab): their act and (B, L). */
  ids(name: string, vocab: number): { act: Act; B: number; L: number } {
    const t = this.need(name);
    if (t.shape.length !== 2) throw new InputError(`input ${name}: shape [${t.shape.join(', ')}], expected token ids ${this.c.batch_first ? '[B, L]' : '[L, B]'}`);
    const [B, L] = this.bl(t);
    return { act: this.f.tensor(name, [...t.shape], tokenInput(name, t, t.shape, vocab)), B, L };
  }

  sameBatch(a: string, B: number, b: string, Bb: number): void {
    if (B !== Bb) throw new InputError(`inputs ${a} and ${b} have batch sizes ${B} and ${Bb}`);
  }

  /** src_mask / src_key_padding_mask (or tgt_…) of a self-attention over L positions. */
  selfArgs(prefix: 'src' | 'tgt', B: number, L: number): SelfAttentionArgs {
    const H = this.c.nhead;
    const m = this.f.mask(`${prefix}_mask`, this.x[`${prefix}_mask`], [[L, L], [B * H, L, L]]);
    const kpm = this.f.mask(`${prefix}_key_padding_mask`, this.x[`${prefix}_key_padding_mask`], [[B, L]]);
    return { B, L, batchFirst: this.c.batch_first, mask: m.act, keyPaddingMask: kpm.act, causal: m.causal };
  }

  /** memory_mask / memory_key_padding_mask of cross-attention from L queries to S memory positions. */
  memArgs(B: number, L: number, S: number): MemoryArgs {
    const H = this.c.nhead;
    const m = this.f.mask('memory_mask', this.x.memory_mask, [[L, S], [B * H, L, S]]);
    const kpm = this.f.mask('memory_key_padding_mask', this.x.memory_key_padding_mask, [[B, S]]);
    if (m.causal) throw new InputError('input memory_mask: a causal memory mask is not supported; pass it as a float mask with one finite entry');
    return { S, mask: m.act, keyPaddingMask: kpm.act };
  }
}

/**
 * The attention modules of an encoder and/or a decoder stack, in forward order (encoder first). `causal`: queries see
 * no later keys when the model decodes (a decoder's self-attention; an encoder's only in a causal LM).
 */
export function stackAttention(heads: number, encoder?: TransformerEncoder, decoder?: TransformerDecoder, causalEncoder = false): AttentionModuleInfo[] {
  return [
    ...(encoder?.layers ?? []).map((l, layer) => ({ path: l.selfAttn.path, role: 'encoder' as const, layer, heads, causal: causalEncoder })),
    ...(decoder?.layers ?? []).flatMap((l, layer) => [
      { path: l.selfAttn.path, role: 'decoder' as const, layer, heads, causal: true },
      { path: l.multiheadAttn.path, role: 'cross' as const, layer, heads, causal: false },
    ]),
  ];
}
