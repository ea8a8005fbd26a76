// Summaries of attention probabilities computed on the GPU while a forward runs (a forward hook's `summary` option):
// what a view of a long sequence needs — top-k keys, entropies, a downsampled grid, chosen rows or columns, the head
// mean, rollout — copied back instead of the [B, H, L, S] maps.
import { attnDownsample, ATTN_DOWNSAMPLE, checkDownsample } from '../kernels/attn_downsample.ts';
import { ATTN_ENTROPY, attnEntropy } from '../kernels/attn_entropy.ts';
import { ATTN_HEAD_MEAN, attnHeadMean } from '../kernels/attn_head_mean.ts';
import { ATTN_ROWS, attnRows, attnRowsShape, type RowsOrColumns } from '../kernels/attn_rows.ts';
import type { AttnDims } from '../kernels/attn_select.ts';
import { ATTN_TOPK, attnTopk, checkTopk } from '../kernels/attn_topk.ts';
import { io } from '../kernels/kernel.ts';
import { matmul } from '../kernels/matmul.ts';
import { type Act, type Dim, dimAt, dimMax, type Params, type PlanBuilder } from '../scheduler/plan.ts';

/**
 * What to compute from an attention module's probabilities P [B, H, L, S] (a forward hook's `summary`). Each entry
 * comes back in the record's `summary` under its name:
 * - `topk: K` → `topk.values` [B, H, L, K] (descending; ties: lower key first) and `topk.indices` [B, H, L, K]
 *   (key positions, as f32);
 * - `entropy` → `entropy` [B, H, L], nats;
 * - `downsample: N` → `downsample.max` and `downsample.mean` [B, H, N, N] (block edges: attn_downsample.ts blockEdges);
 * - `rows: [..]` → `rows` [B, H, n, S], attention from those query positions;
 * - `columns: [..]` → `columns` [B, H, L, n], attention to those key positions;
 * - `headMean` → `headMean` [B, L, S];
 * - `rollout` → `rollout` [B, L, L]: attention rollout up to this module over the modules before it in the same chain,
 *   in forward order (square self-attention only). The chain is the string given, or with `true` the hook's name
 *   (a pattern's hooks, `name[path]`, form one chain: `name`).
 */
export interface SummaryOptions {
  topk?: number;
  entropy?: boolean;
  downsample?: number;
  rows?: readonly number[];
  columns?: readonly number[];
  headMean?: boolean;
  rollout?: boolean | string;
  /**
   * Query rows per chunk when the module's attention is computed by chunks (every forward hook on it asks only for
   * summaries and its map passes 64 MiB): rounded down to a multiple of 64, at least 64. Default: what fits 64 MiB.
   */
  chunkRows?: number;
}

const KEYS = ['topk', 'entropy', 'downsample', 'rows', 'columns', 'headMean', 'rollout', 'chunkRows'] as const;

/** The options a hook is registered with: known keys, values of the right kind; positions are checked per forward. */
export function checkSummary(who: string, s: SummaryOptions): void {
  if (typeof s !== 'object' || s === null) throw new Error(`${who}: summary must be an object such as { topk: 8, entropy: true }`);
  const unknown = Object.keys(s).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new Error(`${who}: unknown summary ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${KEYS.join(', ')})`);
  for (const k of ['topk', 'downsample', 'chunkRows'] as const) {
    const v = s[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`${who}: summary ${k} ${v} is not a whole number >= 1`);
  }
  for (const k of ['rows', 'columns'] as const) {
    const v = s[k];
    if (v !== undefined && (!Array.isArray(v) || !v.length || v.some((i) => !Number.isInteger(i) || i < 0))) throw new Error(`${who}: summary ${k} must be a non-empty list of token positions`);
  }
  for (const k of ['entropy', 'headMean'] as const) {
    if (s[k] !== undefined && typeof s[k] !== 'boolean') throw new Error(`${who}: summary ${k} must be true or false`);
  }
  if (s.rollout !== undefined && typeof s.rollout !== 'boolean' && (typeof s.rollout !== 'string' || !s.rollout)) throw new Error(`${who}: summary rollout must be true, false or the name of a rollout chain`);
  if (!KEYS.some((k) => k !== 'chunkRows' && s[k] !== undefined && s[k] !== false)) throw new Error(`${who}: the summary asks for nothing`);
}

/** The running rollout of one forward: the product so far. */
export interface RolloutChain {
  prev?: Act;
}

const ROLLOUT_STEP = io('rollout_step', { a: 'read', b: 'read', c: 'write' });

/**
 * The summaries one hook asks of one attention module's probabilities P [B, H, L, S] (S may follow the plan's params:
 * a decode step), recorded as kernel steps: `chunk` for the whole map, or for consecutive windows of query rows in
 * order (the module's attention computed by chunks, so the [B, H, L, S] map never exists), then `finish`.
 * `outputs` are the activations to copy back, by summary name.
 */
export class SummaryRecorder {
  readonly outputs = new Map<string, Act>();
  /** Rollout: this module's factor Â [B, L, L], filled chunk by chunk. */
  private readonly hat?: Act;

