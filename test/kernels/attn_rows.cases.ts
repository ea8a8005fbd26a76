import { attnRows, attnRowsRef, attnRowsShape, type RowsOrColumns } from '../../src/kernels/attn_rows.ts';
import type { AttnDims } from '../../src/kernels/attn_select.ts';
import { assertClose, type GpuCase, withScope } from '../harness.ts';
import { attnProbs, byWindows } from './attn_probs.ts';

function rowsCase(name: string, d: AttnDims, which: RowsOrColumns, index: number[], seed: number, rows?: number): GpuCase {
  return {
    name: `attn_rows ${name}`,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const probs = attnProbs(seed, d);
        const shape = attnRowsShape(name, d, which, index);
        const out = s.empty(shape.reduce((a, b) => a * b, 1));
        await byWindows(s, probs, d, rows, (p, dc, w) => attnRows(ctx, { probs: p, out }, dc, which, index, w));
        assertClose(`attn_rows ${name}`, await s.read(out), attnRowsRef(probs, d, which, index), { shape });
      }),
  };
}

export const cases: GpuCase[] = [
  rowsCase('rows 4, 0, 4', { B: 2, H: 3, L: 5, S: 7 }, 'rows', [4, 0, 4], 1),
  rowsCase('columns 0, 69', { B: 1, H: 2, L: 70, S: 70 }, 'columns', [0, 69], 2),
  rowsCase('one column of a wide map', { B: 2, H: 1, L: 3, S: 300 }, 'columns', [123], 3),
  rowsCase('rows 69, 3, 40 by windows of 16', { B: 2, H: 2, L: 70, S: 70 }, 'rows', [69, 3, 40], 4, 16),
  rowsCase('columns 5, 0 by windows of 16', { B: 2, H: 2, L: 70, S: 33 }, 'columns', [5, 0], 5, 16),
  {
    name: 'attn_rows rejects positions outside the map and an empty list',
    run: async () => {
      const d = { B: 1, H: 1, L: 4, S: 6 };
      for (const [which, index, msg] of [['rows', [4], 'rows position 4 is not in [0, 4)'], ['columns', [-1], 'columns position -1'], ['rows', [], 'non-empty']] as const) {
        let err = '';
        try {
          attnRowsShape('x', d, which, index);
        } catch (e) {
          err = (e as Error).message;
        }
        if (!err.includes(msg)) throw new Error(`expected '${msg}', got '${err}'`);
      }
    },
  },
];
