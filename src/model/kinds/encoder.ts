import { TransformerEncoder } from '../../nn/encoder.ts';
import type { ModelKind } from './kind.ts';
import { type CommonConfig, COMMON_KEYS, inputNames, layerOptions, NnInputs, parseCommon, stackAttention } from './nn_common.ts';

export interface EncoderConfig extends CommonConfig {
  kind: 'encoder';
}

/** torch.nn.TransformerEncoder: float src [S, B, E] (batch first [B, S, E]) -> the same shape. */
export const encoderKind: ModelKind<EncoderConfig> = {
  keys: COMMON_KEYS,
  inputs: inputNames(['src'], false),
  gradInputs: ['src'],
  parse: (f) => ({ kind: 'encoder', ...parseCommon(f, 'encoder', { encoder: true, decoder: false, transformer: false }) }),
  build(w, c) {
    const root = new TransformerEncoder(w, '', c.num_encoder_layers, layerOptions(c), c.encoder_norm);
    return {
      root,
      batchFirst: c.batch_first,
      feed(f, x) {
        const n = new NnInputs(f, x, c, 'encoder');
        const src = n.seq('src');
        const args = [f.b, src.act, n.selfArgs('src', src.B, src.L)] as const;
        return { shape: n.shape(src.B, src.L), body: () => root.forward(...args) };
      },
      attentionModules: () => stackAttention(c.nhead, root),
    };
  },
};
