// Attention maps as the page uses them: one module's [B, H, L, S] weights, head slices, head means, rollout.

/** Which attention a module computes. */
export type AttnKind = 'enc' | 'dec' | 'cross' | 'self';

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

/** One attention module's captured weights (batch row 0) with what its axes mean. */
export interface AttnMap {
  /** PyTorch module path, e.g. transformer.decoder.layers.1.multihead_attn. */
  path: string;
  kind: AttnKind;
  layer: number;
  heads: number;
  /** Full capture as the hook returned it: [B, H, L, S]. */
  shape: number[];
  data: Float32Array;
}

/** A view's choice of matrix: one head, the mean over heads, or the rollout up to this layer. */
export type HeadChoice = number | 'mean' | 'rollout';

export function classify(path: string, modelKind: string): { kind: AttnKind; layer: number } {
  const m = /(?:^|\.)layers\.(\d+)\./.exec(path);
  const layer = m ? Number(m[1]) : 0;
  if (path.endsWith('multihead_attn')) return { kind: 'cross', layer };
  if (modelKind === 'lm') return { kind: 'self', layer };
  if (modelKind === 'decoder' || /(?:^|\.)decoder\./.test(path)) return { kind: 'dec', layer };
  return { kind: 'enc', layer };
}

export function headMatrix(m: AttnMap, h: number): Matrix {
  const [, H, L, S] = m.shape;
  if (h < 0 || h >= H) throw new Error(`${m.path}: head ${h} of ${H}`);
  return { rows: L, cols: S, data: m.data.subarray(h * L * S, (h + 1) * L * S) };
}

export function meanMatrix(m: AttnMap): Matrix {
  const [, H, L, S] = m.shape;
  const out = new Float32Array(L * S);
  for (let h = 0; h < H; h++) {
    const off = h * L * S;
    for (let i = 0; i < L * S; i++) out[i] += m.data[off + i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= H;
  return { rows: L, cols: S, data: out };
}

/**
 * Attention rollout (Abnar & Zuidema 2020) of a stack of self-attention layers: each layer's head mean mixed
 * with the identity for the residual path, 0.5·A + 0.5·I, rows renormalised, multiplied from the first layer
 * up: R_l = Â_l · R_(l-1). Returns R for every layer (rollout up to and including that layer).
 */
export function rollout(layers: readonly AttnMap[]): Matrix[] {
  const out: Matrix[] = [];
  let prev: Matrix | undefined;
  for (const m of layers) {
    const a = meanMatrix(m);
    const n = a.rows;
    if (a.cols !== n) throw new Error(`rollout needs square self-attention maps, ${m.path} is ${a.rows}x${a.cols}`);
    const hat = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < n; j++) {
        const v = 0.5 * a.data[i * n + j] + (i === j ? 0.5 : 0);
        hat[i * n + j] = v;
        sum += v;
      }
      if (sum > 0) for (let j = 0; j < n; j++) hat[i * n + j] /= sum;
    }
    if (!prev) prev = { rows: n, cols: n, data: hat };
    else {
      const r = new Float32Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < n; k++) {
          const v = hat[i * n + k];
          if (v === 0) continue;
          for (let j = 0; j < n; j++) r[i * n + j] += v * prev.data[k * n + j];
        }
      }
      prev = { rows: n, cols: n, data: r };
    }
    out.push(prev);
  }
  return out;
}

export function maxOf(m: Matrix): number {
  let mx = 0;
  for (let i = 0; i < m.data.length; i++) if (m.data[i] > mx) mx = m.data[i];
  return mx;
}
