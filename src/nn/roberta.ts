// Hugging Face's RoBERTa (transformers/models/roberta/modeling_roberta.py): BERT's tree (src/nn/bert.ts) under
// `roberta`, and `lm_head`. RobertaEmbeddings differ from BertEmbeddings only in their default position ids, which
// come with the inputs (HfInputs.positionsAfterPadding), so the modules are BERT's.
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import { BertForMaskedLM, BertModel, type BertOptions, tiedDecoder, transform } from './bert.ts';
import type { Embedding } from './embedding.ts';
import { LayerNorm } from './layernorm.ts';
import { Linear } from './linear.ts';
import { joinPath, Module, type WeightSource } from './module.ts';

/** RobertaModel: BertModel's embeddings, encoder and pooler. */
export class RobertaModel extends BertModel {}

/**
 * RobertaLMHead (`lm_head`): layer_norm(gelu(dense(x))), then the tied decoder: logits [B, L, V]. The gelu is the
 * exact one whatever hidden_act says (HF calls `gelu` directly).
 */
export class RobertaLMHead extends Module {
  readonly dense: Linear;
  readonly layerNorm: LayerNorm;
  readonly decoder: Linear;

  constructor(w: WeightSource, path: string, o: BertOptions, words: Embedding) {
    super(path);
    this.dense = new Linear(w, joinPath(path, 'dense'), o.hidden, o.hidden, true);
    this.layerNorm = new LayerNorm(w, joinPath(path, 'layer_norm'), o.hidden, o.eps, true);
    this.decoder = tiedDecoder(w, path, words);
  }

  override children(): Module[] {
    return [this.dense, this.layerNorm, this.decoder];
  }

  forward(b: PlanBuilder, x: Act): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => this.decoder.forward(b, await transform(b, this.dense, 'gelu', this.layerNorm, x, this.path)));
  }
}

/** RobertaForMaskedLM: `roberta` (a RobertaModel without pooler) then `lm_head`. */
export class RobertaForMaskedLM extends BertForMaskedLM {
  constructor(w: WeightSource, o: BertOptions) {
    const base = new RobertaModel(w, 'roberta', o, false);
    super(w, o, base, new RobertaLMHead(w, 'lm_head', o, base.embeddings.wordEmbeddings));
  }
}
