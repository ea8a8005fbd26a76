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
      b.step(
        'linear',
        [x],
        [y],
        (r) => matmul(b.ctx, { a: r(x), b: { buffer: weight.buffer }, c: r(y), bias: bias && { buffer: bias.buffer } }, { M: x.size / K, N, K, transB: true }, `${this.path} linear`),
        (g) => g.give(x, linearInputGrad(g.b, g.grad(y)!, weight.buffer, x.shape, 0)),
      );
      return y;
    });
  }
}

/**
 * The gradient of a projection's input: dx = dy · W for y = x · Wᵀ (+ b), W the rows [off, off + out) of a
 * row-major weight [.., in] (offB = off * in elements). dy is [..., out]; dx gets `shape` [..., in].
 */
export function linearInputGrad(b: PlanBuilder, dy: Act, weight: GPUBuffer, shape: readonly number[], offB: number): Act {
  const K = shape[shape.length - 1];
  const N = dy.shape[dy.shape.length - 1];
  const dx = b.act(shape, `${b.path} grad input`);
  b.step('grad input', [dy], [dx], (r) => matmul(b.ctx, { a: r(dy), b: { buffer: weight }, c: r(dx) }, { M: dy.size / N, N: K, K: N, offB }, `${b.path} grad input`));
  return dx;
}
