// What every attention module shares once its q, k and v are projected: where they are read from (strided rows of
// one or more activations, or a KV cache), the attention step and its backward, head scaling. Modules differ only
// in their projections (torch's in_proj, GPT-2's c_attn, BERT's query / key / value) and their names.
import { ATTENTION, attention, type AttentionShape, MAX_HEAD_DIM, type RowLayout, rowLayout } from '../kernels/attention.ts';
import { attentionFlash } from '../kernels/attention_flash.ts';
import { attentionSteps } from '../kernels/attention_steps.ts';
import {
  ATTENTION_KEY_GRAD,
  ATTENTION_PROBS_GRAD,
  ATTENTION_QUERY_GRAD,
  ATTENTION_VALUE_GRAD,
  attentionKeyGrad,
  attentionProbsGrad,
  attentionQueryGrad,
  attentionValueGrad,
} from '../kernels/attention_backward.ts';
import { SCALE_HEADS, scaleHeads } from '../kernels/scale_heads.ts';
import { SOFTMAX_BACKWARD, softmaxBackward } from '../kernels/softmax_backward.ts';
import { type Act, affine, type Dim, dimAt, type GradContext, type Params, type PlanBuilder, type ProbsChunks } from '../scheduler/plan.ts';

/** A self-attention KV cache: packed q|k|v rows [B, maxT, 3E] (batch-major) in a buffer outliving the plan. */
export interface SelfCache {
  kind: 'self';
  kv: Act;
  maxT: number;
  /** Position of the first new row: fixed (a prefill) or a run-time param (one decode plan for every token). */
  pos: Dim;
}

/** A cross-attention cache: the memory's packed k|v rows [.., 2E] (in the model's layout), S of them per batch. */
export interface CrossCache {
  kind: 'cross';
  kv: Act;
  S: number;
}

/** A grouped-query self-attention cache (Llama, Qwen2): keys (rotated) and values [B, maxT, KVH·D] each, per KV head. */
export interface KvCache {
  kind: 'kv';
  k: Act;
  v: Act;
  maxT: number;
  /** Position of the first new row, as SelfCache's. */
  pos: Dim;
}

export type AttnCache = SelfCache | CrossCache;

/** Shapes and masks of one attention call. The probabilities are produced only when a hook listens. */
export interface AttentionArgs {
  B: number;
  /** Query length. */
  L: number;
  /** Key length. */
  S: number;
  batchFirst: boolean;
  /** Additive f32 mask, [L, S] or [B*H, L, S] (bool masks are converted before upload: true -> -inf). */
  mask?: Act;
  /** Additive f32 [B, S]. */
  keyPaddingMask?: Act;
  /** Block key s > l (+ S - L): the causal mask without a mask buffer. */
  causal?: boolean;
}

/** An operand of attention: an activation and the strided layout of its rows. */
export interface Src {
  act: Act;
  lay: RowLayout;
}

/** Where q, k and v are read from (an activation and its row layout each), and the key length (the keys so far, with a cache). */
export interface Sources {
  q: Src;
  k: Src;
  v: Src;
  S: Dim;
}

/** The heads of one attention module: names its steps and sizes its kernels. */
export interface Heads {
  path: string;
  numHeads: number;
  headDim: number;
  /** Key / value heads when fewer than numHeads (grouped-query attention); K and V rows hold kvHeads·headDim columns. */
  kvHeads?: number;
}

/** `width` columns per row of [L, B, ·] / [B, L, ·] rows, starting at column `off`. */
export function src(a: AttentionArgs, act: Act, width: number, off: number, len: number): Src {
  return { act, lay: rowLayout(a.B, len, width, a.batchFirst, off) };
}

/**
 * Self-attention from a packed q|k|v projection [.., 3E]. With a cache (incremental decoding) the new rows' packed
 * q|k|v are appended at [pos, pos + L) (the cache keeps packed rows, so an append is a plain copy) and keys and
 * values are read from it.
 */
export function packedSources(b: PlanBuilder, qkv: Act, E: number, a: AttentionArgs, cache?: SelfCache): Sources {
  const { B, L, batchFirst: bf } = a;
  if (!cache) return { q: src(a, qkv, 3 * E, 0, L), k: src(a, qkv, 3 * E, E, a.S), v: src(a, qkv, 3 * E, 2 * E, a.S), S: a.S };
  const { kv, maxT, pos } = cache;
  const rows = (bt: number, l: number) => (bf ? bt * L + l : l * B + bt);
  const contiguous = bf || B === 1;
  for (let bt = 0; bt < B; bt++) {
    for (let l = 0; l < (contiguous ? 1 : L); l++) b.copy('kv cache append', qkv, rows(bt, l) * 3 * E, kv, affine(pos, 3 * E, (bt * maxT + l) * 3 * E), (contiguous ? L : 1) * 3 * E);
  }
  const cached = (off: number): Src => ({ act: kv, lay: { off, strideB: maxT * 3 * E, strideL: 3 * E } });
  return { q: src(a, qkv, 3 * E, 0, L), k: cached(E), v: cached(2 * E), S: affine(pos, 1, L) };
}

