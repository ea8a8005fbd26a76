// Hooks and GPU-side capture, checked against PyTorch: attention weights on every fixture, interventions
// (test/fixtures/hooks.*, made by tools/make_hook_fixtures.py), the one-mapAsync rule, and misuse errors.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { INPUT_NAMES, type ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors, type SafetensorsFile } from '../src/model/safetensors.ts';

const dir = new URL('./fixtures/', import.meta.url);
const index: { name: string }[] = JSON.parse(readFileSync(new URL('index.json', dir), 'utf8'));

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'hook tests' });
});
afterAll(() => ctx?.dispose());

function load(name: string): { model: Model; io: SafetensorsFile; inputs: ModelInputs } {
  const model = Model.load(ctx, readFileSync(new URL(`${name}.model.safetensors`, dir)), name);
  const io = readSafetensors(readFileSync(new URL(`${name}.io.safetensors`, dir)), name);
  const inputs: ModelInputs = {};
  for (const n of INPUT_NAMES) if (io.tensors.has(n)) inputs[n] = io.tensors.get(n)!;
  return { model, io, inputs };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const expected = (io: SafetensorsFile, name: string) => io.tensors.get(name)!.data as Float32Array;

describe('captured attention weights equal PyTorch need_weights=True, average_attn_weights=False', () => {
  for (const { name } of index) {
    it(name, async () => {
      const { model, io, inputs } = load(name);
      try {
        const attn = [...model.namedModules().values()].filter((m) => m.kind === 'MultiheadAttention');
        attn.forEach((m, i) => model.setForwardHook(`attn${i}`, m));
        const { output } = await model.forward(inputs);
        expect(maxDiff(output, expected(io, 'output'))).toBeLessThanOrEqual(1e-4);
        attn.forEach((m, i) => {
          const rec = model.hooks[`attn${i}`];
          const want = io.tensors.get(`${m.path}.weights`)!;
          expect(rec.module).toBe(m.path);
          expect(rec.output![1].shape).toEqual(want.shape);
          expect(maxDiff(rec.output![1].data, want.data), m.path).toBeLessThanOrEqual(1e-5);
        });
      } finally {
        model.dispose();
      }
    });
  }
});

describe('capture mechanics', () => {
  it('N hooks: one mapAsync per forward; no hooks: no capture work and the fused attention kernel', async () => {
    const { model, io, inputs } = load('post-relu-seqfirst');
    const kernel = ctx.kernels.attention;
    ctx.kernels.attention = 'fused'; // the steps kernel always writes the probabilities (see the steps test below)
    const proto = (globalThis as unknown as { GPUBuffer: { prototype: GPUBuffer } }).GPUBuffer.prototype;
    const original = proto.mapAsync;
    let maps = 0;
    proto.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
      maps++;
      return original.apply(this, args);
    };
    try {
      await model.forward(inputs);
      expect(model.planStats!.captures).toBe(0);
      expect(model.planSteps.some((l) => l.includes('attention (weights)') || l.includes('capture'))).toBe(false);
      expect(model.planSteps.filter((l) => l.endsWith(': attention')).length).toBe(6);

      const h = model.setForwardHook('sa', 'encoder.layers.*.self_attn', undefined, { averageHeads: true });
      model.setForwardHook('layer', 'decoder.layers.1');
      model.setForwardPreHook('pre', 'encoder.norm');
      maps = 0;
      await model.forward(inputs);
      expect(maps).toBe(1);
      expect(model.planStats!.submitsPerForward).toBe(1);
      expect(model.planSteps.filter((l) => l.includes('attention (weights)')).length).toBe(2);
      expect(Object.keys(model.hooks).sort()).toEqual(['layer', 'pre', 'sa[encoder.layers.0.self_attn]', 'sa[encoder.layers.1.self_attn]']);
      // Head-averaged weights [B, L, S] = mean over heads of PyTorch's per-head weights.
      const w = io.tensors.get('encoder.layers.1.self_attn.weights')!;
      const [B, H, L, S] = w.shape;
      const avg = new Float32Array(B * L * S);
      for (let b = 0; b < B; b++) for (let hh = 0; hh < H; hh++) for (let i = 0; i < L * S; i++) avg[b * L * S + i] += w.data[(b * H + hh) * L * S + i] / H;
      const rec = model.hooks['sa[encoder.layers.1.self_attn]'];
      expect(rec.output![1].shape).toEqual([B, L, S]);
      expect(maxDiff(rec.output![1].data, avg)).toBeLessThanOrEqual(1e-5);
      // A layer's record: real inputs (tgt, memory) and output, equal to PyTorch's layer output.
      const layer = model.hooks.layer;
      expect(layer.input.length).toBe(2);
      expect(maxDiff(layer.output![0].data, expected(io, 'decoder.layers.1.output'))).toBeLessThanOrEqual(1e-4);
      expect(maxDiff(layer.input[1].data, expected(io, 'encoder.output'))).toBeLessThanOrEqual(1e-4);
      expect(model.hooks.pre.output).toBeUndefined();

      h.remove();
      model.delHook('layer');
      model.delHook('pre');
      maps = 0;
      await model.forward(inputs);
      expect(maps).toBe(1);
      expect(model.planStats!.captures).toBe(0);
      expect(model.hooks).toEqual({});
    } finally {
      proto.mapAsync = original;
      ctx.kernels.attention = kernel;
      model.dispose();
    }
  });

  it('the steps attention kernel: three dispatches per attention, weights captured as with the fused kernel', async () => {
    const { model, io, inputs } = load('post-relu-seqfirst');
    const kernel = ctx.kernels.attention;
    try {
      ctx.kernels.attention = 'fused';
      await model.forward(inputs);
      const fused = model.planStats!.dispatches;
      ctx.kernels.attention = 'steps';
      model.setForwardHook('sa', 'encoder.layers.1.self_attn');
      const { output } = await model.forward(inputs);
      expect(model.planSteps.filter((l) => l.endsWith(': attention (steps)')).length).toBe(6);
      model.delHook('sa');
      await model.forward(inputs);
      expect(model.planStats!.dispatches).toBe(fused + 2 * 6);
      expect(maxDiff(output, expected(io, 'output'))).toBeLessThanOrEqual(1e-4);
      model.setForwardHook('sa', 'encoder.layers.1.self_attn');
      await model.forward(inputs);
      expect(maxDiff(model.hooks.sa.output![1].data, expected(io, 'encoder.layers.1.self_attn.weights'))).toBeLessThanOrEqual(1e-5);
    } finally {
      ctx.kernels.attention = kernel;
      model.dispose();
    }
  });

  it('copies an activation once however many hooks see it', async () => {
    const { model, io, inputs } = load('post-relu-seqfirst');
    try {
      model.setForwardHook('ca', 'decoder.layers.*.multihead_attn');
      await model.forward(inputs);
      // Per layer: query, memory (key = value), attn_output, attn_weights; the memory is shared by both layers.
      expect(model.planStats!.captures).toBe(7);
      const [r0, r1] = [model.hooks['ca[decoder.layers.0.multihead_attn]'], model.hooks['ca[decoder.layers.1.multihead_attn]']];
      expect(r0.input.length).toBe(3);
      expect(r1.input[1].data).toEqual(r0.input[1].data);
      expect(r1.input[1].data).not.toBe(r0.input[1].data); // records never alias: a fn may edit its arrays in place
      expect(r0.input[2].data).not.toBe(r0.input[1].data);
      expect(maxDiff(r1.input[2].data, expected(io, 'encoder.output'))).toBeLessThanOrEqual(1e-4);
    } finally {
      model.dispose();
    }
  });

  it('cuts heads and queries on the GPU before the copy', async () => {
    const { model, io, inputs } = load('pre-gelu-batchfirst');
    try {
      model.setForwardHook('cut', 'decoder.layers.0.multihead_attn', undefined, { heads: [4, 1], queries: [2, 5] });
      await model.forward(inputs);
      const w = io.tensors.get('decoder.layers.0.multihead_attn.weights')!;
      const [B, H, L, S] = w.shape;
      const got = model.hooks.cut.output![1];
      expect(got.shape).toEqual([B, 2, 3, S]);
      for (let b = 0; b < B; b++) {
        [4, 1].forEach((h, hi) => {
          for (let l = 0; l < 3; l++) {
            for (let s = 0; s < S; s++) {
              const want = w.data[((b * H + h) * L + 2 + l) * S + s];
              expect(Math.abs(got.data[((b * 2 + hi) * 3 + l) * S + s] - want)).toBeLessThanOrEqual(1e-5);
            }
          }
        });
      }
    } finally {
      model.dispose();
    }
  });

  it('enforces the per-forward capture budget before running', async () => {
    const { model, inputs } = load('post-relu-seqfirst');
    try {
      model.captureBudgetBytes = 1000;
      model.setForwardHook('all', 'encoder.layers.*');
      await expect(model.forward(inputs)).rejects.toThrow(/per-forward budget of 1000 B.*hook 'all\[encoder.layers.0\]'/);
      model.captureBudgetBytes = 1 << 20;
      await model.forward(inputs);
      expect(Object.keys(model.hooks).length).toBe(2);
    } finally {
      model.dispose();
    }
  });
});

