import type { DecoderCache } from '../../nn/decoder_layer.ts';
import { Seq2SeqTransformer } from '../../nn/seq2seq.ts';
import type { Dim, PlanBuilder } from '../../scheduler/plan.ts';
import { InputError, tokenInput } from '../inputs.ts';
import { eosList } from '../generate.ts';
import type { ModelKind } from './kind.ts';
import { type CommonConfig, COMMON_KEYS, CONFIG_LIMITS, inputNames, layerOptions, NnInputs, parseCommon, parseToken, stackAttention, TOKEN_KEYS, type TokenConfig, tokenOptions } from './nn_common.ts';

export interface Seq2SeqConfig extends CommonConfig, TokenConfig {
  kind: 'seq2seq';
  src_vocab: string[];
  tgt_vocab: string[];
}

/**
 * Seq2SeqTransformer of tools/export_torch.py: src ids [S, B] and tgt ids [T, B] (batch first [B, ·]) -> target
 * logits [T, B, Vt]. Generates greedily from the source.
 */
export const seq2seqKind: ModelKind<Seq2SeqConfig> = {
  keys: [...COMMON_KEYS, ...TOKEN_KEYS, 'src_vocab', 'tgt_vocab'],
  inputs: inputNames(['src', 'tgt'], true),
  gradInputs: [],
  parse(f) {
    const common = parseCommon(f, 'seq2seq', { encoder: true, decoder: true, transformer: true });
    const vocab = () => ({ src_vocab: f.strings('src_vocab', CONFIG_LIMITS.vocab), tgt_vocab: f.strings('tgt_vocab', CONFIG_LIMITS.vocab) });
    const { token, vocabs } = parseToken(f, vocab, (v) => ({ n: v.tgt_vocab.length, of: 'tgt_vocab' }));
    return { kind: 'seq2seq', ...common, ...token, ...vocabs };
  },
  build(w, c) {
    const Vs = c.src_vocab.length;
    const V = c.tgt_vocab.length;
    const root = new Seq2SeqTransformer(w, Vs, V, [c.num_encoder_layers, c.num_decoder_layers], layerOptions(c), tokenOptions(c));
    return {
      root,
      batchFirst: c.batch_first,
      feed(f, x) {
        const n = new NnInputs(f, x, c, 'seq2seq');
        const src = n.ids('src', Vs);
        const tgt = n.ids('tgt', V);
        n.sameBatch('src', src.B, 'tgt', tgt.B);
        const args = [f.b, src.act, tgt.act, n.selfArgs('src', src.B, src.L), n.selfArgs('tgt', tgt.B, tgt.L), n.memArgs(tgt.B, tgt.L, src.L)] as const;
        return { shape: n.shape(tgt.B, tgt.L, V), body: () => root.forward(...args) };
      },
      attentionModules: () => stackAttention(c.nhead, root.transformer.encoder, root.transformer.decoder),
      /**
       * The encoder runs once (its memory and each decoder layer's memory k|v kept on the GPU), then one token per
       * step through the decoder with self-attention KV caches. Source padding (pad_id) is masked for the encoder
       * and for cross-attention, as a caller of forward would.
       */
      async generate(d, src, o) {
        const bf = c.batch_first;
        const E = c.d_model;
        const { B } = d;
        const L = bf ? src.shape[1] : src.shape[0];
        const bos = o.bos ?? c.bos_id;
        const eos = (o.eos === undefined ? c.eos_id : o.eos) ?? undefined;
        if (bos === null || bos === undefined) throw new InputError('generate: the model has no bos_id; pass options.bos');
        for (const [k, t] of [['bos', bos], ...eosList(eos).map((e) => ['eos', e] as const)] as const) {
          if (t !== undefined && (!Number.isInteger(t) || t < 0 || t >= V)) throw new InputError(`generate: ${k} ${t} is outside the target vocabulary [0, ${V})`);
        }
        const maxT = d.maxNewTokens;
        if (maxT > c.max_len) throw new InputError(`generate: maxNewTokens ${maxT} exceeds the model's max_len ${c.max_len}`);
        const ids = tokenInput('src', src, src.shape, Vs);
        const layers = root.transformer.decoder.layers;
        const memShape = bf ? [B, L, E] : [L, B, E];
        const memBuf = d.buffer(B * L * E, 'memory');
        const crossBufs = layers.map((_, i) => d.buffer(B * L * 2 * E, `memory k|v ${i}`));
        const selfBufs = layers.map((_, i) => d.buffer(B * maxT * 3 * E, `kv cache ${i}`));
        const pad = c.pad_id;
        const padMask = pad !== null && ids.includes(pad) ? new Float32Array(B * L).map((_, i) => (ids[bf ? i : (i % L) * B + Math.floor(i / L)] === pad ? -Infinity : 0)) : undefined;

        const { b, observer } = d.host.builder();
        const srcAct = b.input([...src.shape], 'src');
        const kpm = padMask ? b.input([B, L], 'src_key_padding_mask') : undefined;
        const crossKv = (b: PlanBuilder, i: number) => b.external(crossBufs[i], [B * L * 2 * E], `memory k|v ${i}`);
        await root.encode(b, srcAct, { B, L, batchFirst: bf, keyPaddingMask: kpm }, b.external(memBuf, memShape, 'memory'), layers.map((_, i) => crossKv(b, i)));
        await d.run(await d.compile(b, observer, 'encode'), padMask ? [ids, padMask] : [ids], 0);

        // One decoder step for token t at position t (a run-time param), through the caches.
        const record = async (b: PlanBuilder, pos: Dim) => {
          const tgt = b.input(bf ? [B, 1] : [1, B], 'tgt');
          const kpmStep = padMask ? b.input([B, L], 'memory_key_padding_mask') : undefined;
          const memory = b.external(memBuf, memShape, 'memory');
          const self = d.selfCaches(b, selfBufs, maxT, pos, E);
          const caches: DecoderCache[] = layers.map((_, i) => ({ self: self[i], cross: { kind: 'cross', kv: crossKv(b, i), S: L } }));
          b.output(await root.decodeStep(b, tgt, { B, L: 1, batchFirst: bf, causal: true }, pos, memory, { S: L, keyPaddingMask: kpmStep }, caches));
        };
        await d.decode(new Uint32Array(B).fill(bos), 0, 0, record, (next) => (padMask ? [next, padMask] : [next]), V, eos);
      },
    };
  },
};
