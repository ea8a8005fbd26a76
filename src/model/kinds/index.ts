// The table of model kinds: attnscope's own file format (nn.Transformer and its wrappers) and the Hugging Face
// families, keyed by model_type. Adding a kind is one module and one line here.
import { bertKind, type BertConfig } from './bert.ts';
import { distilbertKind, type DistilBertConfig } from './distilbert.ts';
import { gpt2Kind, type Gpt2Config } from './gpt2.ts';
import type { ModelKind } from './kind.ts';
import { type LlamaConfig, llamaKind, type Qwen2Config, qwen2Kind } from './llama.ts';
import { lmKind, type LmConfig } from './lm.ts';
import { robertaKind, type RobertaConfig } from './roberta.ts';
import { seq2seqKind, type Seq2SeqConfig } from './seq2seq.ts';
import { type DecoderConfig, decoderKind, type EncoderConfig, encoderKind, type TransformerConfig, transformerKind } from './stacks.ts';

/** Configs of attnscope's own model files. */
export type FileConfig = TransformerConfig | EncoderConfig | DecoderConfig | Seq2SeqConfig | LmConfig;
/** Configs of Hugging Face checkpoints (config.json). */
export type HfConfig = Gpt2Config | BertConfig | RobertaConfig | DistilBertConfig | LlamaConfig | Qwen2Config;
export type ModelConfig = FileConfig | HfConfig;
export type ModelKindName = ModelConfig['kind'];

export const KINDS: { readonly [K in ModelKindName]: ModelKind<Extract<ModelConfig, { kind: K }>> } = {
  transformer: transformerKind,
  encoder: encoderKind,
  decoder: decoderKind,
  seq2seq: seq2seqKind,
  lm: lmKind,
  gpt2: gpt2Kind,
  bert: bertKind,
  roberta: robertaKind,
  distilbert: distilbertKind,
  llama: llamaKind,
  qwen2: qwen2Kind,
};

const table = KINDS as Readonly<Record<ModelKindName, ModelKind<ModelConfig>>>;
const pick = (hf: boolean) => Object.fromEntries(Object.entries(table).filter(([, k]) => !!k.hf === hf)) as Readonly<Record<string, ModelKind<ModelConfig>>>;
/** Kinds of attnscope's own files, by their config's `kind`. */
export const FILE_KINDS = pick(false);
/** Hugging Face families, by config.json's `model_type`. */
export const HF_KINDS = pick(true);

/** Whether a config is a Hugging Face checkpoint's config.json (a kind with `hf`), not an attnscope file's. */
export function isHfConfig(c: ModelConfig): c is HfConfig {
  return !!table[c.kind].hf;
}

/** The kind module of a parsed config. */
export function kindOf(c: ModelConfig): ModelKind<ModelConfig> {
  return table[c.kind];
}
