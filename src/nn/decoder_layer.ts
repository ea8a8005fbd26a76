import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import { type LayerOptions, layerParts, type SelfAttentionArgs } from './encoder_layer.ts';
import { feedForward, residual } from './feedforward.ts';
import { LayerNorm } from './layernorm.ts';
import { Linear } from './linear.ts';
import { Module, type WeightSource } from './module.ts';
import type { CrossCache, SelfCache } from './attention_core.ts';
import { MultiheadAttention } from './multihead_attention.ts';

/** Masks and length of the encoder output the decoder attends to. */
export interface MemoryArgs {
  S: number;
  mask?: Act;
  keyPaddingMask?: Act;
}

/** Incremental decoding: the layer's self-attention cache and its cross-attention memory k|v. */
export interface DecoderCache {
  self: SelfCache;
  cross: CrossCache;
}

/** torch.nn.TransformerDecoderLayer (inference: dropout off). */
export class TransformerDecoderLayer extends Module {
  readonly selfAttn: MultiheadAttention;
  readonly multiheadAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly norm3: LayerNorm;

  constructor(
    w: WeightSource,
    path: string,
    readonly o: LayerOptions,
  ) {
    super(path);
    const m = layerParts(w, path, o);
    this.selfAttn = m.attention('self_attn');
    this.multiheadAttn = m.attention('multihead_attn');
    [this.linear1, this.linear2] = m.linears();
    [this.norm1, this.norm2, this.norm3] = m.norms(3);
  }

  override children(): Module[] {
    return [this.selfAttn, this.multiheadAttn, this.linear1, this.linear2, this.norm1, this.norm2, this.norm3];
  }

  forward(b: PlanBuilder, x: Act, memory: Act, a: SelfAttentionArgs, m: MemoryArgs, cache?: DecoderCache): Promise<Act> {
    return b.module(this.path, [x, memory], async ([x, memory]) => {
      const sa = (y: Act) => this.selfAttn.forward(b, y, y, y, { ...a, S: a.L }, cache?.self).then((r) => r[0]);
      const mha = (y: Act) =>
        this.multiheadAttn
          .forward(b, y, memory, memory, {
            B: a.B, L: a.L, S: m.S, batchFirst: a.batchFirst, mask: m.mask, keyPaddingMask: m.keyPaddingMask,
          }, cache?.cross)
          .then((r) => r[0]);
      const ff = (y: Act) => feedForward(b, this.linear1, this.linear2, this.o.activation, y, this.path);
      if (this.o.normFirst) {
        // x = x + sa(norm1(x)); x = x + mha(norm2(x), mem); x = x + ff(norm3(x))
        const [h1, n2] = await this.norm2.addAndForward(b, await sa(await this.norm1.forward(b, x)), x);
        const [h2, n3] = await this.norm3.addAndForward(b, await mha(n2), h1);
        return residual(b, h2, await ff(n3), this.path);
      }
      // x = norm1(x + sa(x)); x = norm2(x + mha(x, mem)); x = norm3(x + ff(x))
      const [, h1] = await this.norm1.addAndForward(b, await sa(x), x);
      const [, h2] = await this.norm2.addAndForward(b, await mha(h1), h1);
      const [, out] = await this.norm3.addAndForward(b, await ff(h2), h2);
      return out;
    });
  }
}
