import { MATMUL, matmul } from '../kernels/matmul.ts';
import { SUM_ROWS, sumRows } from '../kernels/sum_rows.ts';
import type { Act, GradContext, PlanBuilder } from '../scheduler/plan.ts';
import type { Tensor } from '../tensor.ts';
import { Module, type WeightSource } from './module.ts';

/** A weight another module owns (a tied output embedding): its tensor and its state_dict name, for gradients. */
export interface TiedWeight {
  tensor: Tensor;
  name: string;
}

/**
 * torch.nn.Linear: y = x · Wᵀ + b over the last dim; weight stored [out, in] as in PyTorch (`inOut`: stored
 * [in, out], y = x · W + b, as HF's Conv1D stores it). A tied weight is read from its owner. The weight stays in its
 * checkpoint's dtype (F16 / BF16 packed: the matmul widens it as it reads); the bias is f32.
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;
  /** The weight's state_dict name (its owner's, when tied). */
  readonly weightName: string;
  /** The bias's state_dict name (its owner's, when tied: BERT's decoder bias is cls.predictions.bias). */
  readonly biasName: string;

  constructor(
    w: WeightSource,
    path: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias: boolean,
    readonly inOut = false,
    tied?: TiedWeight,
    tiedBias?: TiedWeight,
  ) {
    super(path);
    this.weightName = tied?.name ?? `${path}.weight`;
    this.weight = tied?.tensor ?? w.take(this.weightName, inOut ? [inFeatures, outFeatures] : [outFeatures, inFeatures], 'file');
    this.biasName = tiedBias?.name ?? `${path}.bias`;
    if (bias) this.bias = tiedBias?.tensor ?? w.take(this.biasName, [outFeatures]);
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
        MATMUL,
        { a: x, c: y },
        (r) => matmul(b.ctx, { ...r, b: { buffer: weight.buffer }, bias: bias && { buffer: bias.buffer } }, { M: x.size / K, N, K, transB: !this.inOut, dtypeB: weight.dtype }, `${this.path} linear`),
        (g) => {
          const dy = g.grad(y)!;
          g.give(x, linearInputGrad(g.b, dy, weight, x.shape, 0, this.inOut));
          projectionParamGrads(g, x, dy, this.weightName, bias && this.biasName, 0, this.inOut);
        },
      );
      return y;
    });
  }
}

/**
 * The gradient of a projection's input: dx = dy · W for y = x · Wᵀ (+ b), W the rows [off, off + out) of a
 * row-major weight [.., in] (offB = off * in elements); dx = dy · Wᵀ for a weight stored [in, out] (`inOut`).
 * dy is [..., out]; dx gets `shape` [..., in]. A packed (F16 / BF16) weight is read as stored.
 */
export function linearInputGrad(b: PlanBuilder, dy: Act, weight: Tensor, shape: readonly number[], offB: number, inOut = false): Act {
  const K = shape[shape.length - 1];
  const N = dy.shape[dy.shape.length - 1];
  const dx = b.act(shape, `${b.path} grad input`);
  const shapeMM = { M: dy.size / N, N: K, K: N, offB, transB: inOut, dtypeB: weight.dtype };
  b.step('grad input', MATMUL, { a: dy, c: dx }, (r) => matmul(b.ctx, { ...r, b: { buffer: weight.buffer } }, shapeMM, `${b.path} grad input`));
  return dx;
}

/**
 * Parameter gradients of y = x · Wᵀ + b where W is rows [row, row + out) of a weight [.., in]: dW = dyᵀ · x (for a
 * weight stored [in, out], `inOut`: dW = xᵀ · dy) and db = Σ_rows dy, each computed only when asked for and handed
 * over as that part of the parameter.
 */
export function projectionParamGrads(g: GradContext, x: Act, dy: Act, weight: string, bias: string | undefined, row = 0, inOut = false): void {
  const { b } = g;
  const K = x.shape[x.shape.length - 1];
  const N = dy.shape[dy.shape.length - 1];
  const M = dy.size / N;
  if (g.wantsParam(weight)) {
    const dW = b.act(inOut ? [K, N] : [N, K], `grad ${weight}`);
    const [p, q] = inOut ? [x, dy] : [dy, x];
    b.step('grad weight', MATMUL, { a: p, b: q, c: dW }, (r) => matmul(b.ctx, r, { M: p.shape[p.shape.length - 1], N: q.shape[q.shape.length - 1], K: M, transA: true }, `${b.path} grad weight`));
    g.giveParam(weight, dW, row * K);
  }
  if (bias && g.wantsParam(bias)) {
    const db = b.act([N], `grad ${bias}`);
    b.step('grad bias', SUM_ROWS, { x: dy, y: db }, (r) => sumRows(b.ctx, r, { rows: M, n: N }, `${b.path} grad bias`));
    g.giveParam(bias, db, row);
  }
}

/** HF's Conv1D (GPT-2's projections): a Linear whose weight is stored [in, out]. */
export class Conv1D extends Linear {
  constructor(w: WeightSource, path: string, inFeatures: number, outFeatures: number) {
    super(w, path, inFeatures, outFeatures, true, true);
  }
}
