import { attnEntropy, attnEntropyRef } from '../../src/kernels/attn_entropy.ts';
import type { AttnDims } from '../../src/kernels/attn_select.ts';
import { assertClose, type GpuCase, withScope } from '../harness.ts';
import { attnProbs, type ProbsOptions } from './attn_probs.ts';

function entropyCase(name: string, d: AttnDims, o: ProbsOptions, seed: number): GpuCase {
  return {
    name: `attn_entropy ${name}`,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const probs = attnProbs(seed, d, o);
        const out = s.empty(d.B * d.H * d.L);
        await s.run(await attnEntropy(ctx, { probs: s.upload(probs), out }, d));
        assertClose(`attn_entropy ${name}`, await s.read(out), attnEntropyRef(probs, d), { atol: 1e-5, shape: [d.B, d.H, d.L] });
      }),
  };
}

export const cases: GpuCase[] = [
  entropyCase('small', { B: 2, H: 3, L: 5, S: 7 }, {}, 1),
  entropyCase('causal zeros and a blocked row', { B: 1, H: 2, L: 70, S: 70 }, { causal: true, blockedRow: true }, 2),
  entropyCase('8,192 keys (near-uniform rows, entropy ~9 nats)', { B: 1, H: 1, L: 6, S: 8192 }, {}, 3),
];