describe('interventions match PyTorch (test/fixtures/hooks.*)', () => {
  const run = async (setup: (m: Model, io: SafetensorsFile) => void, field: string) => {
    const { model, io, inputs } = load('hooks');
    try {
      setup(model, io);
      const { output } = await model.forward(inputs);
      return { err: maxDiff(output, expected(io, field)), changed: maxDiff(output, expected(io, 'output')), model };
    } finally {
      model.dispose();
    }
  };

  it('a transforming pre-hook feeds the module (query times 0.5)', async () => {
    const r = await run((m) => m.setForwardPreHook('q', 'decoder.layers.0.multihead_attn', (_mod, input) => [{ shape: input[0].shape, data: input[0].data.map((v) => v * 0.5) }, input[1], input[2]]), 'prehook_output');
    expect(r.err).toBeLessThanOrEqual(1e-4);
    expect(r.changed).toBeGreaterThan(1e-3);
  });

  it('head ablation (scaleHeads {2: 0}) equals zeroing the head in PyTorch', async () => {
    const r = await run((m) => m.scaleHeads('ablate', 'encoder.layers.1.self_attn', { 2: 0 }), 'ablate_output');
    expect(r.err).toBeLessThanOrEqual(1e-4);
  });

  it('head scaling (scaleHeads {1: 2})', async () => {
    const r = await run((m) => m.scaleHeads('scale', 'decoder.layers.1.self_attn', { 1: 2 }), 'scale_output');
    expect(r.err).toBeLessThanOrEqual(1e-4);
  });

  it('a forward hook with writeBack replaces the output downstream', async () => {
    const r = await run(
      (m) => m.setForwardHook('neg', 'encoder.layers.0.linear2', (_mod, _in, out) => ({ output: out.map((t) => ({ shape: t.shape, data: t.data.map((v) => -v) })) }), { writeBack: true }),
      'writeback_output',
    );
    expect(r.err).toBeLessThanOrEqual(1e-4);
  });

  it('activation patching replaces a layer output on the GPU', async () => {
    const r = await run((m, io) => {
      const p = io.tensors.get('patch_value')!;
      m.patchOutput('patch', 'encoder.layers.1', { shape: p.shape, data: p.data as Float32Array });
    }, 'patch_output');
    expect(r.err).toBeLessThanOrEqual(1e-4);
  });

  it('a forward hook fn without writeBack edits only the stored copy', async () => {
    const { model, io, inputs } = load('hooks');
    try {
      model.setForwardHook('n', 'encoder.layers.0.linear2', (_m, _i, out) => ({ output: [{ shape: out[0].shape, data: out[0].data.map(() => 7) }] }));
      const { output } = await model.forward(inputs);
      expect(maxDiff(output, expected(io, 'output'))).toBeLessThanOrEqual(1e-4);
      expect(model.hooks.n.output![0].data.every((v) => v === 7)).toBe(true);
    } finally {
      model.dispose();
    }
  });
});

