// How generate picks each token from a row of logits: greedy (argmax), or a seeded draw from softmax(logits / T)
// over the top-k logits, as Hugging Face's sampling does (temperature, then top-k, then multinomial).
import { InputError } from './inputs.ts';

export interface SamplingOptions {
  /** 0 or absent: greedy. Else the logits are divided by it before the softmax the token is drawn from. */
  temperature?: number;
  /** Draw only among the k largest logits (more than the vocabulary: all of it). */
  topK?: number;
  /** Seeds the draws: the same seed gives the same tokens. Absent: a random seed. */
  seed?: number;
}

/** Picks a token from `V` logits at `offset`. */
export type Pick = (logits: Float32Array, offset: number, V: number) => number;

/** mulberry32: small, fast, seeded; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function argmax(logits: Float32Array, offset: number, V: number): number {
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[offset + v] > logits[offset + best]) best = v;
  return best;
}

/** The k largest of V logits, largest first (ties: the lower id first); all V ids in order when k >= V. */
function candidates(logits: Float32Array, offset: number, V: number, k: number): number[] {
  const ids = Array.from({ length: V }, (_, v) => v);
  if (k >= V) return ids;
  return ids.sort((a, b) => logits[offset + b] - logits[offset + a] || a - b).slice(0, k);
}

/** The pick the options ask for; bad values fail here, before any GPU work, with the option named. */
export function sampler(o: SamplingOptions): Pick {
  const { temperature = 0, topK, seed } = o;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) {
    throw new InputError(`generate: temperature ${temperature} must be a finite number >= 0 (0: greedy)`);
  }
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) throw new InputError(`generate: topK ${topK} must be a positive integer`);
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)) throw new InputError(`generate: seed ${seed} must be an integer in [0, 2^32)`);
  if (temperature === 0) return argmax;
  const rand = mulberry32(seed ?? Math.floor(Math.random() * 2 ** 32));
  return (logits, offset, V) => {
    const ids = candidates(logits, offset, V, topK ?? V);
    // exp((x - max) / T) in f64: no overflow however small T, and T -> 0 leaves only the largest logit.
    const max = ids.reduce((m, v) => Math.max(m, logits[offset + v]), -Infinity);
    const w = ids.map((v) => Math.exp((logits[offset + v] - max) / temperature));
    let u = rand() * w.reduce((a, b) => a + b, 0);
    let last = 0;
    for (let i = 0; i < ids.length; i++) {
      if (w[i] === 0) continue;
      last = i;
      u -= w[i];
      if (u < 0) return ids[i];
    }
    // u landed on the total itself (rounding): the last candidate with weight.
    return ids[last];
  };
}
