// Attention probability maps for the summary kernels' cases: softmax rows of seeded logits, with the features a
// summary must get right — ties (logits on a coarse grid), causally blocked keys (exact zeros), a fully blocked row.
import type { AttnDims } from '../../src/kernels/attn_select.ts';
import { rng } from '../harness.ts';

export interface ProbsOptions {
  /** Keys s > l + (S - L) get probability 0. */
  causal?: boolean;
  /** Logits on a grid of this many levels: many rows hold equal probabilities. */
  levels?: number;
  /** Row 0 of every head is all zeros (a query with every key masked). */
  blockedRow?: boolean;
}

export function attnProbs(seed: number, d: AttnDims, o: ProbsOptions = {}): Float32Array {
  const rand = rng(seed);
  const { B, H, L, S } = d;
  const out = new Float32Array(B * H * L * S);
  for (let bh = 0; bh < B * H; bh++) {
    for (let l = 0; l < L; l++) {
      if (o.blockedRow && l === 0) continue;
      const row = out.subarray((bh * L + l) * S, (bh * L + l + 1) * S);
      let sum = 0;
      for (let s = 0; s < S; s++) {
        const x = o.levels ? Math.floor(rand() * o.levels) : 4 * rand();
        row[s] = o.causal && s > l + S - L ? 0 : Math.exp(x);
        sum += row[s];
      }
      if (sum > 0) for (let s = 0; s < S; s++) row[s] /= sum;
    }
  }
  return out;
}
