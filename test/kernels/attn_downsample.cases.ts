import { attnDownsample, attnDownsampleRef, blockEdges } from '../../src/kernels/attn_downsample.ts';
import type { AttnDims } from '../../src/kernels/attn_select.ts';
import { assertClose, type GpuCase, withScope } from '../harness.ts';
import { attnProbs, byWindows } from './attn_probs.ts';

function downsampleCase(name: string, d: AttnDims, N: number, seed: number, rows?: number): GpuCase {
  return {
    name: `attn_downsample ${name}`,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const probs = attnProbs(seed, d, { causal: true });
        const n = d.B * d.H * N * N;
        const [blockMax, blockMean] = [s.empty(n), s.empty(n)];
        await byWindows(s, probs, d, rows, (p, dc, w) => attnDownsample(ctx, { probs: p, blockMax, blockMean }, dc, N, w));
        const want = attnDownsampleRef(probs, d, N);
        const shape = [d.B, d.H, N, N];
        assertClose(`attn_downsample ${name} max`, await s.read(blockMax), want.max, { shape });
        assertClose(`attn_downsample ${name} mean`, await s.read(blockMean), want.mean, { shape });
      }),
  };
}

export const cases: GpuCase[] = [
  downsampleCase('N divides L and S', { B: 1, H: 2, L: 16, S: 32 }, 4, 1),
  downsampleCase('uneven blocks (L 70, S 45, N 8)', { B: 2, H: 3, L: 70, S: 45 }, 8, 2),
  downsampleCase('N > L (rows serve several cells)', { B: 1, H: 1, L: 5, S: 9 }, 7, 3),
  downsampleCase('N = 1 (the whole map)', { B: 1, H: 2, L: 13, S: 13 }, 1, 4),
  downsampleCase('by windows of 16 rows, blocks across windows (L 70, N 8)', { B: 2, H: 3, L: 70, S: 45 }, 8, 5, 16),
  downsampleCase('by windows of 3 rows, N > L', { B: 1, H: 2, L: 5, S: 9 }, 7, 6, 3),
  {
    name: 'attn_downsample block edges partition the positions',
    run: async () => {
      for (const [N, len] of [[8, 70], [7, 7], [3, 100]]) {
        let next = 0;
        for (let i = 0; i < N; i++) {
          const [a, b] = blockEdges(i, N, len);
          if (a !== next || b <= a) throw new Error(`N ${N} over ${len}: cell ${i} is [${a}, ${b}), expected to start at ${next}`);
          next = b;
        }
        if (next !== len) throw new Error(`N ${N} over ${len}: cells end at ${next}`);
      }
    },
  },
];