describe('misuse fails clearly', () => {
  it('duplicate names, unknown paths, unknown hooks, bad options, backward hooks, after dispose', async () => {
    const { model, inputs } = load('post-relu-seqfirst');
    model.setForwardHook('a', 'encoder.layers.0');
    model.setForwardHook('p', 'decoder.layers.*.norm1');
    expect(model.hookNames()).toEqual(['a', 'p[decoder.layers.0.norm1]', 'p[decoder.layers.1.norm1]']);
    model.delHook('p');
    expect(model.hookNames()).toEqual(['a']);
    expect(() => model.setForwardHook('a', 'encoder.layers.1')).toThrow(/a hook named 'a' already exists/);
    expect(() => model.setForwardHook('b', 'encoder.layer.0')).toThrow(/no module 'encoder.layer.0'/);
    expect(() => model.setForwardHook('c', 'encoder.*.nothing')).toThrow(/matches no module/);
    expect(() => model.delHook('zzz')).toThrow(/no hook named 'zzz'/);
    expect(() => model.setForwardHook('d', 'encoder.layers.0.linear1', undefined, { averageHeads: true })).toThrow(/attention modules only/);
    expect(() => model.setForwardHook('e', 'encoder.layers.0.self_attn', undefined, { heads: [7] })).not.toThrow();
    await expect(model.forward(inputs)).rejects.toThrow(/head 7 does not exist/);
    model.delHook('e');
    expect(() => model.setBackwardHook('g', 'encoder.layer.0')).toThrow(/no module 'encoder.layer.0'/);
    model.setBackwardHook('g', 'encoder.layers.0');
    await model.forward(inputs); // a backward hook changes nothing without a backward
    expect(model.hooks.g).toBeUndefined();
    model.delHook('g');
    model.setForwardPreHook('bad', 'encoder.layers.0.norm1', () => [{ shape: [1], data: new Float32Array(1) }]);
    await expect(model.forward(inputs)).rejects.toThrow(/pre-hook 'bad' on encoder.layers.0.norm1: input\[0\] must keep shape/);
    model.delHook('bad');
    model.setForwardPreHook('throws', 'encoder.layers.0.norm1', () => {
      throw new Error('boom');
    });
    await expect(model.forward(inputs)).rejects.toThrow(/boom/);
    model.delHook('throws');
    await model.forward(inputs); // still usable
    expect(Object.keys(model.hooks)).toEqual(['a']);
    model.dispose();
    expect(() => model.setForwardHook('f', 'encoder.layers.0')).toThrow(/disposed/);
  });
});
