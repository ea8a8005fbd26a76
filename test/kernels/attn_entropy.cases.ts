import { attnEntropy, attnEntropyRef } from '../../src/kernels/attn_entropy.ts';
import type { AttnDims } from '../../src/kernels/attn_select.ts';
import { assertClose, type GpuCase, withScope } from '../harness.ts';
import { attnProbs, byWindows, type ProbsOptions } from './attn_probs.ts';

function entropyCase(name: string, d: AttnDims, o: ProbsOptions, seed: number, rows?: number): GpuCase {
  return {
    name: `attn_entropy ${name}`,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const probs = attnProbs(seed, d, o);
        const out = s.empty(d.B * d.H * d.L);
        await byWindows(s, probs, d, rows, (p, dc, w) => attnEntropy(ctx, { probs: p, out }, dc, w));
        assertClose(`attn_entropy ${name}`, await s.read(out), attnEntropyRef(probs, d), { atol: 1e-5, shape: [d.B, d.H, d.L] });
      }),
  };
}

export const cases: GpuCase[] = [
  entropyCase('small', { B: 2, H: 3, L: 5, S: 7 }, {}, 1),
  entropyCase('causal zeros and a blocked row', { B: 1, H: 2, L: 70, S: 70 }, { causal: true, blockedRow: true }, 2),
  entropyCase('8,192 keys (near-uniform rows, entropy ~9 nats)', { B: 1, H: 1, L: 6, S: 8192 }, {}, 3),
  entropyCase('by windows of 16 query rows', { B: 2, H: 3, L: 70, S: 70 }, { causal: true }, 4, 16),
];
