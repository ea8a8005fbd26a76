// run --relevance TARGET: a backward on the GPU from a scalar of the output; relevance maps and input gradients.
import { numel } from '../tensor.ts';
import { type BackwardTarget, seedFor } from '../model/target.ts';
import { str, UsageError } from './args.ts';
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

export const relevance: RunFlags = {
  synopsis: '[--relevance TARGET]',
  help: `--relevance TARGET backpropagates a scalar of the output on the GPU and writes the relevance maps
(gradient-weighted attention rolled out across layers, Chefer et al. 2021) as 'relevance.source' [B, S, S],
'relevance.target' [B, T, T] and 'relevance.cross' [B, T, S] (those the model has), and the gradients of float
inputs as '<input>.grad'. TARGET names output elements, one entry per dim of the output: an index, FROM:TO, or ':'
(all), negative from the end; the target is their sum. E.g. --relevance=-1,0,7 is logit 7 at the last position of
batch 0 (seq-first [T, B, V]).`,
  options: { relevance: { type: 'string' } },
  check(v, { outputShape }) {
    const spec = str(v, 'relevance');
    if (spec !== undefined) parseTarget(spec, outputShape);
  },
  setup(v) {
    const spec = str(v, 'relevance');
    if (spec === undefined) return undefined;
    return {
      grad: true,
      report: async (model, { shape }) => {
        const r = await model.backward(parseTarget(spec, shape));
        const maps = model.relevanceMaps(r);
        const s = model.planStats!.backward!;
        return {
          tensors: [...Object.entries(maps).map(([k, t]) => ({ name: `relevance.${k}`, ...t! })), ...Object.entries(r.inputs).map(([k, t]) => ({ name: `${k}.grad`, ...t }))],
          line: `relevance of ${spec} (value ${r.value.toPrecision(6)}): ${Object.keys(maps).join(', ')}; backward ${s.dispatches} dispatches, ${s.submits} submit`,
          json: { relevance: { target: spec, value: r.value, maps: Object.keys(maps), backward: s } },
        };
      },
    };
  },
};
