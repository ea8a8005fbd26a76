import type { GpuContext } from '../gpu/context.ts';
import source from '../../shaders/attention.wgsl?raw';
import { type Dispatch, grid1d } from './dispatch.ts';
import { dispatchKernel, kernel } from './kernel.ts';

/** The contract of attention(), and of attentionSteps (attention_steps.ts), which always writes probs. */
export const ATTENTION = kernel({
  name: 'attention',
  source,
  bindings: { q: 'read', k: 'read', v: 'read', o: 'write', mask: 'read', keyPaddingMask: 'read', probs: 'write if PROBS', p: 'uniform' },
  uniforms: {
    B: 'u32', H: 'u32', L: 'u32', S: 'u32',
    D: 'u32', G: 'u32', scale: 'f32', causal: 'u32', causalOffset: 'i32',
    qOff: 'u32', qStrideB: 'u32', qStrideL: 'u32',
    kOff: 'u32', kStrideB: 'u32', kStrideL: 'u32',
    vOff: 'u32', vStrideB: 'u32', vStrideL: 'u32',
    oOff: 'u32', oStrideB: 'u32', oStrideL: 'u32',
    maskStrideBH: 'u32', hasMask: 'u32', hasKpm: 'u32',
  },
  defines: ['PROBS'],
});

/**
 * Where the rows of one operand live, in elements: element (b, h, i, d) is at
 * off + b*strideB + i*strideL + h*D + d (i is the query index l or the key index s).
 */
export interface RowLayout {
  off: number;
  strideB: number;
  strideL: number;
}

/**
 * Scaled-dot-product attention of B batches, H heads, L queries, S keys, head dim D.
 * Layouts default to contiguous batch-first [B, L or S, H*D] rows.
 */
export interface AttentionShape {
  B: number;
  H: number;
  L: number;
  S: number;
  D: number;
  /**
   * Key / value heads (grouped-query attention): query head h reads K/V head floor(h / (H / KVH)), so K and V rows
   * hold KVH·D columns and are never repeated per query head. Default H (multi-head attention).
   */
  KVH?: number;
  /** Multiplies q·k; default 1/sqrt(D). */
  scale?: number;
  /** Blocks key s for query l when s > l + causalOffset. */
  causal?: boolean;
  /** Default S - L: the last query sees every key, so it also works when the keys include a cached prefix. */
  causalOffset?: number;
  q?: RowLayout;
  k?: RowLayout;
  v?: RowLayout;
  o?: RowLayout;
  /** The attn mask is PyTorch's 3-D form [B*H, L, S] (index b*H + h) rather than [L, S] broadcast over batch and heads. */
  maskBatched?: boolean;
}

export interface AttentionBuffers {
  q: GPUBufferBinding;
  k: GPUBufferBinding;
  v: GPUBufferBinding;
  /** Output rows; must not alias q, k or v. */
  o: GPUBufferBinding;
  /** Additive f32 attn mask, [L, S] or [B*H, L, S] (see maskBatched). A bool mask goes through boolToAdditive. */
  mask?: GPUBufferBinding;
  /** Additive f32 key-padding mask [B, S]. */
  keyPaddingMask?: GPUBufferBinding;
  /** [B, H, L, S] contiguous; required with writeProbs. */
  probs?: GPUBufferBinding;
}

export interface AttentionOptions {
  /**
   * false (default): the fused kernel (online softmax over key blocks), probabilities never materialised.
   * true: also writes the exact softmax probabilities to `probs` [B, H, L, S], for capture.
   */
  writeProbs?: boolean;
}

/** Threads per workgroup = keys per block; each workgroup takes QUERIES (4, the lanes of a vec4) queries. */
const WG = 64;
const QUERIES = 4;
/** The largest head dim D the kernel supports: each thread owns 4 output columns (t + i*WG). */
export const MAX_HEAD_DIM = 4 * WG;

