// Gradients on the GPU against PyTorch autograd (test/fixtures/<name>.grad.safetensors, made by
// tools/make_grad_fixtures.py): input gradients, every attention's probability gradient, and full backward
// hooks' grad_input / grad_output on attention modules, layers and stacks; then targets, hook fns and misuse.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { INPUT_NAMES, type ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors, type SafetensorsFile } from '../src/model/safetensors.ts';
import { KERNEL_SETS, withKernels } from './harness.ts';

const dir = new URL('./fixtures/', import.meta.url);
const index: { name: string }[] = JSON.parse(readFileSync(new URL('index.json', dir), 'utf8'));

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'gradient tests' });
});
/** Worst relative error seen per kind of gradient, printed at the end. */
const worst = new Map<string, number>();
afterAll(() => {
  ctx?.dispose();
  if (worst.size) console.log(`max relative error vs PyTorch autograd:\n${[...worst].map(([k, v]) => `  ${k.padEnd(28)} ${v.toExponential(2)}`).join('\n')}`);
});

interface Loaded {
  model: Model;
  io: SafetensorsFile;
  grad: SafetensorsFile;
  inputs: ModelInputs;
}

function load(name: string): Loaded {
  const model = Model.load(ctx, readFileSync(new URL(`${name}.model.safetensors`, dir)), name);
  const io = readSafetensors(readFileSync(new URL(`${name}.io.safetensors`, dir)), name);
  const grad = readSafetensors(readFileSync(new URL(`${name}.grad.safetensors`, dir)), name);
  const inputs: ModelInputs = {};
  for (const n of INPUT_NAMES) if (io.tensors.has(n)) inputs[n] = io.tensors.get(n)!;
  return { model, io, grad, inputs };
}

const want = (f: SafetensorsFile, name: string) => {
  const t = f.tensors.get(name);
  if (!t) throw new Error(`fixture has no ${name}`);
  return t;
};

/** max |got - want| / max |want|: the issue's "≤ 1e-4 relative". `kind` files it under a summary line. */
function relErr(label: string, got: { shape: number[]; data: ArrayLike<number> }, w: { shape: readonly number[]; data: ArrayLike<number> }, kind?: string): number {
  expect(got.shape, label).toEqual([...w.shape]);
  let d = 0;
  let m = 0;
  for (let i = 0; i < w.data.length; i++) {
    d = Math.max(d, Math.abs(got.data[i] - w.data[i]));
    m = Math.max(m, Math.abs(w.data[i]));
  }
  const e = m === 0 ? d : d / m;
  if (kind) worst.set(kind, Math.max(worst.get(kind) ?? 0, e));
  return e;
}

const seedOf = (f: SafetensorsFile) => want(f, 'seed').data as Float32Array;
const TOL = 1e-4;

