import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { MemoryArgs } from './decoder_layer.ts';
import { TransformerDecoder } from './decoder.ts';
import { TransformerEncoder } from './encoder.ts';
import type { LayerOptions, SelfAttentionArgs } from './encoder_layer.ts';
import { joinPath, Module, type WeightSource } from './module.ts';

/** torch.nn.Transformer: encoder (with its final norm) then decoder (with its final norm). */
export class Transformer extends Module {
  readonly encoder: TransformerEncoder;
  readonly decoder: TransformerDecoder;

  constructor(w: WeightSource, path: string, numEncoderLayers: number, numDecoderLayers: number, o: LayerOptions) {
    super(path);
    this.encoder = new TransformerEncoder(w, joinPath(path, 'encoder'), numEncoderLayers, o, true);
    this.decoder = new TransformerDecoder(w, joinPath(path, 'decoder'), numDecoderLayers, o, true);
  }

  override children(): Module[] {
    return [this.encoder, this.decoder];
  }

  /**
   * src [S, B, E] / tgt [T, B, E] (batch-first: [B, S, E] / [B, T, E]) -> [T, B, E].
   * `srcArgs` carry src_mask and src_key_padding_mask; `tgtArgs` tgt_mask and tgt_key_padding_mask; `mem`
   * memory_mask and memory_key_padding_mask.
   */
  forward(b: PlanBuilder, src: Act, tgt: Act, srcArgs: SelfAttentionArgs, tgtArgs: SelfAttentionArgs, mem: MemoryArgs): Promise<Act> {
    return b.module(this.path, [src, tgt], async ([src, tgt]) => {
      const memory = await this.encoder.forward(b, src, srcArgs);
      return this.decoder.forward(b, tgt, memory, tgtArgs, mem);
    });
  }
}
