// src/analysis on the CPU: head means and rollout against hand-worked values and a brute-force f64 version,
// streams of attention modules, and relevance rows' targets and gathering against a stand-in model.
import { describe, expect, it } from 'vitest';
import { type AttentionModuleInfo, attentionStream, byStream } from '../src/analysis/attention_modules.ts';
import { relevanceRows, type RelevanceModel } from '../src/analysis/relevance_rows.ts';
import { headMean, rollout } from '../src/analysis/rollout.ts';
import type { CapturedTensor } from '../src/hooks/registry.ts';
import type { AttentionRole } from '../src/model/relevance.ts';
import { rowMap } from '../src/model/relevance_row.ts';
import type { BackwardTarget } from '../src/model/target.ts';
import { rng } from './harness.ts';
import { rolloutF64 } from './rollout_ref.ts';

const t = (shape: number[], data: number[]): CapturedTensor => ({ shape, data: Float32Array.from(data) });

/** Random attention probabilities [B, H, L, L]: softmax rows, with the future masked when causal. */
function randomAttention(B: number, H: number, L: number, rand: () => number, causal = false): CapturedTensor {
  const data = new Float32Array(B * H * L * L);
  for (let r = 0; r < B * H * L; r++) {
    const i = r % L;
    const e = Array.from({ length: L }, (_, j) => (causal && j > i ? 0 : Math.exp(4 * rand())));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, j) => (data[r * L + j] = v / sum));
  }
  return { shape: [B, H, L, L], data };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('headMean', () => {
  it('averages the heads of every batch element', () => {
    // B = 2, H = 2, L = 1, S = 2
    const m = headMean(t([2, 2, 1, 2], [1, 0, 0, 1, 0.25, 0.75, 0.75, 0.25]));
    expect(m.shape).toEqual([2, 1, 2]);
    expect(Array.from(m.data)).toEqual([0.5, 0.5, 0.5, 0.5]);
    const w = t([1, 3, 2, 2], [0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.6, 0.4, 0.6, 0.4, 0, 1]);
    expect(maxDiff(headMean(w).data, [0.3, 0.7, 0.3, 0.7])).toBeLessThan(1e-7);
  });

  it('rejects what is not [B, H, L, S]', () => {
    expect(() => headMean(t([2, 2, 2], [0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(/expected attention weights \[B, H, L, S\], got \[2, 2, 2\]/);
    expect(() => headMean(t([1, 1, 2, 2], [0, 0, 0]))).toThrow(/holding 3 values/);
  });
});

describe('rollout', () => {
  it('a hand-worked two-layer stack: residual mix, row normalisation, product from the first layer up', () => {
    // Layer 0, two heads averaging to A0 = [[1, 0], [0.5, 0.5]]: Â0 = [[1, 0], [0.25, 0.75]].
    const l0 = t([1, 2, 2, 2], [1, 0, 1, 0, 1, 0, 0, 1]);
    // Layer 1: A1 = [[0, 1], [1, 0]] -> Â1 = [[0.5, 0.5], [0.5, 0.5]]; R1 = Â1 · Â0 = [[0.625, 0.375], [0.625, 0.375]].
    const l1 = t([1, 1, 2, 2], [0, 1, 1, 0]);
    const [r0, r1] = rollout([l0, l1]);
    expect(r0.shape).toEqual([1, 2, 2]);
    expect(Array.from(r0.data)).toEqual([1, 0, 0.25, 0.75]);
    expect(Array.from(r1.data)).toEqual([0.625, 0.375, 0.625, 0.375]);
  });

  it('renormalises rows that do not sum to 1', () => {
    // Row [0.2, 0.2]: 0.5·A + 0.5·I = [0.6, 0.1] -> [6/7, 1/7]; row [0, 0]: [0, 0.5] -> [0, 1].
    const [r] = rollout([t([1, 1, 2, 2], [0.2, 0.2, 0, 0])]);
    expect(maxDiff(r.data, [6 / 7, 1 / 7, 0, 1])).toBeLessThan(1e-7);
  });

  it('matches a brute-force f64 rollout per batch element, every layer; rows sum to 1', () => {
    const rand = rng(3);
    const [B, H, L] = [2, 3, 9];
    for (const causal of [false, true]) {
      const layers = Array.from({ length: 4 }, () => randomAttention(B, H, L, rand, causal));
      const got = rollout(layers);
      expect(got).toHaveLength(4);
      got.forEach((r, l) => {
        expect(r.shape).toEqual([B, L, L]);
        for (let b = 0; b < B; b++) {
          const want = rolloutF64(layers.slice(0, l + 1), b).flat();
          const row = r.data.subarray(b * L * L, (b + 1) * L * L);
          expect(maxDiff(row, want), `layer ${l} batch ${b}`).toBeLessThan(2e-6);
          for (let i = 0; i < L; i++) expect(row.subarray(i * L, (i + 1) * L).reduce((a, v) => a + v, 0)).toBeCloseTo(1, 5);
        }
      });
      // A causal stack rolls out to a lower-triangular map.
      if (causal) expect(Array.from(got[3].data).filter((v, k) => k % L > Math.floor(k / L) % L && v !== 0)).toEqual([]);
    }
  });

  it('rejects cross-attention and layers of different sizes', () => {
    const rand = rng(1);
    expect(() => rollout([t([1, 1, 2, 3], [0, 0, 0, 0, 0, 0])])).toThrow(/layer 0 is \[1, 1, 2, 3\], expected square self-attention \[1, H, 2, 2\]/);
    expect(() => rollout([randomAttention(1, 2, 3, rand), randomAttention(1, 2, 4, rand)])).toThrow(/layer 1 is \[1, 2, 4, 4\]/);
    expect(() => rollout([randomAttention(1, 2, 3, rand), randomAttention(2, 2, 3, rand)])).toThrow(/layer 1 is \[2, 2, 3, 3\]/);
    expect(() => rollout([])).toThrow(/no layers/);
  });
});

describe('attention streams', () => {
  const m = (path: string, role: AttentionModuleInfo['role'], layer: number, causal: boolean): AttentionModuleInfo => ({ path, role, layer, heads: 2, causal });

  it('a causal lm\'s self-attention is the lm stream; a non-causal one is an encoder', () => {
    expect(attentionStream(m('encoder.layers.0.self_attn', 'encoder', 0, true))).toBe('lm');
    expect(attentionStream(m('encoder.layers.0.self_attn', 'encoder', 0, false))).toBe('encoder');
    expect(attentionStream(m('decoder.layers.0.self_attn', 'decoder', 0, true))).toBe('decoder');
    expect(attentionStream(m('decoder.layers.0.multihead_attn', 'cross', 0, false))).toBe('cross');
  });

  it('byStream groups by stream, each by layer, streams in the order they come', () => {
    const mods = [
      m('encoder.layers.1.self_attn', 'encoder', 1, false),
      m('encoder.layers.0.self_attn', 'encoder', 0, false),
      m('decoder.layers.0.self_attn', 'decoder', 0, true),
      m('decoder.layers.0.multihead_attn', 'cross', 0, false),
      m('decoder.layers.1.self_attn', 'decoder', 1, true),
      m('decoder.layers.1.multihead_attn', 'cross', 1, false),
    ];
    const s = byStream(mods);
    expect([...s.keys()]).toEqual(['encoder', 'decoder', 'cross']);
    expect(s.get('encoder')!.map((x) => x.path)).toEqual(['encoder.layers.0.self_attn', 'encoder.layers.1.self_attn']);
    expect(s.get('cross')!.map((x) => x.layer)).toEqual([0, 1]);
  });
});

describe('relevanceRows', () => {
  /**
   * A stand-in model: relevanceRow call k returns a row whose every value encodes (k, batch, row, col), so the test sees
   * which call, batch element and row each gathered value came from. `map` [rows, cols] is the map it reports.
   */
  function standIn(batchFirst: boolean, roles: readonly AttentionRole[], map: [number, number]) {
    const calls: BackwardTarget[] = [];
    const model: RelevanceModel = {
      batchFirst,
      attentionModules: () => roles.map((role, layer) => ({ path: `m${layer}`, role, layer, heads: 1, causal: role === 'decoder' })),
      relevanceRow: async (target, batch, row) => {
        calls.push(target);
        const k = calls.length - 1;
        if (row >= map[0]) throw new Error(`relevance: row ${row} of a map of ${map[0]} rows`);
        return { value: 0, map: rowMap(roles), rows: map[0], row: Float32Array.from({ length: map[1] }, (_, c) => k * 1e4 + batch * 1e3 + row * 10 + c) };
      },
    };
    return { model, calls };
  }

  it('seq-first logits: row i differentiates the largest logit at position i of the batch element, from the cross map', async () => {
    // Output [T=3, B=2, V=4]; batch 1's argmax per position: 2, 0, 3.
    const out = new Float32Array(3 * 2 * 4);
    const best = [2, 0, 3];
    best.forEach((v, i) => {
      out.fill(0.1, (i * 2 + 1) * 4, (i * 2 + 2) * 4);
      out[(i * 2 + 1) * 4 + v] = 5;
      out[(i * 2) * 4 + ((v + 1) % 4)] = 9; // batch 0 peaks elsewhere
    });
    const { model, calls } = standIn(false, ['encoder', 'decoder', 'cross'], [3, 5]);
    const seen: { position: number; row: number[]; done: number; total: number }[] = [];
    const r = await relevanceRows(model, { output: out, shape: [3, 2, 4] }, 'argmax', { batch: 1, onRow: ({ position, row, done, total }) => seen.push({ position, row: Array.from(row), done, total }) });
    expect(calls).toEqual(best.map((v, i) => ({ index: [i, 1, v] })));
    expect(r.targets).toEqual(calls);
    expect(r.positions).toEqual([0, 1, 2]);
    expect(seen.map((x) => [x.position, x.done, x.total])).toEqual([[0, 1, 3], [1, 2, 3], [2, 3, 3]]);
    seen.forEach((x, k) => expect(x.row).toEqual(Array.from(r.rows.data.subarray(k * 5, (k + 1) * 5))));
    expect(r.map).toBe('cross');
    expect(r.rows.shape).toEqual([3, 5]);
    // Row i: call i, batch 1, row i.
    for (let i = 0; i < 3; i++) {
      expect(Array.from(r.rows.data.subarray(i * 5, (i + 1) * 5))).toEqual(Array.from({ length: 5 }, (_, c) => i * 1e4 + 1e3 + i * 10 + c));
    }
  });

  it('batch-first embeddings: row i differentiates the sum of the output vector at position i, from the source map', async () => {
    const { model, calls } = standIn(true, ['encoder', 'encoder'], [4, 4]);
    const r = await relevanceRows(model, { output: new Float32Array(4 * 6), shape: [1, 4, 6] }, 'sum');
    expect(calls).toEqual([0, 1, 2, 3].map((i) => ({ slice: [0, i, [0, 6]] })));
    expect(r.map).toBe('source');
    expect(Array.from(r.rows.data.subarray(8, 12))).toEqual([2e4 + 20, 2e4 + 21, 2e4 + 22, 2e4 + 23]);
    // A model with only decoder self-attention (no source): its target map.
    const t = standIn(true, ['decoder'], [4, 4]);
    expect((await relevanceRows(t.model, { output: new Float32Array(4 * 6), shape: [1, 4, 6] }, 'sum')).map).toBe('target');
  });

  it('chosen positions come back in the order asked, each from its own backward', async () => {
    const { model, calls } = standIn(true, ['encoder'], [4, 4]);
    const r = await relevanceRows(model, { output: new Float32Array(4 * 6), shape: [1, 4, 6] }, 'sum', { positions: [3, 1] });
    expect(calls).toEqual([{ slice: [0, 3, [0, 6]] }, { slice: [0, 1, [0, 6]] }]);
    expect(r.positions).toEqual([3, 1]);
    expect(r.rows.shape).toEqual([2, 4]);
    // Row 0: call 0, row 3; row 1: call 1, row 1.
    expect(Array.from(r.rows.data)).toEqual([30, 31, 32, 33, 1e4 + 10, 1e4 + 11, 1e4 + 12, 1e4 + 13]);
  });

  it('an abort stops before the next backward and rejects with the signal\'s reason', async () => {
    const { model, calls } = standIn(true, ['encoder'], [4, 4]);
    const ctl = new AbortController();
    const reason = new Error('stop here');
    const run = relevanceRows(model, { output: new Float32Array(4 * 6), shape: [1, 4, 6] }, 'sum', { onRow: ({ done }) => done === 2 && ctl.abort(reason), signal: ctl.signal });
    await expect(run).rejects.toBe(reason);
    expect(calls.length).toBe(2);
    const gone = new AbortController();
    gone.abort(reason);
    await expect(relevanceRows(model, { output: new Float32Array(4 * 6), shape: [1, 4, 6] }, 'sum', { signal: gone.signal })).rejects.toBe(reason);
    expect(calls.length).toBe(2);
  });

  it('a map whose rows are not the output positions, a batch or position out of range, or a repeated position, is an error', async () => {
    const { model, calls } = standIn(true, ['encoder'], [3, 3]);
    const fwd = { output: new Float32Array(8), shape: [1, 4, 2] };
    await expect(relevanceRows(model, fwd, 'sum')).rejects.toThrow(/source map has 3 rows for 4 output positions/);
    const before = calls.length;
    await expect(relevanceRows(model, fwd, 'sum', { batch: 1 })).rejects.toThrow(/batch 1 of an output \[1, 4, 2\]/);
    await expect(relevanceRows(model, fwd, 'sum', { positions: [0, 4] })).rejects.toThrow(/position 4 is out of range for 4 output positions/);
    await expect(relevanceRows(model, fwd, 'sum', { positions: [-1] })).rejects.toThrow(/position -1 is out of range/);
    await expect(relevanceRows(model, fwd, 'sum', { positions: [2, 0, 2] })).rejects.toThrow(/position 2 is asked for twice/);
    expect(calls.length).toBe(before); // checked before any backward
  });
});
