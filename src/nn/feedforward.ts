import { activation, activationBackward, type ActivationKind } from '../kernels/activation.ts';
import { add } from '../kernels/add.ts';
import { passGrad } from '../scheduler/backward.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { Linear } from './linear.ts';

/** linear2(activation(linear1(x))): the layers' feed-forward block (dropout is off at inference). */
export async function feedForward(b: PlanBuilder, linear1: Linear, linear2: Linear, kind: ActivationKind, x: Act, path: string): Promise<Act> {
  const h = await linear1.forward(b, x);
  const a = b.act(h.shape, `${path} ${kind}`);
  b.step(
    kind,
    [h],
    [a],
    (r) => activation(b.ctx, kind, { x: r(h), y: r(a) }, { n: h.size }, `${path} ${kind}`),
    (g) => {
      const da = g.grad(a)!;
      const dh = g.b.act(h.shape, `${path} grad ${kind}`);
      g.b.step(`grad ${kind}`, [h, da], [dh], (r) => activationBackward(b.ctx, kind, { x: r(h), dy: r(da), dx: r(dh) }, h.size, `${path} grad ${kind}`));
      g.give(h, dh);
    },
  );
  return linear2.forward(b, a);
}

/** x + y as a new activation (the pre-norm residual join). */
export function residual(b: PlanBuilder, x: Act, y: Act, path: string): Act {
  const out = b.act(x.shape, `${path} residual`);
  b.step('residual add', [x, y], [out], (r) => add(b.ctx, { a: r(x), b: r(y), out: r(out) }, x.size, `${path} residual add`), passGrad(out, [x, y]));
  return out;
}

