// Attention over long sequences without reading the maps back: one forward with a summary hook on every attention
// module (the library computes each head's downsampled grid and the chosen query's rows on the GPU), then, on
// demand, exact windows of query rows (a rows summary of the rows in view, re-run). Each tile lands in a GPU buffer
// the views draw from. These forwards read back nothing else (hooks with keepIO: false, forward with output: false),
// so what comes back per interaction is the summaries alone, within READBACK_BYTES. Only summaries are asked for, so
// a map past 64 MiB is computed by chunks of query rows and never whole (8,192 tokens: 1 GiB a layer otherwise).
import type { AttentionModuleInfo, Model, ModelInputs, SummaryOptions } from '../../src/index.ts';
import { removeCaptureHooks } from '../analysis.ts';
import type { HeadChoice } from '../attention.ts';
import type { WindowSource } from './lod.ts';
import { type Tile, uploadValues } from './map-renderer.ts';

/** Attention data read back per interaction, at most (a window's rows are sized by it). */
export const READBACK_BYTES = 1_000_000;
/**
 * Cells a side of each head's downsampled grid. The overview forward reads back per layer 2·H·N² floats (block max and
 * mean) and H·L (the query's rows): for 4 layers of 4 heads at 8,192 tokens 4 x (100,352 + 131,072) = 925,696 bytes,
 * within READBACK_BYTES (64 cells would make it 1,048,576).
 */
export const OVERVIEW_CELLS = 56;

/**
 * The most bytes of whole maps one run reads back (its head view, rollout and relevance need every map at once):
 * GPT-2 small's 12 x 12 heads up to 170 tokens, 4 layers of 4 heads up to 512. Past it the maps stay on the GPU.
 */
export const FULL_MAPS_BYTES = 16 * 2 ** 20;

/** Whether the full maps of these modules at length L exceed FULL_MAPS_BYTES: then they stay on the GPU. */
export function isLong(modules: readonly AttentionModuleInfo[], L: number): boolean {
  return modules.reduce((n, m) => n + m.heads * L * L * 4, 0) > FULL_MAPS_BYTES;
}

const hookName = (path: string) => `long:${path}`;

/** One forward with a summary hook on each module path, reading back the summaries alone; removes the hooks again. */
async function withSummaries(model: Model, inputs: ModelInputs, paths: readonly string[], summary: SummaryOptions) {
  const handles = paths.map((p) => model.setForwardHook(hookName(p), p, undefined, { summary, keepIO: false }));
  try {
    await model.forward(inputs, { output: false });
    return paths.map((p) => model.hooks[hookName(p)]);
  } finally {
    for (const h of handles) h.remove();
  }
}

function maxOf(a: Float32Array): number {
  let m = 0;
  for (const v of a) if (v > m) m = v;
  return m;
}

/** One self-attention module's overview on the GPU: each head's block-max grid, and the head mean's block means. */
export interface LongLayer {
  info: AttentionModuleInfo;
  /** Per head, then 'mean'. */
  overview: Map<HeadChoice, Tile>;
}

