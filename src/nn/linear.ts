import { matmul } from '../kernels/matmul.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { Tensor } from '../tensor.ts';
import { Module, type Weights } from './module.ts';

/** torch.nn.Linear: y = x · Wᵀ + b over the last dim; weight stored [out, in] as in PyTorch. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;

  constructor(
    w: Weights,
    path: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias: boolean,
  ) {
    super(path);
    this.weight = w.take(`${path}.weight`, [outFeatures, inFeatures]);
    if (bias) this.bias = w.take(`${path}.bias`, [outFeatures]);
  }

  /** x [..., in] -> [..., out] */
  forward(b: PlanBuilder, x: Act): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => {
      const K = this.inFeatures;
      const N = this.outFeatures;
      if (x.shape[x.shape.length - 1] !== K) throw new Error(`${this.path}: input ${x.label} [${x.shape.join(', ')}] does not end in ${K}`);
      const y = b.act([...x.shape.slice(0, -1), N], `${this.path} out`);
      const { weight, bias } = this;
      b.step('linear', [x], [y], (r) =>
        matmul(b.ctx, { a: r(x), b: { buffer: weight.buffer }, c: r(y), bias: bias && { buffer: bias.buffer } }, { M: x.size / K, N, K, transB: true }, `${this.path} linear`),
      );
      return y;
    });
  }
}
