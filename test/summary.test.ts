// Attention summaries computed on the GPU (a forward hook's `summary`) against the kernels' CPU references applied to
// the full weights of the same forward, and rollout against analysis/rollout.ts; under both kernel sets.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollout } from '../src/analysis/rollout.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import type { CapturedTensor } from '../src/hooks/registry.ts';
import { attnDownsampleRef } from '../src/kernels/attn_downsample.ts';
import { attnEntropyRef } from '../src/kernels/attn_entropy.ts';
import { attnRowsRef } from '../src/kernels/attn_rows.ts';
import { attnSelectRef } from '../src/kernels/attn_select.ts';
import { attnTopkRef } from '../src/kernels/attn_topk.ts';
import { INPUT_NAMES, type ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors } from '../src/model/safetensors.ts';
import { assertClose, KERNEL_SETS, withKernels } from './harness.ts';

const dir = new URL('./fixtures/', import.meta.url);
let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'summary tests' });
});
afterAll(() => ctx?.dispose());

/** A causal 2-layer lm with key padding: B 2, H 2, L = S = 12. */
function lm(): { model: Model; inputs: ModelInputs } {
  const name = 'lm-learned-causal';
  const model = Model.load(ctx, readFileSync(new URL(`${name}.model.safetensors`, dir)), name);
  const io = readSafetensors(readFileSync(new URL(`${name}.io.safetensors`, dir)), name);
  const inputs: ModelInputs = {};
  for (const n of INPUT_NAMES) if (io.tensors.has(n)) inputs[n] = io.tensors.get(n)!;
  return { model, inputs };
}

const SUMMARY = { topk: 3, entropy: true, downsample: 5, rows: [11, 0], columns: [3], headMean: true, rollout: true };

describe('summaries equal the CPU references on the full weights of the same forward', () => {
  for (const kernels of KERNEL_SETS) {
    it(`${kernels.attention} attention`, async () => {
      const { model, inputs } = lm();
      try {
        await withKernels(ctx, kernels, async () => {
          model.setForwardHook('full', 'encoder.layers.*.self_attn');
          model.setForwardHook('sum', 'encoder.layers.*.self_attn', undefined, { summary: SUMMARY });
          await model.forward(inputs);
          const paths = ['encoder.layers.0.self_attn', 'encoder.layers.1.self_attn'];
          const full = paths.map((p) => model.hooks[`full[${p}]`].output![1]);
          const rolled = rollout(full);
          paths.forEach((p, i) => {
            const w = full[i];
            const [B, H, L, S] = w.shape;
            const d = { B, H, L, S };
            const rec = model.hooks[`sum[${p}]`];
            expect(rec.output!.length, 'the weights are not copied back').toBe(1);
            const got = (n: string, shape: number[]): CapturedTensor => {
              const t = rec.summary![n];
              expect(t.shape, `${p} ${n}`).toEqual(shape);
              return t;
            };
            const topk = attnTopkRef(w.data, d, 3);
            assertClose(`${p} topk.values`, got('topk.values', [B, H, L, 3]).data, topk.values, { atol: 1e-6 });
            assertClose(`${p} topk.indices`, got('topk.indices', [B, H, L, 3]).data, topk.indices, {});
            assertClose(`${p} entropy`, got('entropy', [B, H, L]).data, attnEntropyRef(w.data, d), { atol: 1e-5 });
            const ds = attnDownsampleRef(w.data, d, 5);
            assertClose(`${p} downsample.max`, got('downsample.max', [B, H, 5, 5]).data, ds.max, {});
            assertClose(`${p} downsample.mean`, got('downsample.mean', [B, H, 5, 5]).data, ds.mean, {});
            assertClose(`${p} rows`, got('rows', [B, H, 2, S]).data, attnRowsRef(w.data, d, 'rows', [11, 0]), {});
            assertClose(`${p} columns`, got('columns', [B, H, L, 1]).data, attnRowsRef(w.data, d, 'columns', [3]), {});
            assertClose(`${p} headMean`, got('headMean', [B, L, S]).data, attnSelectRef(w.data, d, { average: true }), { atol: 1e-7, rtol: 1e-6 });
            assertClose(`${p} rollout`, got('rollout', [B, L, L]).data, rolled[i].data, { atol: 1e-6, rtol: 1e-5 });
          });
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
