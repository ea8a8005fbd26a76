// Relevance rows computed on the GPU (Model.relevanceRow, relevanceRows) against the CPU spec, relevanceMaps over the
// same backward's probabilities and gradients, and against PyTorch's maps in the gradient fixtures: encoder-only,
// decoder-only with memory (cross), nn.Transformer and seq2seq (encoder + cross), causal lm; both kernel sets.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relevanceRows } from '../src/analysis/relevance_rows.ts';
import { relevance as relevanceFlags } from '../src/cli/relevance.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { INPUT_NAMES, type ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import type { RelevanceMaps } from '../src/model/relevance.ts';
import { readSafetensors, type SafetensorsFile } from '../src/model/safetensors.ts';
import { KERNEL_SETS, kernelSetName, withKernels } from './harness.ts';

const dir = new URL('./fixtures/', import.meta.url);

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'relevance row tests' });
});
/** Worst error relative to each row's largest value, per model. */
const worst = new Map<string, number>();
afterAll(() => {
  ctx?.dispose();
  if (worst.size) console.log(`relevance rows, GPU vs CPU / PyTorch, max error relative to the row's largest value:\n${[...worst].map(([k, v]) => `  ${k.padEnd(60)} ${v.toExponential(2)}`).join('\n')}`);
});

function load(name: string): { model: Model; inputs: ModelInputs; grad: SafetensorsFile } {
  const model = Model.load(ctx, readFileSync(new URL(`${name}.model.safetensors`, dir)), name);
  const io = readSafetensors(readFileSync(new URL(`${name}.io.safetensors`, dir)), name);
  const grad = readSafetensors(readFileSync(new URL(`${name}.grad.safetensors`, dir)), name);
  const inputs: ModelInputs = {};
  for (const n of INPUT_NAMES) if (io.tensors.has(n)) inputs[n] = io.tensors.get(n)!;
  return { model, inputs, grad };
}

