// RoBERTa (HF model_type "roberta"): RobertaModel or RobertaForMaskedLM. BERT's config fields and tree
// (kinds/bert.ts); what differs is the default position ids (counted past pad_token_id, from input_ids) and the head.
import { RobertaForMaskedLM, RobertaModel } from '../../nn/roberta.ts';
import { BERT_INPUTS, type BertFields, bertOptions, builtBert, parseBertFields } from './bert.ts';
import type { ModelKind } from './kind.ts';

export interface RobertaConfig extends BertFields {
  kind: 'roberta';
  /** Also the padding index of the position embeddings: real tokens' positions start after it. */
  pad_token_id: number;
}

const ARCHITECTURES = { RobertaForMaskedLM: 'mlm', RobertaModel: 'base' } as const;

export const robertaKind: ModelKind<RobertaConfig> = {
  hf: { prefix: 'roberta', ignore: [/(^|\.)embeddings\.(position_ids|token_type_ids)$/, /(^|\.)pooler\./], tied: ['lm_head.decoder.weight', 'lm_head.decoder.bias'] },
  inputs: BERT_INPUTS,
  gradInputs: [],
  parse(f) {
    const c = parseBertFields(f, ARCHITECTURES);
    const pad = c.pad_token_id ?? f.fail('pad_token_id', 'is missing or null; RoBERTa counts its position ids from it');
    if (pad >= c.max_position_embeddings) f.fail('pad_token_id', `${pad} is not a row of the ${c.max_position_embeddings} position embeddings (RoBERTa's padding position)`);
    return { kind: 'roberta', ...c, pad_token_id: pad };
  },
  build(w, c) {
    const o = bertOptions(c);
    const root = c.head === 'mlm' ? new RobertaForMaskedLM(w, o) : new RobertaModel(w, '', o, true);
    return builtBert(root, c, 'roberta', (n) => n.positionsAfterPadding(c.max_position_embeddings, c.pad_token_id, c.vocab_size));
  },
};
