// GPT-2 generation against an independent path through the same model: greedy `generate` (prefill, then one decode
// plan per token reading the KV caches) must pick the argmax of a full forward over prompt + tokens so far (no cache)
// at every step, and each step's attention rows must equal the matching rows of that full forward.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import type { InputTensor } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { directoryFiles } from '../src/node.ts';
import { KERNEL_SETS, withKernels } from './harness.ts';

const dir = fileURLToPath(new URL('./fixtures/hf/gpt2_lm/', import.meta.url));
const [B, L, N, V, H] = [2, 5, 9, 298, 3];
const LAYERS = ['transformer.h.0.attn', 'transformer.h.1.attn'];

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'gpt2 generate tests' });
});
afterAll(() => ctx?.dispose());

const ids = (rows: number[][]): InputTensor => ({ dtype: 'I32', shape: [rows.length, rows[0].length], data: Int32Array.from(rows.flat()) });

describe.each(KERNEL_SETS)('GPT-2 generate ($attention attention, $matmul matmul)', (kernels) => {
  it('greedy tokens are the full forward\'s argmax at each step; step attention rows equal the full forward\'s', () => withKernels(ctx, kernels, async () => {
    const model = await Model.fromCheckpoint(ctx, directoryFiles(dir));
    try {
      for (const p of LAYERS) model.setForwardHook(p, p);
      const prompt = Array.from({ length: B }, (_, b) => Array.from({ length: L }, (_, l) => (b * 131 + l * 37 + 11) % V));
      const r = await model.generate(ids(prompt), { maxNewTokens: N, eos: null });
      expect(r.tokens.map((t) => t.length)).toEqual([N, N]);
      // The independent path: one forward over prompt + every token but the last, positions 0.. from HF's default.
      const T = L + N - 1;
      const { output, shape } = await model.forward({ input_ids: ids(prompt.map((p, b) => [...p, ...r.tokens[b].slice(0, -1)])) });
      expect(shape).toEqual([B, T, V]);
      for (let b = 0; b < B; b++) {
        for (let n = 0; n < N; n++) {
          const row = output.subarray((b * T + L - 1 + n) * V, (b * T + L + n) * V);
          expect(row.indexOf(Math.max(...row)), `row ${b} token ${n}`).toBe(r.tokens[b][n]);
        }
      }
      let worst = 0;
      for (const p of LAYERS) {
        const full = model.hooks[p].output![1]; // [B, H, T, T]
        expect(full.shape).toEqual([B, H, T, T]);
        r.steps.forEach((s, step) => {
          const w = s[p].output![1];
          // Step 0 is the prompt's L queries over L keys; step n one query (position L - 1 + n) over L + n keys.
          const [Lq, S, q0] = step === 0 ? [L, L, 0] : [1, L + step, L - 1 + step];
          expect(w.shape).toEqual([B, H, Lq, S]);
          for (let bh = 0; bh < B * H; bh++) {
            for (let l = 0; l < Lq; l++) {
              for (let k = 0; k < S; k++) worst = Math.max(worst, Math.abs(w.data[(bh * Lq + l) * S + k] - full.data[(bh * T + q0 + l) * T + k]));
            }
          }
        });
      }
      expect(worst).toBeLessThanOrEqual(1e-5);
    } finally {
      model.dispose();
    }
  }));
});
