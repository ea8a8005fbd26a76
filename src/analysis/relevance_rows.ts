// Relevance of the input tokens for each output position (Chefer et al. 2021): one GPU backward per output
// position of the last forward, each differentiating that position's prediction, and that position's row of the
// relevance map.
import type { CapturedTensor } from '../hooks/registry.ts';
import type { ForwardResult, Model } from '../model/model.ts';
import type { RelevanceMaps } from '../model/relevance.ts';
import type { BackwardTarget } from '../model/target.ts';

/** What a row differentiates: the largest logit at the position (the token greedy decoding emits), or the sum of the output vector there (embedding models). */
export type RowTarget = 'argmax' | 'sum';

export interface RelevanceRows {
  /** [T, S]: row i is how much each input token (column) matters for output position i. */
  rows: CapturedTensor;
  /** The map the rows come from: the one whose columns are the model's input tokens. */
  map: keyof RelevanceMaps;
  /** The backward target of each row. */
  targets: BackwardTarget[];
}

/** What relevanceRows asks of a model (a Model; tests pass a stand-in). */
export type RelevanceModel = Pick<Model, 'backward' | 'relevanceMaps' | 'batchFirst'>;

/** Cross-attention's map when the model has one (decoder positions × source tokens), else its self-attention's. */
const pick = (m: RelevanceMaps): keyof RelevanceMaps | undefined => (m.cross ? 'cross' : m.source ? 'source' : m.target ? 'target' : undefined);

/** One row per output position of batch element `batch` of `fwd`, the forward just run with { grad: true }. */
export async function relevanceRows(model: RelevanceModel, fwd: ForwardResult, target: RowTarget, batch = 0): Promise<RelevanceRows> {
  const bf = model.batchFirst;
  const [d0, d1, width] = fwd.shape;
  const [B, T] = bf ? [d0, d1] : [d1, d0];
  if (fwd.shape.length !== 3 || T < 1 || batch < 0 || batch >= B) throw new Error(`relevanceRows: batch ${batch} of an output [${fwd.shape.join(', ')}]`);
  const targets: BackwardTarget[] = [];
  const rows: Float32Array[] = [];
  let map: keyof RelevanceMaps | undefined;
  for (let i = 0; i < T; i++) {
    const at = <X>(last: X) => (bf ? [batch, i, last] : [i, batch, last]);
    let t: BackwardTarget;
    if (target === 'argmax') {
      const base = (bf ? batch * T + i : i * B + batch) * width;
      let best = 0;
      for (let v = 1; v < width; v++) if (fwd.output[base + v] > fwd.output[base + best]) best = v;
      t = { index: at(best) as number[] };
    } else t = { slice: at<[number, number]>([0, width]) };
    const maps = model.relevanceMaps(await model.backward(t));
    map ??= pick(maps);
    const m = map && maps[map];
    if (!m) throw new Error('relevanceRows: the backward gave no relevance map');
    const [, R, S] = m.shape;
    if (R !== T) throw new Error(`relevanceRows: the ${map} map [${m.shape.join(', ')}] has ${R} rows for ${T} output positions`);
    rows.push(m.data.slice((batch * R + i) * S, (batch * R + i + 1) * S));
    targets.push(t);
  }
  const S = rows[0]?.length ?? 0;
  const data = new Float32Array(T * S);
  rows.forEach((r, i) => data.set(r, i * S));
  return { rows: { shape: [T, S], data }, map: map!, targets };
}