/** Throws past 1e-5 of the row's largest |value|; returns the relative error. */
function closeRow(label: string, got: Float32Array, want: ArrayLike<number>): number {
  expect(got.length, label).toBe(want.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  const e = m === 0 ? d : d / m;
  expect(e, `${label}: max |diff| ${d.toExponential(2)} of max |want| ${m.toExponential(2)}`).toBeLessThanOrEqual(1e-5);
  expect(m, `${label}: an all-zero row checks nothing`).toBeGreaterThan(0);
  return e;
}

const note = (k: string, e: number) => worst.set(k, Math.max(worst.get(k) ?? 0, e));

/** Fixtures by the map their rows come from; the seed fixtures' backward is PyTorch's own target. */
const FIXTURES: { name: string; map: keyof RelevanceMaps }[] = [
  { name: 'encoder-post-relu-norm', map: 'source' },
  { name: 'lm-learned-causal', map: 'source' },
  { name: 'decoder-pre-gelu-nonorm', map: 'cross' },
  { name: 'pre-relu-seqfirst-h2-eps1e-6', map: 'cross' },
  { name: 'seq2seq-sinusoidal', map: 'cross' },
];

describe('relevance rows on the GPU equal the CPU maps (≤ 1e-5 of the row)', () => {
  for (const { name, map } of FIXTURES) {
    it.each(KERNEL_SETS)(`${name} (${map}): first, middle and last rows of the first and last batch elements, PyTorch's target and per-position targets ($matmul matmul)`, async (kernels) => {
      const { model, inputs, grad } = load(name);
      const key = `${name}, ${kernelSetName(kernels)}`;
      try {
        await withKernels(ctx, kernels, async () => {
          const fwd = await model.forward(inputs, { grad: true });
          // PyTorch's target (the fixture's seed): the GPU rows against the fixture's maps and the CPU maps.
          const seed = { grad: grad.tensors.get('seed')!.data as Float32Array };
          const cpu = model.relevanceMaps(await model.backward(seed))[map]!;
          const torch = grad.tensors.get(`relevance.${map}`)!;
          const [B, R, S] = cpu.shape;
          expect([...torch.shape]).toEqual([B, R, S]);
          for (const b of new Set([0, B - 1])) {
            for (const i of new Set([0, R >> 1, R - 1])) {
              const got = await model.relevanceRow(seed, b, i);
              expect(got.map).toBe(map);
              expect(got.rows).toBe(R);
              const at = (b * R + i) * S;
              note(key, closeRow(`${key} seed row ${b}/${i} vs CPU`, got.row, cpu.data.subarray(at, at + S)));
              note(`${key} (vs PyTorch)`, closeRow(`${key} seed row ${b}/${i} vs PyTorch`, got.row, (torch.data as Float32Array).subarray(at, at + S)));
            }
          }
          // relevanceRows' own targets (a backward per position) for the last batch element, some positions out of order.
          const b = B - 1;
          const positions = R > 1 ? [R - 1, 0] : [0];
          const target = model.config.kind === 'seq2seq' || model.config.kind === 'lm' ? 'argmax' : 'sum';
          const r = await relevanceRows(model, fwd, target, { batch: b, positions });
          expect(r.map).toBe(map);
          expect(r.positions).toEqual(positions);
          for (const [k, i] of positions.entries()) {
            const m = model.relevanceMaps(await model.backward(r.targets[k]))[map]!;
            const at = (b * R + i) * S;
            note(key, closeRow(`${key} position ${i}`, r.rows.data.subarray(k * S, (k + 1) * S), m.data.subarray(at, at + S)));
          }
        });
      } finally {
        model.dispose();
      }
    });
  }
});

describe('relevanceRow beside backward and hooks', () => {
  it('leaves backward hooks their records, and an ordinary backward after it its attention data', async () => {
    const { model, inputs, grad } = load('seq2seq-sinusoidal');
    try {
      const path = model.attentionModules().find((m) => m.role === 'cross')!.path;
      model.setBackwardHook('cross grad', path);
      await model.forward(inputs, { grad: true });
      const seed = { grad: grad.tensors.get('seed')!.data as Float32Array };
      const before = model.relevanceMaps(await model.backward(seed)).cross!;
      const hooked = model.hooks['cross grad'];
      expect(hooked).toBeDefined();
      model.hooks = {};
      const row = await model.relevanceRow(seed, 0, 1);
      expect(model.hooks['cross grad'], 'the hook fired during relevanceRow').toBeDefined();
      const after = await model.backward(seed);
      expect(after.attention.every((a) => a.weights.data.some((v) => v !== 0))).toBe(true);
      expect(Array.from(model.relevanceMaps(after).cross!.data)).toEqual(Array.from(before.data));
      const S = before.shape[2];
      closeRow('row 1 with a hook', row.row, before.data.subarray(S, 2 * S));
    } finally {
      model.dispose();
    }
  });

  it('needs a forward with grad, and a row in range', async () => {
    const { model, inputs } = load('encoder-post-relu-norm');
    try {
      await model.forward(inputs);
      await expect(model.relevanceRow({ index: [0, 0, 0] }, 0, 0)).rejects.toThrow(/run forward\(inputs, \{ grad: true \}\) first/);
      const fwd = await model.forward(inputs, { grad: true });
      const L = fwd.shape[1];
      await expect(model.relevanceRow({ index: [0, 0, 0] }, 0, L)).rejects.toThrow(new RegExp(`row ${L} of a map of ${L} rows`));
      await expect(model.relevanceRow({ index: [0, 0, 0] }, 9, 0)).rejects.toThrow(/batch element 9 of/);
    } finally {
      model.dispose();
    }
  });
});

describe('attnscope run --relevance-rows', () => {
  it("writes every batch element's rows [B, T, S], each equal to the CPU map's row for its target", async () => {
    const { model, inputs } = load('pre-relu-seqfirst-h2-eps1e-6');
    try {
      const stage = relevanceFlags.setup!({ 'relevance-rows': 'argmax' }, { model, captureOptions: {} })!;
      expect(stage.grad).toBe(true);
      const fwd = await model.forward(inputs, { grad: true });
      const [T, B, V] = fwd.shape; // seq-first
      const rep = await stage.report(model, fwd);
      const t = rep.tensors![0] as { name: string; shape: number[]; data: Float32Array };
      expect(t.name).toBe('relevance.rows');
      const S = t.shape[2];
      expect(t.shape).toEqual([B, T, S]);
      expect(rep.line).toMatch(/relevance rows \(argmax\): cross map/);
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < T; i++) {
          let best = 0;
          for (let v = 1; v < V; v++) if (fwd.output[(i * B + b) * V + v] > fwd.output[(i * B + b) * V + best]) best = v;
          const m = model.relevanceMaps(await model.backward({ index: [i, b, best] })).cross!;
          closeRow(`--relevance-rows ${b}/${i}`, t.data.subarray((b * T + i) * S, (b * T + i + 1) * S), m.data.subarray((b * T + i) * S, (b * T + i + 1) * S));
        }
      }
    } finally {
      model.dispose();
    }
  }, 300_000); // run alone it compiles the model's pipelines first

  it('takes argmax or sum only, and an output of 3 dims', () => {
    const pre = { outline: undefined as never, outputShape: [4, 1, 6] };
    expect(() => relevanceFlags.check!({ 'relevance-rows': 'max' }, pre)).toThrow(/--relevance-rows max: expected argmax .* or sum/);
    expect(() => relevanceFlags.check!({ 'relevance-rows': 'sum' }, { ...pre, outputShape: [4, 6] })).toThrow(/--relevance-rows needs an output of 3 dims .*\[4, 6\]/);
    expect(() => relevanceFlags.check!({ 'relevance-rows': 'sum' }, pre)).not.toThrow();
  });
});
