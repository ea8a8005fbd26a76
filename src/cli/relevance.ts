// run --relevance TARGET: a backward on the GPU from a scalar of the output; relevance maps and input gradients.
// run --relevance-rows argmax|sum: a backward per output position, each position's row of the relevance map computed
// on the GPU (only the rows come back).
import { relevanceRows, type RowTarget } from '../analysis/relevance_rows.ts';
import type { ForwardResult, Model } from '../model/model.ts';
import { numel } from '../tensor.ts';
import { type BackwardTarget, seedFor } from '../model/target.ts';
import { str, UsageError } from './args.ts';
import type { Values } from './command.ts';
import type { RunFlags } from './run.ts';

/** '-1,0,2:5' -> a backward target over an output of `shape`: an index when every entry is one, else a slice. */
function parseTarget(spec: string, shape: readonly number[]): BackwardTarget {
  const parts = spec.split(',').map((p) => p.trim());
  if (parts.length !== shape.length) throw new UsageError(`--relevance ${spec}: ${parts.length} entries for an output of ${shape.length} dims [${shape.join(', ')}]`, 'run');
  const int = (s: string, dflt: number): number => {
    if (s === '') return dflt;
    if (!/^-?\d+$/.test(s)) throw new UsageError(`--relevance ${spec}: '${s}' is not an integer`, 'run');
    return Number(s);
  };
  const dims = parts.map((p, k): number | [number, number] => {
    if (!p.includes(':')) return int(p, NaN);
    const [a, b, ...more] = p.split(':');
    if (more.length) throw new UsageError(`--relevance ${spec}: '${p}' is not FROM:TO`, 'run');
    return [int(a, 0), int(b, shape[k])];
  });
  const target = dims.every((d) => typeof d === 'number') ? { index: dims as number[] } : { slice: dims };
  try {
    seedFor(target, shape, new Float32Array(numel(shape))); // the library's range checks, before any GPU
  } catch (e) {
    throw new UsageError(`--relevance ${spec}: ${(e as Error).message.replace(/^backward: /, '')}`, 'run', { cause: e });
  }
  return target;
}

const ROW_TARGETS: readonly string[] = ['argmax', 'sum'];

function rowTarget(v: Values): RowTarget | undefined {
  const t = str(v, 'relevance-rows');
  if (t !== undefined && !ROW_TARGETS.includes(t)) throw new UsageError(`--relevance-rows ${t}: expected argmax (each position's largest logit) or sum (each position's output vector)`, 'run');
  return t as RowTarget | undefined;
}

/** Every batch element's rows, [B, T, S], one GPU backward per row. */
async function allRows(model: Model, fwd: ForwardResult, target: RowTarget) {
  const B = fwd.shape[model.batchFirst ? 0 : 1];
  const rows = [];
  for (let b = 0; b < B; b++) rows.push(await relevanceRows(model, fwd, target, { batch: b }));
  const [T, S] = rows[0].rows.shape;
  const data = new Float32Array(B * T * S);
  rows.forEach((r, b) => data.set(r.rows.data, b * T * S));
  return { map: rows[0].map, shape: [B, T, S], data };
}

export const relevance: RunFlags = {
  synopsis: '[--relevance TARGET] [--relevance-rows argmax|sum]',
  help: `--relevance TARGET backpropagates a scalar of the output on the GPU and writes the relevance maps
(gradient-weighted attention rolled out across layers, Chefer et al. 2021) as 'relevance.source' [B, S, S],
'relevance.target' [B, T, T] and 'relevance.cross' [B, T, S] (those the model has), and the gradients of float
inputs as '<input>.grad'. TARGET names output elements, one entry per dim of the output: an index, FROM:TO, or ':'
(all), negative from the end; the target is their sum. E.g. --relevance=-1,0,7 is logit 7 at the last position of
batch 0 (seq-first [T, B, V]).
--relevance-rows argmax|sum writes 'relevance.rows' [B, T, S]: for every batch element and output position t, row t
of the relevance map whose columns are the input tokens (cross-attention's, else the self-attention stream's), from
a backward differentiating position t's largest logit (argmax) or the sum of its output vector (sum). Each row is
computed on the GPU from where its backward left the attention probabilities and gradients: S floats come back per
row, not the maps.`,
  options: { relevance: { type: 'string' }, 'relevance-rows': { type: 'string' } },
  check(v, { outputShape }) {
    const spec = str(v, 'relevance');
    if (spec !== undefined) parseTarget(spec, outputShape);
    if (rowTarget(v) !== undefined && outputShape.length !== 3) throw new UsageError(`--relevance-rows needs an output of 3 dims (positions, batch, width), not [${outputShape.join(', ')}]`, 'run');
  },
  setup(v) {
    const spec = str(v, 'relevance');
    const rowsBy = rowTarget(v);
    if (spec === undefined && rowsBy === undefined) return undefined;
    return {
      grad: true,
      report: async (model, fwd) => {
        const rows = rowsBy && (await allRows(model, fwd, rowsBy));
        const rowReport = rows && {
          tensors: [{ name: 'relevance.rows', shape: rows.shape, data: rows.data }],
          line: `relevance rows (${rowsBy}): ${rows.map} map, [${rows.shape.join(', ')}], one backward per row`,
          json: { relevanceRows: { target: rowsBy, map: rows.map, shape: rows.shape } },
        };
        if (spec === undefined) return rowReport!;
        const { shape } = fwd;
        const r = await model.backward(parseTarget(spec, shape));
        const maps = model.relevanceMaps(r);
        const s = model.planStats!.backward!;
        return {
          tensors: [
            ...Object.entries(maps).map(([k, t]) => ({ name: `relevance.${k}`, ...t! })),
            ...Object.entries(r.inputs).map(([k, t]) => ({ name: `${k}.grad`, ...t })),
            ...(rowReport?.tensors ?? []),
          ],
          line: `relevance of ${spec} (value ${r.value.toPrecision(6)}): ${Object.keys(maps).join(', ')}; backward ${s.dispatches} dispatches, ${s.submits} submit${rowReport ? `\n${rowReport.line}` : ''}`,
          json: { relevance: { target: spec, value: r.value, maps: Object.keys(maps), backward: s }, ...rowReport?.json },
        };
      },
    };
  },
};
