// Mid-size PyTorch fixtures (tools/make_midsize_fixtures.py, test/fixtures/midsize/): d_model 512 and 768, head dim
// 64, lengths 160 and 384. The weights and float inputs are not in the file: they are drawn from mulberry32 as its
// metadata lists, and their SHA-256 must equal PyTorch's before anything runs. One forward with { grad: true } and one
// backward of the stored seed are checked against the output, every attention's probabilities and their gradients,
// the input gradients and every parameter's gradient (at the sampled positions the file keeps). Shared by Node
// (test/midsize_*.test.ts, both kernel sets) and the browser page.
import type { GpuContext } from '../src/gpu/context.ts';
import { expectedTensors, parseConfig, writeModelFile } from '../src/model/config.ts';
import type { ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors, type SafetensorsFile } from '../src/model/safetensors.ts';
import { type GpuCase, rng, uniform } from './harness.ts';

export const MIDSIZE_FIXTURES = ['transformer-d512-h8-s160-t128', 'encoder-d768-h12-len384'] as const;

/**
 * Tolerances, each relative to the largest magnitude of PyTorch's tensor. Measured on SwiftShader under both kernel
 * sets (the tests print them): at most 1.3e-6 (output), 1.6e-6 (probabilities), 3.0e-6 (gradients).
 */
export const MIDSIZE_TOL = { output: 1e-5, weights: 1e-5, grad: 3e-5 };

interface Meta {
  name: string;
  description: string;
  config: unknown;
  seed: number;
  /** Parameters in draw order: name, lo, hi (uniform in [lo, hi)). */
  weights: [string, number, number][];
  /** Float inputs in draw order: name, shape, lo, hi. */
  inputs: [string, number[], number, number][];
  /** The shape of the backward's seed, drawn last in [-1, 1). */
  backward_seed: number[];
  sha256: string;
  /** The dimension each sampled tensor keeps `<name>.rows` of. */
  sampled: Record<string, number>;
}

/** What a passing case measured: the worst error relative to each kind's scale. */
export interface MidsizeResult {
  name: string;
  worst: Record<string, number>;
  forwardMs: number;
  backwardMs: number;
}

async function sha256(parts: Float32Array[]): Promise<string> {
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The model file, float inputs and backward seed the metadata describes; throws when their hash is not PyTorch's. */
export async function rebuild(meta: Meta, label: string): Promise<{ modelBytes: Uint8Array; inputs: Map<string, { shape: number[]; data: Float32Array }>; seed: Float32Array }> {
  const config = parseConfig(meta.config, label);
  const shapes = expectedTensors(config);
  const rand = rng(meta.seed);
  const drawn: Float32Array[] = [];
  const tensors = new Map<string, Float32Array>();
  for (const [name, lo, hi] of meta.weights) {
    const shape = shapes.get(name);
    if (!shape) throw new Error(`${label}: the metadata draws ${name}, which a ${config.kind} model of this config lacks`);
    const t = uniform(rand, shape.reduce((a, d) => a * d, 1), lo, hi);
    tensors.set(name, t);
    drawn.push(t);
  }
  const inputs = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape, lo, hi] of meta.inputs) {
    const data = uniform(rand, shape.reduce((a, d) => a * d, 1), lo, hi);
    inputs.set(name, { shape, data });
    drawn.push(data);
  }
  const seed = uniform(rand, meta.backward_seed.reduce((a, d) => a * d, 1), -1, 1);
  drawn.push(seed);
  const hash = await sha256(drawn);
  if (hash !== meta.sha256) throw new Error(`${label}: the regenerated weights and inputs hash to ${hash}, PyTorch's to ${meta.sha256}`);
  return { modelBytes: writeModelFile(config, tensors), inputs, seed };
}

/** The entries of `got` ([..., n, ...] with n at `dim`) at `rows` along `dim`. */
function pick(got: ArrayLike<number>, shape: readonly number[], dim: number, rows: ArrayLike<number>): Float32Array {
  const inner = shape.slice(dim + 1).reduce((a, d) => a * d, 1);
  const outer = shape.slice(0, dim).reduce((a, d) => a * d, 1);
  const out = new Float32Array(outer * rows.length * inner);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < rows.length; r++) {
      const base = (o * shape[dim] + rows[r]) * inner;
      for (let i = 0; i < inner; i++) out[at++] = got[base + i];
    }
  }
  return out;
}

