// The scalar a sweep measures per batch row, read from a forward's output (PyTorch's layout, [B, L, V] batch first
// or [L, B, V]): the difference of two logits, one logit, or one token's probability, at one position.
import { InputError } from '../model/inputs.ts';

/** `position` counts from the end when negative; the last position by default. */
export type Metric =
  | { logitDiff: readonly [number, number]; position?: number }
  | { logit: number; position?: number }
  | { prob: number; position?: number };

/** The metric's token indices and position, checked against an output of `shape`. */
function parse(metric: Metric, shape: readonly number[]): { tokens: number[]; kind: 'logitDiff' | 'logit' | 'prob'; at: number } {
  if (shape.length !== 3) throw new InputError(`metric: the output [${shape.join(', ')}] is not [batch, positions, values] (or [positions, batch, values])`);
  if (metric === null || typeof metric !== 'object') throw new InputError('metric must be {logitDiff: [a, b]}, {logit: t} or {prob: t}');
  const kind = 'logitDiff' in metric ? 'logitDiff' : 'logit' in metric ? 'logit' : 'prob' in metric ? 'prob' : undefined;
  if (!kind) throw new InputError('metric must be {logitDiff: [a, b]}, {logit: t} or {prob: t}');
  const raw = (metric as Record<string, unknown>)[kind];
  const tokens = kind === 'logitDiff' ? (Array.isArray(raw) && raw.length === 2 ? [...raw] : undefined) : [raw];
  const V = shape[2];
  if (!tokens || tokens.some((t) => !Number.isInteger(t) || t < 0 || t >= V)) throw new InputError(`metric ${kind}: ${JSON.stringify(raw)} must be ${kind === 'logitDiff' ? 'two indices' : 'an index'} in [0, ${V})`);
  return { tokens: tokens as number[], kind, at: metric.position ?? -1 };
}

/** The metric of every batch row of a forward's output of `shape`. */
export function metricValues(metric: Metric, output: Float32Array, shape: readonly number[], batchFirst: boolean): Float64Array {
  const { tokens, kind, at } = parse(metric, shape);
  const [B, L, V] = batchFirst ? shape : [shape[1], shape[0], shape[2]];
  const pos = at < 0 ? at + L : at;
  if (!Number.isInteger(pos) || pos < 0 || pos >= L) throw new InputError(`metric: position ${at} is outside the output's ${L} positions`);
  return Float64Array.from({ length: B }, (_, b) => {
    const off = (batchFirst ? b * L + pos : pos * B + b) * V;
    const row = output.subarray(off, off + V);
    if (kind === 'logitDiff') return row[tokens[0]] - row[tokens[1]];
    if (kind === 'logit') return row[tokens[0]];
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    return Math.exp(row[tokens[0]] - max) / sum;
  });
}