describe('gradients equal PyTorch autograd (≤ 1e-4 relative)', () => {
  for (const { name } of index) {
    it.each(KERNEL_SETS)(`${name}: input and attention-probability gradients and relevance maps, no hooks ($attention, $matmul, $rows)`, async (kernels) => {
      const { model, io, grad, inputs } = load(name);
      try {
        await withKernels(ctx, kernels, async () => {
          const { output } = await model.forward(inputs, { grad: true });
          expect(relErr('output', { shape: [...want(io, 'output').shape], data: output }, want(io, 'output'))).toBeLessThanOrEqual(1e-5);
          const r = await model.backward({ grad: seedOf(grad) });
          for (const [n, g] of Object.entries(r.inputs)) expect(relErr(`${n}.grad`, g, want(grad, `${n}.grad`), 'input gradients'), `${n}.grad`).toBeLessThanOrEqual(TOL);
          expect(Object.keys(r.inputs).sort()).toEqual([...grad.tensors.keys()].filter((k) => /^(src|tgt|memory)\.grad$/.test(k)).map((k) => k.split('.')[0]).sort());
          const attn = [...model.namedModules().values()].filter((m) => m.kind === 'MultiheadAttention').map((m) => m.path);
          expect(r.attention.map((a) => a.path).sort()).toEqual([...attn].sort());
          for (const a of r.attention) {
            expect(relErr(`${a.path} weights`, a.weights, want(io, `${a.path}.weights`))).toBeLessThanOrEqual(1e-5);
            expect(relErr(`${a.path} weights grad`, a.grad, want(grad, `${a.path}.weights_grad`), 'attention-prob gradients'), a.path).toBeLessThanOrEqual(TOL);
          }
          // Relevance maps (Chefer et al. 2021) against the same rules applied to PyTorch's probabilities and gradients.
          const maps = model.relevanceMaps(r);
          const fixtureMaps = [...grad.tensors.keys()].filter((k) => k.startsWith('relevance.')).map((k) => k.slice('relevance.'.length));
          expect(Object.keys(maps).sort()).toEqual(fixtureMaps.sort());
          for (const [k, m] of Object.entries(maps)) expect(relErr(`relevance ${k}`, m!, want(grad, `relevance.${k}`), 'relevance maps'), `relevance ${k}`).toBeLessThanOrEqual(TOL);
        });
      } finally {
        model.dispose();
      }
    });

    it(`${name}: full backward hooks on attention, layers, stacks, a linear and a norm; every parameter's gradient`, async () => {
      const { model, grad, inputs } = load(name);
      try {
        const paths = [...new Set([...grad.tensors.keys()].flatMap((k) => /^(.*)\.grad_output\.0$/.exec(k)?.[1] ?? []))];
        expect(paths.length).toBeGreaterThan(3);
        paths.forEach((p, i) => model.setBackwardHook(`b${i}`, p));
        await model.forward(inputs, { grad: true, params: '**' });
        const r = await model.backward({ grad: seedOf(grad) });
        expect(Object.keys(r.params)).toEqual(model.paramNames());
        for (const [n, g] of Object.entries(r.params)) {
          const w = grad.tensors.get(`param.${n}`);
          // Parameters autograd never reached (none here) would be zeros.
          if (w) expect(relErr(`param ${n}`, g, w, 'parameter gradients'), `param ${n}`).toBeLessThanOrEqual(TOL);
          else expect(g.data.every((v) => v === 0), `param ${n} is zero`).toBe(true);
        }
        for (const [n, g] of Object.entries(r.inputs)) expect(relErr(`${n}.grad`, g, want(grad, `${n}.grad`)), `${n}.grad with hooks`).toBeLessThanOrEqual(TOL);
        paths.forEach((p, i) => {
          const rec = model.hooks[`b${i}`];
          expect(rec.kind).toBe('backward');
          expect(rec.module).toBe(p);
          rec.input.forEach((g, k) => {
            const w = grad.tensors.get(`${p}.grad_input.${k}`);
            // PyTorch gives None for token ids; attnscope gives zeros.
            if (w) expect(relErr(`${p}.grad_input.${k}`, g, w, 'hook grad_input'), `${p}.grad_input.${k}`).toBeLessThanOrEqual(TOL);
            else expect(g.data.every((v) => v === 0), `${p}.grad_input.${k} is zero`).toBe(true);
          });
          expect(rec.input.length).toBeGreaterThanOrEqual([...grad.tensors.keys()].filter((k) => k.startsWith(`${p}.grad_input.`)).length);
          expect(relErr(`${p}.grad_output.0`, rec.output![0], want(grad, `${p}.grad_output.0`), 'hook grad_output'), `${p}.grad_output.0`).toBeLessThanOrEqual(TOL);
          const wg = grad.tensors.get(`${p}.weights_grad`);
          if (model.namedModules().get(p)!.kind === 'MultiheadAttention') expect(relErr(`${p} weightsGrad`, rec.weightsGrad!, wg!, 'hook weightsGrad'), `${p} weightsGrad`).toBeLessThanOrEqual(TOL);
          else expect(rec.weightsGrad).toBeUndefined();
        });
      } finally {
        model.dispose();
      }
    });
  }
});