/** max |got - want| / max |want| over what the file keeps of `name` (all of it, or its sampled rows). */
function relError(file: SafetensorsFile, meta: Meta, name: string, got: { shape: readonly number[]; data: ArrayLike<number> }): number {
  const want = file.tensors.get(name);
  if (!want) throw new Error(`${meta.name}: the fixture has no ${name}`);
  const rows = file.tensors.get(`${name}.rows`);
  const g = rows ? pick(got.data, got.shape, meta.sampled[name], rows.data) : got.data;
  if (g.length !== want.data.length) throw new Error(`${meta.name} ${name}: ${g.length} values to compare, PyTorch's file has ${want.data.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < g.length; i++) {
    const e = Math.abs(g[i] - want.data[i]);
    if (!(e <= d)) d = e; // NaN wins
    m = Math.max(m, Math.abs(want.data[i]));
  }
  return d / Math.max(m, Number.MIN_VALUE);
}

/** One case per mid-size fixture `filter` keeps, its file read through `load` (a path under test/fixtures/midsize/). */
export function midsizeCases(load: (file: string) => Promise<Uint8Array>, filter: (name: string) => boolean = () => true, report?: (r: MidsizeResult) => void): GpuCase[] {
  return MIDSIZE_FIXTURES.filter(filter).map((name) => ({
    name: `midsize ${name}: output, attention probabilities, their gradients, input and parameter gradients vs PyTorch`,
    async run(ctx: GpuContext): Promise<void> {
      const file = readSafetensors(await load(`${name}.safetensors`), name);
      const meta = JSON.parse(file.metadata.midsize ?? 'null') as Meta | null;
      if (!meta) throw new Error(`${name}: no "midsize" metadata`);
      const { modelBytes, inputs: floats, seed } = await rebuild(meta, name);
      const inputs: ModelInputs = {};
      for (const [n, t] of floats) inputs[n] = { dtype: 'F32', ...t };
      for (const [n, t] of file.tensors) if (t.dtype === 'U8' && !n.endsWith('.rows')) inputs[n] = t;
      const model = Model.load(ctx, modelBytes, name);
      const worst: Record<string, number> = {};
      const check = (kind: keyof typeof MIDSIZE_TOL, tensor: string, got: { shape: readonly number[]; data: ArrayLike<number> }) => {
        const e = relError(file, meta, tensor, got);
        worst[kind] = Math.max(worst[kind] ?? 0, e);
        if (!(e <= MIDSIZE_TOL[kind])) throw new Error(`${name} ${tensor}: max |attnscope - torch| / max |torch| = ${e.toExponential(2)} > ${MIDSIZE_TOL[kind]}`);
      };
      try {
        let t0 = performance.now();
        const { output, shape } = await model.forward(inputs, { grad: true, params: '**' });
        const forwardMs = performance.now() - t0;
        check('output', 'output', { shape, data: output });
        t0 = performance.now();
        const r = await model.backward({ grad: seed });
        const backwardMs = performance.now() - t0;
        const attention = new Set(Object.keys(meta.sampled).filter((k) => k.endsWith('.weights')).map((k) => k.slice(0, -'.weights'.length)));
        if (r.attention.map((a) => a.path).sort().join() !== [...attention].sort().join()) throw new Error(`${name}: attention modules ${r.attention.map((a) => a.path).join(', ')}, PyTorch's ${[...attention].join(', ')}`);
        for (const a of r.attention) {
          check('weights', `${a.path}.weights`, a.weights);
          check('grad', `${a.path}.weights_grad`, a.grad);
        }
        for (const [n, g] of Object.entries(r.inputs)) check('grad', `${n}.grad`, g);
        const params = [...file.tensors.keys()].filter((k) => k.startsWith('param.') && !k.endsWith('.rows')).map((k) => k.slice('param.'.length));
        if (Object.keys(r.params).sort().join() !== params.sort().join()) throw new Error(`${name}: parameter gradients for ${Object.keys(r.params).length} parameters, PyTorch's ${params.length}`);
        for (const [n, g] of Object.entries(r.params)) check('grad', `param.${n}`, g);
        report?.({ name, worst, forwardMs, backwardMs });
      } finally {
        model.dispose();
      }
    },
  }));
}
