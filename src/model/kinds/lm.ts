import { EncoderLM } from '../../nn/lm.ts';
import type { Dim, PlanBuilder } from '../../scheduler/plan.ts';
import { InputError, tokenInput } from '../inputs.ts';
import type { ModelKind } from './kind.ts';
import { type CommonConfig, COMMON_KEYS, CONFIG_LIMITS, inputNames, layerOptions, NnInputs, parseCommon, parseToken, stackAttention, TOKEN_KEYS, type TokenConfig, tokenOptions } from './nn_common.ts';

export interface LmConfig extends CommonConfig, TokenConfig {
  kind: 'lm';
  vocab: string[];
  /** Causal self-attention (decoder-only LM). */
  causal: boolean;
}

/** EncoderLM of tools/export_torch.py: ids [L, B] (batch first [B, L]) -> logits [L, B, V]; a causal one generates. */
export const lmKind: ModelKind<LmConfig> = {
  keys: [...COMMON_KEYS, ...TOKEN_KEYS, 'vocab', 'causal'],
  inputs: inputNames(['src'], false),
  gradInputs: [],
  parse(f) {
    const common = parseCommon(f, 'lm', { encoder: true, decoder: false, transformer: false });
    const { token, vocabs } = parseToken(f, () => f.strings('vocab', CONFIG_LIMITS.vocab), (v) => ({ n: v.length, of: 'vocab' }));
    return { kind: 'lm', ...common, ...token, vocab: vocabs, causal: f.bool('causal') };
  },
  build(w, c) {
    const V = c.vocab.length;
    const root = new EncoderLM(w, V, c.num_encoder_layers, c.encoder_norm, c.causal, layerOptions(c), tokenOptions(c));
    return {
      root,
      batchFirst: c.batch_first,
      feed(f, x) {
        const n = new NnInputs(f, x, c, 'lm');
        const src = n.ids('src', V);
        const args = [f.b, src.act, n.selfArgs('src', src.B, src.L)] as const;
        return { shape: n.shape(src.B, src.L, V), body: () => root.forward(...args) };
      },
      attentionModules: () => stackAttention(c.nhead, root.encoder, undefined, c.causal),
      /** The prompt runs once (prefill), then one decode plan per token, each layer's KV cache growing on the GPU. */
      async generate(d, src, o) {
        if (!c.causal) throw new InputError('generate: this lm is not causal (config causal=false); generation needs a causal model');
        const bf = c.batch_first;
        const { B } = d;
        const L = bf ? src.shape[1] : src.shape[0];
        const eos = (o.eos === undefined ? c.eos_id : o.eos) ?? undefined;
        const maxT = L + d.maxNewTokens;
        if (maxT > c.max_len) throw new InputError(`generate: prompt ${L} + maxNewTokens ${d.maxNewTokens} exceeds the model's max_len ${c.max_len}`);
        const selfBufs = root.encoder.layers.map((_, i) => d.buffer(B * maxT * 3 * c.d_model, `kv cache ${i}`));
        // len tokens per row from position pos (the prompt at 0; then one at a time at a run-time pos).
        const record = async (b: PlanBuilder, len: number, pos: Dim) => {
          const x = b.input(bf ? [B, len] : [len, B], 'src');
          b.output(await root.forward(b, x, { B, L: len, batchFirst: bf }, pos, d.selfCaches(b, selfBufs, maxT, pos, c.d_model)));
        };
        const { b, observer } = d.host.builder();
        await record(b, L, 0);
        const [out] = await d.run(await d.compile(b, observer, 'prefill'), [tokenInput('src', src, src.shape, V)], 0);
        const next = d.pick(out, (bt) => (bf ? bt * L + L - 1 : (L - 1) * B + bt), V, eos);
        await d.decode(next, 1, L - 1, (b, pos) => record(b, 1, pos), (ids) => [ids], V, eos);
      },
    };
  },
};
