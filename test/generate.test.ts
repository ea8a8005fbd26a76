// Greedy generation with KV caches, under both kernel sets: tokens equal PyTorch's full-recompute greedy decoding
// (test/fixtures/generate.io.safetensors from tools/make_generate_fixtures.py), per-step hook records equal the
// matching rows of a full forward, one decode plan serves every token, an AbortSignal stops it between steps, and
// misuse fails clearly. Sampling too.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { generateSquareSubsequentMask, type InputTensor } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors } from '../src/model/safetensors.ts';
import { Plan } from '../src/scheduler/compile.ts';
import { KERNEL_SETS, withKernels } from './harness.ts';

const dir = new URL('./fixtures/', import.meta.url);
const io = readSafetensors(readFileSync(new URL('generate.io.safetensors', dir)));
const t = (name: string) => io.tensors.get(name)!;
const ids = (shape: number[], data: number[]): InputTensor => ({ dtype: 'I32', shape, data: Int32Array.from(data) });

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await createNodeContext({ who: 'generate tests' });
});
afterAll(() => ctx?.dispose());

const load = (name: string) => Model.load(ctx, readFileSync(new URL(`${name}.model.safetensors`, dir)), name);

describe.each(KERNEL_SETS)('generate ($attention attention, $matmul matmul)', (kernels) => {
  it('seq2seq: PyTorch greedy tokens; every step hooked; step records equal the full forward rows', () => withKernels(ctx, kernels, async () => {
    const model = load('seq2seq-sinusoidal');
    try {
      const src = t('s2s_src');
      const [B, S] = src.shape;
      const want = t('s2s_tokens');
      const N = want.shape[1];
      model.setForwardHook('cross', 'transformer.decoder.layers.1.multihead_attn');
      model.setForwardHook('self', 'transformer.decoder.layers.0.self_attn');
      const r = await model.generate(src, { maxNewTokens: N, eos: null });
      expect(r.tokens).toEqual(Array.from({ length: B }, (_, b) => Array.from(want.data.subarray(b * N, (b + 1) * N))));
      expect(r.steps.length).toBe(N);
      r.steps.forEach((s, step) => {
        expect(s.cross.step).toBe(step);
        expect(s.cross.output![1].shape).toEqual([B, 4, 1, S]);
        expect(s.self.output![1].shape).toEqual([B, 4, 1, step + 1]);
      });
      // The same decoding as one full forward over [bos, tokens[:-1]]: weights row t = step t's record.
      const bos = 1;
      const tgt = ids([B, N], r.tokens.flatMap((row) => [bos, ...row.slice(0, -1)]));
      const pad = Uint8Array.from(src.data, (v) => (v === 0 ? 1 : 0));
      await model.forward({
        src, tgt, tgt_mask: generateSquareSubsequentMask(N),
        src_key_padding_mask: { dtype: 'BOOL', shape: [B, S], data: pad }, memory_key_padding_mask: { dtype: 'BOOL', shape: [B, S], data: pad },
      });
      const full = model.hooks.cross.output![1]; // [B, H, N, S]
      const H = 4;
      let worst = 0;
      r.steps.forEach((s, step) => {
        const w = s.cross.output![1].data;
        for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let k = 0; k < S; k++) {
          worst = Math.max(worst, Math.abs(w[(b * H + h) * S + k] - full.data[((b * H + h) * N + step) * S + k]));
        }
      });
      expect(worst).toBeLessThanOrEqual(1e-5);
    } finally {
      model.dispose();
    }
  }));

  it('lm: PyTorch greedy continuation, and equal to re-running the full forward', () => withKernels(ctx, kernels, async () => {
    const model = load('lm-learned-causal');
    try {
      const prompt = t('lm_prompt'); // [L, B]
      const want = t('lm_tokens'); // [N, B]
      const [L, B] = prompt.shape;
      const N = want.shape[0];
      model.setForwardHook('sa', 'encoder.layers.1.self_attn');
      const r = await model.generate(prompt, { maxNewTokens: N, eos: null });
      expect(r.tokens).toEqual(Array.from({ length: B }, (_, b) => Array.from({ length: N }, (_, n) => want.data[n * B + b])));
      expect(r.steps[0].sa.output![1].shape).toEqual([B, 2, L, L]);
      expect(r.steps[N - 1].sa.output![1].shape).toEqual([B, 2, 1, L + N - 1]);
      // Full forward on prompt + tokens: argmax at positions L-1 .. L+N-2 gives the tokens.
      const all = [...Array.from(prompt.data), ...Array.from({ length: N - 1 }, (_, n) => r.tokens.map((row) => row[n])).flat()];
      const { output, shape } = await model.forward({ src: ids([L + N - 1, B], all) });
      const V = shape[2];
      for (let n = 0; n < N; n++) {
        for (let b = 0; b < B; b++) {
          const row = output.subarray(((L - 1 + n) * B + b) * V, ((L - 1 + n) * B + b + 1) * V);
          expect(row.indexOf(Math.max(...row))).toBe(r.tokens[b][n]);
        }
      }
    } finally {
      model.dispose();
    }
  }));

  it('compiles one prefill and one decode step plan, and makes no bind group or buffer per token', () => withKernels(ctx, kernels, async () => {
    const model = load('lm-learned-causal');
    const compile = vi.spyOn(Plan, 'compile');
    const bindGroups = vi.spyOn(ctx.device, 'createBindGroup');
    const buffers = vi.spyOn(ctx.device, 'createBuffer');
    // Buffers made so far, at the start of each plan run.
    const atRun: number[] = [];
    const run = Plan.prototype.run;
    const runs = vi.spyOn(Plan.prototype, 'run').mockImplementation(function (this: Plan, ...args) {
      atRun.push(buffers.mock.calls.length);
      return run.apply(this, args);
    });
    try {
      // A head cut on the GPU follows the key length too: it equals head 1 of the whole weights at every step.
      model.setForwardHook('cut', 'encoder.layers.0.self_attn', undefined, { heads: [1], averageHeads: true });
      model.setForwardHook('all', 'encoder.layers.0.self_attn');
      const counts = [];
      // 8 and 16 tokens both meet every key length modulo 4 (the vec4 paths a key length turns on and off).
      for (const N of [8, 16]) {
        [compile, bindGroups, buffers].forEach((s) => s.mockClear());
        atRun.length = 0;
        const r = await model.generate(t('lm_prompt'), { maxNewTokens: N, eos: null });
        // Runs: the prefill, then the decode plan per token. From its second run on nothing is made (its staging is
        // pooled): buffers made at the start of runs 2.. and at the end are the same.
        expect(atRun.length).toBe(N);
        const marks = [...atRun, buffers.mock.calls.length].slice(2);
        expect(marks.map((n) => n - marks[0])).toEqual(new Array(N - 1).fill(0));
        for (const [n, st] of r.steps.entries()) {
          const [B, H, L, S] = st.all.output![1].shape;
          expect([B, H, L, S]).toEqual([2, 2, n ? 1 : 5, 5 + n]);
          const head1 = Array.from({ length: B }, (_, b) => Array.from(st.all.output![1].data.subarray((b * H + 1) * L * S, (b * H + 2) * L * S))).flat();
          expect(st.cut.output![1].shape).toEqual([B, L, S]);
          expect(Array.from(st.cut.output![1].data)).toEqual(head1);
        }
        counts.push([compile.mock.calls.length, bindGroups.mock.calls.length]);
      }
      expect(counts[0][0]).toBe(2);
      expect(counts[1]).toEqual(counts[0]);
    } finally {
      [compile, bindGroups, buffers, runs].forEach((s) => s.mockRestore());
      model.dispose();
    }
  }));
});

