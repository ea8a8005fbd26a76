// Relevance of the input tokens for each prediction (Chefer et al. 2021): after the analysis's forward (run with
// { grad: true }), one GPU backward per output position, each differentiating that position's prediction, and
// the row of the rolled-out gradient-weighted attention map for that position.
import type { BackwardTarget, ForwardResult, Model } from '../src/index.ts';
import type { Matrix } from './attention.ts';

export interface Relevance {
  /** Row i: how much each input token (column) matters for the prediction at output position i. */
  matrix: Matrix;
  /** Which map the rows come from: cross (decoder position × source token) or source (position × token). */
  map: 'cross' | 'source';
  /** What each row differentiates, for the page's explanation. */
  target: string;
  /** Output positions explained (the rows), and the backward target of each. */
  targets: BackwardTarget[];
  ms: number;
}

/**
 * One row per output position of batch 0 of `fwd` (the forward just run with { grad: true }). Token models
 * differentiate the logit of the token predicted there (the argmax, which greedy decoding emitted); embedding
 * models the sum of the output vector.
 */
export async function relevanceRows(model: Model, fwd: ForwardResult): Promise<Relevance> {
  const c = model.config;
  const bf = c.batch_first;
  const tokens = c.kind === 'seq2seq' || c.kind === 'lm';
  const map: Relevance['map'] = c.kind === 'lm' || c.kind === 'encoder' ? 'source' : 'cross';
  const [d0, d1, width] = fwd.shape;
  const rows = bf ? d1 : d0;
  const B = bf ? d0 : d1;
  const t0 = performance.now();
  const targets: BackwardTarget[] = [];
  const out: Float32Array[] = [];
  let cols = 0;
  for (let i = 0; i < rows; i++) {
    const at = <T>(last: T) => (bf ? [0, i, last] : [i, 0, last]);
    let target: BackwardTarget;
    if (tokens) {
      const base = (bf ? i : i * B) * width;
      let best = 0;
      for (let v = 1; v < width; v++) if (fwd.output[base + v] > fwd.output[base + best]) best = v;
      target = { index: at(best) as number[] };
    } else target = { slice: at<[number, number]>([0, width]) };
    const maps = model.relevanceMaps(await model.backward(target));
    const m = maps[map];
    if (!m) throw new Error(`relevance: the ${c.kind} model has no ${map} map`);
    cols = m.shape[2];
    out.push(m.data.slice(i * cols, (i + 1) * cols));
    targets.push(target);
  }
  const data = new Float32Array(rows * cols);
  out.forEach((r, i) => data.set(r, i * cols));
  return {
    matrix: { rows, cols, data },
    map,
    target: tokens ? 'the logit of the token predicted at that position' : 'the sum of the output vector at that position',
    targets,
    ms: performance.now() - t0,
  };
}
