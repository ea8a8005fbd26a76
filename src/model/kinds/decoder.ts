import { TransformerDecoder } from '../../nn/decoder.ts';
import type { ModelKind } from './kind.ts';
import { type CommonConfig, COMMON_KEYS, inputNames, layerOptions, NnInputs, parseCommon, stackAttention } from './nn_common.ts';

export interface DecoderConfig extends CommonConfig {
  kind: 'decoder';
}

/** torch.nn.TransformerDecoder: float tgt [T, B, E] attending to memory [S, B, E] (batch first [B, ·, E]) -> [T, B, E]. */
export const decoderKind: ModelKind<DecoderConfig> = {
  keys: COMMON_KEYS,
  inputs: inputNames(['tgt', 'memory'], true),
  gradInputs: ['tgt', 'memory'],
  parse: (f) => ({ kind: 'decoder', ...parseCommon(f, 'decoder', { encoder: false, decoder: true, transformer: false }) }),
  build(w, c) {
    const root = new TransformerDecoder(w, '', c.num_decoder_layers, layerOptions(c), c.decoder_norm);
    return {
      root,
      batchFirst: c.batch_first,
      feed(f, x) {
        const n = new NnInputs(f, x, c, 'decoder');
        const tgt = n.seq('tgt');
        const memory = n.seq('memory');
        n.sameBatch('tgt', tgt.B, 'memory', memory.B);
        const args = [f.b, tgt.act, memory.act, n.selfArgs('tgt', tgt.B, tgt.L), n.memArgs(tgt.B, tgt.L, memory.L)] as const;
        return { shape: n.shape(tgt.B, tgt.L), body: () => root.forward(...args) };
      },
      attentionModules: () => stackAttention(c.nhead, undefined, root),
    };
  },
};
