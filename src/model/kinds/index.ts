// The table of model kinds of attnscope's own file format: adding a kind is one module and one line here.
import { decoderKind, type DecoderConfig } from './decoder.ts';
import { encoderKind, type EncoderConfig } from './encoder.ts';
import type { ModelKind } from './kind.ts';
import { lmKind, type LmConfig } from './lm.ts';
import { seq2seqKind, type Seq2SeqConfig } from './seq2seq.ts';
import { transformerKind, type TransformerConfig } from './transformer.ts';

export type ModelConfig = TransformerConfig | EncoderConfig | DecoderConfig | Seq2SeqConfig | LmConfig;
export type ModelKindName = ModelConfig['kind'];

export const KINDS: { readonly [K in ModelKindName]: ModelKind<Extract<ModelConfig, { kind: K }>> } = {
  transformer: transformerKind,
  encoder: encoderKind,
  decoder: decoderKind,
  seq2seq: seq2seqKind,
  lm: lmKind,
};

/** The kind module of a parsed config. */
export function kindOf(c: ModelConfig): ModelKind<ModelConfig> {
  return KINDS[c.kind] as ModelKind<ModelConfig>;
}
