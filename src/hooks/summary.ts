// Summaries of attention probabilities computed on the GPU while a forward runs (a forward hook's `summary` option):
// what a view of a long sequence needs — top-k keys, entropies, a downsampled grid, chosen rows or columns, the head
// mean, rollout — copied back instead of the [B, H, L, S] maps.
import { attnDownsample, ATTN_DOWNSAMPLE, checkDownsample } from '../kernels/attn_downsample.ts';
import { ATTN_ENTROPY, attnEntropy } from '../kernels/attn_entropy.ts';
import { ATTN_ROWS, attnRows, attnRowsShape, type RowsOrColumns } from '../kernels/attn_rows.ts';
import { ATTN_SELECT, type AttnDims, attnSelect } from '../kernels/attn_select.ts';
import { ATTN_TOPK, attnTopk, checkTopk } from '../kernels/attn_topk.ts';
import { io } from '../kernels/kernel.ts';
import { matmul } from '../kernels/matmul.ts';
import { ROLLOUT_HAT, rolloutHat } from '../kernels/rollout_hat.ts';
import { type Act, type Dim, dimAt, dimMax, dimsOf, type Params, type PlanBuilder } from '../scheduler/plan.ts';

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
 * - `rollout` → `rollout` [B, L, L]: attention rollout up to this module, over every module of the forward whose
 *   hook asks for rollout, in forward order (square self-attention only).
 */
export interface SummaryOptions {
  topk?: number;
  entropy?: boolean;
  downsample?: number;
  rows?: readonly number[];
  columns?: readonly number[];
  headMean?: boolean;
  rollout?: boolean;
}

const KEYS = ['topk', 'entropy', 'downsample', 'rows', 'columns', 'headMean', 'rollout'] as const;

/** The options a hook is registered with: known keys, values of the right kind; positions are checked per forward. */
export function checkSummary(who: string, s: SummaryOptions): void {
  if (typeof s !== 'object' || s === null) throw new Error(`${who}: summary must be an object such as { topk: 8, entropy: true }`);
  const unknown = Object.keys(s).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new Error(`${who}: unknown summary ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${KEYS.join(', ')})`);
  for (const k of ['topk', 'downsample'] as const) {
    const v = s[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`${who}: summary ${k} ${v} is not a whole number >= 1`);
  }
  for (const k of ['rows', 'columns'] as const) {
    const v = s[k];
    if (v !== undefined && (!Array.isArray(v) || !v.length || v.some((i) => !Number.isInteger(i) || i < 0))) throw new Error(`${who}: summary ${k} must be a non-empty list of token positions`);
  }
  for (const k of ['entropy', 'headMean', 'rollout'] as const) {
    if (s[k] !== undefined && typeof s[k] !== 'boolean') throw new Error(`${who}: summary ${k} must be true or false`);
  }
  if (!KEYS.some((k) => s[k] !== undefined && s[k] !== false)) throw new Error(`${who}: the summary asks for nothing`);
}

/** The running rollout of one forward: the product so far and the shape it holds. */
export interface RolloutChain {
  prev?: Act;
}

/**
 * Records the summary steps on `probs` [B, H, L, S] (S may follow the plan's params) and returns the activations to
 * copy back, by summary name.
 */
export function recordSummary(b: PlanBuilder, who: string, path: string, probs: Act, s: SummaryOptions, chain: RolloutChain): Map<string, Act> {
  const [B, H, L, S] = dimsOf(probs) as [Dim, Dim, Dim, Dim];
  const dims = (p: Params): AttnDims => ({ B: dimAt(B, p), H: dimAt(H, p), L: dimAt(L, p), S: dimAt(S, p) });
  const d = dims({});
  const max: AttnDims = { ...d, S: dimMax(S) };
  const out = new Map<string, Act>();
  const act = (name: string, shape: readonly Dim[]) => {
    const a = b.act(shape, `${path} ${name}`);
    out.set(name, a);
    return a;
  };
  const label = (what: string) => `${path} ${what} (${who})`;
  if (s.topk !== undefined) {
    checkTopk(who, max, s.topk);
    const shape = [B, H, L, s.topk];
    const [values, indices] = [act('topk.values', shape), act('topk.indices', shape)];
    b.step('summary top-k', ATTN_TOPK, { probs, values, indices }, (r, p, ctx) => attnTopk(ctx, r, dims(p), s.topk!, label('top-k')));
  }
  if (s.entropy) {
    const e = act('entropy', [B, H, L]);
    b.step('summary entropy', ATTN_ENTROPY, { probs, out: e }, (r, p, ctx) => attnEntropy(ctx, r, dims(p), label('entropy')));
  }
  if (s.downsample !== undefined) {
    const N = s.downsample;
    checkDownsample(who, max, N);
    const [blockMax, blockMean] = [act('downsample.max', [B, H, N, N]), act('downsample.mean', [B, H, N, N])];
    b.step('summary downsample', ATTN_DOWNSAMPLE, { probs, blockMax, blockMean }, (r, p, ctx) => attnDownsample(ctx, r, dims(p), N, label('downsample')));
  }
  for (const which of ['rows', 'columns'] as RowsOrColumns[]) {
    const index = s[which];
    if (!index) continue;
    attnRowsShape(who, which === 'rows' ? d : max, which, index);
    const o = act(which, which === 'rows' ? [B, H, index.length, S] : [B, H, L, index.length]);
    b.step(`summary ${which}`, ATTN_ROWS, { probs, out: o }, (r, p, ctx) => attnRows(ctx, r, dims(p), which, index, label(which)));
  }
  if (s.headMean) {
    const o = act('headMean', [B, L, S]);
    b.step('summary head mean', ATTN_SELECT, { probs, out: o }, (r, p, ctx) => attnSelect(ctx, r, dims(p), { average: true }, label('head mean')));
  }
  if (s.rollout) recordRollout(b, who, path, probs, chain, act);
  return out;
}

const ROLLOUT_STEP = io('rollout_step', { a: 'read', b: 'read', c: 'write' });

function recordRollout(b: PlanBuilder, who: string, path: string, probs: Act, chain: RolloutChain, act: (name: string, shape: readonly Dim[]) => Act): void {
  const [B, H, L, S] = probs.shape;
  if (probs.dims || L !== S) throw new Error(`${who}: rollout needs square self-attention with a fixed length; ${path}'s weights are [${dimsOf(probs).map((x) => dimMax(x)).join(', ')}]`);
  const prev = chain.prev;
  if (prev && (prev.shape[0] !== B || prev.shape[1] !== L)) throw new Error(`${who}: rollout over modules of different shapes (${path} is [${B}, ${L}, ${L}], the rollout so far [${prev.shape.join(', ')}])`);
  const hat = prev ? b.act([B, L, L], `${path} rollout factor`) : act('rollout', [B, L, L]);
  b.step('rollout factor', ROLLOUT_HAT, { probs, out: hat }, (r, _p, ctx) => rolloutHat(ctx, r, { B, H, L }, `${path} rollout factor`));
  if (!prev) {
    chain.prev = hat;
    return;
  }
  const r = act('rollout', [B, L, L]);
  b.step('rollout product', ROLLOUT_STEP, { a: hat, b: prev, c: r }, (bufs, _p, ctx) => matmul(ctx, bufs, { M: L, N: L, K: L, batch: B }, `${path} rollout`));
  chain.prev = r;
}
