import { type AttnDims, attnSelect, type AttnSelection, attnSelection, attnSelectRef } from '../../src/kernels/attn_select.ts';
import { assertClose, type GpuCase, rng, uniform, withScope } from '../harness.ts';

function selectCase(name: string, d: AttnDims, sel: AttnSelection, seed: number): GpuCase {
  return {
    name: `attn_select ${name}`,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const probs = uniform(rng(seed), d.B * d.H * d.L * d.S, 0, 1);
        const shape = attnSelection(name, d, sel).shape;
        const out = s.empty(shape.reduce((a, b) => a * b, 1));
        await s.run(await attnSelect(ctx, { probs: s.upload(probs), out }, d, sel));
        assertClose(`attn_select ${name}`, await s.read(out), attnSelectRef(probs, d, sel), { atol: 1e-7, rtol: 1e-6, shape });
      }),
  };
}

export const cases: GpuCase[] = [
  selectCase('all heads (copy)', { B: 2, H: 3, L: 5, S: 7 }, {}, 1),
  selectCase('average all heads', { B: 2, H: 8, L: 17, S: 33 }, { average: true }, 2),
  selectCase('heads 4,1 reordered', { B: 3, H: 5, L: 4, S: 9 }, { heads: [4, 1] }, 3),
  selectCase('query range [3, 11)', { B: 1, H: 2, L: 16, S: 65 }, { queries: [3, 11] }, 4),
  selectCase('heads + queries + average', { B: 2, H: 4, L: 70, S: 70 }, { heads: [0, 3], queries: [69, 70], average: true }, 5),
  {
    name: 'attn_select rejects a missing head and an empty query range',
    run: async () => {
      const d = { B: 1, H: 2, L: 3, S: 3 };
      for (const [sel, msg] of [[{ heads: [2] }, 'head 2 does not exist'], [{ queries: [2, 2] }, 'query range [2, 2)']] as const) {
        let err = '';
        try {
          attnSelection('x', d, sel as AttnSelection);
        } catch (e) {
          err = (e as Error).message;
        }
        if (!err.includes(msg)) throw new Error(`expected an error containing '${msg}', got '${err}'`);
      }
    },
  },
];
