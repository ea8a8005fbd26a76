// Attention probability maps for the summary kernels' cases: softmax rows of seeded logits, with the features a
// summary must get right — ties (logits on a coarse grid), causally blocked keys (exact zeros), a fully blocked row.
import type { AttnDims } from '../../src/kernels/attn_select.ts';
import type { RowWindow } from '../../src/kernels/attn_window.ts';
import type { Dispatch } from '../../src/kernels/dispatch.ts';
import { type GpuScope, rng } from '../harness.ts';

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

/**
 * Runs a summary kernel over the map by windows of `rows` query rows (consecutive calls, each on an uploaded slice
 * [B, H, rows, S]), or over the whole map at once when `rows` is undefined.
 */
export async function byWindows(
  s: GpuScope,
  probs: Float32Array,
  d: AttnDims,
  rows: number | undefined,
  call: (probs: GPUBufferBinding, dc: AttnDims, w: RowWindow) => Promise<Dispatch>,
): Promise<void> {
  const R = rows ?? d.L;
  for (let l0 = 0; l0 < d.L; l0 += R) {
    const L = Math.min(R, d.L - l0);
    const slice = new Float32Array(d.B * d.H * L * d.S);
    for (let bh = 0; bh < d.B * d.H; bh++) slice.set(probs.subarray((bh * d.L + l0) * d.S, (bh * d.L + l0 + L) * d.S), bh * L * d.S);
    await s.run(await call(s.upload(slice), { ...d, L }, { l0, LT: d.L }));
  }
}
