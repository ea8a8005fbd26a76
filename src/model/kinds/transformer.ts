import { Transformer } from '../../nn/transformer.ts';
import type { ModelKind } from './kind.ts';
import { type CommonConfig, COMMON_KEYS, inputNames, layerOptions, NnInputs, parseCommon, stackAttention } from './nn_common.ts';

export interface TransformerConfig extends CommonConfig {
  kind: 'transformer';
}

/** torch.nn.Transformer: float src [S, B, E] and tgt [T, B, E] (batch first [B, ·, E]) -> [T, B, E]. */
export const transformerKind: ModelKind<TransformerConfig> = {
  keys: COMMON_KEYS,
  inputs: inputNames(['src', 'tgt'], true),
  gradInputs: ['src', 'tgt'],
  parse: (f) => ({ kind: 'transformer', ...parseCommon(f, 'transformer', { encoder: true, decoder: true, transformer: true }) }),
  build(w, c) {
    const root = new Transformer(w, '', c.num_encoder_layers, c.num_decoder_layers, layerOptions(c));
    return {
      root,
      batchFirst: c.batch_first,
      feed(f, x) {
        const n = new NnInputs(f, x, c, 'transformer');
        const src = n.seq('src');
        const tgt = n.seq('tgt');
        n.sameBatch('src', src.B, 'tgt', tgt.B);
        const args = [f.b, src.act, tgt.act, n.selfArgs('src', src.B, src.L), n.selfArgs('tgt', tgt.B, tgt.L), n.memArgs(tgt.B, tgt.L, src.L)] as const;
        return { shape: n.shape(tgt.B, tgt.L), body: () => root.forward(...args) };
      },
      attentionModules: () => stackAttention(c.nhead, root.encoder, root.decoder),
    };
  },
};
