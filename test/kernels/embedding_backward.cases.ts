import { embeddingBackward, embeddingBackwardRef } from '../../src/kernels/embedding_backward.ts';
import { checkTokenIds, embeddingRef, type EmbeddingShape } from '../../src/kernels/embedding.ts';
import { type GpuCase, type GpuScope, assertClose, rng, uniform, withScope } from '../harness.ts';

/** Uploads u32 ids: the scope uploads Float32Arrays, and a view of the same bytes keeps every bit. */
function uploadIds(s: GpuScope, ids: Uint32Array): GPUBufferBinding {
  return s.upload(new Float32Array(ids.buffer, ids.byteOffset, ids.length), 'ids');
}

interface EbOptions extends EmbeddingShape {
  /** Ids drawn from [0, used) only: the rows from used to vocab must come back 0. */
  used?: number;
  /** Ids uploaded as they are, bypassing checkTokenIds (to see the shader's clamp). */
  rawIds?: number[];
}

function ebCase(name: string, o: EbOptions, seed: number): GpuCase {
  const label = `embedding_backward ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const used = o.used ?? o.vocab;
        const ids = o.rawIds
          ? Uint32Array.from(o.rawIds)
          : checkTokenIds(
              Array.from({ length: o.n }, () => Math.floor(rand() * used)),
              o.vocab,
              label,
            );
        const dy = uniform(rand, o.n * o.C);
        const bufs = { ids: uploadIds(s, ids), dy: s.upload(dy, 'dy'), dTable: s.upload(new Float32Array(o.vocab * o.C).fill(NaN), 'dTable') };
        await s.run(await embeddingBackward(ctx, bufs, o, label));
        const got = await s.read(bufs.dTable);
        const clamped = Array.from(ids, (id) => Math.min(id, o.vocab - 1));
        const want = embeddingBackwardRef(clamped, dy, o);
        // Relative to Σ|dy| over the row's tokens, the rounding scale of any summation order (measured: at most
        // 1.9e-7 of it).
        const mag = embeddingBackwardRef(clamped, dy.map(Math.abs), o);
        assertClose(label, got, want, { rtol: 1e-6, scale: mag, shape: [o.vocab, o.C] });
        const hit = new Set(clamped);
        for (let v = 0; v < o.vocab; v++) {
          if (hit.has(v)) continue;
          for (let c = 0; c < o.C; c++) {
            if (got[v * o.C + c] !== 0) throw new Error(`${label}: unused row ${v} has ${got[v * o.C + c]} at column ${c}, want 0`);
          }
        }
      }),
  };
}

const specs: [string, EbOptions][] = [
  ['vocab 1, C 1, n 1', { n: 1, vocab: 1, C: 1 }],
  ['vocab 50 (half unused), C 7, n 13', { n: 13, vocab: 50, C: 7, used: 25 }],
  ['repeated ids: vocab 10, C 33, n 200', { n: 200, vocab: 10, C: 33 }],
  ['vec4: vocab 1000, C 64, n 300 (most rows unused)', { n: 300, vocab: 1000, C: 64 }],
  ['vec4: vocab 13 (partial row block), C 4, n 40', { n: 40, vocab: 13, C: 4 }],
  ['one id 2000 times: vocab 5, C 37, n 2000', { n: 2000, vocab: 5, C: 37, used: 1 }],
  ['vec4: C 260 (two column blocks), vocab 20, n 100', { n: 100, vocab: 20, C: 260 }],
  ['C 257 (five column blocks), vocab 9, n 77', { n: 77, vocab: 9, C: 257, used: 6 }],
  ['n 130 (three id chunks) vec4 C 256, vocab 17', { n: 130, vocab: 17, C: 256 }],
  ['vocab 524289, C 1 (2-D grid), n 5', { n: 5, vocab: 524289, C: 1, rawIds: [0, 524288, 7, 524288, 262144] }],
  ['out-of-range ids are clamped to the last row', { n: 6, vocab: 10, C: 3, rawIds: [0, 9, 10, 11, 4294967295, 5] }],
];

/** Σ embedding(ids) · dy in f64: the scalar whose table gradient the backward computes. */
function lossF64(ids: ArrayLike<number>, table: ArrayLike<number>, dy: Float32Array, C: number): number {
  let total = 0;
  for (let i = 0; i < ids.length; i++) for (let c = 0; c < C; c++) total += table[ids[i] * C + c] * dy[i * C + c];
  return total;
}

export const cases: GpuCase[] = [
  ...specs.map(([name, o], i) => ebCase(name, o, 950 + i)),
  {
    name: 'embedding_backward reference is the gradient (central differences; unused rows 0)',
    run: async () => {
      const rand = rng(990);
      const shape = { n: 9, vocab: 6, C: 3 };
      const ids = [0, 2, 2, 5, 0, 2, 1, 1, 0];
      const table = uniform(rand, shape.vocab * shape.C);
      const dy = uniform(rand, shape.n * shape.C);
      const ref = embeddingBackwardRef(ids, dy, shape);
      const h = 1e-3;
      const fd = Array.from(table, (_, k) => {
        const plus = Float64Array.from(table);
        const minus = Float64Array.from(table);
        plus[k] += h;
        minus[k] -= h;
        return (lossF64(ids, plus, dy, shape.C) - lossF64(ids, minus, dy, shape.C)) / (2 * h);
      });
      assertClose('embedding d/dtable', fd, ref, { atol: 1e-6 });
      // The forward really is the function differentiated: embeddingRef agrees with the f64 lookup.
      const y = embeddingRef(ids, table, shape.C);
      assertClose('embedding forward', [y.reduce((a, v, i) => a + v * dy[i], 0)], [lossF64(ids, table, dy, shape.C)], { atol: 1e-5 });
      for (let c = 0; c < shape.C; c++) if (ref[3 * shape.C + c] !== 0 || ref[4 * shape.C + c] !== 0) throw new Error('embeddingBackwardRef: unused rows are not 0');
    },
  },
  {
    name: 'embedding_backward rejects bad arguments',
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const ids = s.empty(4, 'ids');
        const dy = s.empty(12, 'dy');
        const dTable = s.empty(15, 'dTable');
        const sh = { n: 4, vocab: 5, C: 3 };
        const bad: [string, () => Promise<unknown>, RegExp][] = [
          ['vocab = 0', () => embeddingBackward(ctx, { ids, dy, dTable }, { ...sh, vocab: 0 }, 'eb'), /eb: vocab = 0 is not a positive integer/],
          ['short ids', () => embeddingBackward(ctx, { ids, dy, dTable }, { ...sh, n: 5 }, 'eb'), /eb: buffer ids holds 4 elements, the shape needs 5/],
          ['short dy', () => embeddingBackward(ctx, { ids, dy, dTable }, { ...sh, C: 4, vocab: 3 }, 'eb'), /eb: buffer dy holds 12 elements, the shape needs 16/],
          ['short table', () => embeddingBackward(ctx, { ids, dy, dTable }, { ...sh, vocab: 6 }, 'eb'), /eb: buffer dTable holds 15 elements, the shape needs 18/],
          ['dTable is dy', () => embeddingBackward(ctx, { ids, dy, dTable: dy }, { ...sh, vocab: 4 }, 'eb'), /eb: buffer dTable must not be the same GPUBuffer as dy/],
        ];
        for (const [what, f, re] of bad) {
          const err = await f().then(
            () => 'no error',
            (e: unknown) => String(e),
          );
          if (!re.test(err)) throw new Error(`embedding_backward ${what}: got '${err}', want ${re}`);
        }
        let msg = '';
        try {
          embeddingBackwardRef([0, 7], new Float32Array(6), { n: 2, vocab: 5, C: 3 });
        } catch (e) {
          msg = String(e);
        }
        if (!/token id 7 at index 1/.test(msg)) throw new Error(`embeddingBackwardRef with a bad id: got '${msg}'`);
      }),
  },
];
