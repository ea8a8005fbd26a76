import { activation, type ActivationKind } from '../kernels/activation.ts';
import { add } from '../kernels/add.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { Linear } from './linear.ts';

/** linear2(activation(linear1(x))): the layers' feed-forward block (dropout is off at inference). */
export async function feedForward(b: PlanBuilder, linear1: Linear, linear2: Linear, kind: ActivationKind, x: Act, path: string): Promise<Act> {
  const h = await linear1.forward(b, x);
  const a = b.act(h.shape, `${path} ${kind}`);
  b.step(kind, [h], [a], (r) => activation(b.ctx, kind, { x: r(h), y: r(a) }, { n: h.size }, `${path} ${kind}`));
  return linear2.forward(b, a);
}

/** x + y as a new activation (the pre-norm residual join). */
export function residual(b: PlanBuilder, x: Act, y: Act, path: string): Act {
  const out = b.act(x.shape, `${path} residual`);
  b.step('residual add', [x, y], [out], (r) => add(b.ctx, { a: r(x), b: r(y), out: r(out) }, x.size, `${path} residual add`));
  return out;
}
