import type { CapturedTensor } from '../hooks/registry.ts';

/** Where an attention module sits: encoder self-attention, decoder self-attention, or decoder cross-attention. */
export type AttentionRole = 'encoder' | 'decoder' | 'cross';

/** One attention module's probabilities and their gradient [B, H, L, S], in forward order. */
export interface RelevanceInput {
  role: AttentionRole;
  weights: CapturedTensor;
  grad: CapturedTensor;
}

/**
 * Gradient-weighted attention rolled out across layers (Chefer, Gur & Wolf 2021, "Generic Attention-model
 * Explainability"), per batch element. Row i of a map is output position i; column j is input token j.
 */
export interface RelevanceMaps {
  /** [B, S, S]: encoder positions × source tokens (an encoder-only model's only map). */
  source?: CapturedTensor;
  /** [B, T, T]: decoder positions × target tokens. */
  target?: CapturedTensor;
  /** [B, T, S]: decoder positions × source tokens (a decoder-only model: memory positions). */
  cross?: CapturedTensor;
}

type Mat = Float64Array[]; // rows

const eye = (n: number): Mat => Array.from({ length: n }, (_, i) => Float64Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
const zeros = (r: number, c: number): Mat => Array.from({ length: r }, () => new Float64Array(c));

function matmul(a: Mat, b: Mat): Mat {
  const out = zeros(a.length, b[0].length);
  a.forEach((row, i) => {
    row.forEach((v, k) => {
      if (v !== 0) b[k].forEach((w, j) => (out[i][j] += v * w));
    });
  });
  return out;
}

const transpose = (a: Mat): Mat => Array.from({ length: a[0].length }, (_, j) => Float64Array.from(a, (row) => row[j]));

/** R + Ā·R' in place on R. */
function addProduct(r: Mat, p: Mat): void {
  r.forEach((row, i) => row.forEach((_, j) => (row[j] += p[i][j])));
}

/** Ā = mean over heads of max(0, ∇A ⊙ A) for batch element b: [L, S]. */
function weighted(x: RelevanceInput, b: number): Mat {
  const [, H, L, S] = x.weights.shape;
  const out = zeros(L, S);
  for (let h = 0; h < H; h++) {
    for (let l = 0; l < L; l++) {
      const base = ((b * H + h) * L + l) * S;
      for (let s = 0; s < S; s++) out[l][s] += Math.max(0, x.grad.data[base + s] * x.weights.data[base + s]) / H;
    }
  }
  return out;
}

/** R̄ = Ŝ + I where Ŝ is R − I with each row scaled to sum 1 (rows summing to 0 stay 0). */
function normalized(r: Mat): Mat {
  return r.map((row, i) => {
    const s = row.map((v, j) => v - (i === j ? 1 : 0));
    const sum = s.reduce((a, v) => a + v, 0);
    return s.map((v, j) => (sum !== 0 ? v / sum : 0) + (i === j ? 1 : 0));
  });
}

function pack(maps: Mat[]): CapturedTensor {
  const [r, c] = [maps[0].length, maps[0][0].length];
  const data = new Float32Array(maps.length * r * c);
  maps.forEach((m, b) => m.forEach((row, i) => data.set(row, (b * r + i) * c)));
  return { shape: [maps.length, r, c], data };
}

/**
 * The relevance maps of a backward: encoder self-attention updates R_ss += Ā·R_ss; decoder self-attention
 * R_tt += Ā·R_tt and R_ts += Ā·R_ts; cross-attention R_ts += R̄_ttᵀ·Ā·R̄_ss. R_ss and R_tt start as the identity,
 * R_ts as zeros. A decoder-only model's memory has no encoder: R_ss stays the identity.
 */
export function relevanceMaps(attention: readonly RelevanceInput[]): RelevanceMaps {
  if (!attention.length) throw new Error('relevance: the model has no attention modules');
  for (const a of attention) {
    if (a.weights.shape.length !== 4 || a.grad.shape.join() !== a.weights.shape.join()) throw new Error(`relevance: weights [${a.weights.shape}] and gradient [${a.grad.shape}] must be one [B, H, L, S] shape`);
  }
  const B = attention[0].weights.shape[0];
  const enc = attention.filter((a) => a.role === 'encoder');
  const dec = attention.filter((a) => a.role !== 'encoder');
  const out: RelevanceMaps = {};
  const S = enc[0]?.weights.shape[3] ?? dec.find((a) => a.role === 'cross')?.weights.shape[3];
  const T = dec[0]?.weights.shape[2];
  const source: Mat[] = [];
  const target: Mat[] = [];
  const cross: Mat[] = [];
  for (let b = 0; b < B; b++) {
    const rss = eye(S ?? 0);
    for (const a of enc) addProduct(rss, matmul(weighted(a, b), rss));
    if (enc.length) source.push(rss);
    if (!dec.length) continue;
    const rtt = eye(T!);
    const rts = S === undefined ? undefined : zeros(T!, S);
    for (const a of dec) {
      const w = weighted(a, b);
      if (a.role === 'decoder') {
        addProduct(rtt, matmul(w, rtt));
        if (rts) addProduct(rts, matmul(w, rts));
      } else addProduct(rts!, matmul(matmul(transpose(normalized(rtt)), w), normalized(rss)));
    }
    target.push(rtt);
    if (rts) cross.push(rts);
  }
  if (source.length) out.source = pack(source);
  if (target.length) out.target = pack(target);
  if (cross.length) out.cross = pack(cross);
  return out;
}
