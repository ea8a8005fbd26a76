// Attention maps as the page uses them: one module's [B, H, L, S] weights, head slices; head means and rollout
// come from the library.
import { type AttentionModuleInfo, type AttentionStream, attentionStream, type CapturedTensor, headMean, rollout as rolloutLayers } from '../src/index.ts';

/** The page's tab for each kind of attention (element ids kind-<AttnKind>). */
export type AttnKind = 'enc' | 'dec' | 'cross' | 'self';

const KIND_OF: Record<AttentionStream, AttnKind> = { encoder: 'enc', decoder: 'dec', lm: 'self', cross: 'cross' };
export const attnKind = (m: AttentionModuleInfo): AttnKind => KIND_OF[attentionStream(m)];

export const KIND_TITLES: Record<AttnKind, string> = {
  enc: 'Encoder self-attention',
  dec: 'Decoder self-attention',
  cross: 'Cross-attention',
  self: 'Self-attention',
};

/** A row-major L x S matrix. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** One attention module as the model describes it, its tab, and its captured weights: the full [B, H, L, S]. */
export interface AttnMap extends AttentionModuleInfo, CapturedTensor {
  kind: AttnKind;
}

/** A view's choice of matrix: one head, the mean over heads, or the rollout up to this layer. */
export type HeadChoice = number | 'mean' | 'rollout';

export function headMatrix(m: AttnMap, h: number): Matrix {
  const [, H, L, S] = m.shape;
  if (h < 0 || h >= H) throw new Error(`${m.path}: head ${h} of ${H}`);
  return { rows: L, cols: S, data: m.data.subarray(h * L * S, (h + 1) * L * S) };
}

/** Batch element 0 of a [B, L, S] tensor (the page runs batch 1). */
const first = (t: CapturedTensor): Matrix => ({ rows: t.shape[1], cols: t.shape[2], data: t.data.subarray(0, t.shape[1] * t.shape[2]) });

export const meanMatrix = (m: AttnMap): Matrix => first(headMean(m));

/** Rollout of a stack of self-attention layers (the library's), first layer first: one matrix per layer. */
export const rollout = (layers: readonly AttnMap[]): Matrix[] => rolloutLayers(layers).map(first);

export function maxOf(m: Matrix): number {
  let mx = 0;
  for (let i = 0; i < m.data.length; i++) if (m.data[i] > mx) mx = m.data[i];
  return mx;
}