/**
 * The row layout of an activation [rows, rowStride] whose rows are (batch b, position i) pairs:
 * batch_first row = b*len + i, else (PyTorch's default seq-first) row = i*B + b. `off` selects a column slice.
 */
export function rowLayout(B: number, len: number, rowStride: number, batchFirst: boolean, off = 0): RowLayout {
  return batchFirst ? { off, strideB: len * rowStride, strideL: rowStride } : { off, strideB: rowStride, strideL: B * rowStride };
}

/** Q, K and V views of a packed in_proj output [rows, 3E] (q columns 0..E, k E..2E, v 2E..3E). */
export function packedQkvLayouts(B: number, len: number, E: number, batchFirst: boolean): { q: RowLayout; k: RowLayout; v: RowLayout } {
  return {
    q: rowLayout(B, len, 3 * E, batchFirst, 0),
    k: rowLayout(B, len, 3 * E, batchFirst, E),
    v: rowLayout(B, len, 3 * E, batchFirst, 2 * E),
  };
}

/** The number of elements a buffer needs to hold every row of `lay` for B batches of `len` rows of `width` columns. */
export function layoutExtent(lay: RowLayout, B: number, len: number, width: number): number {
  return lay.off + (B - 1) * lay.strideB + (len - 1) * lay.strideL + width;
}

/** PyTorch bool mask (true / nonzero = blocked) to an additive f32 mask: 0 where allowed, -Infinity where blocked. */
export function boolToAdditive(mask: Uint8Array): Float32Array {
  const out = new Float32Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] ? -Infinity : 0;
  return out;
}

export type FullAttentionShape = Required<Omit<AttentionShape, 'q' | 'k' | 'v' | 'o'>> & { q: RowLayout; k: RowLayout; v: RowLayout; o: RowLayout };

/** Fills in the defaults: KVH = H, scale 1/sqrt(D), causalOffset S - L, contiguous batch-first layouts. */
export function attentionLayout(s: AttentionShape): FullAttentionShape {
  const E = s.H * s.D;
  const kvE = (s.KVH ?? s.H) * s.D;
  return {
    scale: 1 / Math.sqrt(s.D),
    causal: false,
    causalOffset: s.S - s.L,
    maskBatched: false,
    ...s,
    KVH: s.KVH ?? s.H,
    q: s.q ?? rowLayout(s.B, s.L, E, true),
    k: s.k ?? rowLayout(s.B, s.S, kvE, true),
    v: s.v ?? rowLayout(s.B, s.S, kvE, true),
    o: s.o ?? rowLayout(s.B, s.L, E, true),
  };
}

/** Integers, sizes, the head-dim limit (unless headDimLimit is false), a finite scale and a 32-bit causal offset. */
export function checkAttentionShape(label: string, s: FullAttentionShape, headDimLimit = true): void {
  const ints: [string, number][] = [
    ['B', s.B], ['H', s.H], ['KVH', s.KVH], ['L', s.L], ['S', s.S], ['D', s.D],
    ...(['q', 'k', 'v', 'o'] as const).flatMap((n) => [[`${n}.off`, s[n].off], [`${n}.strideB`, s[n].strideB], [`${n}.strideL`, s[n].strideL]] as [string, number][]),
  ];
  for (const [k, v] of ints) {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32) throw new Error(`${label}: ${k} = ${v} is not a non-negative 32-bit integer`);
  }
  if (s.B < 1 || s.H < 1 || s.L < 1 || s.S < 1 || s.D < 1) throw new Error(`${label}: B, H, L, S and D must be at least 1 (got ${s.B}, ${s.H}, ${s.L}, ${s.S}, ${s.D})`);
  if (s.KVH < 1 || s.H % s.KVH !== 0) throw new Error(`${label}: KVH = ${s.KVH} key/value heads do not divide H = ${s.H} query heads`);
  if (headDimLimit && s.D > MAX_HEAD_DIM) throw new Error(`${label}: head dim D = ${s.D} exceeds the attention kernel's maximum of ${MAX_HEAD_DIM}`);
  if (!Number.isFinite(s.scale)) throw new Error(`${label}: scale ${s.scale} is not finite`);
  if (!Number.isInteger(s.causalOffset) || Math.abs(s.causalOffset) >= 2 ** 31) throw new Error(`${label}: causalOffset ${s.causalOffset} is not a 32-bit integer`);
}

