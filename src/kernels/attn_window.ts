import type { AttnDims } from './attn_select.ts';

/**
 * Which query rows of the attention map a summary kernel's probabilities hold: rows [l0, l0 + L) (L the buffer's rows,
 * AttnDims.L) of each head's LT rows. A map summarised by chunks of query rows passes one window per chunk, in order;
 * the whole map is { l0: 0, LT: L }.
 */
export interface RowWindow {
  l0: number;
  LT: number;
}

export function checkWindow(label: string, d: AttnDims, w: RowWindow): void {
  if (!Number.isInteger(w.l0) || !Number.isInteger(w.LT) || w.l0 < 0 || w.l0 + d.L > w.LT) throw new Error(`${label}: query rows [${w.l0}, ${w.l0 + d.L}) are not inside the map's ${w.LT} rows`);
}
