import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { LayerOptions } from './encoder_layer.ts';
import { LayerNorm } from './layernorm.ts';
import { joinPath, Module, type WeightSource } from './module.ts';

/** What torch.nn.TransformerEncoder and TransformerDecoder share: `layers.{i}` run in turn, then the optional `norm`. */
export abstract class NormedStack<L extends Module> extends Module {
  readonly layers: L[];
  readonly norm?: LayerNorm;

  constructor(w: WeightSource, path: string, numLayers: number, o: LayerOptions, finalNorm: boolean, layer: (path: string) => L) {
    super(path);
    this.layers = Array.from({ length: numLayers }, (_, i) => layer(joinPath(path, `layers.${i}`)));
    if (finalNorm) this.norm = new LayerNorm(w, joinPath(path, 'norm'), o.dModel, o.layerNormEps, o.bias);
  }

  override children(): Module[] {
    return [...this.layers, ...(this.norm ? [this.norm] : [])];
  }

  /** x through every layer (`step` runs layer i), then the norm. */
  protected async run(b: PlanBuilder, x: Act, step: (layer: L, x: Act, i: number) => Promise<Act>): Promise<Act> {
    for (const [i, layer] of this.layers.entries()) x = await step(layer, x, i);
    return this.norm ? this.norm.forward(b, x) : x;
  }
}
