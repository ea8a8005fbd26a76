import { attnHeadMean, attnHeadMeanRef } from '../../src/kernels/attn_head_mean.ts';
import type { AttnDims } from '../../src/kernels/attn_select.ts';
import { assertClose, type GpuCase, withScope } from '../harness.ts';
import { attnProbs, byWindows } from './attn_probs.ts';

function meanCase(name: string, d: AttnDims, rollout: boolean, seed: number, rows?: number): GpuCase {
  const label = `attn_head_mean ${rollout ? 'rollout ' : ''}${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const probs = attnProbs(seed, d, { causal: true });
        const out = s.empty(d.B * d.L * d.S);
        await byWindows(s, probs, d, rows, (p, dc, w) => attnHeadMean(ctx, { probs: p, out }, dc, rollout, w));
        assertClose(label, await s.read(out), attnHeadMeanRef(probs, d, rollout), { atol: 1e-7, rtol: 1e-6, shape: [d.B, d.L, d.S] });
      }),
  };
}

export const cases: GpuCase[] = [
  meanCase('one head', { B: 1, H: 1, L: 5, S: 5 }, true, 1),
  meanCase('causal, 2 batches x 3 heads, more rows than a workgroup', { B: 2, H: 3, L: 70, S: 70 }, true, 2),
  meanCase('by windows of 16 rows', { B: 2, H: 3, L: 70, S: 70 }, true, 3, 16),
  meanCase('L 9, S 33', { B: 2, H: 4, L: 9, S: 33 }, false, 4),
  meanCase('by windows of 4 rows', { B: 2, H: 4, L: 9, S: 33 }, false, 5, 4),
];
