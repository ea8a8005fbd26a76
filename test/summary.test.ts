// Attention summaries computed on the GPU (a forward hook's `summary`) against the kernels' CPU references applied to
// the full weights of the same forward, and rollout against analysis/rollout.ts; under both kernel sets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollout } from '../src/analysis/rollout.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import type { CapturedTensor, HookRecord } from '../src/hooks/registry.ts';
import { attnDownsampleRef } from '../src/kernels/attn_downsample.ts';
import { attnEntropyRef } from '../src/kernels/attn_entropy.ts';
import { attnRowsRef } from '../src/kernels/attn_rows.ts';
import { attnHeadMeanRef } from '../src/kernels/attn_head_mean.ts';
import { attnTopkRef } from '../src/kernels/attn_topk.ts';
import { assertClose, KERNEL_SETS, withKernels } from './harness.ts';
import { fixtureLm, seededLm } from './lm_models.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'summary tests' });
});
afterAll(() => ctx?.dispose());

const lm = () => fixtureLm(ctx);

const SUMMARY = { topk: 3, entropy: true, downsample: 5, rows: [11, 0], columns: [3], headMean: true, rollout: true };

/**
 * The summary hook `sum`'s records against the CPU references on the full weights of hook `full` (both over
 * encoder.layers.*.self_attn; rollout against analysis/rollout.ts).
 */
function checkSummaries(hooks: Readonly<Record<string, HookRecord>>, full: string, sum: string, o: typeof SUMMARY): void {
  const paths = Object.keys(hooks).filter((k) => k.startsWith(`${sum}[`)).map((k) => k.slice(sum.length + 1, -1));
  expect(paths.length).toBeGreaterThan(0);
  const weights = paths.map((p) => hooks[`${full}[${p}]`].output![1]);
  const rolled = rollout(weights);
  paths.forEach((p, i) => {
    const w = weights[i];
    const [B, H, L, S] = w.shape;
    const d = { B, H, L, S };
    const rec = hooks[`${sum}[${p}]`];
    expect(rec.output!.length, 'the weights are not copied back').toBe(1);
    const got = (n: string, shape: number[]): CapturedTensor => {
      const t = rec.summary![n];
      expect(t.shape, `${p} ${n}`).toEqual(shape);
      return t;
    };
    const K = o.topk;
    const N = o.downsample;
    const topk = attnTopkRef(w.data, d, K);
    assertClose(`${p} topk.values`, got('topk.values', [B, H, L, K]).data, topk.values, { atol: 1e-6 });
    assertClose(`${p} topk.indices`, got('topk.indices', [B, H, L, K]).data, topk.indices, {});
    assertClose(`${p} entropy`, got('entropy', [B, H, L]).data, attnEntropyRef(w.data, d), { atol: 1e-5 });
    const ds = attnDownsampleRef(w.data, d, N);
    assertClose(`${p} downsample.max`, got('downsample.max', [B, H, N, N]).data, ds.max, {});
    assertClose(`${p} downsample.mean`, got('downsample.mean', [B, H, N, N]).data, ds.mean, {});
    assertClose(`${p} rows`, got('rows', [B, H, o.rows.length, S]).data, attnRowsRef(w.data, d, 'rows', o.rows), {});
    assertClose(`${p} columns`, got('columns', [B, H, L, o.columns.length]).data, attnRowsRef(w.data, d, 'columns', o.columns), {});
    assertClose(`${p} headMean`, got('headMean', [B, L, S]).data, attnHeadMeanRef(w.data, d, false), { atol: 1e-7, rtol: 1e-6 });
    assertClose(`${p} rollout`, got('rollout', [B, L, L]).data, rolled[i].data, { atol: 1e-6, rtol: 1e-5 });
  });
}

describe('summaries equal the CPU references on the full weights of the same forward', () => {
  for (const kernels of KERNEL_SETS) {
    it(`${kernels.attention} attention`, async () => {
      const { model, inputs } = lm();
      try {
        await withKernels(ctx, kernels, async () => {
          model.setForwardHook('full', 'encoder.layers.*.self_attn');
          model.setForwardHook('sum', 'encoder.layers.*.self_attn', undefined, { summary: SUMMARY });
          await model.forward(inputs);
          checkSummaries(model.hooks, 'full', 'sum', SUMMARY);
        });
      } finally {
        model.dispose();
      }
    });
  }
});