/**
 * The backward of the attention step: dP = dO·Vᵀ (kept as the module's `weights` gradient), dS through the
 * softmax, then dQ, dK, dV written at the sources' own layouts into gradients shaped like the source activations
 * (a packed q|k|v projection gets one packed gradient, each kernel filling its columns).
 */
function attentionGrad(g: GradContext, h: Heads, s: Sources, o: Act, probs: Act, shape: AttentionShape): void {
  const { b } = g;
  const dO = g.grad(o)!;
  const dP = b.act(probs.shape, `${h.path} grad weights`);
  b.step('grad weights', ATTENTION_PROBS_GRAD, { dO, v: s.v.act, dP }, (r) => attentionProbsGrad(b.ctx, r, shape, `${h.path} grad weights`));
  g.keep('weights', dP);
  const dS = b.act(probs.shape, `${h.path} grad scores`);
  b.step('grad softmax', SOFTMAX_BACKWARD, { probs, dp: dP, dx: dS }, (r) => softmaxBackward(b.ctx, r, { rows: probs.size / shape.S, n: shape.S }, `${h.path} grad softmax`));
  const grads = new Map<Act, Act>();
  const gradOf = (a: Act) => grads.get(a) ?? grads.set(a, b.act(a.shape, `${h.path} grad ${a.label}`)).get(a)!;
  const dq = gradOf(s.q.act);
  const dk = gradOf(s.k.act);
  const dv = gradOf(s.v.act);
  b.step('grad q', ATTENTION_QUERY_GRAD, { dS, k: s.k.act, dq }, (r) => attentionQueryGrad(b.ctx, r, shape, `${h.path} grad q`));
  b.step('grad k', ATTENTION_KEY_GRAD, { dS, q: s.q.act, dk }, (r) => attentionKeyGrad(b.ctx, r, shape, `${h.path} grad k`));
  b.step('grad v', ATTENTION_VALUE_GRAD, { p: probs, dO, dv }, (r) => attentionValueGrad(b.ctx, r, shape, `${h.path} grad v`));
  for (const [a, d] of grads) g.give(a, d);
}

/** Scores per head (L·S) from which CPU adapters use attention_flash when nobody listens. */
const FLASH_MIN_SCORES = 256 * 256;

/**
 * Attention by chunks of query rows when only summaries of the probabilities are wanted (the observer's probsChunks):
 * each chunk's probabilities [B, H, rows, S] are written (the steps kernel, or the fused one writing probabilities) and
 * handed on before the next chunk, so the [B, H, L, S] map never exists; chunks of a multiple of 64 rows keep the mask
 * rows' binding offsets 256-byte aligned. Forward only (no gradient rule: a backward keeps the whole map).
 */
function attendByChunks(b: PlanBuilder, h: Heads, s: Sources, a: AttentionArgs, o: Act, full: AttentionShape, chunks: ProbsChunks): void {
  const { L } = a;
  const S = full.S;
  const steps = b.ctx.kernels.attention === 'steps';
  for (let l0 = 0; l0 < L; l0 += chunks.rows) {
    const rows = Math.min(chunks.rows, L - l0);
    const probs = b.act([a.B, h.numHeads, rows, S], `${h.path} weights rows ${l0}..${l0 + rows - 1}`);
    const shift = (lay: RowLayout): RowLayout => ({ ...lay, off: lay.off + l0 * lay.strideL });
    const shape: AttentionShape = { ...full, L: rows, causalOffset: S - L + l0, q: shift(full.q!), o: shift(full.o!) };
    b.step(`attention (rows ${l0}..${l0 + rows - 1})`, ATTENTION, { q: s.q.act, k: s.k.act, v: s.v.act, o, mask: a.mask, keyPaddingMask: a.keyPaddingMask, probs }, (bufs, _p, ctx) => {
      const m = bufs.mask && { ...bufs.mask, offset: (bufs.mask.offset ?? 0) + l0 * S * 4, size: rows * S * 4 };
      const label = `${h.path} attention rows ${l0}..${l0 + rows - 1}`;
      return steps ? attentionSteps(ctx, { ...bufs, mask: m }, shape, label) : attention(ctx, { ...bufs, mask: m }, shape, label, { writeProbs: true });
    });
    chunks.chunk(probs, l0);
  }
  chunks.finish();
}

