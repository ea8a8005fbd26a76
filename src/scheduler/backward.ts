import { ADD, add } from '../kernels/add.ts';
import type { Act, GradContext, GradRule, ModuleCall, PlanBuilder } from './plan.ts';

/**
 * What a backward pass does at module boundaries: the backward hooks. `moduleGrads` is called once the
 * gradients of a module's inputs are complete (they are the module's own: an observed module's inputs are
 * fresh copies made at its entry, so only the module reads them) with those and the gradients of its outputs;
 * it may return replacements for the input gradients, which then flow on.
 */
export interface BackwardObserver {
  observesBackward(path: string): boolean;
  moduleGrads(
    b: PlanBuilder,
    call: ModuleCall,
    gradIn: readonly (Act | undefined)[],
    gradOut: readonly (Act | undefined)[],
    kept: ReadonlyMap<string, Act>,
  ): Promise<readonly (Act | undefined)[] | undefined>;
}

/** A part of a parameter's gradient: elements [offset, offset + act.size); parts of one parameter add up. */
export interface ParamGrad {
  name: string;
  offset: number;
  act: Act;
}

export interface Backward {
  /** Gradients of the parameters `wantsParam` asked for, in parts. */
  params: ParamGrad[];
  /** Final gradient of every forward activation one reached (absent: zero). */
  grads: ReadonlyMap<number, Act>;
  /** What the step rules kept per module path (an attention's `weights` gradient). */
  kept: ReadonlyMap<string, ReadonlyMap<string, Act>>;
}

/**
 * Records the backward of the forward recorded on `b` so far: a reverse replay of its steps, each kernel step's
 * GradRule turning the gradients of its outputs into gradients of its inputs, accumulated where an activation
 * feeds several steps. The steps form the plan's backward phase; they read the forward's activations in place,
 * so those live on in the plan's slots exactly as long as a backward step needs them.
 */
export async function recordBackward(b: PlanBuilder, output: Act, observer?: BackwardObserver, wantsParam: (name: string) => boolean = () => false): Promise<Backward> {
  const end = b.steps.length;
  const steps = b.steps.slice(0, end);
  b.beginBackward();
  // The gradient of the forward's output: the backward phase's only input, filled from the CPU when it runs.
  const seed = b.input(output.shape, 'backward seed');
  const grads = new Map<number, Act>([[output.id, seed]]);
  const kept = new Map<string, Map<string, Act>>();
  const params: ParamGrad[] = [];
  const observed = observer ? b.calls.filter((c) => observer.observesBackward(c.path)) : [];
  const gradOut = new Map<ModuleCall, (Act | undefined)[]>();

  const give = (to: Act, g: Act): void => {
    if (to.ids) return;
    if (g.size !== to.size) throw new Error(`backward: gradient ${g.label} has ${g.size} elements for ${to.label} [${to.shape.join(', ')}]`);
    const had = grads.get(to.id);
    if (!had) {
      grads.set(to.id, g);
      return;
    }
    const sum = b.act(to.shape, `grad ${to.label}`);
    // The add kernel needs two buffers: a gradient given twice to one activation is doubled from a copy.
    let other = g;
    if (had === g) {
      other = b.act(to.shape, `grad ${to.label} (copy)`);
      b.copy('copy gradient', g, 0, other, 0, g.size);
    }
    b.step('accumulate gradient', ADD, { a: had, b: other, out: sum }, (r) => add(b.ctx, r, sum.size, `${b.path} accumulate gradient`));
    grads.set(to.id, sum);
  };

  for (let i = end - 1; i >= -1; i--) {
    // Every step after i is replayed: outputs of modules ending at i + 1 have their full gradients, and the
    // inputs of modules whose bodies begin at i + 1 have theirs.
    for (const c of observed) if (c.end === i + 1) gradOut.set(c, c.outputs.map((a) => grads.get(a.id)));
    for (const c of observed) {
      if (c.body !== i + 1) continue;
      const ins = c.inputs.map((a) => grads.get(a.id));
      const next = await observer!.moduleGrads(b, c, ins, gradOut.get(c)!, kept.get(c.path) ?? new Map());
      next?.forEach((g, k) => {
        if (g) grads.set(c.inputs[k].id, g);
      });
    }
    if (i < 0) break;
    const st = steps[i];
    if (st.kind === 'capture') continue;
    const dWrites = new Map(st.writes.flatMap((a) => (grads.has(a.id) ? [[a.id, grads.get(a.id)!] as const] : [])));
    if (!dWrites.size) continue;
    // A written activation's gradient is complete once its writer is replayed; an in-place step's rule gives
    // its input a new one.
    for (const a of st.writes) grads.delete(a.id);
    if (st.kind === 'fill' || st.kind === 'stream') continue; // a patched output is a constant; a stream writes nothing
    if (st.kind === 'copy') {
      if (st.fromOffset !== 0 || st.toOffset !== 0 || st.count !== st.from.size || st.count !== st.to.size) {
        throw new Error(`backward: ${st.label} copies part of an activation (a KV cache); backward runs on plain forwards only`);
      }
      give(st.from, dWrites.get(st.to.id)!);
      continue;
    }
    if (st.kind === 'host') {
      throw new Error(`backward: the gradient cannot flow through ${st.label}: its fn runs on the CPU and changes the computation; remove that hook (or its writeBack) to run a backward`);
    }
    const rule = st.grad;
    if (!rule) throw new Error(`backward: ${st.label} has no backward`);
    const g: GradContext = {
      b,
      grad: (a) => {
        if (!st.writes.includes(a)) throw new Error(`backward: ${st.label} asked for the gradient of ${a.label}, which it does not write`);
        return dWrites.get(a.id);
      },
      give: (to, d) => {
        if (!st.reads.includes(to)) throw new Error(`backward: ${st.label} gave a gradient to ${to.label}, which it does not read`);
        give(to, d);
      },
      keep: (name, d) => {
        const m = kept.get(st.module) ?? new Map<string, Act>();
        m.set(name, d);
        kept.set(st.module, m);
      },
      wantsParam,
      giveParam: (name, d, offset = 0) => {
        if (!wantsParam(name)) throw new Error(`backward: ${st.label} gave a gradient for parameter ${name}, which was not asked for`);
        params.push({ name, offset, act: d });
      },
    };
    await b.at(st.module, async () => rule(g));
  }
  return { grads, kept, params };
}

/** The backward of a sum (or an identity): every addend gets the sum's gradient. */
export function passGrad(out: Act, addends: readonly Act[]): GradRule {
  return (g) => {
    const d = g.grad(out)!;
    for (const a of addends) g.give(a, d);
  };
}
