import { type HalfDType, halfBits } from '../../src/gpu/half.ts';
import { checkTokenIds, embedding, embeddingRef } from '../../src/kernels/embedding.ts';
import { type GpuCase, type GpuScope, assertClose, rng, uniform, withScope } from '../harness.ts';

/** Uploads u32 ids: the scope uploads Float32Arrays, and a view of the same bytes keeps every bit. */
function uploadIds(s: GpuScope, ids: Uint32Array): GPUBufferBinding {
  return s.upload(new Float32Array(ids.buffer, ids.byteOffset, ids.length), 'ids');
}

interface EmbOptions {
  n: number;
  vocab: number;
  C: number;
  /** Table values to use instead of random ones (cycled over the table). */
  values?: number[];
  /** Ids uploaded as they are, bypassing checkTokenIds (to see the shader's clamp). */
  rawIds?: number[];
  /** A table kept as 16-bit floats packed in pairs (uploaded as its bit patterns). */
  dtype?: HalfDType;
}

function embCase(name: string, o: EmbOptions, seed: number): GpuCase {
  const label = `embedding ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (s) => {
        const rand = rng(seed);
        const table = o.values ? Float32Array.from({ length: o.vocab * o.C }, (_, k) => o.values![k % o.values!.length]) : uniform(rand, o.vocab * o.C);
        const ids = o.rawIds
          ? Uint32Array.from(o.rawIds)
          : checkTokenIds(
              Array.from({ length: o.n }, () => Math.floor(rand() * o.vocab)),
              o.vocab,
              label,
            );
        const out = s.empty(ids.length * o.C, 'out');
        const stored = o.dtype ? new Float32Array(halfBits(o.dtype, table).buffer) : table;
        const bufs = { ids: uploadIds(s, ids), table: s.upload(stored, 'table'), out };
        await s.run(await embedding(ctx, bufs, { n: ids.length, vocab: o.vocab, C: o.C, dtype: o.dtype }, label));
        const clamped = Array.from(ids, (id) => Math.min(id, o.vocab - 1));
        // A row copy (a packed table: widened exactly): bit-exact, compared as bits so -0 and NaN payloads count too.
        const got = await s.read(out);
        const want = embeddingRef(clamped, table, o.C, o.dtype);
        assertClose(label, got, want, { atol: 0, shape: [ids.length, o.C] });
        const gotBits = new Uint32Array(got.buffer, got.byteOffset, got.length);
        const wantBits = new Uint32Array(want.buffer, want.byteOffset, want.length);
        const k = wantBits.findIndex((w, j) => gotBits[j] !== w);
        if (k >= 0) throw new Error(`${label}: index ${k} has bits 0x${gotBits[k].toString(16)}, want 0x${wantBits[k].toString(16)} (${want[k]})`);
      }),
  };
}

const specs: [string, EmbOptions][] = [
  ['vocab 1, C 1, n 1', { n: 1, vocab: 1, C: 1 }],
  ['vocab 50, C 7, n 13', { n: 13, vocab: 50, C: 7 }],
  ['vec4: vocab 1000, C 64, n 300', { n: 300, vocab: 1000, C: 64 }],
  ['vec4: C 4, n 5, vocab 9', { n: 5, vocab: 9, C: 4 }],
  ['vocab 97, C 37, n 2000 (74000 elements)', { n: 2000, vocab: 97, C: 37 }],
  ['vec4: vocab 31, C 256, n 300 (76800 elements)', { n: 300, vocab: 31, C: 256 }],
  ['out-of-range ids are clamped to the last row', { n: 6, vocab: 10, C: 3, rawIds: [0, 9, 10, 11, 4294967295, 5] }],
  // A copy, not arithmetic: no rounding, sign or NaN change (subnormals are left out: a GPU may flush them on load).
  ['rows are copied as stored (-0, ±Infinity, NaN, 1e38, 2^-126)', { n: 9, vocab: 7, C: 5, values: [-0, Infinity, -Infinity, NaN, 1e38, 2 ** -126, -1 / 3] }],
  ['vec4: rows are copied as stored (-0, ±Infinity, NaN)', { n: 11, vocab: 3, C: 8, values: [-0, Infinity, NaN, -Infinity, 0.1, -7] }],
  // Packed 16-bit tables: an odd C puts a pair across two rows, an odd vocab * C ends in a pad half.
  ['f16 table, odd C 7 (pairs straddle rows), vocab 51, n 13', { n: 13, vocab: 51, C: 7, dtype: 'f16' }],
  ['f16 table, vec4: vocab 100, C 64, n 30', { n: 30, vocab: 100, C: 64, dtype: 'f16' }],
  ['f16 table, C 1, vocab 5: every element its own half', { n: 9, vocab: 5, C: 1, dtype: 'f16' }],
  ['bf16 table, odd C 37, vocab 97, n 200', { n: 200, vocab: 97, C: 37, dtype: 'bf16' }],
  ['bf16 table, vec4: C 4, vocab 9, n 5, -0 and 1e38 kept', { n: 5, vocab: 9, C: 4, dtype: 'bf16', values: [-0, 1e38, -3.5, 0.1] }],
];

export const cases: GpuCase[] = [
  ...specs.map(([name, o], i) => embCase(name, o, 800 + i)),
  {
    name: 'embedding checkTokenIds names the first bad index and value',
    run: async () => {
      const bad: [number[], RegExp][] = [
        [[0, 1, 10, 11], /src: token id 10 at index 2 is out of range \[0, 10\)/],
        [[3, -1], /token id -1 at index 1/],
        [[2.5], /token id 2.5 at index 0/],
        [[NaN], /token id NaN at index 0/],
      ];
      for (const [ids, re] of bad) {
        let msg = '';
        try {
          checkTokenIds(ids, 10, 'src');
        } catch (e) {
          msg = String(e);
        }
        if (!re.test(msg)) throw new Error(`checkTokenIds([${ids.join(', ')}]): got '${msg}', want ${re}`);
      }
      const ok = checkTokenIds([0, 9, 3], 10, 'src');
      if (!(ok instanceof Uint32Array) || ok.join() !== '0,9,3') throw new Error(`checkTokenIds returned ${String(ok)}`);
    },
  },
];
