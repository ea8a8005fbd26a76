// Head importance: the metric's change when one head is ablated (its output before the output projection zeroed,
// or set to its mean), every (layer, head) a variant of one batched forward, the inputs' rows repeated per variant.
import type { Model } from '../model/model.ts';
import { InputError, type ModelInputs } from '../model/inputs.ts';
import { KEEP } from '../kernels/patch_rows.ts';
import { type Metric, metricValues } from './metric.ts';
import { sitesOf } from './patching.ts';
import { batchOf, forwardWithCaptures, inChunks, rowOf, tileInputs, variantsPerForward, withRowPatches } from './variants.ts';

export interface HeadImportanceOptions {
  /** 'zero' (default): the head's output is zeroed; 'mean': replaced by its mean over the inputs' rows and positions. */
  ablation?: 'zero' | 'mean';
  /** Attention modules by path or glob; all of them by default. */
  modules?: string | readonly string[];
  /** Most variants one forward carries (64 by default; fewer where the device's limits demand). */
  maxBatch?: number;
}

export interface HeadImportance {
  /** The grid's rows: attention modules in forward order. */
  modules: string[];
  /** The grid's columns (the most heads of any module). */
  heads: number;
  /** [modules, heads]: metric(head ablated) - metric(base), the metric averaged over the inputs' rows; NaN past a module's heads. */
  importance: Float32Array;
  /** The metric without ablation, averaged over the rows. */
  base: number;
  forwards: number;
}

const mean = (x: ArrayLike<number>, from: number, n: number) => {
  let s = 0;
  for (let i = from; i < from + n; i++) s += x[i];
  return s / n;
};

/** See HeadImportanceOptions. */
export async function headImportance(model: Model, inputs: ModelInputs, metric: Metric, o: HeadImportanceOptions = {}): Promise<HeadImportance> {
  const ablation = o.ablation ?? 'zero';
  if (ablation !== 'zero' && ablation !== 'mean') throw new InputError(`headImportance: ablation must be 'zero' or 'mean', not ${String(ablation)}`);
  const attention = new Map(model.attentionModules().map((m) => [m.path, m.heads]));
  const modules = o.modules === undefined ? [...attention.keys()] : sitesOf(model, o.modules, 'headImportance');
  for (const m of modules) if (!attention.has(m)) throw new InputError(`headImportance: ${m} is not an attention module`);
  const N = batchOf(model, inputs, 'headImportance');
  const bf = model.batchFirst;

  const base = await forwardWithCaptures(model, inputs, modules, 'heads');
  const baseValue = mean(metricValues(metric, base.output, base.shape, bf), 0, N);
  const geo = modules.map((m, i) => {
    const H = attention.get(m)!;
    const { shape, data } = base.records[i].output![0];
    const E = shape[2];
    const rows = data.length / E;
    const D = E / H;
    // Mean ablation: each head's output averaged over every row (batch and position); zero: one row of zeros.
    const values = new Float32Array(ablation === 'mean' ? E : D);
    if (ablation === 'mean') for (let r = 0; r < rows; r++) for (let c = 0; c < E; c++) values[c] += data[r * E + c] / rows;
    return { H, D, L: rows / N, values };
  });
  const heads = Math.max(...geo.map((g) => g.H));
  const sites = geo.flatMap((g, i) => Array.from({ length: g.H }, (_, h) => [i, h] as const));
  const K = variantsPerForward(model, sites.length, (base.output.length / N) * 4 * N, o.maxBatch);
  const importance = new Float32Array(modules.length * heads).fill(NaN);
  const tiled = tileInputs(inputs, K, bf);
  let forwards = 1;
  const patches = geo.map((g, i) => ({ module: modules[i], at: 'heads' as const, segment: g.D, segments: K * N * g.L * g.H, values: g.values }));
  await withRowPatches(model, patches, (write) =>
    inChunks(sites.length, K, async (first, n) => {
      const index = geo.map((g) => new Uint32Array(K * N * g.L * g.H).fill(KEEP));
      for (let k = 0; k < n; k++) {
        const [i, h] = sites[first + k];
        const g = geo[i];
        for (let r = 0; r < N; r++) for (let l = 0; l < g.L; l++) index[i][rowOf(bf, K * N, g.L, k * N + r, l) * g.H + h] = ablation === 'mean' ? h : 0;
      }
      index.forEach((x, i) => write(i, x));
      const { output, shape } = await model.forward(tiled);
      forwards++;
      const m = metricValues(metric, output, shape, bf);
      for (let k = 0; k < n; k++) importance[sites[first + k][0] * heads + sites[first + k][1]] = mean(m, k * N, N) - baseValue;
    }),
  );
  return { modules, heads, importance, base: baseValue, forwards };
}
