// The nn.Transformer kinds that take float sequences: torch.nn.Transformer and its encoder and decoder stacks on
// their own. They share their config (CommonConfig) and differ in the sequences they take and the tree they build.
import type { AttentionModuleInfo } from '../../analysis/attention_modules.ts';
import { TransformerDecoder } from '../../nn/decoder.ts';
import { TransformerEncoder } from '../../nn/encoder.ts';
import type { WeightSource } from '../../nn/module.ts';
import { Transformer } from '../../nn/transformer.ts';
import type { Fed, ModelKind } from './kind.ts';
import { type CommonConfig, COMMON_KEYS, inputNames, layerOptions, NnInputs, parseCommon, stackAttention } from './nn_common.ts';

export interface TransformerConfig extends CommonConfig {
  kind: 'transformer';
}
export interface EncoderConfig extends CommonConfig {
  kind: 'encoder';
}
export interface DecoderConfig extends CommonConfig {
  kind: 'decoder';
}

/** A stack kind: which sequences it takes, the tree it builds, how it records a forward, its attention modules. */
function stackKind<C extends TransformerConfig | EncoderConfig | DecoderConfig, R extends Transformer | TransformerEncoder | TransformerDecoder>(
  kind: C['kind'],
  seqs: readonly ('src' | 'tgt' | 'memory')[],
  build: (w: WeightSource, c: C) => R,
  record: (root: R, n: NnInputs) => Fed,
  attention: (root: R, c: C) => AttentionModuleInfo[],
): ModelKind<C> {
  const stacks = { encoder: kind !== 'decoder', decoder: kind !== 'encoder', transformer: kind === 'transformer' };
  return {
    keys: COMMON_KEYS,
    inputs: inputNames(seqs, stacks.decoder),
    gradInputs: seqs,
    parse: (f) => ({ kind, ...parseCommon(f, kind, stacks) }) as C,
    build(w, c) {
      const root = build(w, c);
      return { root, batchFirst: c.batch_first, feed: (f, x) => record(root, new NnInputs(f, x, c, kind)), attentionModules: () => attention(root, c) };
    },
  };
}

/** torch.nn.Transformer: float src [S, B, E] and tgt [T, B, E] (batch first [B, ·, E]) -> [T, B, E]. */
export const transformerKind = stackKind<TransformerConfig, Transformer>(
  'transformer',
  ['src', 'tgt'],
  (w, c) => new Transformer(w, '', c.num_encoder_layers, c.num_decoder_layers, layerOptions(c)),
  (root, n) => {
    const src = n.seq('src');
    const tgt = n.seq('tgt');
    n.sameBatch('src', src.B, 'tgt', tgt.B);
    const args = [n.f.b, src.act, tgt.act, n.selfArgs('src', src.B, src.L), n.selfArgs('tgt', tgt.B, tgt.L), n.memArgs(tgt.B, tgt.L, src.L)] as const;
    return { shape: n.shape(tgt.B, tgt.L), body: () => root.forward(...args) };
  },
  (root, c) => stackAttention(c.nhead, root.encoder, root.decoder),
);

/** torch.nn.TransformerEncoder: float src [S, B, E] (batch first [B, S, E]) -> the same shape. */
export const encoderKind = stackKind<EncoderConfig, TransformerEncoder>(
  'encoder',
  ['src'],
  (w, c) => new TransformerEncoder(w, '', c.num_encoder_layers, layerOptions(c), c.encoder_norm),
  (root, n) => {
    const src = n.seq('src');
    const args = [n.f.b, src.act, n.selfArgs('src', src.B, src.L)] as const;
    return { shape: n.shape(src.B, src.L), body: () => root.forward(...args) };
  },
  (root, c) => stackAttention(c.nhead, root),
);

/** torch.nn.TransformerDecoder: float tgt [T, B, E] attending to memory [S, B, E] (batch first [B, ·, E]) -> [T, B, E]. */
export const decoderKind = stackKind<DecoderConfig, TransformerDecoder>(
  'decoder',
  ['tgt', 'memory'],
  (w, c) => new TransformerDecoder(w, '', c.num_decoder_layers, layerOptions(c), c.decoder_norm),
  (root, n) => {
    const tgt = n.seq('tgt');
    const memory = n.seq('memory');
    n.sameBatch('tgt', tgt.B, 'memory', memory.B);
    const args = [n.f.b, tgt.act, memory.act, n.selfArgs('tgt', tgt.B, tgt.L), n.memArgs(tgt.B, tgt.L, memory.L)] as const;
    return { shape: n.shape(tgt.B, tgt.L), body: () => root.forward(...args) };
  },
  (root, c) => stackAttention(c.nhead, undefined, root),
);
