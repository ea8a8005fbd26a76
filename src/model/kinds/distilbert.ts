// DistilBERT (HF model_type "distilbert"): DistilBertModel or DistilBertForMaskedLM as config.json's architectures
// names them. No token types; positions are 0..L-1 (DistilBertModel.forward takes no position_ids).
import { DistilBertForMaskedLM, DistilBertModel, type DistilBertOptions } from '../../nn/distilbert.ts';
import { builtEncoder } from './bert.ts';
import { ACT2FN, architecture, HF_LIMIT, widthAndHeads } from './hf_config.ts';
import type { ModelKind } from './kind.ts';

export interface DistilBertConfig {
  kind: 'distilbert';
  /** DistilBertForMaskedLM ('mlm': logits) or DistilBertModel ('base': the last hidden state). */
  head: 'mlm' | 'base';
  vocab_size: number;
  max_position_embeddings: number;
  dim: number;
  n_layers: number;
  n_heads: number;
  hidden_dim: number;
  activation: string;
}

const ARCHITECTURES = { DistilBertForMaskedLM: 'mlm', DistilBertModel: 'base' } as const;

export const distilbertKind: ModelKind<DistilBertConfig> = {
  hf: { prefix: 'distilbert', ignore: [/(^|\.)embeddings\.position_ids$/], tied: ['vocab_projector.weight'] },
  inputs: ['input_ids', 'attention_mask'],
  gradInputs: [],
  parse(f) {
    const head = architecture(f, ARCHITECTURES, 'base');
    const [dim, n_heads] = widthAndHeads(f, 'dim', 'n_heads');
    // sinusoidal_pos_embds only initialises position_embeddings.weight, which the checkpoint stores either way.
    return {
      kind: 'distilbert',
      head,
      vocab_size: f.int('vocab_size', 1, HF_LIMIT),
      max_position_embeddings: f.int('max_position_embeddings', 1, HF_LIMIT),
      dim,
      n_layers: f.int('n_layers', 1, 1024),
      n_heads,
      hidden_dim: f.int('hidden_dim', 1, HF_LIMIT),
      activation: f.oneOf('activation', Object.keys(ACT2FN)),
    };
  },
  build(w, c) {
    const o: DistilBertOptions = {
      vocab: c.vocab_size,
      positions: c.max_position_embeddings,
      dim: c.dim,
      heads: c.n_heads,
      layers: c.n_layers,
      hidden: c.hidden_dim,
      activation: ACT2FN[c.activation],
    };
    const root = c.head === 'mlm' ? new DistilBertForMaskedLM(w, o) : new DistilBertModel(w, '', o);
    const base = root instanceof DistilBertForMaskedLM ? root.distilbert : root;
    const shape = { family: 'distilbert', vocab: c.vocab_size, out: c.head === 'mlm' ? c.vocab_size : c.dim, heads: c.n_heads, attentions: base.transformer.layer.map((l) => l.attention) };
    return builtEncoder(root, shape, (n, ids, a) => {
      const pos = n.positions(c.max_position_embeddings);
      return () => root.forward(n.f.b, ids, pos, a);
    });
  },
};
