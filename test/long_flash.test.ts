// attention_flash at long lengths. In a model: on the SwiftShader kernel set an lm of 300 tokens that nobody listens to
// runs its attention with attention_flash (no [L, S] buffer) and gives the output it gives when hooks make every
// attention write its probabilities (the steps kernel). Alone: at 2,048 and 8,192 tokens under every kind of mask,
// sampled query rows against attentionRef's rows (attentionRowRef: the whole reference would hold [L, S] in f64).
// Lengths 1, 7, 64 and 300 under every mask kind are kernel cases (test/kernels/attention_flash.cases.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { type AttentionMasks, type AttentionShape, boolToAdditive } from '../src/kernels/attention.ts';
import { attentionFlash, attentionRowRef } from '../src/kernels/attention_flash.ts';
import { release, run } from '../src/kernels/dispatch.ts';
import { Tensor } from '../src/tensor.ts';
import { assertClose, rng, uniform, withKernels } from './harness.ts';
import { seededLm } from './lm_models.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'flash tests' });
});
afterAll(() => ctx?.dispose());

it('a 300-token lm: attention_flash when nobody listens, the same output as the steps kernel', async () => {
  const { model, inputs } = seededLm(ctx, 11, 300);
  try {
    await withKernels(ctx, { attention: 'steps', matmul: 'direct', rows: 'narrow' }, async () => {
      const flash = (await model.forward(inputs)).output;
      expect(model.planSteps.filter((l) => l.endsWith(': attention (flash)')).length).toBe(2);
      model.setForwardHook('all', 'encoder.layers.*.self_attn');
      const steps = (await model.forward(inputs)).output;
      expect(model.planSteps.filter((l) => l.endsWith(': attention (steps)')).length).toBe(2);
      assertClose('flash vs steps output', flash, steps, { atol: 1e-5 });
    });
  } finally {
    model.dispose();
  }
});

/**
 * Self-attention of L tokens, one head of D 4 (the kernel's time grows with L² and H·D: 8,192 tokens take seconds on
 * SwiftShader), q, k, v [L, D] apart; the output on the GPU against attentionRowRef at sampled query rows.
 */
async function checkLong(L: number, extra: Partial<AttentionShape>, masks: (r: () => number) => AttentionMasks, seed: number): Promise<void> {
  const D = 4;
  const r = rng(seed);
  const [q, k, v] = [0, 1, 2].map(() => uniform(r, L * D, -2, 2));
  const m = masks(r);
  const shape: AttentionShape = { B: 1, H: 1, L, S: L, D, ...extra };
  const t = [q, k, v, ...(m.mask ? [m.mask] : []), ...(m.keyPaddingMask ? [m.keyPaddingMask] : [])].map((x, i) => Tensor.upload(ctx, x, [x.length], `in ${i}`));
  const o = Tensor.empty(ctx, [L * D], 'o');
  try {
    const bufs = { q: { buffer: t[0].buffer }, k: { buffer: t[1].buffer }, v: { buffer: t[2].buffer }, o: { buffer: o.buffer } };
    const at = 3;
    const d = await attentionFlash(ctx, { ...bufs, ...(m.mask && { mask: { buffer: t[at].buffer } }), ...(m.keyPaddingMask && { keyPaddingMask: { buffer: t[m.mask ? at + 1 : at].buffer } }) }, shape, `flash L ${L}`);
    await run(ctx, [d]);
    release(ctx, [d]);
    const got = await o.download();
    for (const l of [0, 1, 63, 64, 1000, L >> 1, L - 2, L - 1]) {
      const want = attentionRowRef(q, k, v, shape, m, 0, 0, l);
      assertClose(`attention_flash L ${L} row ${l}`, got.subarray(l * D, (l + 1) * D), Float32Array.from(want), { atol: 1e-5 });
    }
  } finally {
    for (const x of [...t, o]) x.dispose();
  }
}

describe('attention_flash at long lengths equals the reference on sampled rows', () => {
  it('8,192 tokens: causal, key padding (the last 100 keys)', async () => {
    await checkLong(8192, { causal: true }, () => ({}), 2);
    const kpm = new Uint8Array(8192);
    kpm.fill(1, 8092);
    await checkLong(8192, {}, () => ({ keyPaddingMask: boolToAdditive(kpm) }), 3);
  });

  it('2,048 tokens: no mask, float mask with -inf, bool 3-D mask (a [B·H, L, S] mask is 256 MiB at 8,192)', async () => {
    const L = 2048;
    await checkLong(L, {}, () => ({}), 1);
    await checkLong(L, {}, (r) => {
      const mask = uniform(r, L * L, -2, 2);
      for (let i = 0; i < mask.length; i++) if (r() < 0.2) mask[i] = -Infinity;
      return { mask };
    }, 4);
    await checkLong(L, { maskBatched: true }, (r) => ({ mask: boolToAdditive(Uint8Array.from({ length: L * L }, (_, i) => (i % L === 0 ? 0 : r() < 0.5 ? 1 : 0))) }), 5);
  });
});
