import type { AttnDims } from '../../src/kernels/attn_select.ts';
import { relevanceWeighted, relevanceWeightedRef } from '../../src/kernels/relevance_weighted.ts';
import { assertClose, type GpuCase, rng, uniform, withScope } from '../harness.ts';
import { attnProbs } from './attn_probs.ts';

/** Probabilities (causal: exact zeros) and gradients of both signs, so max(0, ·) keeps some products and drops others. */
function weightedCase(name: string, d: AttnDims, b: number, seed: number): GpuCase {
  const label = `relevance_weighted ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const probs = attnProbs(seed, d, { causal: true });
        const grad = uniform(rng(seed + 100), probs.length, -2, 1);
        const out = s.empty(d.L * d.S);
        await s.run(await relevanceWeighted(ctx, { probs: s.upload(probs), grad: s.upload(grad), out }, d, b));
        const want = relevanceWeightedRef(probs, grad, d, b);
        assertClose(label, await s.read(out), want, { atol: 1e-8, rtol: 1e-6, shape: [d.L, d.S] });
        if (want.length > 1 && (!want.some((v) => v === 0) || !want.some((v) => v > 0))) throw new Error(`${label}: the case should have both dropped and kept products`);
      }),
  };
}

export const cases: GpuCase[] = [
  weightedCase('one head, one element', { B: 1, H: 1, L: 1, S: 1 }, 0, 1),
  weightedCase('batch 1 of 2, 3 heads, 70 x 70 (past a workgroup)', { B: 2, H: 3, L: 70, S: 70 }, 1, 2),
  weightedCase('cross-shaped 9 x 33, 12 heads, batch 2 of 3', { B: 3, H: 12, L: 9, S: 33 }, 2, 3),
];
