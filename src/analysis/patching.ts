// Activation patching as batched forwards: every site (a module's output at one position, or one head of an
// attention module at every position) patched from the corrupted run into a copy of the clean run, the copies side
// by side in the batch, so one plan runs many interventions at once (TransformerLens's act_patch, one site per row).
import type { Model } from '../model/model.ts';
import { InputError, type ModelInputs } from '../model/inputs.ts';
import { KEEP } from '../kernels/patch_rows.ts';
import { type Metric, metricValues } from './metric.ts';
import { batchOf, forwardWithCaptures, inChunks, rowOf, tileInputs, variantsPerForward, withRowPatches } from './variants.ts';

export interface PatchingOptions {
  clean: ModelInputs;
  /** Same names and shapes as `clean`, batch 1 both. */
  corrupted: ModelInputs;
  /** Module paths or globs ('transformer.h.*.attn'); each contributes one row of sites. */
  sites: string | readonly string[];
  /** 'position' (default): a site is the module's first output at one position; 'head': one head, all positions. */
  per?: 'position' | 'head';
  metric: Metric;
  /** Most variants one forward carries (64 by default; fewer where the device's limits demand). */
  maxBatch?: number;
}

export interface PatchingResult {
  per: 'position' | 'head';
  /** The grid's rows. */
  modules: string[];
  /** The grid's columns: positions (the longest module output's), or heads. */
  columns: number;
  /** [modules, columns]: the metric with that one site patched; NaN where a module has no such column. */
  values: Float32Array;
  /** The metric on the clean and on the corrupted inputs, unpatched. */
  clean: number;
  corrupted: number;
  /** Forwards the sweep ran (the clean and corrupted ones included). */
  forwards: number;
}

/** The modules the site patterns name, once each, in the model's module order. */
export function sitesOf(model: Model, sites: string | readonly string[], who: string): string[] {
  const list = typeof sites === 'string' ? [sites] : sites;
  if (!Array.isArray(list) || !list.length || list.some((s) => typeof s !== 'string')) throw new InputError(`${who}: sites must be a module path or glob, or a list of them`);
  const hit = new Set(list.flatMap((s) => model.modulesMatching(s)));
  return [...model.namedModules().keys()].filter((p) => hit.has(p));
}

/** A batch-1 capture [1, L, C] / [L, 1, C]: its positions and width. */
function positionsOf(model: Model, shape: readonly number[], what: string): { L: number; C: number } {
  const bAxis = model.batchFirst ? 0 : 1;
  if (shape.length !== 3 || shape[bAxis] !== 1) throw new InputError(`patching: ${what} is [${shape.join(', ')}], not a sequence [batch, positions, features] of the batch-1 inputs`);
  return { L: shape[1 - bAxis], C: shape[2] };
}

function checkPair(model: Model, clean: ModelInputs, corrupted: ModelInputs): void {
  const names = (x: ModelInputs) => Object.keys(x).filter((k) => x[k]).sort().join(', ');
  if (!clean || !corrupted || typeof clean !== 'object' || typeof corrupted !== 'object') throw new InputError('patchingSweep: clean and corrupted must be input objects');
  if (names(clean) !== names(corrupted)) throw new InputError(`patchingSweep: clean has inputs (${names(clean)}), corrupted (${names(corrupted)}); they must match`);
  for (const [k, t] of Object.entries(clean)) {
    const u = corrupted[k]!;
    if (t!.shape.join() !== u.shape.join()) throw new InputError(`patchingSweep: input ${k} is [${t!.shape.join(', ')}] clean, [${u.shape.join(', ')}] corrupted; the shapes must match`);
  }
  for (const x of [clean, corrupted]) if (batchOf(model, x, 'patchingSweep') !== 1) throw new InputError('patchingSweep: clean and corrupted must each be one sequence (batch 1)');
}

/** See PatchingOptions. */
export async function patchingSweep(model: Model, o: PatchingOptions): Promise<PatchingResult> {
  const per = o.per ?? 'position';
  if (per !== 'position' && per !== 'head') throw new InputError(`patchingSweep: per must be 'position' or 'head', not ${String(per)}`);
  checkPair(model, o.clean, o.corrupted);
  const modules = sitesOf(model, o.sites, 'patchingSweep');
  const heads = new Map(model.attentionModules().map((m) => [m.path, m.heads]));
  if (per === 'head') for (const m of modules) if (!heads.has(m)) throw new InputError(`patchingSweep: ${m} is not an attention module, so it has no heads (per: 'head')`);
  const bf = model.batchFirst;

  const corrupted = await forwardWithCaptures(model, o.corrupted, modules, per === 'head' ? 'heads' : undefined);
  const clean = await model.forward(o.clean);
  const [cleanValue] = metricValues(o.metric, clean.output, clean.shape, bf);
  const [corruptedValue] = metricValues(o.metric, corrupted.output, corrupted.shape, bf);

  // Module i: L positions of width C; per head, H segments of C / H per position.
  const geo = modules.map((m, i) => {
    const { L, C } = positionsOf(model, corrupted.records[i].output![0].shape, `${m}'s ${per === 'head' ? 'merged heads' : 'output'}`);
    const H = per === 'head' ? heads.get(m)! : 1;
    return { L, H, segment: C / H, values: corrupted.records[i].output![0].data, columns: per === 'head' ? H : L };
  });
  const columns = Math.max(...geo.map((g) => g.columns));
  const sites = geo.flatMap((g, i) => Array.from({ length: g.columns }, (_, j) => [i, j] as const));
  const K = variantsPerForward(model, sites.length, clean.output.length * 4, o.maxBatch);
  const values = new Float32Array(modules.length * columns).fill(NaN);
  const tiled = tileInputs(o.clean, K, bf);
  let forwards = 2;
  const patches = geo.map((g, i) => ({ module: modules[i], at: per === 'head' ? ('heads' as const) : ('output' as const), segment: g.segment, segments: K * g.L * g.H, values: g.values }));
  await withRowPatches(model, patches, (write) =>
    inChunks(sites.length, K, async (first, n) => {
      const index = geo.map((g) => new Uint32Array(K * g.L * g.H).fill(KEEP));
      for (let k = 0; k < n; k++) {
        const [i, j] = sites[first + k];
        const g = geo[i];
        // Per position: row (k, j) takes the corrupted row j. Per head: head j of every row (k, l) takes corrupted (l, j).
        if (per === 'position') index[i][rowOf(bf, K, g.L, k, j)] = j;
        else for (let l = 0; l < g.L; l++) index[i][rowOf(bf, K, g.L, k, l) * g.H + j] = l * g.H + j;
      }
      index.forEach((x, i) => write(i, x));
      const { output, shape } = await model.forward(tiled);
      forwards++;
      const m = metricValues(o.metric, output, shape, bf);
      for (let k = 0; k < n; k++) values[sites[first + k][0] * columns + sites[first + k][1]] = m[k];
    }),
  );
  return { per, modules, columns, values, clean: cleanValue, corrupted: corruptedValue, forwards };
}