describe('generate with sampling', () => {
  const prompt = () => t('lm_prompt');
  it('is reproducible by seed, greedy at temperature -> 0 and at topK 1, and rejects bad values', async () => {
    const model = load('lm-learned-causal');
    try {
      const N = 12;
      const run = (o: object) => model.generate(prompt(), { maxNewTokens: N, eos: null, ...o }).then((r) => r.tokens);
      const greedy = await run({});
      const sampled = await run({ temperature: 1.5, seed: 7 });
      expect(await run({ temperature: 1.5, seed: 7 })).toEqual(sampled);
      // A hot draw over 12 tokens of 2 rows leaves the greedy path and depends on the seed.
      expect(sampled).not.toEqual(greedy);
      expect(await run({ temperature: 1.5, seed: 8 })).not.toEqual(sampled);
      expect(await run({ temperature: 1e-6, seed: 3 })).toEqual(greedy);
      expect(await run({ temperature: 2, topK: 1, seed: 3 })).toEqual(greedy);
      await expect(run({ temperature: -1 })).rejects.toThrow(/temperature -1 must be a finite number >= 0/);
      await expect(run({ temperature: Number.NaN })).rejects.toThrow(/temperature NaN/);
      await expect(run({ temperature: 1, topK: 0 })).rejects.toThrow(/topK 0 must be a positive integer/);
      await expect(run({ temperature: 1, topK: 2.5 })).rejects.toThrow(/topK 2.5/);
      await expect(run({ temperature: 1, seed: -3 })).rejects.toThrow(/seed -3 must be an integer in \[0, 2\^32\)/);
    } finally {
      model.dispose();
    }
  });
});

