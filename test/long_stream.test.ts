// Streamed attention weights (a forward hook's `stream`): chunks of query rows, each its own submit and map, put back
// together equal the weights captured whole in the same forward; the chunks never enter the forward's staging buffer.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capture } from '../src/cli/capture.ts';
import type { Values } from '../src/cli/command.ts';
import { Progress } from '../src/cli/progress.ts';
import { runCommand } from '../src/cli/run.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import type { WeightsChunk } from '../src/hooks/registry.ts';
import { readSafetensors, writeSafetensors } from '../src/model/safetensors.ts';
import { KERNEL_SETS, withKernels } from './harness.ts';
import { fixtureLm, seededLm, seededLmFile } from './lm_models.ts';

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

describe('a stream past its chunk computes the map by chunks of query rows too', () => {
  for (const kernels of KERNEL_SETS) {
    it(`${kernels.attention} attention: L 200, chunks of 64 rows streamed 10 rows at a time, equal to the whole map`, async () => {
      const L = 200;
      const { model, inputs } = seededLm(ctx, 3, L);
      try {
        await withKernels(ctx, kernels, async () => {
          const path = 'encoder.layers.1.self_attn';
          const chunks: WeightsChunk[] = [];
          // B·H·S·4 = 1·2·200·4 = 1,600 bytes per query row: 16,000 bytes hold 10 rows; attention runs 64 rows at a time.
          model.setForwardHook('st', path, undefined, { stream: { chunkBytes: 16_000, onChunk: (c) => void chunks.push(c) } });
          await model.forward(inputs);
          const steps = model.planSteps.filter((x) => x.startsWith(`${path}: attention`));
          expect(steps.map((x) => x.split(': ')[1].split(' [')[0])).toEqual(['attention (rows 0..63)', 'attention (rows 64..127)', 'attention (rows 128..191)', 'attention (rows 192..199)']);
          expect(chunks.map((c) => c.queries[1] - c.queries[0])).toEqual([...[10, 10, 10, 10, 10, 10, 4], ...[10, 10, 10, 10, 10, 10, 4], ...[10, 10, 10, 10, 10, 10, 4], 8]);
          model.delHook('st');
          model.setForwardHook('full', path);
          await model.forward(inputs);
          const full = model.hooks.full.output![1];
          const joined = new Float32Array(full.data.length);
          for (const c of chunks) {
            const [from, to] = c.queries;
            for (let h = 0; h < 2; h++) joined.set(c.weights.data.subarray(h * (to - from) * L, (h + 1) * (to - from) * L), (h * L + from) * L);
          }
          expect(joined).toEqual(full.data);
        });
      } finally {
        model.dispose();
      }
    });
  }
});

describe('attnscope run --capture streams weights to OUT', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attnscope-stream-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = runCommand([capture]);
  const lines: string[] = [];
  const cli = { debug: false, progress: new Progress(undefined), print: (l: string) => void lines.push(l) };

  it('the file streamed by chunks of 1,000 bytes equals the file captured whole, byte for byte (L 150: chunks of 64 rows)', async () => {
    const { file, inputs } = seededLmFile(4, 150);
    const [model, io] = [join(dir, 'lm.safetensors'), join(dir, 'in.safetensors')];
    writeFileSync(model, file);
    writeFileSync(io, writeSafetensors([{ name: 'src', ...inputs.src }]));
    const args = (out: string) => ({ inputs: io, out, capture: ['encoder.layers.*.self_attn', 'encoder.layers.0'], json: true });
    await run.run(model, args(join(dir, 'whole.safetensors')), cli);
    await run.run(model, { ...args(join(dir, 'streamed.safetensors')), 'chunk-bytes': '1000' }, cli);
    const [whole, streamed] = lines.slice(-2).map((l) => JSON.parse(l) as { plan: { submitsPerForward: number }; streamed?: { spoolBytes: number } });
    expect(whole.plan.submitsPerForward).toBe(1);
    expect(whole.streamed).toBeUndefined();
    // Per module: attention by 64-row chunks (64, 64, 22), each streamed one 1,200-byte row a submit after one submit of
    // the work before it: 3 + 150 submits, and one for the rest of the forward; the spool held both maps.
    expect(streamed.plan.submitsPerForward).toBe(1 + 2 * (3 + 150));
    expect(streamed.streamed!.spoolBytes).toBe(2 * 2 * 150 * 150 * 4);
    const [a, b] = ['whole', 'streamed'].map((n) => readFileSync(join(dir, `${n}.safetensors`)));
    const names = [...readSafetensors(a, 'whole').tensors.keys()];
    expect(names).toContain('encoder.layers.1.self_attn.weights');
    expect(readSafetensors(b, 'streamed').tensors.get('encoder.layers.1.self_attn.weights')!.shape).toEqual([1, 2, 150, 150]);
    expect(Buffer.compare(a, b)).toBe(0);
    expect(readdirSync(dir).filter((f) => /\.(spool|tmp)-/.test(f))).toEqual([]);
  });

  it('--chunk-bytes needs --capture and --out and whole weights', async () => {
    const bad: [Values, RegExp][] = [
      [{ inputs: 'x', capture: ['encoder.layers.0.self_attn'], 'chunk-bytes': '10' }, /needs --capture and --out/],
      [{ inputs: 'x', out: 'y', capture: ['encoder.layers.0.self_attn'], heads: '0', 'chunk-bytes': '10' }, /cannot be combined with --heads/],
    ];
    writeFileSync(join(dir, 'x'), writeSafetensors([{ name: 'src', ...seededLmFile(4, 8).inputs.src }]));
    for (const [v, msg] of bad) await expect(run.run(join(dir, 'lm.safetensors'), { ...v, inputs: join(dir, 'x') }, cli)).rejects.toThrow(msg);
  });
});
