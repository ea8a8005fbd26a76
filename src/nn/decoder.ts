import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import { type DecoderCache, type MemoryArgs, TransformerDecoderLayer } from './decoder_layer.ts';
import type { LayerOptions, SelfAttentionArgs } from './encoder_layer.ts';
import { LayerNorm } from './layernorm.ts';
import { joinPath, Module, type WeightSource } from './module.ts';

/** torch.nn.TransformerDecoder: `layers.{i}` then the optional final `norm`. */
export class TransformerDecoder extends Module {
  readonly layers: TransformerDecoderLayer[];
  readonly norm?: LayerNorm;

  constructor(w: WeightSource, path: string, numLayers: number, o: LayerOptions, finalNorm: boolean) {
    super(path);
    this.layers = Array.from({ length: numLayers }, (_, i) => new TransformerDecoderLayer(w, joinPath(path, `layers.${i}`), o));
    if (finalNorm) this.norm = new LayerNorm(w, joinPath(path, 'norm'), o.dModel, o.layerNormEps, o.bias);
  }

  override children(): Module[] {
    return [...this.layers, ...(this.norm ? [this.norm] : [])];
  }

  forward(b: PlanBuilder, tgt: Act, memory: Act, a: SelfAttentionArgs, m: MemoryArgs, caches?: readonly DecoderCache[]): Promise<Act> {
    return b.module(this.path, [tgt, memory], async ([tgt, memory]) => {
      let x = tgt;
      for (const [i, layer] of this.layers.entries()) x = await layer.forward(b, x, memory, a, m, caches?.[i]);
      return this.norm ? this.norm.forward(b, x) : x;
    });
  }
}
