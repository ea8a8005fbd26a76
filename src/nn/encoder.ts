import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import { type LayerOptions, type SelfAttentionArgs, TransformerEncoderLayer } from './encoder_layer.ts';
import { LayerNorm } from './layernorm.ts';
import { joinPath, Module, type WeightSource } from './module.ts';
import type { SelfCache } from './attention_core.ts';

/** torch.nn.TransformerEncoder: `layers.{i}` then the optional final `norm`. */
export class TransformerEncoder extends Module {
  readonly layers: TransformerEncoderLayer[];
  readonly norm?: LayerNorm;

  constructor(w: WeightSource, path: string, numLayers: number, o: LayerOptions, finalNorm: boolean) {
    super(path);
    this.layers = Array.from({ length: numLayers }, (_, i) => new TransformerEncoderLayer(w, joinPath(path, `layers.${i}`), o));
    if (finalNorm) this.norm = new LayerNorm(w, joinPath(path, 'norm'), o.dModel, o.layerNormEps, o.bias);
  }

  override children(): Module[] {
    return [...this.layers, ...(this.norm ? [this.norm] : [])];
  }

  forward(b: PlanBuilder, src: Act, a: SelfAttentionArgs, caches?: readonly SelfCache[]): Promise<Act> {
    return b.module(this.path, [src], async ([src]) => {
      let x = src;
      for (const [i, layer] of this.layers.entries()) x = await layer.forward(b, x, a, caches?.[i]);
      return this.norm ? this.norm.forward(b, x) : x;
    });
  }
}
