// Relevance of the input tokens for each output position (Chefer et al. 2021): one GPU backward per output
// position of the last forward, each differentiating that position's prediction, and that position's row of the
// relevance map, computed on the GPU where the backward left the attention probabilities and gradients
// (Model.relevanceRow): S floats come back per row, and the main thread only encodes and waits.
import type { CapturedTensor } from '../hooks/registry.ts';
import type { ForwardResult, Model } from '../model/model.ts';
import type { RelevanceMaps } from '../model/relevance.ts';
import { rowMap } from '../model/relevance_row.ts';
import type { BackwardTarget } from '../model/target.ts';

/** What a row differentiates: the largest logit at the position (the token greedy decoding emits), or the sum of the output vector there (embedding models). */
export type RowTarget = 'argmax' | 'sum';

export interface RelevanceRows {
  /** [positions.length, S]: row k is how much each input token (column) matters for output position positions[k]. */
  rows: CapturedTensor;
  /** The output positions explained, in the order of the rows. */
  positions: number[];
  /** The map the rows come from: the one whose columns are the model's input tokens. */
  map: keyof RelevanceMaps;
  /** The backward target of each row. */
  targets: BackwardTarget[];
}

/** One finished row, as relevanceRows hands it to `onRow` while it works. */
export interface RelevanceRow {
  /** The output position explained. */
  position: number;
  /** [S]: how much each input token matters for it. */
  row: Float32Array;
  /** What its backward differentiated. */
  target: BackwardTarget;
  /** Rows finished so far (this one included), of `total`. */
  done: number;
  total: number;
}

export interface RelevanceRowsOptions {
  /** Batch element, default 0. */
  batch?: number;
  /** Output positions to explain, in this order; default all 0..T-1. Each once, each in range. */
  positions?: number[];
  /** Called after each row, in order. */
  onRow?: (r: RelevanceRow) => void;
  /** Checked before each backward; when aborted, the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** What relevanceRows asks of a model (a Model; tests pass a stand-in). */
export type RelevanceModel = Pick<Model, 'relevanceRow' | 'batchFirst' | 'attentionModules'>;

/** The positions asked for, checked: integers in [0, T), no repeats. */
function checkPositions(positions: readonly number[] | undefined, T: number): number[] {
  if (positions === undefined) return Array.from({ length: T }, (_, i) => i);
  if (!Array.isArray(positions)) throw new Error('relevanceRows: positions must be an array of output positions');
  const seen = new Set<number>();
  for (const p of positions) {
    if (!Number.isInteger(p) || p < 0 || p >= T) throw new Error(`relevanceRows: position ${String(p)} is out of range for ${T} output positions (0..${T - 1})`);
    if (seen.has(p)) throw new Error(`relevanceRows: position ${p} is asked for twice`);
    seen.add(p);
  }
  return [...positions];
}

/** The backward target explaining output position i of batch element `batch`. */
function rowTarget(fwd: ForwardResult, bf: boolean, B: number, T: number, batch: number, i: number, target: RowTarget): BackwardTarget {
  const width = fwd.shape[2];
  const at = <X>(last: X) => (bf ? [batch, i, last] : [i, batch, last]);
  if (target === 'sum') return { slice: at<[number, number]>([0, width]) };
  const base = (bf ? batch * T + i : i * B + batch) * width;
  let best = 0;
  for (let v = 1; v < width; v++) if (fwd.output[base + v] > fwd.output[base + best]) best = v;
  return { index: at(best) as number[] };
}

/**
 * One row per output position (`positions`, default all) of batch element `batch` of `fwd`, the forward just run
 * with { grad: true }: each a backward on the GPU, rows handed to `onRow` as they finish, stoppable by `signal`.
 */
export async function relevanceRows(model: RelevanceModel, fwd: ForwardResult, target: RowTarget, options: RelevanceRowsOptions = {}): Promise<RelevanceRows> {
  if (target !== 'argmax' && target !== 'sum') throw new Error(`relevanceRows: target must be 'argmax' or 'sum', not ${String(target)}`);
  const { batch = 0, onRow, signal } = options;
  const bf = model.batchFirst;
  const [d0, d1] = fwd.shape;
  const [B, T] = bf ? [d0, d1] : [d1, d0];
  if (fwd.shape.length !== 3 || T < 1) throw new Error(`relevanceRows: an output [${fwd.shape.join(', ')}] is not [${bf ? 'B, T' : 'T, B'}, width]`);
  if (!Number.isInteger(batch) || batch < 0 || batch >= B) throw new Error(`relevanceRows: batch ${String(batch)} of an output [${fwd.shape.join(', ')}] (${B} batch elements)`);
  const positions = checkPositions(options.positions, T);
  // Cross-attention's map when the model has one (decoder positions × source tokens), else its self-attention's.
  const map = rowMap(model.attentionModules().map((m) => m.role));
  const targets: BackwardTarget[] = [];
  const rows: Float32Array[] = [];
  for (const i of positions) {
    signal?.throwIfAborted();
    const t = rowTarget(fwd, bf, B, T, batch, i, target);
    const { row, map: got, rows: R } = await model.relevanceRow(t, batch, i);
    if (got !== map) throw new Error(`relevanceRows: the model gave a ${got} row where its attention modules make ${map} the map`);
    if (R !== T) throw new Error(`relevanceRows: the ${map} map has ${R} rows for ${T} output positions`);
    if (rows.length && row.length !== rows[0].length) throw new Error(`relevanceRows: position ${i} gave a row of ${row.length}, the first ${rows[0].length}`);
    rows.push(row);
    targets.push(t);
    onRow?.({ position: i, row, target: t, done: rows.length, total: positions.length });
  }
  const S = rows[0]?.length ?? 0;
  const data = new Float32Array(positions.length * S);
  rows.forEach((r, k) => data.set(r, k * S));
  return { rows: { shape: [positions.length, S], data }, positions, map, targets };
}