export class LongMaps {
  readonly layers: LongLayer[] = [];
  /** The query whose rows `rows` holds, and per layer its rows [H, S]. */
  query = -1;
  rows: Float32Array[] = [];
  /** Forwards of this object run one after another (each registers and removes its own hooks). */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly model: Model,
    private readonly device: GPUDevice,
    readonly inputs: ModelInputs,
    readonly L: number,
  ) {}

  /** Runs the overview forward: every module's downsampled grids and the rows of `query`. */
  static async open(model: Model, device: GPUDevice, inputs: ModelInputs, L: number, modules: readonly AttentionModuleInfo[], query: number): Promise<LongMaps> {
    const lm = new LongMaps(model, device, inputs, L);
    const sorted = [...modules].sort((a, b) => a.layer - b.layer);
    const recs = await withSummaries(model, inputs, sorted.map((m) => m.path), { downsample: OVERVIEW_CELLS, rows: [query] });
    sorted.forEach((info, l) => {
      const s = recs[l]?.summary;
      const max = s?.['downsample.max'];
      const mean = s?.['downsample.mean'];
      const rows = s?.rows;
      if (!max || !mean || !rows) throw new Error(`${info.path}: the forward returned no downsample / rows summary`);
      const [, H, N] = max.shape;
      const overview = new Map<HeadChoice, Tile>();
      const grid = (data: Float32Array, label: string): Tile => ({ values: uploadValues(device, data, label), offset: 0, stride: N, rows: N, cols: N, r0: 0, r1: L, c0: 0, c1: L, max: Math.max(1e-6, maxOf(data)) });
      for (let h = 0; h < H; h++) overview.set(h, grid(max.data.slice(h * N * N, (h + 1) * N * N), `${info.path} head ${h} block max`));
      // block means are linear: the mean over heads of each head's block means is the block mean of the head mean
      const hm = new Float32Array(N * N);
      for (let h = 0; h < H; h++) for (let i = 0; i < N * N; i++) hm[i] += mean.data[h * N * N + i] / H;
      overview.set('mean', grid(hm, `${info.path} head mean block mean`));
      lm.layers.push({ info, overview });
      lm.rows.push(rows.data);
    });
    lm.query = query;
    return lm;
  }

  /** Rows of `query` in every layer ([H, S] each), by a forward with a rows summary. */
  async setQuery(query: number): Promise<void> {
    if (!Number.isInteger(query) || query < 0 || query >= this.L) throw new Error(`query ${query} is outside the ${this.L} positions`);
    const recs = await this.serial(() => withSummaries(this.model, this.inputs, this.layers.map((l) => l.info.path), { rows: [query] }));
    this.rows = recs.map((r, l) => {
      const rows = r?.summary?.rows;
      if (!rows) throw new Error(`${this.layers[l].info.path}: the forward returned no rows summary`);
      return rows.data;
    });
    this.query = query;
  }

  /** The chosen query's row of one layer's head (or head mean), over the S keys. */
  row(layer: number, choice: HeadChoice): Float32Array {
    const r = this.rows[layer];
    const H = this.layers[layer].info.heads;
    const S = r.length / H;
    if (typeof choice === 'number') return r.subarray(choice * S, (choice + 1) * S);
    const out = new Float32Array(S);
    for (let h = 0; h < H; h++) for (let j = 0; j < S; j++) out[j] += r[h * S + j] / H;
    return out;
  }

  /**
   * Exact windows of one layer's head (or head mean): query rows [from, to), all keys, by a rows summary of every head
   * (the summaries need no [L, S] map, so a long map is computed by chunks), at most READBACK_BYTES.
   */
  window(layer: number, choice: HeadChoice): WindowSource {
    const info = this.layers[layer].info;
    const [S, H] = [this.L, info.heads];
    return {
      rows: Math.max(1, Math.floor(READBACK_BYTES / (H * S * 4))),
      fetch: async (from, to) => {
        const index = Array.from({ length: to - from }, (_, i) => from + i);
        const [rec] = await this.serial(() => withSummaries(this.model, this.inputs, [info.path], { rows: index }));
        const w = rec?.summary?.rows;
        if (!w) throw new Error(`${info.path}: no attention rows came back for queries ${from}–${to}`);
        const n = to - from;
        // [1, H, n, S]: the chosen head's rows, or their mean over heads
        let data: Float32Array;
        if (typeof choice === 'number') data = w.data.subarray(choice * n * S, (choice + 1) * n * S);
        else {
          data = new Float32Array(n * S);
          for (let h = 0; h < H; h++) for (let i = 0; i < n * S; i++) data[i] += w.data[h * n * S + i] / H;
        }
        const max = this.layers[layer].overview.get(choice)!.max;
        return { values: uploadValues(this.device, data, `${info.path} ${choice} rows ${from}-${to}`), offset: 0, stride: S, rows: n, cols: S, r0: from, r1: to, c0: 0, c1: S, max };
      },
    };
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  dispose(): void {
    for (const l of this.layers) for (const t of l.overview.values()) t.values.buffer.destroy();
  }
}

/** A long text's analysis: its tokens, and the maps kept on the GPU. */
export interface LongAnalysis {
  text: string;
  labels: string[];
  maps: LongMaps;
  forwardMs: number;
}

/**
 * The overview of a text too long for whole maps (isLong), or undefined when the maps fit: the last token's rows
 * are the text view's first query. No generation and no relevance: those need every map at once.
 */
export async function analyseLong(model: Model, device: GPUDevice, text: string, ids: readonly number[], inputs: ModelInputs, label: (id: number) => string): Promise<LongAnalysis | undefined> {
  const modules = model.attentionModules();
  if (!isLong(modules, ids.length) || modules.some((m) => m.role === 'cross')) return undefined;
  removeCaptureHooks(model); // an earlier analysis's full captures would come back with every forward here
  const t0 = performance.now();
  const maps = await LongMaps.open(model, device, inputs, ids.length, modules, ids.length - 1);
  return { text, labels: ids.map(label), maps, forwardMs: performance.now() - t0 };
}