  constructor(
    private readonly b: PlanBuilder,
    private readonly who: string,
    private readonly path: string,
    private readonly dims: readonly [Dim, Dim, number, Dim],
    private readonly s: SummaryOptions,
    private readonly chain: RolloutChain,
  ) {
    const [B, H, L, S] = dims;
    const max: AttnDims = { B: dimMax(B), H: dimMax(H), L, S: dimMax(S) };
    const act = (name: string, shape: readonly Dim[]) => {
      const a = b.act(shape, `${path} ${name}`);
      this.outputs.set(name, a);
      return a;
    };
    if (s.topk !== undefined) {
      checkTopk(who, max, s.topk);
      act('topk.values', [B, H, L, s.topk]);
      act('topk.indices', [B, H, L, s.topk]);
    }
    if (s.entropy) act('entropy', [B, H, L]);
    if (s.downsample !== undefined) {
      checkDownsample(who, max, s.downsample);
      act('downsample.max', [B, H, s.downsample, s.downsample]);
      act('downsample.mean', [B, H, s.downsample, s.downsample]);
    }
    for (const which of ['rows', 'columns'] as RowsOrColumns[]) {
      const index = s[which];
      if (!index) continue;
      attnRowsShape(who, max, which, index);
      act(which, which === 'rows' ? [B, H, index.length, S] : [B, H, L, index.length]);
    }
    if (s.headMean) act('headMean', [B, L, S]);
    if (s.rollout) {
      if (typeof B !== 'number' || typeof S !== 'number' || L !== S) throw new Error(`${who}: rollout needs square self-attention with a fixed length; ${path}'s weights are [${dims.map(dimMax).join(', ')}]`);
      const prev = chain.prev;
      if (prev && (prev.shape[0] !== B || prev.shape[1] !== L)) throw new Error(`${who}: rollout over modules of different shapes (${path} is [${B}, ${L}, ${L}], the rollout so far [${prev.shape.join(', ')}])`);
      this.hat = prev ? b.act([B, L, L], `${path} rollout factor`) : act('rollout', [B, L, L]);
    }
  }

  /** Records the summary steps on `probs` [B, H, rows, S]: query rows [l0, l0 + rows) of the map. */
  chunk(probs: Act, l0: number): void {
    const { b, s, path, who } = this;
    const [B, H, LT, S] = this.dims;
    const rows = probs.shape[2];
    const d = (p: Params): AttnDims => ({ B: dimAt(B, p), H: dimAt(H, p), L: rows, S: dimAt(S, p) });
    const w = { l0, LT };
    const out = (name: string) => this.outputs.get(name)!;
    const label = (what: string) => `${path} ${what} (${who})`;
    const at = rows === LT ? '' : ` rows ${l0}..${l0 + rows - 1}`;
    if (s.topk !== undefined) {
      b.step(`summary top-k${at}`, ATTN_TOPK, { probs, values: out('topk.values'), indices: out('topk.indices') }, (r, p, ctx) => attnTopk(ctx, r, d(p), s.topk!, w, label('top-k')));
    }
    if (s.entropy) b.step(`summary entropy${at}`, ATTN_ENTROPY, { probs, out: out('entropy') }, (r, p, ctx) => attnEntropy(ctx, r, d(p), w, label('entropy')));
    if (s.downsample !== undefined) {
      const bufs = { probs, blockMax: out('downsample.max'), blockMean: out('downsample.mean') };
      b.step(`summary downsample${at}`, ATTN_DOWNSAMPLE, bufs, (r, p, ctx) => attnDownsample(ctx, r, d(p), s.downsample!, w, label('downsample')));
    }
    for (const which of ['rows', 'columns'] as RowsOrColumns[]) {
      const index = s[which];
      if (index) b.step(`summary ${which}${at}`, ATTN_ROWS, { probs, out: out(which) }, (r, p, ctx) => attnRows(ctx, r, d(p), which, index, w, label(which)));
    }
    if (s.headMean) b.step(`summary head mean${at}`, ATTN_HEAD_MEAN, { probs, out: out('headMean') }, (r, p, ctx) => attnHeadMean(ctx, r, d(p), false, w, label('head mean')));
    if (this.hat) b.step(`rollout factor${at}`, ATTN_HEAD_MEAN, { probs, out: this.hat }, (r, p, ctx) => attnHeadMean(ctx, r, d(p), true, w, label('rollout factor')));
  }

  /** After the last chunk: the rollout up to this module, Â · (the rollout so far). */
  finish(): void {
    const { hat, chain, b, path } = this;
    if (!hat) return;
    const prev = chain.prev;
    chain.prev = hat;
    if (!prev) return;
    const [B, L] = hat.shape;
    const r = b.act([B, L, L], `${path} rollout`);
    this.outputs.set('rollout', r);
    b.step('rollout product', ROLLOUT_STEP, { a: hat, b: prev, c: r }, (bufs, _p, ctx) => matmul(ctx, bufs, { M: L, N: L, K: L, batch: B }, `${path} rollout`));
    chain.prev = r;
  }
}