describe('backward targets, hook fns and misuse', () => {
  const name = 'post-relu-seqfirst';

  it('an index target is the one-hot seed; a slice target sums a box; value is Σ seed · output', async () => {
    const { model, inputs } = load(name);
    try {
      const { output, shape } = await model.forward(inputs, { grad: true });
      const [T, B, E] = shape;
      const at = (t: number, b: number, e: number) => (t * B + b) * E + e;
      const one = await model.backward({ index: [T - 1, 1, 3] });
      expect(one.value).toBeCloseTo(output[at(T - 1, 1, 3)], 6);
      const hot = new Float32Array(output.length);
      hot[at(T - 1, 1, 3)] = 1;
      const same = await model.backward({ grad: hot });
      expect(same.inputs.src.data).toEqual(one.inputs.src.data);
      // Backward runs again on the same forward: a slice over t in [1, 3), b = -1, every e.
      const box = await model.backward({ slice: [[1, 3], -1, [0, E]] });
      let sum = 0;
      const seed = new Float32Array(output.length);
      for (let t = 1; t < 3; t++) {
        for (let e = 0; e < E; e++) {
          sum += output[at(t, B - 1, e)];
          seed[at(t, B - 1, e)] = 1;
        }
      }
      expect(box.value).toBeCloseTo(sum, 4);
      expect((await model.backward({ grad: seed })).inputs.tgt.data).toEqual(box.inputs.tgt.data);
      // A causal decoder: target position 1 does not depend on tgt positions 2.. (their gradient is exactly 0).
      const early = await model.backward({ index: [1, 0, 0] });
      for (let t = 2; t < T; t++) for (let e = 0; e < E; e++) expect(early.inputs.tgt.data[(t * B + 0) * E + e]).toBe(0);
    } finally {
      model.dispose();
    }
  });

  it('bad targets are refused naming the problem', async () => {
    const { model, inputs } = load(name);
    try {
      await model.forward(inputs, { grad: true });
      await expect(model.backward({ index: [0, 0] })).rejects.toThrow(/2 dims, the output \[5, 2, 24\] has 3/);
      await expect(model.backward({ index: [5, 0, 0] })).rejects.toThrow(/dim 0: 5 is out of range for size 5/);
      await expect(model.backward({ slice: [[2, 2], 0, 0] })).rejects.toThrow(/\[2, 2\) is empty/);
      await expect(model.backward({ index: [0.5, 0, 0] })).rejects.toThrow(/not an integer/);
      await expect(model.backward({ grad: new Float32Array(3) })).rejects.toThrow(/Float32Array of 240 values/);
      await expect(model.backward({} as never)).rejects.toThrow(/\{index\}, \{slice\} or \{grad\}/);
    } finally {
      model.dispose();
    }
  });

  it('params: names and globs select parameters; bad ones are refused', async () => {
    const { model, grad, inputs } = load(name);
    try {
      await model.forward(inputs, { grad: true, params: ['encoder.layers.*.linear1.weight', 'decoder.norm.bias'] });
      const r = await model.backward({ grad: seedOf(grad) });
      expect(Object.keys(r.params)).toEqual(['encoder.layers.0.linear1.weight', 'encoder.layers.1.linear1.weight', 'decoder.norm.bias']);
      expect(r.params['encoder.layers.0.linear1.weight'].shape).toEqual([48, 24]);
      expect(relErr('decoder.norm.bias', r.params['decoder.norm.bias'], want(grad, 'param.decoder.norm.bias'))).toBeLessThanOrEqual(TOL);
      await expect(model.forward(inputs, { grad: true, params: 'encoder.nothing' })).rejects.toThrow(/params 'encoder.nothing' matches no parameter/);
      await expect(model.forward(inputs, { params: '**' })).rejects.toThrow(/params needs grad: true/);
    } finally {
      model.dispose();
    }
  });

  it('backward needs a forward that kept its gradients', async () => {
    const { model, inputs } = load(name);
    try {
      await expect(model.backward({ index: [0, 0, 0] })).rejects.toThrow(/forward\(inputs, \{ grad: true \}\) first/);
      await model.forward(inputs, { grad: true });
      await model.forward(inputs);
      await expect(model.backward({ index: [0, 0, 0] })).rejects.toThrow(/kept nothing for a backward/);
    } finally {
      model.dispose();
    }
  });

  it('a hook fn sees the gradients and its returned grad_input flows on', async () => {
    const { model, grad, inputs } = load(name);
    try {
      await model.forward(inputs, { grad: true });
      const plain = await model.backward({ grad: seedOf(grad) });
      const seen: { input: number; output: number; weights?: number[] }[] = [];
      model.setBackwardHook('double', 'encoder', (_m, gin) => gin.map((g) => ({ shape: g.shape, data: g.data.map((v) => 2 * v) })));
      model.setBackwardHook('look', 'decoder.layers.0.multihead_attn', (_m, gin, gout, wg) => {
        seen.push({ input: gin.length, output: gout.length, weights: wg?.shape });
      });
      await model.forward(inputs, { grad: true });
      const r = await model.backward({ grad: seedOf(grad) });
      // src reaches the output only through the encoder, so its gradient doubles; tgt's does not change (the hooked
      // plan differs from the plain one only in rounding).
      expect(relErr('src', r.inputs.src, { shape: plain.inputs.src.shape, data: plain.inputs.src.data.map((v) => 2 * v) })).toBeLessThanOrEqual(1e-6);
      expect(relErr('tgt', r.inputs.tgt, plain.inputs.tgt)).toBeLessThanOrEqual(1e-6);
      expect(seen).toEqual([{ input: 3, output: 2, weights: [2, 3, 5, 7] }]);
      expect(model.hooks.look.weightsGrad!.shape).toEqual([2, 3, 5, 7]);
      expect(relErr('look', model.hooks.look.weightsGrad!, want(grad, 'decoder.layers.0.multihead_attn.weights_grad'))).toBeLessThanOrEqual(TOL);
      model.delHook('double');
      model.setBackwardHook('bad', 'encoder', () => [{ shape: [1], data: new Float32Array(1) }]);
      await model.forward(inputs, { grad: true });
      await expect(model.backward({ grad: seedOf(grad) })).rejects.toThrow(/backward hook 'bad' on encoder: grad_input\[0\] must keep shape \[7, 2, 24\]/);
    } finally {
      model.dispose();
    }
  });

  it('a patched output stops the gradient; a transforming forward hook cannot be differentiated (a plain forward still runs)', async () => {
    const { model, grad, inputs } = load(name);
    try {
      const S = inputs.src!.shape[0];
      model.patchOutput('p', 'encoder', { shape: [S, 2, 24], data: new Float32Array(S * 2 * 24) });
      await model.forward(inputs, { grad: true });
      const r = await model.backward({ grad: seedOf(grad) });
      expect(r.inputs.src.data.every((v) => v === 0)).toBe(true);
      expect(r.inputs.tgt.data.some((v) => v !== 0)).toBe(true);
      model.delHook('p');
      model.setForwardHook('neg', 'encoder.layers.0.linear2', (_m, _i, out) => ({ output: out.map((t) => ({ shape: t.shape, data: t.data.map((v) => -v) })) }), { writeBack: true });
      // Found when the gradient plan is built, before anything runs.
      await expect(model.forward(inputs, { grad: true })).rejects.toThrow(/cannot flow through encoder.layers.0.linear2: forward hook neg/);
      await model.forward(inputs);
    } finally {
      model.dispose();
    }
  });

  it('a gradient plan is cached: the second forward + backward records nothing new and reads back once per phase', async () => {
    const { model, grad, inputs } = load(name);
    try {
      await model.forward(inputs, { grad: true });
      const first = model.planStats!;
      expect(first.backward).toBeDefined();
      expect(first.backward!.submits).toBe(1);
      const a = await model.backward({ grad: seedOf(grad) });
      await model.forward(inputs, { grad: true });
      expect(model.planStats).toBe(first);
      const b = await model.backward({ grad: seedOf(grad) });
      expect(b.inputs.src.data).toEqual(a.inputs.src.data);
      // The plain forward has its own plan, which keeps no probabilities.
      await model.forward(inputs);
      expect(model.planStats!.backward).toBeUndefined();
    } finally {
      model.dispose();
    }
  });
});
