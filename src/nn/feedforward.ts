import { ACTIVATION, ACTIVATION_BACKWARD, activation, activationBackward, type ActivationKind } from '../kernels/activation.ts';
import { ADD, add } from '../kernels/add.ts';
import { passGrad } from '../scheduler/backward.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { Linear } from './linear.ts';

/** linear2(activation(linear1(x))): the layers' feed-forward block (dropout is off at inference). */
export async function feedForward(b: PlanBuilder, linear1: Linear, linear2: Linear, kind: ActivationKind, x: Act, path: string): Promise<Act> {
  return linear2.forward(b, activate(b, kind, await linear1.forward(b, x), path));
}

/** activation(h) as a new activation, with its backward (HF's BertIntermediate ends here, before its next Linear). */
export function activate(b: PlanBuilder, kind: ActivationKind, h: Act, path: string): Act {
  const a = b.act(h.shape, `${path} ${kind}`);
  b.step(
    kind,
    ACTIVATION,
    { x: h, y: a },
    (r) => activation(b.ctx, kind, r, { n: h.size }, `${path} ${kind}`),
    (g) => {
      const da = g.grad(a)!;
      const dh = g.b.act(h.shape, `${path} grad ${kind}`);
      g.b.step(`grad ${kind}`, ACTIVATION_BACKWARD, { x: h, dy: da, dx: dh }, (r) => activationBackward(b.ctx, kind, r, h.size, `${path} grad ${kind}`));
      g.give(h, dh);
    },
  );
  return a;
}

/** x + y as a new activation (the pre-norm residual join). */
export function residual(b: PlanBuilder, x: Act, y: Act, path: string): Act {
  const out = b.act(x.shape, `${path} residual`);
  b.step('residual add', ADD, { a: x, b: y, out }, (r) => add(b.ctx, r, x.size, `${path} residual add`), passGrad(out, [x, y]));
  return out;
}