/**
 * softmax(q·kᵀ/√d + masks)·v over every head, merged back to [.., H·D] rows in the query's layout (`o`), and the
 * probabilities [B, H, L, S] when someone listens (a hook, a backward), else undefined. Head scaling (ablation) of
 * the merged heads follows when an intervention asks for it.
 */
export function attend(b: PlanBuilder, h: Heads, s: Sources, a: AttentionArgs, cache?: AttnCache | KvCache): { o: Act; probs?: Act } {
  const E = h.numHeads * h.headDim;
  const { B, L, batchFirst } = a;
  const o = b.act(batchFirst ? [B, L, E] : [L, B, E], `${h.path} heads`);
  const listened = b.wantsWeights(h.path) || b.grad;
  // CPU adapters: attention_flash when nobody listens and the map is large (nothing of size [L, S]; bench/long.ts:
  // faster than the steps kernel from 256 x 256 up, 2x slower at 64 x 64, and a decode step's few rows would leave it
  // few invocations), else (or past its head-dim limit) the steps kernel, which writes the probabilities. GPUs: the
  // fused kernel, which without probabilities is memory-efficient too (online softmax over key blocks in workgroup memory).
  const flash = b.ctx.kernels.attention === 'steps' && !listened && h.headDim <= MAX_HEAD_DIM && typeof s.S === 'number' && L * s.S >= FLASH_MIN_SCORES;
  const steps = b.ctx.kernels.attention === 'steps' && !flash;
  const maskBatched = a.mask ? a.mask.shape.length === 3 : false;
  // The key length may follow the plan's params (a decode step attends to the keys so far): the kernel gets it per run.
  const shape = (p: Params): AttentionShape => ({
    B, H: h.numHeads, KVH: h.kvHeads, L, S: dimAt(s.S, p), D: h.headDim, causal: a.causal ?? false, maskBatched, q: s.q.lay, k: s.k.lay, v: s.v.lay, o: rowLayout(B, L, E, batchFirst),
  });
  const chunks = listened && !b.grad && !maskBatched && typeof s.S === 'number' ? b.observer?.probsChunks?.(b, h.path, [B, h.numHeads, L, s.S]) : undefined;
  const probs = !chunks && (listened || steps) ? b.act([B, h.numHeads, L, s.S], `${h.path} weights`) : undefined;
  if (chunks) attendByChunks(b, h, s, a, o, shape({}), chunks);
  else b.step(
    steps ? 'attention (steps)' : flash ? 'attention (flash)' : probs ? 'attention (weights)' : 'attention',
    ATTENTION,
    { q: s.q.act, k: s.k.act, v: s.v.act, o, mask: a.mask, keyPaddingMask: a.keyPaddingMask, probs },
    (bufs, p, ctx) => {
      const label = `${h.path} attention`;
      if (flash) return attentionFlash(ctx, bufs, shape(p), label);
      return steps ? attentionSteps(ctx, bufs, shape(p), label) : attention(ctx, bufs, shape(p), label, { writeProbs: !!probs });
    },
    (g) => {
      if (cache) throw new Error(`${h.path}: no backward through a KV cache (incremental decoding)`);
      if (!probs) throw new Error(`${h.path}: the attention probabilities were not kept for the backward`);
      attentionGrad(g, h, s, o, probs, shape({}));
    },
  );
  const scales = b.observer?.headScales(h.path);
  if (scales) {
    const rows = o.size / E;
    const scale = (r: { x: GPUBufferBinding }) => scaleHeads(b.ctx, { ...r, scale: { buffer: scales } }, { rows, H: h.numHeads, D: h.headDim }, `${h.path} scale heads`);
    // In place: the backward scales a copy of o's gradient and hands it to o as it was before the step.
    b.step('scale heads', SCALE_HEADS, { x: o }, scale, (g) => {
      const d = g.grad(o)!;
      const c = g.b.act(o.shape, `${h.path} grad heads`);
      g.b.copy('copy gradient', d, 0, c, 0, d.size);
      g.b.step('grad scale heads', SCALE_HEADS, { x: c }, scale);
      g.give(o, c);
    });
  }
  return { o: b.observer ? b.observer.heads(b, h.path, o) : o, probs: listened ? probs : undefined };
}
