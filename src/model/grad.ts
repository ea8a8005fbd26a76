import type { HookObserver } from '../hooks/observer.ts';
import { globToRegExp } from '../hooks/registry.ts';
import type { CapturedTensor } from '../hooks/registry.ts';
import { recordBackward } from '../scheduler/backward.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { Feed } from './feeder.ts';
import { InputError } from './inputs.ts';

/** One attention module's probabilities and their gradient, from a backward. */
export interface AttentionGrad {
  /** The MultiheadAttention's path. */
  path: string;
  /** [B, H, L, S] */
  weights: CapturedTensor;
  /** d(target)/d(weights) [B, H, L, S]; zeros when the target does not depend on this module. */
  grad: CapturedTensor;
}

/** What a backward returns. */
export interface BackwardResult {
  /** The target's value (Σ seed · output). */
  value: number;
  /** Gradients of the forward's float inputs (src, tgt, memory) by name; token-id inputs have none. */
  inputs: Record<string, CapturedTensor>;
  /** Every MultiheadAttention in forward order: its probabilities and their gradient (relevance maps use them). */
  attention: AttentionGrad[];
  /** Gradients of the parameters the forward's `params` named, by state_dict name, in PyTorch's shapes. */
  params: Record<string, CapturedTensor>;
}

/** What a gradient plan reads back after its backward phase. */
export interface GradOutputs {
  /** Float inputs; `act` absent when no gradient reaches one (zeros). Their gradients are the first outputs. */
  inputs: { name: string; shape: number[]; act?: Act }[];
  /** Parameters asked for; each gradient comes back in parts, as backward outputs after the inputs'. */
  params: { name: string; shape: number[]; parts: { offset: number; size: number }[] }[];
  /**
   * Each attention's probabilities and (when one reaches it) their gradient: capture keys, and the activations, kept
   * in their slots after the backward (relevance rows read them there: Plan.binding).
   */
  attention: { path: string; shape: number[]; weights: string; grad?: string; acts: { weights: Act; grad?: Act } }[];
  /** The attention captures no hook reads: a backward that computes relevance on the GPU skips them (Plan.run's skip). */
  attentionOnly: string[];
}

/**
 * Records the backward of a gradient plan after its forward (whose output is `output`): the gradients of the float
 * inputs named in `gradInputs` and of the parameters `wanted` come back as the backward phase's outputs; every
 * attention's probabilities and their gradient are captured.
 */
export async function recordGrad(
  b: PlanBuilder,
  output: Act,
  feeds: readonly Feed[],
  gradInputs: readonly string[],
  attentionPaths: readonly string[],
  paramShapes: ReadonlyMap<string, number[]>,
  observer: HookObserver | undefined,
  wanted: readonly string[],
): Promise<GradOutputs> {
  const { grads, kept, params: parts } = await recordBackward(b, output, observer, (n) => wanted.includes(n));
  const inputs = feeds
    .filter((x) => gradInputs.includes(x.act.label))
    .map((x) => ({ name: x.act.label, shape: [...x.act.shape], act: grads.get(x.act.id) }));
  b.output(...inputs.flatMap((i) => (i.act ? [i.act] : [])));
  // A parameter no gradient reaches (a head the target does not use) comes back as zeros.
  const params = wanted.map((name) => ({ name, shape: paramShapes.get(name)!, parts: parts.filter((p) => p.name === name) }));
  for (const p of params) b.output(...p.parts.map((x) => x.act));
  const hooked = new Set(b.steps.flatMap((s) => (s.kind === 'capture' ? [s.key] : [])));
  const attention = attentionPaths.map((path) => {
    const call = b.calls.find((c) => c.path === path);
    if (!call) throw new Error(`backward: attention module ${path} did not run in this forward`);
    const [, weights] = call.outputs;
    const g = kept.get(path)?.get('weights');
    // Relevance rows read them after the backward; a hook's capture may have been their last reader mid-backward.
    b.keep(weights, ...(g ? [g] : []));
    return {
      path,
      shape: [...weights.shape],
      weights: b.capture(weights, `the backward's ${path} weights`),
      ...(g ? { grad: b.capture(g, `the backward's ${path} weights gradient`) } : {}),
      acts: { weights, ...(g ? { grad: g } : {}) },
    };
  });
  const attentionOnly = [...new Set(attention.flatMap((a) => [a.weights, ...(a.grad ? [a.grad] : [])]))].filter((k) => !hooked.has(k));
  return { inputs, attention, attentionOnly, params: params.map((p) => ({ ...p, parts: p.parts.map((x) => ({ offset: x.offset, size: x.act.size })) })) };
}

const zeros = (shape: readonly number[]) => new Float32Array(shape.reduce((a, b) => a * b, 1));

/** Assembles a backward's result from its phase's outputs and captures (copies: hook records may share them). */
export function readBackward(grad: GradOutputs, value: number, outputs: readonly Float32Array[], captures: ReadonlyMap<string, Float32Array>): BackwardResult {
  let k = 0;
  const inputs = Object.fromEntries(grad.inputs.map((i) => [i.name, { shape: i.shape, data: i.act ? outputs[k++] : zeros(i.shape) }]));
  const params = Object.fromEntries(
    grad.params.map((p) => {
      const data = zeros(p.shape);
      for (const part of p.parts) {
        const d = outputs[k++];
        for (let i = 0; i < part.size; i++) data[part.offset + i] += d[i];
      }
      return [p.name, { shape: p.shape, data }];
    }),
  );
  const attention = grad.attention.map((a) => ({
    path: a.path,
    weights: { shape: a.shape, data: captures.get(a.weights)!.slice() },
    grad: { shape: a.shape, data: a.grad ? captures.get(a.grad)!.slice() : zeros(a.shape) },
  }));
  return { value, inputs, attention, params };
}

/** The parameter names (of `all`, in its order) that names or globs match; each pattern must match one at least. */
export function paramsMatching(all: readonly string[], patterns: string | readonly string[]): string[] {
  const list = typeof patterns === 'string' ? [patterns] : patterns;
  if (!Array.isArray(list) || list.some((p) => typeof p !== 'string')) throw new InputError('forward: params must be a name or glob, or a list of them');
  const out = new Set<string>();
  for (const p of list) {
    const re = globToRegExp(p);
    const hits = all.filter((n) => re.test(n));
    if (!hits.length) throw new InputError(`forward: params '${p}' matches no parameter of this model (e.g. ${all.slice(0, 3).join(', ')})`);
    hits.forEach((n) => out.add(n));
  }
  return all.filter((n) => out.has(n));
}