describe('summaries by chunks of query rows (the map never whole) equal those of the whole map', () => {
  for (const kernels of KERNEL_SETS) {
    it(`${kernels.attention} attention: 130 tokens, chunks of 64, 64, 2 rows`, async () => {
      const { model, inputs } = seededLm(ctx, 7, 130);
      try {
        await withKernels(ctx, kernels, async () => {
          const o = { ...SUMMARY, rows: [129, 0, 70], columns: [3, 100], downsample: 7, topk: 4 };
          model.setForwardHook('full', 'encoder.layers.*.self_attn');
          await model.forward(inputs);
          const full = { ...model.hooks };
          model.delHook('full');
          model.setForwardHook('sum', 'encoder.layers.*.self_attn', undefined, { summary: { ...o, chunkRows: 64 } });
          await model.forward(inputs);
          const steps = model.planSteps.filter((l) => l.includes('encoder.layers.0.self_attn: attention'));
          expect(steps.map((l) => l.split(': ').pop())).toEqual(['attention (rows 0..63)', 'attention (rows 64..127)', 'attention (rows 128..129)']);
          checkSummaries({ ...full, ...model.hooks }, 'full', 'sum', o);
        });
      } finally {
        model.dispose();
      }
    });
  }
});

describe('summary misuse', () => {
  it('is named at registration and at the forward', async () => {
    const { model, inputs } = lm();
    try {
      expect(() => model.setForwardHook('a', 'encoder.layers.0', undefined, { summary: { topk: 2 } })).toThrow(/apply to attention modules only/);
      expect(() => model.setForwardHook('b', 'encoder.layers.0.self_attn', undefined, { summary: { top: 2 } as never })).toThrow(/unknown summary 'top'/);
      expect(() => model.setForwardHook('c', 'encoder.layers.0.self_attn', undefined, { summary: { downsample: 0 } })).toThrow(/downsample 0 is not a whole number/);
      expect(() => model.setForwardHook('d', 'encoder.layers.0.self_attn', undefined, { summary: { entropy: false } })).toThrow(/asks for nothing/);
      expect(() => model.setForwardHook('e', 'encoder.layers.0.self_attn', undefined, { summary: { entropy: true }, averageHeads: true })).toThrow(/summary is for forward hooks without/);
      model.setForwardHook('f', 'encoder.layers.0.self_attn', undefined, { summary: { topk: 13 } });
      await expect(model.forward(inputs)).rejects.toThrow(/topk 13 is not a whole number in \[1, 12\]/);
      model.delHook('f');
      model.setForwardHook('g', 'encoder.layers.0.self_attn', undefined, { summary: { rows: [12] } });
      await expect(model.forward(inputs)).rejects.toThrow(/rows position 12 is not in \[0, 12\)/);
    } finally {
      model.dispose();
    }
  });
});

describe('reading back only the summaries (keepIO: false, forward output: false)', () => {
  it('the record holds the summaries alone, the forward reads back nothing else, and the summaries are unchanged', async () => {
    const { model, inputs } = lm();
    try {
      const path = 'encoder.layers.1.self_attn';
      model.setForwardHook('s', path, undefined, { summary: { entropy: true, rows: [4] } });
      const all = await model.forward(inputs);
      const full = model.hooks.s;
      const fullBytes = model.planStats!.readbackBytes;
      model.delHook('s');
      model.setForwardHook('s', path, undefined, { summary: { entropy: true, rows: [4] }, keepIO: false });
      const r = await model.forward(inputs, { output: false });
      const rec = model.hooks.s;
      expect(rec.input).toEqual([]);
      expect(rec.output).toEqual([]);
      expect(rec.summary).toEqual(full.summary);
      expect(r.output.length).toBe(0);
      expect(r.shape).toEqual(all.shape);
      // B·H·L entropies and B·H·1·S rows: 2·2·12 + 2·2·12 floats, nothing else
      expect(model.planStats!.readbackBytes).toBe((2 * 2 * 12 + 2 * 2 * 12) * 4);
      expect(fullBytes).toBeGreaterThan(model.planStats!.readbackBytes + all.output.length * 4);
      // the default forward still reads the output back from its own plan
      expect((await model.forward(inputs)).output).toEqual(all.output);
      expect(() => model.setForwardHook('k', path, undefined, { keepIO: false })).toThrow(/false needs summary or stream/);
      await expect(model.forward(inputs, { output: false, grad: true })).rejects.toThrow(/output: false cannot be combined with grad/);
    } finally {
      model.dispose();
    }
  });
});
