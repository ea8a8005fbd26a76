import type { Act, Dim, PlanBuilder } from '../scheduler/plan.ts';
import type { DecoderCache, MemoryArgs } from './decoder_layer.ts';
import { Embedding, TokenInput } from './embedding.ts';
import type { LayerOptions, SelfAttentionArgs } from './encoder_layer.ts';
import { Linear } from './linear.ts';
import { Module, type WeightSource } from './module.ts';
import { Transformer } from './transformer.ts';

export interface TokenOptions {
  positional: 'sinusoidal' | 'learned' | 'none';
  maxLen: number;
  embedScale: number;
}

/**
 * Seq2SeqTransformer of tools/export_torch.py: src/tgt token embeddings (times embed_scale, plus positions),
 * `transformer` (an nn.Transformer), `generator` to target-vocabulary logits.
 */
export class Seq2SeqTransformer extends Module {
  readonly srcEmbed: Embedding;
  readonly tgtEmbed: Embedding;
  readonly posEmbed?: Embedding;
  readonly transformer: Transformer;
  readonly generator: Linear;
  private readonly tokens: TokenInput;

  constructor(w: WeightSource, srcVocab: number, tgtVocab: number, layers: [number, number], o: LayerOptions, t: TokenOptions) {
    super('');
    this.srcEmbed = new Embedding(w, 'src_embed', srcVocab, o.dModel);
    this.tgtEmbed = new Embedding(w, 'tgt_embed', tgtVocab, o.dModel);
    if (t.positional === 'learned') this.posEmbed = new Embedding(w, 'pos_embed', t.maxLen, o.dModel);
    this.tokens = new TokenInput(w, t.positional, t.maxLen, o.dModel, t.embedScale, this.posEmbed);
    this.transformer = new Transformer(w, 'transformer', layers[0], layers[1], o);
    this.generator = new Linear(w, 'generator', o.dModel, tgtVocab, o.bias);
  }

  override children(): Module[] {
    return [this.srcEmbed, this.tgtEmbed, ...(this.posEmbed ? [this.posEmbed] : []), this.transformer, this.generator];
  }

  /** Incremental decoding, part 1: src ids -> memory (copied into `memory`, an external) and each decoder layer's memory k|v. */
  async encode(b: PlanBuilder, src: Act, srcArgs: SelfAttentionArgs, memory: Act, crossKv: readonly Act[]): Promise<void> {
    const x = await this.tokens.forward(b, this.srcEmbed, src, srcArgs.B, srcArgs.L, srcArgs.batchFirst);
    const m = await this.transformer.encoder.forward(b, x, srcArgs);
    b.copy('keep memory', m, 0, memory, 0, m.size);
    this.transformer.decoder.layers.forEach((layer, i) => layer.multiheadAttn.projectMemory(b, m, crossKv[i]));
  }

  /** Incremental decoding, part 2: the new target ids at positions [pos, pos + L) -> their logits, through the caches. */
  async decodeStep(b: PlanBuilder, tgt: Act, tgtArgs: SelfAttentionArgs, pos: Dim, memory: Act, mem: MemoryArgs, caches: readonly DecoderCache[]): Promise<Act> {
    const y = await this.tokens.forward(b, this.tgtEmbed, tgt, tgtArgs.B, tgtArgs.L, tgtArgs.batchFirst, pos);
    const h = await this.transformer.decoder.forward(b, y, memory, tgtArgs, mem, caches);
    return this.generator.forward(b, h);
  }

  /** src ids [S, B] / tgt ids [T, B] ([B, S] / [B, T] batch first) -> logits [T, B, Vt] ([B, T, Vt]). */
  forward(b: PlanBuilder, src: Act, tgt: Act, srcArgs: SelfAttentionArgs, tgtArgs: SelfAttentionArgs, mem: MemoryArgs): Promise<Act> {
    return b.module(this.path, [src, tgt], async ([src, tgt]) => {
      const bf = srcArgs.batchFirst;
      const x = await this.tokens.forward(b, this.srcEmbed, src, srcArgs.B, srcArgs.L, bf);
      const y = await this.tokens.forward(b, this.tgtEmbed, tgt, tgtArgs.B, tgtArgs.L, bf);
      return this.generator.forward(b, await this.transformer.forward(b, x, y, srcArgs, tgtArgs, mem));
    });
  }
}
