// The relevance view's data: the library's relevance rows (one GPU backward per output position) for batch 0 of the
// analysis's forward, timed, with what each row differentiates.
import { type BackwardTarget, type ForwardResult, type Model, relevanceRows, type RelevanceRows } from '../src/index.ts';
import type { Matrix } from './attention.ts';

export interface Relevance {
  /** Row i: how much each input token (column) matters for the prediction at output position i. */
  matrix: Matrix;
  /** Which map the rows come from: cross (decoder position × source token) or source (position × token). */
  map: RelevanceRows['map'];
  /** What each row differentiates, for the page's explanation. */
  target: string;
  /** Output positions explained (the rows), and the backward target of each. */
  targets: BackwardTarget[];
  ms: number;
  /** One line for the view's title: how many rows were computed and how long they took (or how far it got). */
  summary: string;
}

/**
 * After the analysis's forward `fwd` (run with { grad: true }). Models that predict tokens (`tokens`: logits out)
 * differentiate the logit of the token predicted at each position (the argmax, which greedy decoding emitted); the
 * others the sum of the output vector.
 */
export async function relevance(model: Model, fwd: ForwardResult, tokens: boolean): Promise<Relevance> {
  const t0 = performance.now();
  const r = await relevanceRows(model, fwd, tokens ? 'argmax' : 'sum');
  const [rows, cols] = r.rows.shape;
  const ms = performance.now() - t0;
  return {
    matrix: { rows, cols, data: r.rows.data },
    map: r.map,
    target: tokens ? 'the logit of the token predicted at that position' : 'the sum of the output vector at that position',
    targets: r.targets,
    ms,
    summary: `${rows} backwards in ${ms.toFixed(0)} ms`,
  };
}
