// What the model benchmarks share: seeded weights of realistic magnitude and medians.
import { expectedTensors, type FileConfig } from '../src/model/config.ts';
import { mulberry32 } from '../src/model/sampling.ts';

export const rng = mulberry32;

export function uniform(rand: () => number, n: number, bound: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rand() - 1) * bound;
  return out;
}

/**
 * Seeded weights of realistic magnitude: matrices uniform(±1/sqrt(fan_in)), biases likewise with their matrix's
 * fan_in, LayerNorm weight 1 and bias 0.
 */
export function randomWeights(config: FileConfig, seed: number): Map<string, Float32Array> {
  const rand = rng(seed);
  const shapes = expectedTensors(config);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, d) => a * d, 1);
    if (/(^|\.)norm\d*\.weight$/.test(name)) out.set(name, new Float32Array(n).fill(1));
    else if (/(^|\.)norm\d*\.bias$/.test(name)) out.set(name, new Float32Array(n));
    else if (shape.length === 2) out.set(name, uniform(rand, n, 1 / Math.sqrt(shape[1])));
    else {
      const matrix = shapes.get(name.replace(/bias$/, 'weight'))!;
      out.set(name, uniform(rand, n, 1 / Math.sqrt(matrix[1])));
    }
  }
  return out;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
