import type { ActivationKind } from '../kernels/activation.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import { feedForward, residual } from './feedforward.ts';
import { LayerNorm } from './layernorm.ts';
import { Linear } from './linear.ts';
import { joinPath, Module, type WeightSource } from './module.ts';
import type { AttentionArgs, SelfCache } from './attention_core.ts';
import { MultiheadAttention } from './multihead_attention.ts';

/** The options of PyTorch's encoder and decoder layers that change the numbers. */
export interface LayerOptions {
  dModel: number;
  nhead: number;
  dimFeedforward: number;
  activation: ActivationKind;
  layerNormEps: number;
  normFirst: boolean;
  bias: boolean;
}

/** Per-call shapes and masks of self-attention: attention args minus the key length (= L). */
export type SelfAttentionArgs = Omit<AttentionArgs, 'S'>;

/**
 * The parts of an nn.Transformer layer by PyTorch's names (self_attn, linear1, linear2, norm1, …), each made when
 * asked for: the order of the calls is the order the parameters are taken, PyTorch's state_dict order.
 */
export function layerParts(w: WeightSource, path: string, o: LayerOptions) {
  const p = (n: string) => joinPath(path, n);
  return {
    attention: (name: string) => new MultiheadAttention(w, p(name), o.dModel, o.nhead, o.bias),
    linears: (): [Linear, Linear] => [new Linear(w, p('linear1'), o.dModel, o.dimFeedforward, o.bias), new Linear(w, p('linear2'), o.dimFeedforward, o.dModel, o.bias)],
    norms: (n: number) => Array.from({ length: n }, (_, i) => new LayerNorm(w, p(`norm${i + 1}`), o.dModel, o.layerNormEps, o.bias)),
  };
}

/** torch.nn.TransformerEncoderLayer (inference: dropout off). */
export class TransformerEncoderLayer extends Module {
  readonly selfAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;

  constructor(
    w: WeightSource,
    path: string,
    readonly o: LayerOptions,
  ) {
    super(path);
    const m = layerParts(w, path, o);
    this.selfAttn = m.attention('self_attn');
    [this.linear1, this.linear2] = m.linears();
    [this.norm1, this.norm2] = m.norms(2);
  }

  override children(): Module[] {
    return [this.selfAttn, this.linear1, this.linear2, this.norm1, this.norm2];
  }

  forward(b: PlanBuilder, x: Act, a: SelfAttentionArgs, cache?: SelfCache): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => {
      const sa = (y: Act) => this.selfAttn.forward(b, y, y, y, { ...a, S: a.L }, cache).then((r) => r[0]);
      const ff = (y: Act) => feedForward(b, this.linear1, this.linear2, this.o.activation, y, this.path);
      if (this.o.normFirst) {
        // x = x + sa(norm1(x)); x = x + ff(norm2(x))
        const [h, n2] = await this.norm2.addAndForward(b, await sa(await this.norm1.forward(b, x)), x);
        return residual(b, h, await ff(n2), this.path);
      }
      // x = norm1(x + sa(x)); x = norm2(x + ff(x))
      const [, h] = await this.norm1.addAndForward(b, await sa(x), x);
      const [, out] = await this.norm2.addAndForward(b, await ff(h), h);
      return out;
    });
  }
}
