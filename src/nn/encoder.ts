import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { SelfCache } from './attention_core.ts';
import { type LayerOptions, type SelfAttentionArgs, TransformerEncoderLayer } from './encoder_layer.ts';
import type { WeightSource } from './module.ts';
import { NormedStack } from './stack.ts';

/** torch.nn.TransformerEncoder: `layers.{i}` then the optional final `norm`. */
export class TransformerEncoder extends NormedStack<TransformerEncoderLayer> {
  constructor(w: WeightSource, path: string, numLayers: number, o: LayerOptions, finalNorm: boolean) {
    super(w, path, numLayers, o, finalNorm, (p) => new TransformerEncoderLayer(w, p, o));
  }

  forward(b: PlanBuilder, src: Act, a: SelfAttentionArgs, caches?: readonly SelfCache[]): Promise<Act> {
    return b.module(this.path, [src], ([src]) => this.run(b, src, (layer, x, i) => layer.forward(b, x, a, caches?.[i])));
  }
}
