// Greedy generation with KV caches: tokens equal PyTorch's full-recompute greedy decoding
// (test/fixtures/generate.io.safetensors from tools/make_generate_fixtures.py), per-step hook records equal the
// matching rows of a full forward, and misuse fails clearly.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { generateSquareSubsequentMask, type InputTensor } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors } from '../src/model/safetensors.ts';

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

describe('generate', () => {
  it('seq2seq: PyTorch greedy tokens; every step hooked; step records equal the full forward rows', async () => {
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
  });

  it('lm: PyTorch greedy continuation, and equal to re-running the full forward', async () => {
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
