import type { AttnDims } from '../../src/kernels/attn_select.ts';
import { attnTopk, attnTopkRef } from '../../src/kernels/attn_topk.ts';
import { assertClose, type GpuCase, withScope } from '../harness.ts';
import { attnProbs, byWindows, type ProbsOptions } from './attn_probs.ts';

function topkCase(name: string, d: AttnDims, K: number, o: ProbsOptions, seed: number, rows?: number): GpuCase {
  return {
    name: `attn_topk ${name}`,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const probs = attnProbs(seed, d, o);
        const n = d.B * d.H * d.L * K;
        const [values, indices] = [s.empty(n), s.empty(n)];
        await byWindows(s, probs, d, rows, (p, dc, w) => attnTopk(ctx, { probs: p, values, indices }, dc, K, w));
        const want = attnTopkRef(probs, d, K);
        const shape = [d.B, d.H, d.L, K];
        assertClose(`attn_topk ${name} values`, await s.read(values), want.values, { atol: 1e-6, shape });
        assertClose(`attn_topk ${name} indices`, await s.read(indices), want.indices, { shape });
      }),
  };
}

export const cases: GpuCase[] = [
  topkCase('K 1', { B: 1, H: 2, L: 5, S: 9 }, 1, {}, 1),
  topkCase('K 5, ties on a 3-level grid', { B: 2, H: 3, L: 7, S: 33 }, 5, { levels: 3 }, 2),
  topkCase('K 8, causal zeros and a blocked row', { B: 1, H: 4, L: 70, S: 70 }, 8, { causal: true, blockedRow: true }, 3),
  topkCase('K = S', { B: 1, H: 1, L: 3, S: 6 }, 6, { levels: 2 }, 4),
  topkCase('more rows than a workgroup, long rows', { B: 1, H: 2, L: 65, S: 300 }, 16, {}, 5),
  topkCase('by windows of 16 query rows', { B: 2, H: 3, L: 70, S: 70 }, 4, { causal: true, levels: 3 }, 6, 16),
  {
    name: 'attn_topk rejects K outside [1, S]',
    run: async (ctx) => {
      for (const K of [0, 10, 2.5]) {
        const err = await attnTopk(ctx, { probs: { buffer: undefined! }, values: { buffer: undefined! }, indices: { buffer: undefined! } }, { B: 1, H: 1, L: 1, S: 9 }, K).then(() => '', (e: Error) => e.message);
        if (!err.includes(`topk ${K} is not a whole number in [1, 9]`)) throw new Error(`K ${K}: got '${err}'`);
      }
    },
  },
];
