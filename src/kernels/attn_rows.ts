import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attn_rows.wgsl?raw';
import type { AttnDims } from './attn_select.ts';
import { checkWindow, type RowWindow } from './attn_window.ts';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

export const ATTN_ROWS = kernel({
  name: 'attn_rows',
  source,
  bindings: { probs: 'read', index: 'read u32', out: 'write', p: 'uniform' },
  uniforms: { L: 'u32', S: 'u32', NI: 'u32', l0: 'u32', LT: 'u32', n: 'u32' },
  defines: ['COLUMNS'],
});

/** 'rows': attention from the chosen queries, [B, H, n, S]; 'columns': attention to the chosen keys, [B, H, L, n]. */
export type RowsOrColumns = 'rows' | 'columns';

/** The output shape; every index must be a query (rows) or key (columns) of the map. */
export function attnRowsShape(label: string, d: AttnDims, which: RowsOrColumns, index: readonly number[]): number[] {
  const len = which === 'rows' ? d.L : d.S;
  if (!Array.isArray(index) || index.length === 0) throw new Error(`${label}: ${which} needs a non-empty list of token positions`);
  for (const i of index) if (!Number.isInteger(i) || i < 0 || i >= len) throw new Error(`${label}: ${which} position ${i} is not in [0, ${len})`);
  return which === 'rows' ? [d.B, d.H, index.length, d.S] : [d.B, d.H, d.L, index.length];
}

/**
 * Copies the chosen query rows (or key columns) of every head into `out`, in list order. `probs` [B, H, L, S] holds rows
 * l0 .. l0 + L - 1 of each head's LT (see RowWindow): the chosen rows among them, or those rows of the columns, are written.
 */
export async function attnRows(
  ctx: GpuContext,
  bufs: { probs: GPUBufferBinding; out: GPUBufferBinding },
  d: AttnDims,
  which: RowsOrColumns,
  index: readonly number[],
  w: RowWindow = { l0: 0, LT: d.L },
  label = 'attn_rows',
): Promise<Dispatch> {
  checkWindow(label, d, w);
  const shape = attnRowsShape(label, { ...d, L: w.LT }, which, index);
  const total = which === 'rows' ? shape.reduce((a, b) => a * b, 1) : d.B * d.H * d.L * index.length;
  const WG = 64;
  return dispatchKernel(ctx, ATTN_ROWS, label, {
    bufs,
    uploads: { index: new Uint32Array(index) },
    need: { probs: d.B * d.H * d.L * d.S, out: shape.reduce((a, b) => a * b, 1) },
    params: { L: d.L, S: d.S, NI: index.length, l0: w.l0, LT: w.LT, n: total },
    defines: { COLUMNS: which === 'columns' },
    constants: { WG },
    workgroups: grid1d(ctx, Math.ceil(total / WG)),
  });
}

/** CPU reference. */
export function attnRowsRef(probs: Float32Array, d: AttnDims, which: RowsOrColumns, index: readonly number[]): Float32Array {
  const [B, H, R, C] = attnRowsShape('attnRowsRef', d, which, index);
  const out = new Float32Array(B * H * R * C);
  for (let bh = 0; bh < B * H; bh++) {
    for (let r = 0; r < R; r++) {
      for (let c = 0; c < C; c++) {
        out[(bh * R + r) * C + c] = which === 'rows' ? probs[(bh * d.L + index[r]) * d.S + c] : probs[(bh * d.L + r) * d.S + index[c]];
      }
    }
  }
  return out;
}
