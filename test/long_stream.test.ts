// Streamed attention weights (a forward hook's `stream`): chunks of query rows, each its own submit and map, put back
// together equal the weights captured whole in the same forward; the chunks never enter the forward's staging buffer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import type { WeightsChunk } from '../src/hooks/registry.ts';
import { KERNEL_SETS, withKernels } from './harness.ts';
import { fixtureLm } from './lm_models.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'stream tests' });
});
afterAll(() => ctx?.dispose());

const lm = () => fixtureLm(ctx);

describe('streamed weights equal the weights captured whole', () => {
  for (const kernels of KERNEL_SETS) {
    it(`${kernels.attention} attention: chunks of 5 query rows (5, 5, 2)`, async () => {
      const { model, inputs } = lm();
      try {
        await withKernels(ctx, kernels, async () => {
          const paths = ['encoder.layers.0.self_attn', 'encoder.layers.1.self_attn'];
          const chunks: WeightsChunk[] = [];
          // B·H·S·4 = 2·2·12·4 = 192 bytes per query row: 1000 bytes hold 5 rows.
          model.setForwardHook('st', 'encoder.layers.*.self_attn', undefined, { stream: { chunkBytes: 1000, onChunk: (c) => void chunks.push(c) } });
          const budget = model.captureBudgetBytes;
          await model.forward(inputs);
          const streamedStats = model.planStats!;
          // Nothing of the weights in the forward's staging: only the inputs and attn_output of each hooked module, and the output.
          expect(chunks.map((c) => [c.module, ...c.queries])).toEqual(paths.flatMap((p) => [[p, 0, 5], [p, 5, 10], [p, 10, 12]]));
          expect(streamedStats.submitsPerForward).toBe(1 + 2 * (1 + 3));
          expect(model.hooks[`st[${paths[0]}]`].output!.length).toBe(1);
          model.setForwardHook('full', 'encoder.layers.*.self_attn');
          await model.forward(inputs);
          expect(model.captureBudgetBytes).toBe(budget);
          for (const p of paths) {
            const full = model.hooks[`full[${p}]`].output![1];
            const [B, H, L, S] = full.shape;
            const joined = new Float32Array(full.data.length);
            for (const c of chunks.slice(-6).filter((x) => x.module === p)) {
              const [from, to] = c.queries;
              expect(c.weights.shape).toEqual([B, H, to - from, S]);
              for (let bh = 0; bh < B * H; bh++) joined.set(c.weights.data.subarray(bh * (to - from) * S, (bh + 1) * (to - from) * S), (bh * L + from) * S);
            }
            expect(joined, p).toEqual(full.data);
          }
        });
      } finally {
        model.dispose();
      }
    });
  }

  it('past the capture budget: the whole map would not fit, the stream does', async () => {
    const { model, inputs } = lm();
    try {
      model.captureBudgetBytes = 4096;
      model.setForwardHook('full', 'encoder.layers.0.self_attn');
      await expect(model.forward(inputs)).rejects.toThrow(/per-forward budget/);
      model.delHook('full');
      let rows = 0;
      model.setForwardHook('st', 'encoder.layers.0.self_attn', undefined, { stream: { chunkBytes: 1, onChunk: (c) => void (rows += c.queries[1] - c.queries[0]) } });
      await model.forward(inputs);
      expect(rows).toBe(12);
      expect(model.planStats!.submitsPerForward).toBe(1 + 1 + 12);
    } finally {
      model.dispose();
    }
  });

  it('misuse is named', () => {
    const { model } = lm();
    try {
      expect(() => model.setForwardHook('a', 'encoder.layers.0', undefined, { stream: { onChunk: () => {} } })).toThrow(/stream applies to attention modules only/);
      expect(() => model.setForwardHook('b', 'encoder.layers.0.self_attn', undefined, { stream: {} as never })).toThrow(/stream needs an onChunk function/);
      expect(() => model.setForwardHook('c', 'encoder.layers.0.self_attn', undefined, { stream: { chunkBytes: 0, onChunk: () => {} } })).toThrow(/chunkBytes 0/);
      expect(() => model.setForwardHook('d', 'encoder.layers.0.self_attn', undefined, { stream: { onChunk: () => {} }, summary: { entropy: true } })).toThrow(/stream is for forward hooks without/);
    } finally {
      model.dispose();
    }
  });
});