describe('generate', () => {
  it('runs a write-back hook on every step with the keys so far, and its output flows on', async () => {
    const model = load('lm-learned-causal');
    try {
      const N = 6;
      const greedy = (await model.generate(t('lm_prompt'), { maxNewTokens: N, eos: null })).tokens;
      const seen: number[][] = [];
      // Negating layer 1's attention output changes what the model predicts, so the write-back must reach the logits.
      model.setForwardHook('neg', 'encoder.layers.1.self_attn', (_m, _i, out) => {
        seen.push(out[1].shape);
        return { output: [{ shape: out[0].shape, data: out[0].data.map((x) => -x) }, out[1]] };
      }, { writeBack: true });
      const r = await model.generate(t('lm_prompt'), { maxNewTokens: N, eos: null });
      expect(seen).toEqual([[2, 2, 5, 5], ...Array.from({ length: N - 1 }, (_, n) => [2, 2, 1, 6 + n])]);
      expect(r.steps[N - 1].neg.output![1].shape).toEqual([2, 2, 1, 5 + N - 1]);
      expect(r.tokens).not.toEqual(greedy);
    } finally {
      model.dispose();
    }
  });

  it('stops between steps when its signal aborts: rejects with the reason, runs no further plan, and the model goes on', async () => {
    const model = load('lm-learned-causal');
    const runs = vi.spyOn(Plan.prototype, 'run');
    try {
      const prompt = t('lm_prompt');
      const greedy = (await model.generate(prompt, { maxNewTokens: 6, eos: null })).tokens;
      runs.mockClear();
      const ctrl = new AbortController();
      const seen: number[][] = [];
      const stop = new Error('stopped by the test');
      const aborted = model.generate(prompt, {
        maxNewTokens: 6,
        eos: null,
        signal: ctrl.signal,
        onStep: ({ step, tokens }) => {
          seen.push([...tokens[0]]);
          if (step === 2) ctrl.abort(stop);
        },
      });
      await expect(aborted).rejects.toBe(stop);
      // the prefill and two decode steps ran, each token streamed was greedy's; the third decode step never ran
      expect(runs).toHaveBeenCalledTimes(3);
      expect(seen).toEqual([1, 2, 3].map((n) => greedy[0].slice(0, n)));
      // a signal aborted before the call: nothing runs; the default reason is an AbortError
      runs.mockClear();
      await expect(model.generate(prompt, { maxNewTokens: 6, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
      expect(runs).not.toHaveBeenCalled();
      // the aborted calls freed what they held and left no state behind: the next call is greedy's again
      expect((await model.generate(prompt, { maxNewTokens: 6, eos: null, signal: new AbortController().signal })).tokens).toEqual(greedy);
    } finally {
      runs.mockRestore();
      model.dispose();
    }
  });

  it('stops a row at eos, and rejects what it cannot do', async () => {
    const model = load('lm-learned-causal');
    try {
      const prompt = t('lm_prompt');
      const first = (await model.generate(prompt, { maxNewTokens: 3, eos: null })).tokens;
      const stopped = await model.generate(prompt, { maxNewTokens: 3, eos: first[0][0] });
      expect(stopped.tokens[0]).toEqual([first[0][0]]);
      await expect(model.generate(prompt, { maxNewTokens: 100 })).rejects.toThrow(/exceeds the model's max_len 24/);
      await expect(model.generate(prompt, { maxNewTokens: 0 })).rejects.toThrow(/maxNewTokens 0/);
      await expect(model.generate(ids([2, 1], [0, 9999]), { maxNewTokens: 1 })).rejects.toThrow(/token id 9999/);
    } finally {
      model.dispose();
    }
    const plain = load('post-relu-seqfirst');
    await expect(plain.generate(ids([2, 1], [0, 1]), { maxNewTokens: 1 })).rejects.toThrow(/no vocabulary/);
    plain.dispose();
  });
});