/** Elements each buffer must hold (WGSL clamps out-of-bounds accesses silently, so the host checks). */
export function attentionNeed(s: FullAttentionShape): Record<keyof AttentionBuffers, number> {
  const E = s.H * s.D;
  return {
    q: layoutExtent(s.q, s.B, s.L, E),
    k: layoutExtent(s.k, s.B, s.S, s.KVH * s.D),
    v: layoutExtent(s.v, s.B, s.S, s.KVH * s.D),
    o: layoutExtent(s.o, s.B, s.L, E),
    mask: (s.maskBatched ? s.B * s.H : 1) * s.L * s.S,
    keyPaddingMask: s.B * s.S,
    probs: s.B * s.H * s.L * s.S,
  };
}

/**
 * Scaled-dot-product attention per head over strided Q/K/V rows (PyTorch's head split and merge fused in):
 * O[b,h,l,:] = softmax_s(scale * Q[b,h,l,:]·K[b,g,s,:] + mask + keyPaddingMask) · V[b,g,s,:], g = floor(h / (H / KVH))
 * (g = h without grouped key / value heads).
 * With writeProbs the probabilities [B, H, L, S] are written too. A query whose keys are all blocked (causal or
 * -inf masks) gets zero probabilities and a zero output, not NaN, as in PyTorch >= 2.5 (1.13 gives NaN).
 * Causal blocks key s for query l when s > l + causalOffset (default S - L, right for keys with a cached prefix).
 * D is at most MAX_HEAD_DIM (256).
 *
 * One workgroup of 64 threads per (4 queries, head, batch); keys in blocks of 64, one key per thread, the 4 queries
 * in the lanes of a vec4. Fused: online softmax (flash-style). writeProbs: the probs rows are the score scratch
 * (pass 1: scores and per-thread max/sum, pass 2: exact probabilities and P·V). Both work for any S.
 * The binding `o` (and `probs`) must not share a GPUBuffer with q, k, v or the masks (WebGPU usage rules).
 */
export async function attention(ctx: GpuContext, bufs: AttentionBuffers, shape: AttentionShape, label = 'attention', opts: AttentionOptions = {}): Promise<Dispatch> {
  const s = attentionLayout(shape);
  const writeProbs = opts.writeProbs ?? false;
  checkAttentionShape(label, s);
  if (writeProbs && !bufs.probs) throw new Error(`${label}: writeProbs needs a probs buffer [B, H, L, S]`);
  if (!writeProbs && bufs.probs) throw new Error(`${label}: a probs buffer was given without writeProbs`);
  const need = attentionNeed(s);
  return dispatchKernel(ctx, ATTENTION, label, {
    // Absent masks are never read (hasMask / hasKpm = 0), but the bindings exist: q stands in for them.
    bufs: { ...bufs, mask: bufs.mask ?? bufs.q, keyPaddingMask: bufs.keyPaddingMask ?? bufs.q },
    need: { ...need, mask: bufs.mask && need.mask, keyPaddingMask: bufs.keyPaddingMask && need.keyPaddingMask },
    params: {
      B: s.B, H: s.H, L: s.L, S: s.S, D: s.D, G: s.H / s.KVH, scale: s.scale, causal: s.causal, causalOffset: s.causalOffset,
      qOff: s.q.off, qStrideB: s.q.strideB, qStrideL: s.q.strideL,
      kOff: s.k.off, kStrideB: s.k.strideB, kStrideL: s.k.strideL,
      vOff: s.v.off, vStrideB: s.v.strideB, vStrideL: s.v.strideL,
      oOff: s.o.off, oStrideB: s.o.strideB, oStrideL: s.o.strideL,
      maskStrideBH: s.maskBatched ? s.L * s.S : 0, hasMask: !!bufs.mask, hasKpm: !!bufs.keyPaddingMask,
    },
    constants: { WG },
    workgroups: grid1d(ctx, s.B * s.H * Math.ceil(s.L / QUERIES)),
  });
}

