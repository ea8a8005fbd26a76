// Weights kept in their checkpoint's 16-bit dtype on the GPU (issue #14 item 3): the F16 / BF16 fixtures of
// test/fixtures/hf load with every Linear and Embedding weight packed (two halves to a word), nothing else widened
// but the small vectors, and GPU memory within 1.1x the file (plus Llama's rotary table) plus the forward's
// activation slots and staging. Their outputs, attentions and gradients against the PyTorch reference (computed from
// the rounded weights) are test/hf.test.ts's cases gpt2_lm_f16, bert_mlm_bf16, distilbert_mlm_f16, llama_lm_f16 / _bf16
// and qwen2_lm_f16 / _bf16, under both kernel sets.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { Model } from '../src/model/model.ts';
import { Embedding } from '../src/nn/embedding.ts';
import { Linear } from '../src/nn/linear.ts';
import { type HfCaseInfo, caseFiles, hfCases } from './hf.cases.ts';

const dir = new URL('./fixtures/hf/', import.meta.url);
const read = async (p: string) => new Uint8Array(await readFile(new URL(p, dir)));
let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'half weights tests' });
});
afterAll(() => ctx?.dispose());

const byName = (name: string): HfCaseInfo => hfCases.find((c) => c.name === name)!;

for (const [name, dtype] of [['gpt2_lm_f16', 'f16'], ['bert_mlm_bf16', 'bf16'], ['llama_lm_f16', 'f16'], ['qwen2_lm_bf16', 'bf16']] as const) {
  it(`${name}: Linear and Embedding weights stay ${dtype} on the GPU; memory within 1.1x the file plus activations`, async () => {
    const c = byName(name);
    const fileBytes = (await read(`${name}/model.safetensors`)).byteLength;
    const before = ctx.buffers.stats.bytes;
    const model = await Model.fromCheckpoint(ctx, caseFiles(c, read));
    try {
      const weightsOnGpu = ctx.buffers.stats.bytes - before;
      const mats = [...model.namedModules().values()].flatMap((m) => (m instanceof Linear || m instanceof Embedding ? [[m.path, m.weight.dtype]] : []));
      expect(mats.length).toBeGreaterThan(4);
      expect(mats.filter(([, d]) => d !== dtype)).toEqual([]);
      expect(model.weightBytes).toBe(weightsOnGpu);
      // Llama / Qwen2 also hold their rotary cos|sin table, f32 [max_position_embeddings, head_dim / 2, 2]: not in the
      // file (8 KiB, 16% of the tiny Llama's file; 0.2% of a SmolLM-135M-shaped one).
      const config = JSON.parse(new TextDecoder().decode(await read(`${name}/config.json`))) as Record<string, number>;
      const rope = config.rope_theta ? config.max_position_embeddings * (config.hidden_size / config.num_attention_heads) * 4 : 0;
      expect(weightsOnGpu - rope).toBeLessThanOrEqual(1.1 * fileBytes);
      // A widened load would take about twice the file.
      expect(weightsOnGpu).toBeGreaterThan(0.8 * fileBytes);

      const ids = Array.from({ length: 2 * 7 }, (_, i) => (i * 5 + 1) % 50);
      for (const p of c.captures) model.setForwardHook(p, p);
      await model.forward({ input_ids: { dtype: 'I32', shape: [2, 7], data: Int32Array.from(ids) } } as never);
      const s = model.planStats!;
      const extra = ctx.buffers.stats.bytes - before - weightsOnGpu;
      // Activation slots, the staging buffer (captures + outputs, pooled: rounded up to a power of two), the inputs and
      // the dispatches' uniforms: nothing else grew (no widened copy of a weight).
      const bound = s.slotBytes + 2 * s.readbackBytes + 256 * s.dispatches;
      console.log(`${name}: GPU weights ${weightsOnGpu} B (rope table ${rope} B) = ${((weightsOnGpu - rope) / fileBytes).toFixed(3)}x the ${fileBytes} B file without the table; forward added ${extra} B <= ${bound} B (slots ${s.slotBytes}, readback ${s.readbackBytes}, ${s.dispatches} dispatches)`);
      expect(extra).toBeLessThanOrEqual(bound);
    } finally {
      model.dispose();
    }
  });
}
