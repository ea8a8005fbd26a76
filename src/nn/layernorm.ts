import { ADD, add } from '../kernels/add.ts';
import { LAYERNORM, layerNorm } from '../kernels/layernorm.ts';
import { LAYERNORM_BACKWARD, LAYERNORM_PARAM_GRADS, layerNormBackward, layerNormParamGrads } from '../kernels/layernorm_backward.ts';
import { passGrad } from '../scheduler/backward.ts';
import type { Act, GradContext, PlanBuilder } from '../scheduler/plan.ts';
import type { Tensor } from '../tensor.ts';
import { Module, type WeightSource } from './module.ts';

/** torch.nn.LayerNorm over the last dim (biased variance, eps inside the sqrt); bias absent with bias=False. */
export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;

  constructor(
    w: WeightSource,
    path: string,
    readonly dim: number,
    readonly eps: number,
    bias: boolean,
  ) {
    super(path);
    this.weight = w.take(`${path}.weight`, [dim]);
    if (bias) this.bias = w.take(`${path}.bias`, [dim]);
  }

  forward(b: PlanBuilder, x: Act): Promise<Act> {
    return b.module(this.path, [x], async ([x]) => {
      const y = b.act(x.shape, `${this.path} out`);
      b.step(
        'layernorm',
        LAYERNORM,
        { x, y },
        (r) => layerNorm(b.ctx, { ...r, ...this.affine() }, { rows: x.size / this.dim, C: this.dim, eps: this.eps }, `${this.path} layernorm`),
        (g) => {
          const dy = g.grad(y)!;
          g.give(x, this.inputGrad(b, x, dy));
          this.paramGrads(g, x, dy);
        },
      );
      return y;
    });
  }

  /**
   * The residual join of a transformer layer, fused: h = x + residual is written and normalised in one pass.
   * Returns h (the module's real input) and norm(h).
   */
  async addAndForward(b: PlanBuilder, x: Act, residual: Act): Promise<[Act, Act]> {
    // A hooked norm must see its input before it runs: then the add is a step of its own.
    if (b.observer?.observes(this.path)) {
      const sum = b.act(x.shape, `${this.path} in`);
      b.step('residual add', ADD, { a: x, b: residual, out: sum }, (r) => add(b.ctx, r, x.size, `${this.path} residual add`), passGrad(sum, [x, residual]));
      return [sum, await this.forward(b, sum)];
    }
    const h = b.act(x.shape, `${this.path} in`);
    const y = await b.module(this.path, [h], async ([h]) => {
      const out = b.act(x.shape, `${this.path} out`);
      b.step(
        'add+layernorm',
        LAYERNORM,
        { x, residual, sum: h, y: out },
        (r) => layerNorm(b.ctx, { ...r, ...this.affine() }, { rows: x.size / this.dim, C: this.dim, eps: this.eps }, `${this.path} add+layernorm`),
        (g) => {
          // h feeds the norm and (pre-norm) the next residual join: its gradient is both, then the sum's addends share it.
          const dOut = g.grad(out);
          const dh = dOut ? this.inputGrad(b, h, dOut, g.grad(h)) : g.grad(h)!;
          if (dOut) this.paramGrads(g, h, dOut);
          g.give(x, dh);
          g.give(residual, dh);
        },
      );
      return out;
    });
    return [h, y];
  }

  /** dx of y = LN(x) for dy, plus `also` (x's gradient from its other readers) when given. */
  private inputGrad(b: PlanBuilder, x: Act, dy: Act, also?: Act): Act {
    const dx = b.act(x.shape, `${this.path} grad input`);
    b.step('grad layernorm', LAYERNORM_BACKWARD, { x, dy, dx, dxAdd: also }, (r) =>
      layerNormBackward(b.ctx, { ...r, weight: { buffer: this.weight.buffer } }, { rows: x.size / this.dim, C: this.dim, eps: this.eps }, `${this.path} grad layernorm`),
    );
    return dx;
  }

  /** dWeight = Σ_rows dy·x̂ and dBias = Σ_rows dy, those asked for. */
  private paramGrads(g: GradContext, x: Act, dy: Act): void {
    const { b } = g;
    const [w, bias] = [`${this.path}.weight`, this.bias && `${this.path}.bias`];
    const dW = g.wantsParam(w) ? b.act([this.dim], `grad ${w}`) : undefined;
    const dB = bias && g.wantsParam(bias) ? b.act([this.dim], `grad ${bias}`) : undefined;
    if (!dW && !dB) return;
    b.step('grad layernorm params', LAYERNORM_PARAM_GRADS, { x, dy, dWeight: dW, dBias: dB }, (r) =>
      layerNormParamGrads(b.ctx, r, { rows: x.size / this.dim, C: this.dim, eps: this.eps }, `${this.path} grad layernorm params`),
    );
    if (dW) g.giveParam(w, dW);
    if (dB) g.giveParam(bias!, dB);
  }

  private affine() {
    return { weight: { buffer: this.weight.buffer }, bias: this.bias && { buffer: this.bias.buffer } };
  }
}
