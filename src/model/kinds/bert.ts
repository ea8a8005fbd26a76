// BERT (HF model_type "bert"): BertModel or BertForMaskedLM as config.json's architectures names them. RoBERTa
// (roberta.ts) parses the same fields and builds the same tree; both use what is exported here.
import type { AttentionArgs } from '../../nn/attention_core.ts';
import { BertForMaskedLM, BertModel, type BertOptions } from '../../nn/bert.ts';
import type { Module, WeightSource } from '../../nn/module.ts';
import type { Act } from '../../scheduler/plan.ts';
import type { ConfigFields } from './fields.ts';
import { ACT2FN, architecture, HF_LIMIT, widthAndHeads } from './hf_config.ts';
import { HfInputs } from './hf_inputs.ts';
import type { BuiltModel, ModelKind } from './kind.ts';

/** config.json of a BERT-shaped model: the fields attnscope reads (HF's BertConfig / RobertaConfig names). */
export interface BertFields {
  /** *ForMaskedLM ('mlm': logits) or *Model ('base': the last hidden state). */
  head: 'mlm' | 'base';
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  pad_token_id: number | null;
}

export interface BertConfig extends BertFields {
  kind: 'bert';
}

/**
 * The fields of BertConfig (RobertaConfig has the same), refusing settings whose model attnscope does not run: relative
 * position embeddings, a decoder (causal, cross-attention).
 */
export function parseBertFields(f: ConfigFields, architectures: Readonly<Record<string, 'mlm' | 'base'>>): BertFields {
  const head = architecture(f, architectures, 'base');
  const [hidden_size, num_attention_heads] = widthAndHeads(f, 'hidden_size', 'num_attention_heads');
  if (f.has('position_embedding_type')) f.oneOf('position_embedding_type', ['absolute']);
  for (const k of ['is_decoder', 'add_cross_attention']) {
    if (f.has(k) && f.bool(k)) f.fail(k, 'true is not supported (attnscope runs BERT-shaped models as encoders)');
  }
  const vocab_size = f.int('vocab_size', 1, HF_LIMIT);
  return {
    head,
    vocab_size,
    hidden_size,
    num_hidden_layers: f.int('num_hidden_layers', 1, 1024),
    num_attention_heads,
    intermediate_size: f.int('intermediate_size', 1, HF_LIMIT),
    hidden_act: f.oneOf('hidden_act', Object.keys(ACT2FN)),
    max_position_embeddings: f.int('max_position_embeddings', 1, HF_LIMIT),
    type_vocab_size: f.int('type_vocab_size', 1, HF_LIMIT),
    layer_norm_eps: f.number('layer_norm_eps', true),
    pad_token_id: f.optionalId('pad_token_id', vocab_size, 'the vocabulary'),
  };
}

export function bertOptions(c: BertFields): BertOptions {
  return {
    vocab: c.vocab_size,
    positions: c.max_position_embeddings,
    types: c.type_vocab_size,
    hidden: c.hidden_size,
    heads: c.num_attention_heads,
    layers: c.num_hidden_layers,
    intermediate: c.intermediate_size,
    eps: c.layer_norm_eps,
    activation: ACT2FN[c.hidden_act],
  };
}

/** The inputs BertModel.forward / RobertaModel.forward take (inputs_embeds and head_mask aside). */
export const BERT_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids', 'position_ids'] as const;

/** What `builtEncoder` needs to know of a Hugging Face encoder. */
export interface EncoderShape {
  family: string;
  vocab: number;
  /** The output's last dim: the vocabulary (MLM heads) or the hidden size. */
  out: number;
  heads: number;
  /** The attention modules HF's output_attentions reports, in layer order. */
  attentions: readonly Module[];
}

/**
 * A built Hugging Face encoder (BERT, RoBERTa, DistilBERT): input_ids and attention_mask (as key padding) are fed
 * here, the family's other inputs by `run`, which returns the recording of the forward.
 */
export function builtEncoder(root: Module, s: EncoderShape, run: (n: HfInputs, ids: Act, a: AttentionArgs) => () => Promise<Act>): BuiltModel {
  return {
    root,
    batchFirst: true,
    feed(f, x) {
      const n = new HfInputs(f, x, s.family);
      const ids = n.ids('input_ids', s.vocab);
      const a = { B: n.B, L: n.L, S: n.L, batchFirst: true, causal: false, keyPaddingMask: n.keyPadding() };
      return { shape: [n.B, n.L, s.out], body: run(n, ids, a) };
    },
    attentionModules: () => s.attentions.map((m, layer) => ({ path: m.path, role: 'encoder' as const, layer, heads: s.heads, causal: false })),
  };
}

/** A built BERT-shaped model: token types (zeros by default) and the family's `positions` besides ids and padding. */
export function builtBert(root: BertModel | BertForMaskedLM, c: BertFields, family: string, positions: (n: HfInputs) => Act): BuiltModel {
  const base = root instanceof BertForMaskedLM ? root.base : root;
  const shape = { family, vocab: c.vocab_size, out: c.head === 'mlm' ? c.vocab_size : c.hidden_size, heads: c.num_attention_heads, attentions: base.encoder.layer.map((l) => l.attention.self) };
  return builtEncoder(root, shape, (n, ids, a) => {
    const pos = positions(n);
    const types = n.tokenTypes(c.type_vocab_size);
    return () => root.forward(n.f.b, ids, pos, types, a);
  });
}

const ARCHITECTURES = { BertForMaskedLM: 'mlm', BertModel: 'base' } as const;

export const bertKind: ModelKind<BertConfig> = {
  // BertModel's position_ids / token_type_ids buffers are in older files; a BertForMaskedLM ignores a pooler.
  hf: { prefix: 'bert', ignore: [/(^|\.)embeddings\.(position_ids|token_type_ids)$/, /(^|\.)pooler\./], tied: ['cls.predictions.decoder.weight', 'cls.predictions.decoder.bias'] },
  inputs: BERT_INPUTS,
  gradInputs: [],
  parse: (f) => ({ kind: 'bert', ...parseBertFields(f, ARCHITECTURES) }),
  build(w: WeightSource, c) {
    const o = bertOptions(c);
    const root = c.head === 'mlm' ? new BertForMaskedLM(w, o) : new BertModel(w, '', o, true);
    return builtBert(root, c, 'bert', (n) => n.positions(c.max_position_embeddings));
  },
};
