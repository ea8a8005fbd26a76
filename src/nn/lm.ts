import type { Act, Dim, PlanBuilder } from '../scheduler/plan.ts';
import { Embedding, TokenInput } from './embedding.ts';
import { TransformerEncoder } from './encoder.ts';
import type { LayerOptions, SelfAttentionArgs } from './encoder_layer.ts';
import { Linear } from './linear.ts';
import { Module, type WeightSource } from './module.ts';
import type { SelfCache } from './attention_core.ts';
import type { TokenOptions } from './seq2seq.ts';

/**
 * EncoderLM of tools/export_torch.py: token embedding (times embed_scale, plus positions), `encoder` (an
 * nn.TransformerEncoder, causal for a decoder-only LM), `head` to vocabulary logits.
 */
export class EncoderLM extends Module {
  readonly embed: Embedding;
  readonly posEmbed?: Embedding;
  readonly encoder: TransformerEncoder;
  readonly head: Linear;
  private readonly tokens: TokenInput;

  constructor(
    w: WeightSource,
    vocab: number,
    layers: number,
    finalNorm: boolean,
    readonly causal: boolean,
    o: LayerOptions,
    t: TokenOptions,
  ) {
    super('');
    this.embed = new Embedding(w, 'embed', vocab, o.dModel);
    if (t.positional === 'learned') this.posEmbed = new Embedding(w, 'pos_embed', t.maxLen, o.dModel);
    this.tokens = new TokenInput(w, t.positional, t.maxLen, o.dModel, t.embedScale, this.posEmbed);
    this.encoder = new TransformerEncoder(w, 'encoder', layers, o, finalNorm);
    this.head = new Linear(w, 'head', o.dModel, vocab, o.bias);
  }

  override children(): Module[] {
    return [this.embed, ...(this.posEmbed ? [this.posEmbed] : []), this.encoder, this.head];
  }

  /**
   * ids [L, B] ([B, L] batch first) -> logits [L, B, V] ([B, L, V]). A causal LM adds the causal mask itself.
   * With caches (incremental decoding) the ids sit at positions [pos, pos + L) and earlier keys come from the caches.
   */
  forward(b: PlanBuilder, ids: Act, args: SelfAttentionArgs, pos: Dim = 0, caches?: readonly SelfCache[]): Promise<Act> {
    return b.module(this.path, [ids], async ([ids]) => {
      const x = await this.tokens.forward(b, this.embed, ids, args.B, args.L, args.batchFirst, pos);
      const h = await this.encoder.forward(b, x, { ...args, causal: args.causal || this.causal }, caches);
      return this.head.forward(b, h);
    });
  }
}
