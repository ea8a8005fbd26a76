// The sampler on the CPU: a seeded draw over many rows has softmax(logits / T) over the top-k logits as its
// distribution (within bounds from the sample size), reproducibly per seed; T -> 0 and top-1 are greedy.
import { describe, expect, it } from 'vitest';
import { sampler } from '../src/model/sampling.ts';

const LOGITS = [1.3, -0.4, 2.1, 0.2, 2.05, -1.7, 0.9, 1.6];
const V = LOGITS.length;

/** softmax(logits / T) over the k largest logits, 0 elsewhere. */
function expected(T: number, k: number): number[] {
  const keep = [...LOGITS].sort((a, b) => b - a)[k - 1];
  const w = LOGITS.map((x) => (x >= keep ? Math.exp(x / T) : 0));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
}

/** Token counts of `rows` draws, each from its own row of the same logits. */
function draw(rows: number, o: Parameters<typeof sampler>[0]): number[] {
  const pick = sampler(o);
  const logits = new Float32Array(rows * V).map((_, i) => LOGITS[i % V]);
  const counts = new Array<number>(V).fill(0);
  for (let r = 0; r < rows; r++) counts[pick(logits, r * V, V)]++;
  return counts;
}

describe('sampler', () => {
  const ROWS = 40000;
  // 4.5 standard deviations of a frequency over ROWS draws: a right sampler passes at any seed but one in ~10^4.
  const bound = (p: number) => 4.5 * Math.sqrt((p * (1 - p)) / ROWS);

  for (const [T, k] of [[0.8, 5], [2, V], [1, 3]] as const) {
    it(`draws from softmax(logits / ${T}) over the top ${k}`, () => {
      const p = expected(T, k);
      const f = draw(ROWS, { temperature: T, topK: k, seed: 1234 }).map((c) => c / ROWS);
      for (let v = 0; v < V; v++) {
        if (p[v] === 0) expect(f[v], `token ${v} is outside the top ${k}`).toBe(0);
        else expect(Math.abs(f[v] - p[v]), `token ${v}: frequency ${f[v]}, p ${p[v]}`).toBeLessThanOrEqual(bound(p[v]));
      }
      // The bounds are tight enough to tell this T and k from plain softmax(logits): the test can fail.
      const plain = expected(1, V);
      expect(Math.max(...p.map((x, v) => Math.abs(x - plain[v]) / Math.max(bound(x), bound(plain[v]))))).toBeGreaterThan(3);
    });
  }

  it('is reproducible by seed and differs between seeds', () => {
    const seq = (seed: number) => {
      const pick = sampler({ temperature: 1, seed });
      const logits = Float32Array.from(LOGITS);
      return Array.from({ length: 64 }, () => pick(logits, 0, V));
    };
    expect(seq(5)).toEqual(seq(5));
    expect(seq(5)).not.toEqual(seq(6));
  });

  it('is greedy at temperature 0, as T -> 0 and with topK 1', () => {
    const argmax = LOGITS.indexOf(Math.max(...LOGITS));
    expect(draw(200, {})[argmax]).toBe(200);
    expect(draw(200, { temperature: 1e-7, seed: 1 })[argmax]).toBe(200);
    expect(draw(200, { temperature: 5, topK: 1, seed: 1 })[argmax]).toBe(200);
  });

  it('rejects bad values with the option named', () => {
    expect(() => sampler({ temperature: Infinity })).toThrow(/temperature Infinity must be a finite number >= 0/);
    expect(() => sampler({ temperature: 1, topK: -1 })).toThrow(/topK -1 must be a positive integer/);
    expect(() => sampler({ temperature: 1, seed: 2 ** 32 })).toThrow(/seed 4294967296 must be an integer/);
  });
});
