import { matmul } from '../kernels/matmul.ts';
import { sumRows } from '../kernels/sum_rows.ts';
import type { Act, GradContext, PlanBuilder } from '../scheduler/plan.ts';
import type { Tensor } from '../tensor.ts';
import { Module, type WeightSource } from './module.ts';

/** torch.nn.Linear: y = x · Wᵀ + b over the last dim; weight stored [out, in] as in PyTorch. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;

  constructor(
    w: WeightSource,
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
        (g) => {
          const dy = g.grad(y)!;
          g.give(x, linearInputGrad(g.b, dy, weight.buffer, x.shape, 0));
          projectionParamGrads(g, x, dy, `${this.path}.weight`, bias && `${this.path}.bias`);
        },
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

/**
 * Parameter gradients of y = x · Wᵀ + b where W is rows [row, row + out) of a weight [.., in]: dW = dyᵀ · x and
 * db = Σ_rows dy, each computed only when asked for and handed over as that part of the parameter.
 */
export function projectionParamGrads(g: GradContext, x: Act, dy: Act, weight: string, bias: string | undefined, row = 0): void {
  const { b } = g;
  const K = x.shape[x.shape.length - 1];
  const N = dy.shape[dy.shape.length - 1];
  const M = dy.size / N;
  if (g.wantsParam(weight)) {
    const dW = b.act([N, K], `grad ${weight}`);
    b.step('grad weight', [dy, x], [dW], (r) => matmul(b.ctx, { a: r(dy), b: r(x), c: r(dW) }, { M: N, N: K, K: M, transA: true }, `${b.path} grad weight`));
    g.giveParam(weight, dW, row * K);
  }
  if (bias && g.wantsParam(bias)) {
    const db = b.act([N], `grad ${bias}`);
    b.step('grad bias', [dy], [db], (r) => sumRows(b.ctx, { x: r(dy), y: r(db) }, { rows: M, n: N }, `${b.path} grad bias`));
    g.giveParam(bias, db, row);
  }
}
