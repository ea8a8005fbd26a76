import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import { type DecoderCache, type MemoryArgs, TransformerDecoderLayer } from './decoder_layer.ts';
import type { LayerOptions, SelfAttentionArgs } from './encoder_layer.ts';
import type { WeightSource } from './module.ts';
import { NormedStack } from './stack.ts';

/** torch.nn.TransformerDecoder: `layers.{i}` then the optional final `norm`. */
export class TransformerDecoder extends NormedStack<TransformerDecoderLayer> {
  constructor(w: WeightSource, path: string, numLayers: number, o: LayerOptions, finalNorm: boolean) {
    super(w, path, numLayers, o, finalNorm, (p) => new TransformerDecoderLayer(w, p, o));
  }

  forward(b: PlanBuilder, tgt: Act, memory: Act, a: SelfAttentionArgs, m: MemoryArgs, caches?: readonly DecoderCache[]): Promise<Act> {
    return b.module(this.path, [tgt, memory], ([tgt, memory]) => this.run(b, tgt, (layer, x, i) => layer.forward(b, x, memory, a, m, caches?.[i])));
  }
}
