/**
 * The attnscope model config (docs/model-format.md): JSON under `__metadata__["attnscope"]` of a safetensors file.
 * Keys are exactly the JSON keys, so a config is written back with JSON.stringify.
 *
 * Strictness: every key the document lists for the kind is required, except `pad_id`, `bos_id`, `eos_id` (token
 * kinds; absent = null). A documented key on a kind it does not belong to (`vocab` on a transformer, `causal` on
 * seq2seq) is an error. Keys the document does not list at all are not part of ModelConfig: they are passed back as
 * `extra` (tools/export_torch.py `save(module, path, **extra)` may add such keys).
 */
import { dims, jsonError, ModelFileError, quote, show } from './errors.ts';
import { isFloatDType, readSafetensors, writeSafetensors, type SafetensorsDType } from './safetensors.ts';

export type ModelKind = 'transformer' | 'encoder' | 'decoder' | 'seq2seq' | 'lm';
export type Activation = 'relu' | 'gelu';
export type Positional = 'sinusoidal' | 'learned' | 'none';

interface CommonConfig {
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

interface TokenConfig {
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

export interface StackConfig extends CommonConfig {
  kind: 'transformer' | 'encoder' | 'decoder';
}

export interface Seq2SeqConfig extends CommonConfig, TokenConfig {
  kind: 'seq2seq';
  src_vocab: string[];
  tgt_vocab: string[];
}

export interface LmConfig extends CommonConfig, TokenConfig {
  kind: 'lm';
  vocab: string[];
  /** Causal self-attention (decoder-only LM). */
  causal: boolean;
}

export type ModelConfig = StackConfig | Seq2SeqConfig | LmConfig;

/** Caps well beyond any model this runs, so a hostile or garbled config fails here rather than in an allocation. */
export const CONFIG_LIMITS = {
  d_model: 65536,
  dim_feedforward: 1 << 20,
  layers: 1024,
  vocab: 10_000_000,
  max_len: 1_000_000,
} as const;

const KINDS: readonly ModelKind[] = ['transformer', 'encoder', 'decoder', 'seq2seq', 'lm'];
const COMMON_KEYS = [
  'format_version',
  'kind',
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
];
const TOKEN_KEYS = ['positional', 'max_len', 'embed_scale', 'pad_id', 'bos_id', 'eos_id'];
const KEYS: Record<ModelKind, readonly string[]> = {
  transformer: COMMON_KEYS,
  encoder: COMMON_KEYS,
  decoder: COMMON_KEYS,
  seq2seq: [...COMMON_KEYS, ...TOKEN_KEYS, 'src_vocab', 'tgt_vocab'],
  lm: [...COMMON_KEYS, ...TOKEN_KEYS, 'vocab', 'causal'],
};

/** Validates a parsed config object; every error is a ModelFileError 'config' naming the field and the bad value. */
export function parseConfig(json: unknown, fileLabel = 'config'): ModelConfig {
  return splitConfig(json, fileLabel).config;
}

const DOCUMENTED = new Set(Object.values(KEYS).flat());

/** parseConfig, plus the keys the format does not document (ignored by attnscope, kept for the caller). */
export function splitConfig(json: unknown, fileLabel = 'config'): { config: ModelConfig; extra: Record<string, unknown> } {
  const fail = (field: string | undefined, msg: string): never => {
    throw new ModelFileError(`${fileLabel}: attnscope config${field ? ` field "${field}"` : ''}: ${msg}`, 'config', fileLabel, field);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail(undefined, `is ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}, not an object`);
  }
  const c = json as Record<string, unknown>;
  const has = (k: string) => Object.prototype.hasOwnProperty.call(c, k);
  // undefined (possible from JS callers, never from JSON) counts as absent
  const get = (k: string): unknown => (has(k) && c[k] !== undefined ? c[k] : fail(k, 'is missing'));

  const int = (k: string, min: number, max: number): number => {
    const v = get(k);
    if (typeof v !== 'number' || !Number.isInteger(v)) fail(k, `${show(v)} is not an integer`);
    if ((v as number) < min) fail(k, `${show(v)} is below the minimum ${min}`);
    if ((v as number) > max) fail(k, `${show(v)} is over the limit ${max}`);
    return v as number;
  };
  const bool = (k: string): boolean => {
    const v = get(k);
    return typeof v === 'boolean' ? v : fail(k, `${show(v)} is not true or false`);
  };
  const oneOf = <T extends string>(k: string, allowed: readonly T[]): T => {
    const v = get(k);
    return typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : fail(k, `${show(v)} is not one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  };
  const strings = (k: string): string[] => {
    const v = get(k);
    if (!Array.isArray(v)) return fail(k, `${show(v)} is not an array of strings`);
    if (v.length < 1) fail(k, 'is empty');
    if (v.length > CONFIG_LIMITS.vocab) fail(k, `has ${v.length} entries, over the limit ${CONFIG_LIMITS.vocab}`);
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') fail(k, `entry ${i} is ${show(v[i])}, not a string`);
    return (v as string[]).slice();
  };

  const version = get('format_version');
  if (version !== 1) fail('format_version', `${show(version)} is not supported (this reader knows format_version 1)`);
  const kind = oneOf('kind', KINDS);
  const known = new Set(KEYS[kind]);
  const misplaced = Object.keys(c).find((k) => DOCUMENTED.has(k) && !known.has(k));
  if (misplaced !== undefined) fail(misplaced, `is not a config key for kind "${kind}" (only for ${KINDS.filter((k) => KEYS[k].includes(misplaced)).join(', ')})`);
  const extra: Record<string, unknown> = {};
  // defineProperty: a "__proto__" key is data, not extra's prototype
  for (const k of Object.keys(c)) if (!DOCUMENTED.has(k)) Object.defineProperty(extra, k, { value: c[k], enumerable: true, writable: true, configurable: true });

  const d_model = int('d_model', 1, CONFIG_LIMITS.d_model);
  const nhead = int('nhead', 1, CONFIG_LIMITS.d_model);
  if (d_model % nhead !== 0) fail('nhead', `${nhead} does not divide d_model ${d_model}`);
  const dim_feedforward = int('dim_feedforward', 1, CONFIG_LIMITS.dim_feedforward);
  const num_encoder_layers = int('num_encoder_layers', 0, CONFIG_LIMITS.layers);
  const num_decoder_layers = int('num_decoder_layers', 0, CONFIG_LIMITS.layers);
  const activation = oneOf<Activation>('activation', ['relu', 'gelu']);
  const eps = get('layer_norm_eps');
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) fail('layer_norm_eps', `${show(eps)} is not a finite number > 0`);
  const norm_first = bool('norm_first');
  const batch_first = bool('batch_first');
  const bias = bool('bias');
  const encoder_norm = bool('encoder_norm');
  const decoder_norm = bool('decoder_norm');

  const hasEncoder = kind !== 'decoder';
  const hasDecoder = kind === 'transformer' || kind === 'decoder' || kind === 'seq2seq';
  if (!hasEncoder && num_encoder_layers !== 0) fail('num_encoder_layers', `${num_encoder_layers} must be 0 for kind "${kind}" (it has no encoder)`);
  if (!hasDecoder && num_decoder_layers !== 0) fail('num_decoder_layers', `${num_decoder_layers} must be 0 for kind "${kind}" (it has no decoder)`);
  if (!hasEncoder && encoder_norm) fail('encoder_norm', `true but kind "${kind}" has no encoder`);
  if (!hasDecoder && decoder_norm) fail('decoder_norm', `true but kind "${kind}" has no decoder`);
  if (kind === 'transformer' || kind === 'seq2seq') {
    if (!encoder_norm) fail('encoder_norm', `false but nn.Transformer (kind "${kind}") always has a final encoder norm`);
    if (!decoder_norm) fail('decoder_norm', `false but nn.Transformer (kind "${kind}") always has a final decoder norm`);
  }

  const common: CommonConfig = {
    format_version: 1,
    d_model,
    nhead,
    dim_feedforward,
    num_encoder_layers,
    num_decoder_layers,
    activation,
    layer_norm_eps: eps as number,
    norm_first,
    batch_first,
    bias,
    encoder_norm,
    decoder_norm,
  };
  if (kind !== 'seq2seq' && kind !== 'lm') return { config: { kind, ...common }, extra };

  const positional = oneOf<Positional>('positional', ['sinusoidal', 'learned', 'none']);
  const max_len = int('max_len', 1, CONFIG_LIMITS.max_len);
  const scale = get('embed_scale');
  if (typeof scale !== 'number' || !Number.isFinite(scale)) fail('embed_scale', `${show(scale)} is not a finite number`);
  const vocabs = kind === 'seq2seq' ? { src_vocab: strings('src_vocab'), tgt_vocab: strings('tgt_vocab') } : { vocab: strings('vocab') };
  const idVocab = kind === 'seq2seq' ? (vocabs.tgt_vocab as string[]) : (vocabs.vocab as string[]);
  const idName = kind === 'seq2seq' ? 'tgt_vocab' : 'vocab';
  const id = (k: string): number | null => {
    if (!has(k) || c[k] === null || c[k] === undefined) return null;
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= idVocab.length) {
      fail(k, `${show(v)} is not null or a token id in 0..${idVocab.length - 1} (${idName} has ${idVocab.length} entries)`);
    }
    return v as number;
  };
  const token: TokenConfig = {
    positional,
    max_len,
    embed_scale: scale as number,
    pad_id: id('pad_id'),
    bos_id: id('bos_id'),
    eos_id: id('eos_id'),
  };
  if (kind === 'seq2seq') return { config: { kind, ...common, ...token, src_vocab: vocabs.src_vocab!, tgt_vocab: vocabs.tgt_vocab! }, extra };
  return { config: { kind, ...common, ...token, vocab: vocabs.vocab!, causal: bool('causal') }, extra };
}

// ---------------------------------------------------------------------------------------------------------------
// tensor names

function addLinear(out: Map<string, number[]>, prefix: string, rows: number, cols: number, bias: boolean): void {
  out.set(`${prefix}.weight`, [rows, cols]);
  if (bias) out.set(`${prefix}.bias`, [rows]);
}

function addNorm(out: Map<string, number[]>, prefix: string, e: number, bias: boolean): void {
  out.set(`${prefix}.weight`, [e]);
  if (bias) out.set(`${prefix}.bias`, [e]);
}

function addAttention(out: Map<string, number[]>, prefix: string, e: number, bias: boolean): void {
  out.set(`${prefix}.in_proj_weight`, [3 * e, e]);
  if (bias) out.set(`${prefix}.in_proj_bias`, [3 * e]);
  addLinear(out, `${prefix}.out_proj`, e, e, bias);
}

/** `{prefix}layers.{i}.…` (and `{prefix}norm.*`) of an nn.TransformerEncoder / nn.TransformerDecoder. */
function addStack(out: Map<string, number[]>, c: ModelConfig, prefix: string, decoder: boolean, layers: number, norm: boolean): void {
  const { d_model: e, dim_feedforward: f, bias } = c;
  for (let i = 0; i < layers; i++) {
    const p = `${prefix}layers.${i}`;
    addAttention(out, `${p}.self_attn`, e, bias);
    if (decoder) addAttention(out, `${p}.multihead_attn`, e, bias);
    addLinear(out, `${p}.linear1`, f, e, bias);
    addLinear(out, `${p}.linear2`, e, f, bias);
    addNorm(out, `${p}.norm1`, e, bias);
    addNorm(out, `${p}.norm2`, e, bias);
    if (decoder) addNorm(out, `${p}.norm3`, e, bias);
  }
  if (norm) addNorm(out, `${prefix}norm`, e, bias);
}

function addTransformer(out: Map<string, number[]>, c: ModelConfig, prefix: string): void {
  addStack(out, c, `${prefix}encoder.`, false, c.num_encoder_layers, c.encoder_norm);
  addStack(out, c, `${prefix}decoder.`, true, c.num_decoder_layers, c.decoder_norm);
}

/** Every tensor the model must contain, name -> shape, in state_dict order. */
export function expectedTensors(c: ModelConfig): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const e = c.d_model;
  switch (c.kind) {
    case 'transformer':
      addTransformer(out, c, '');
      break;
    case 'encoder':
      addStack(out, c, '', false, c.num_encoder_layers, c.encoder_norm);
      break;
    case 'decoder':
      addStack(out, c, '', true, c.num_decoder_layers, c.decoder_norm);
      break;
    case 'seq2seq':
      out.set('src_embed.weight', [c.src_vocab.length, e]);
      out.set('tgt_embed.weight', [c.tgt_vocab.length, e]);
      if (c.positional === 'learned') out.set('pos_embed.weight', [c.max_len, e]);
      addTransformer(out, c, 'transformer.');
      addLinear(out, 'generator', c.tgt_vocab.length, e, c.bias);
      break;
    case 'lm':
      out.set('embed.weight', [c.vocab.length, e]);
      if (c.positional === 'learned') out.set('pos_embed.weight', [c.max_len, e]);
      addStack(out, c, 'encoder.', false, c.num_encoder_layers, c.encoder_norm);
      addLinear(out, 'head', c.vocab.length, e, c.bias);
      break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// model files

export interface ModelFile {
  config: ModelConfig;
  /** name -> f32 data (F16 / BF16 / F64 converted), in expectedTensors order. */
  tensors: Map<string, Float32Array>;
  /** Config keys the format does not document (e.g. from export_torch.py `save(..., **extra)`); {} normally. */
  extra: Record<string, unknown>;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Checks a name -> {shape, dtype} listing against the config: every expected tensor present with its shape and a
 * float dtype, nothing else. Throws ModelFileError 'missing' / 'shape' / 'dtype' / 'unexpected'.
 */
export function checkModelTensors(
  config: ModelConfig,
  tensors: ReadonlyMap<string, { shape: readonly number[]; dtype?: SafetensorsDType }>,
  fileLabel: string,
): void {
  const fail = (code: 'missing' | 'shape' | 'dtype' | 'unexpected', msg: string, tensor?: string): never => {
    throw new ModelFileError(`${fileLabel}: ${msg}`, code, fileLabel, tensor);
  };
  const expected = expectedTensors(config);
  const missing = [...expected.keys()].filter((n) => !tensors.has(n));
  if (missing.length) {
    const first = missing[0];
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more)` : '';
    const lookalike = [...tensors.keys()].find((n) => n.endsWith(`.${first}`) || first.endsWith(`.${n}`));
    const hint = lookalike !== undefined ? `; the file has ${quote(lookalike)}: wrong name prefix or wrong kind "${config.kind}"?` : '';
    fail('missing', `${config.kind} model needs tensor ${quote(first)} ${fmtShape(expected.get(first)!)}, which is absent${more}${hint}`, first);
  }
  for (const [name, shape] of expected) {
    const t = tensors.get(name)!;
    if (!sameShape(t.shape, shape)) fail('shape', `tensor ${quote(name)} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`, name);
    if (t.dtype !== undefined && !isFloatDType(t.dtype)) fail('dtype', `tensor ${quote(name)} is ${t.dtype}; model weights must be F32, F16, BF16 or F64`, name);
  }
  const extra = [...tensors.keys()].filter((n) => !expected.has(n));
  if (extra.length) {
    // Up to 5 names, as many as fit in ~150 characters (the first always, clipped), so the message stays one short line.
    const shown = [quote(extra[0], 100)];
    for (const n of extra.slice(1, 5)) {
      const q = quote(n, 60);
      if (shown.join(', ').length + q.length > 150) break;
      shown.push(q);
    }
    const names = shown.join(', ') + (extra.length > shown.length ? ', …' : '');
    fail('unexpected', `${extra.length} tensor${extra.length > 1 ? 's' : ''} not part of a ${config.kind} model with this config: ${names}`, extra[0]);
  }
}

function fmtShape(s: readonly number[]): string {
  return dims(s);
}

/** Reads and fully validates an attnscope model file. */
export function readModelFile(bytes: Uint8Array, fileLabel = 'model file'): ModelFile {
  const file = readSafetensors(bytes, fileLabel);
  const text = file.metadata.attnscope;
  if (text === undefined) {
    throw new ModelFileError(
      `${fileLabel}: not an attnscope model file (no "attnscope" key in the safetensors __metadata__); export one from PyTorch with tools/export_torch.py`,
      'config',
      fileLabel,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelFileError(
      `${fileLabel}: __metadata__["attnscope"] is not valid JSON (${jsonError(e)})`,
      'config',
      fileLabel,
    );
  }
  const { config, extra } = splitConfig(json, fileLabel);
  checkModelTensors(config, file.tensors, fileLabel);
  const tensors = new Map<string, Float32Array>();
  for (const name of expectedTensors(config).keys()) tensors.set(name, file.tensors.get(name)!.data as Float32Array);
  return { config, tensors, extra };
}

/**
 * Writes an attnscope model file (F32, tensors in expectedTensors order); validates config and tensors first.
 * `extra` config keys are written after the documented ones; they may not be documented keys.
 */
export function writeModelFile(config: ModelConfig, tensors: ReadonlyMap<string, Float32Array>, extra: Record<string, unknown> = {}): Uint8Array {
  const label = 'model writer';
  for (const k of Object.keys(extra)) {
    if (DOCUMENTED.has(k)) throw new ModelFileError(`${label}: extra config key ${quote(k)} is a documented key; set it in the config`, 'config', label, k);
  }
  const json = { ...(JSON.parse(JSON.stringify(config)) as Record<string, unknown>), ...extra };
  const checked = parseConfig(JSON.parse(JSON.stringify(json)), label);
  const expected = expectedTensors(checked);
  const listing = new Map<string, { shape: readonly number[] }>();
  for (const [name, data] of tensors) listing.set(name, { shape: expected.get(name) ?? [data.length] });
  checkModelTensors(checked, listing, label);
  for (const [name, shape] of expected) {
    const n = shape.reduce((a, d) => a * d, 1);
    const got = tensors.get(name)!.length;
    if (got !== n) {
      throw new ModelFileError(`${label}: tensor ${quote(name)} has ${got} values, expected ${fmtShape(shape)} = ${n}`, 'shape', label, name);
    }
  }
  const list = [...expected].map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: tensors.get(name)! }));
  return writeSafetensors(list, { attnscope: JSON.stringify({ ...checked, ...extra }) });
}