export interface AttentionMasks {
  /** Additive [L, S], or [B*H, L, S] with shape.maskBatched. */
  mask?: Float32Array;
  /** Additive [B, S]. */
  keyPaddingMask?: Float32Array;
}

/** The masks a CPU reference is given must have the shape's sizes. */
export function checkMasksRef(who: string, s: FullAttentionShape, masks: AttentionMasks): void {
  const { mask, keyPaddingMask: kpm } = masks;
  if (mask && mask.length !== (s.maskBatched ? s.B * s.H : 1) * s.L * s.S) throw new Error(`${who}: mask has ${mask.length} elements`);
  if (kpm && kpm.length !== s.B * s.S) throw new Error(`${who}: keyPaddingMask has ${kpm.length} elements`);
}

/**
 * The references' probability row of query l of head (b, h), in f64 into `row`: softmax_s(scale·score(s) + masks)
 * with causal blocking (a blocked key's score is never asked for) and zeros for a query with every key blocked.
 */
export function probsRowRef(s: FullAttentionShape, masks: AttentionMasks, b: number, h: number, l: number, row: Float64Array, score: (j: number) => number): void {
  const { H, L, S } = s;
  const { mask, keyPaddingMask: kpm } = masks;
  let m = -Infinity;
  for (let j = 0; j < S; j++) {
    if (s.causal && j > l + s.causalOffset) {
      row[j] = -Infinity;
      continue;
    }
    let x = s.scale * score(j);
    if (mask) x += mask[(s.maskBatched ? (b * H + h) * L * S : 0) + l * S + j];
    if (kpm) x += kpm[b * S + j];
    row[j] = x;
    m = Math.max(m, x);
  }
  let sum = 0;
  for (let j = 0; j < S; j++) {
    row[j] = m === -Infinity ? 0 : Math.exp(row[j] - m);
    sum += row[j];
  }
  for (let j = 0; j < S; j++) row[j] = sum > 0 ? row[j] / sum : 0;
}

/**
 * CPU reference in f64. Returns the output rows (written into `out` if given, else a zeroed array just large
 * enough for the o layout) and the probabilities [B, H, L, S]. Fully blocked queries give zeros.
 */
export function attentionRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  shape: AttentionShape,
  masks: AttentionMasks = {},
  out?: Float32Array,
): { out: Float32Array; probs: Float32Array } {
  const s = attentionLayout(shape);
  const { B, H, L, S, D } = s;
  const G = H / s.KVH;
  const o = out ?? new Float32Array(layoutExtent(s.o, B, L, H * D));
  const probs = new Float32Array(B * H * L * S);
  checkMasksRef('attentionRef', s, masks);
  const sc = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let l = 0; l < L; l++) {
        const qb = s.q.off + b * s.q.strideB + l * s.q.strideL + h * D;
        probsRowRef(s, masks, b, h, l, sc, (j) => {
          const kb = s.k.off + b * s.k.strideB + j * s.k.strideL + Math.floor(h / G) * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qb + d] * k[kb + d];
          return dot;
        });
        probs.set(sc, ((b * H + h) * L + l) * S);
        const ob = s.o.off + b * s.o.strideB + l * s.o.strideL + h * D;
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < S; j++) {
            if (sc[j] !== 0) acc += sc[j] * v[s.v.off + b * s.v.strideB + j * s.v.strideL + Math.floor(h / G) * D + d];
          }
          o[ob + d] = acc;
        }
      }
    }
  }
  return { out: o, probs };
}
