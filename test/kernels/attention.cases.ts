import {
  attention,
  type AttentionShape,
  attentionLayout,
  attentionRef,
  boolToAdditive,
  layoutExtent,
  MAX_HEAD_DIM,
  packedQkvLayouts,
  rowLayout,
} from '../../src/kernels/attention.ts';
import { attentionSteps } from '../../src/kernels/attention_steps.ts';
import { type GpuCase, type GpuScope, assertClose, rng, uniform, withScope } from '../harness.ts';

export interface Spec {
  shape: AttentionShape;
  /** Q, K and V are column slices of one packed [rows, 3E] buffer (self-attention: needs L == S). */
  packed?: 'batch-first' | 'seq-first';
  /** Output rows in seq-first order (default: as packed, else batch-first). */
  outSeqFirst?: boolean;
  /** Makes the masks from the seeded generator. */
  mask?: (rand: () => number, s: ReturnType<typeof attentionLayout>) => Float32Array;
  keyPaddingMask?: (rand: () => number, s: ReturnType<typeof attentionLayout>) => Float32Array;
  /** Shape check for the probabilities: every row sums to 1 unless fully blocked (then 0). */
  zeroRows?: number;
  /** attentionSteps' matmul workgroup size (default its own). */
  workgroupSize?: 4 | 8 | 16;
}

/** A case's inputs from its spec, drawn from `rand` in a fixed order: q, k, v (or one packed qkv), the masks, then o0
 * (the output's starting values: elements outside the o layout must come back untouched). */
export function attentionInputs(sc: GpuScope, spec: Spec, rand: () => number) {
  let shape: AttentionShape = { ...spec.shape };
  const { B, L, S, H, D } = shape;
  const E = H * D;
  const kvE = (shape.KVH ?? H) * D;
  let q: Float32Array, k: Float32Array, v: Float32Array;
  if (spec.packed) {
    if (L !== S) throw new Error('packed cases are self-attention (L == S)');
    const bf = spec.packed === 'batch-first';
    q = k = v = uniform(rand, B * L * 3 * E);
    shape = { ...shape, ...packedQkvLayouts(B, L, E, bf), o: rowLayout(B, L, E, spec.outSeqFirst === undefined ? bf : !spec.outSeqFirst) };
  } else {
    const lay = attentionLayout(shape);
    q = uniform(rand, layoutExtent(lay.q, B, L, E));
    k = uniform(rand, layoutExtent(lay.k, B, S, kvE));
    v = uniform(rand, layoutExtent(lay.v, B, S, kvE));
    if (spec.outSeqFirst) shape = { ...shape, o: rowLayout(B, L, E, false) };
  }
  const full = attentionLayout(shape);
  const mask = spec.mask?.(rand, full);
  const keyPaddingMask = spec.keyPaddingMask?.(rand, full);
  const o0 = uniform(rand, layoutExtent(full.o, B, L, E), 5, 6);
  const qb = sc.upload(q, 'q');
  const bufs = {
    q: qb,
    k: k === q ? qb : sc.upload(k, 'k'),
    v: v === q ? qb : sc.upload(v, 'v'),
    mask: mask && sc.upload(mask, 'mask'),
    keyPaddingMask: keyPaddingMask && sc.upload(keyPaddingMask, 'kpm'),
  };
  return { shape, o0, bufs, want: attentionRef(q, k, v, shape, { mask, keyPaddingMask }, o0.slice()) };
}

/**
 * 'kernel': the fused kernel and the prob-writing one (attention()), checked against each other too;
 * 'steps': attentionSteps (matmul, masked softmax, matmul). Both against attentionRef with the same tolerances.
 */
function attentionCase(name: string, spec: Spec, seed: number, mode: 'kernel' | 'steps'): GpuCase {
  const label = mode === 'steps' ? `attention steps ${name}` : `attention ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const { shape, o0, bufs, want } = attentionInputs(sc, spec, rng(seed));
        const { B, H, L, S } = shape;
        const oLen = o0.length;
        const pLen = B * H * L * S;
        const probs = sc.empty(pLen, 'probs');
        let gotProbs: Float32Array;
        if (mode === 'steps') {
          const o = sc.upload(o0, 'o steps');
          await sc.run(...(await attentionSteps(ctx, { ...bufs, o, probs }, shape, 'attention steps', { workgroupSize: spec.workgroupSize })));
          const gotOut = await sc.read(o);
          gotProbs = await sc.read(probs);
          assertClose(`${label}: probs`, gotProbs, want.probs, { atol: 1e-6, shape: [B, H, L, S] });
          assertClose(`${label}: output`, gotOut, want.out, { atol: 1e-5, shape: [oLen] });
          if (gotOut.some(Number.isNaN) || gotProbs.some(Number.isNaN)) throw new Error(`${label}: NaN in the output or probs`);
        } else {
          const oFused = sc.upload(o0, 'o fused');
          const oProbs = sc.upload(o0, 'o probs');
          await sc.run(
            await attention(ctx, { ...bufs, o: oFused }, shape, 'attention fused'),
            await attention(ctx, { ...bufs, o: oProbs, probs }, shape, 'attention probs', { writeProbs: true }),
          );
          const [gotFused, gotProbsOut] = [await sc.read(oFused), await sc.read(oProbs)];
          gotProbs = await sc.read(probs);
          assertClose(`${label}: probs`, gotProbs, want.probs, { atol: 1e-6, shape: [B, H, L, S] });
          assertClose(`${label}: output (prob-writing)`, gotProbsOut, want.out, { atol: 1e-5, shape: [oLen] });
          assertClose(`${label}: output (fused)`, gotFused, want.out, { atol: 1e-5, shape: [oLen] });
          assertClose(`${label}: fused vs prob-writing output`, gotFused, gotProbsOut, { atol: 2e-6, shape: [oLen] });
          for (const [what, a] of [['fused', gotFused], ['prob-writing', gotProbsOut], ['probs', gotProbs]] as const) {
            if (a.some(Number.isNaN)) throw new Error(`${label}: NaN in the ${what} output`);
          }
        }
        if (spec.zeroRows !== undefined) {
          let zero = 0;
          for (let r = 0; r < B * H * L; r++) if (gotProbs.subarray(r * S, (r + 1) * S).every((x) => x === 0)) zero++;
          if (zero !== spec.zeroRows) throw new Error(`${label}: ${zero} all-zero probability rows, expected ${spec.zeroRows}`);
        }
      }),
  };
}

/** An additive mask with random values in [-2, 2] and about `pInf` of its entries -inf. */
export function randomMask(n: number, pInf: number) {
  return (rand: () => number) => {
    const m = uniform(rand, n, -2, 2);
    for (let i = 0; i < n; i++) if (rand() < pInf) m[i] = -Infinity;
    return m;
  };
}

/** Key padding [B, S]: batch row b pads its last pad[b] keys. */
export function padLast(pad: number[]) {
  return (_rand: () => number, s: { B: number; S: number }) => {
    const m = new Uint8Array(s.B * s.S);
    for (let b = 0; b < s.B; b++) for (let j = s.S - pad[b]; j < s.S; j++) m[b * s.S + j] = 1;
    return boolToAdditive(m);
  };
}

/** The fused, prob-writing and steps kernels' shapes; attention_flash.cases.ts runs them too. */
export const specs: [string, Spec][] = [
  ['1 query, 1 key, D=1', { shape: { B: 1, H: 1, L: 1, S: 1, D: 1 } }],
  ['packed batch-first B=3 H=2 L=S=17 D=8', { shape: { B: 3, H: 2, L: 17, S: 17, D: 8 }, packed: 'batch-first' }],
  ['packed seq-first B=3 H=5 L=S=17 D=13', { shape: { B: 3, H: 5, L: 17, S: 17, D: 13 }, packed: 'seq-first' }],
  ['packed seq-first B=1 H=8 L=S=64 D=8', { shape: { B: 1, H: 8, L: 64, S: 64, D: 8 }, packed: 'seq-first' }],
  ['packed batch-first B=3 H=2 L=S=130 D=64, output seq-first', { shape: { B: 3, H: 2, L: 130, S: 130, D: 64 }, packed: 'batch-first', outSeqFirst: true }],
  ['packed seq-first B=1 H=1 L=S=65 D=100', { shape: { B: 1, H: 1, L: 65, S: 65, D: 100 }, packed: 'seq-first' }],
  ['separate Q/K/V L=3 S=65 D=1', { shape: { B: 1, H: 1, L: 3, S: 65, D: 1 } }],
  ['separate Q/K/V B=3 H=5 L=65 S=3 D=13', { shape: { B: 3, H: 5, L: 65, S: 3, D: 13 } }],
  ['separate Q/K/V B=1 H=8 L=17 S=130 D=64, output seq-first', { shape: { B: 1, H: 8, L: 17, S: 130, D: 64 }, outSeqFirst: true }],
  ['separate Q/K/V B=3 H=2 L=64 S=1 D=100', { shape: { B: 3, H: 2, L: 64, S: 1, D: 100 } }],
  ['separate Q/K/V, S=1000 (many key blocks) D=8', { shape: { B: 1, H: 2, L: 3, S: 1000, D: 8 } }],
  [`D=${MAX_HEAD_DIM} (the maximum) L=3 S=70`, { shape: { B: 1, H: 2, L: 3, S: 70, D: MAX_HEAD_DIM } }],
  [
    'offsets and padded row strides, scale 0.3',
    {
      shape: {
        B: 3, H: 2, L: 5, S: 7, D: 8, scale: 0.3,
        q: { off: 3, strideB: 5 * 20, strideL: 20 },
        k: { off: 1, strideB: 17, strideL: 3 * 17 },
        v: { off: 0, strideB: 7 * 16, strideL: 16 },
        o: { off: 9, strideB: 5 * 19, strideL: 19 },
      },
    },
  ],
  ['causal packed batch-first B=3 H=2 L=S=17 D=8', { shape: { B: 3, H: 2, L: 17, S: 17, D: 8, causal: true }, packed: 'batch-first' }],
  ['causal with a cached prefix L=3 S=17 D=13', { shape: { B: 3, H: 5, L: 3, S: 17, D: 13, causal: true } }],
  ['causal with a cached prefix L=65 S=130 D=64', { shape: { B: 1, H: 2, L: 65, S: 130, D: 64, causal: true } }],
  // S < L: causalOffset = S - L < 0, so the first L - S queries see no key at all -> zeros.
  ['causal S < L: first queries fully blocked', { shape: { B: 1, H: 2, L: 17, S: 3, D: 8, causal: true }, zeroRows: 2 * 14 }],
  ['float 2-D mask with some -inf', { shape: { B: 3, H: 2, L: 17, S: 65, D: 13 }, mask: randomMask(17 * 65, 0.3) }],
  ['float 3-D mask [B*H, L, S]', { shape: { B: 3, H: 5, L: 17, S: 17, D: 8, maskBatched: true }, packed: 'seq-first', mask: randomMask(3 * 5 * 17 * 17, 0.2) }],
  [
    'bool 2-D mask (upper triangle) via boolToAdditive',
    {
      shape: { B: 3, H: 2, L: 17, S: 17, D: 8 },
      packed: 'batch-first',
      mask: (_r, s) => boolToAdditive(Uint8Array.from({ length: s.L * s.S }, (_, i) => (i % s.S > Math.floor(i / s.S) ? 1 : 0))),
    },
  ],
  [
    'bool 3-D mask via boolToAdditive',
    {
      shape: { B: 1, H: 8, L: 3, S: 64, D: 8, maskBatched: true },
      mask: (r, s) => boolToAdditive(Uint8Array.from({ length: s.B * s.H * s.L * s.S }, (_, i) => (i % s.S === 0 ? 0 : r() < 0.5 ? 1 : 0))),
    },
  ],
  ['key padding, batch 1 pads 9 of 17 keys', { shape: { B: 3, H: 2, L: 17, S: 17, D: 8 }, packed: 'seq-first', keyPaddingMask: padLast([0, 9, 1]) }],
  ['key padding, batch 2 pads every key -> zeros', { shape: { B: 3, H: 2, L: 5, S: 130, D: 13 }, keyPaddingMask: padLast([3, 70, 130]), zeroRows: 2 * 5 }],
  [
    'causal + 2-D float mask + key padding',
    { shape: { B: 3, H: 2, L: 17, S: 17, D: 8, causal: true }, packed: 'batch-first', mask: randomMask(17 * 17, 0.1), keyPaddingMask: padLast([0, 5, 16]) },
  ],
  ['float key-padding mask (finite values)', { shape: { B: 3, H: 2, L: 3, S: 65, D: 8 }, keyPaddingMask: (r, s) => uniform(r, s.B * s.S, -3, 3) }],
  [
    'separate seq-first Q/K/V and output B=3 H=2 L=17 S=40 D=12',
    { shape: { B: 3, H: 2, L: 17, S: 40, D: 12, q: rowLayout(3, 17, 24, false), k: rowLayout(3, 40, 24, false), v: rowLayout(3, 40, 24, false) }, outSeqFirst: true },
  ],
  [
    'separate seq-first, causal L=5 S=19 D=7 + key padding',
    {
      shape: { B: 2, H: 3, L: 5, S: 19, D: 7, causal: true, q: rowLayout(2, 5, 21, false), k: rowLayout(2, 19, 21, false), v: rowLayout(2, 19, 21, false) },
      outSeqFirst: true,
      keyPaddingMask: padLast([2, 0]),
    },
  ],
  ['medium B=1 H=8 L=S=64 D=32 packed seq-first, causal', { shape: { B: 1, H: 8, L: 64, S: 64, D: 32, causal: true }, packed: 'seq-first' }],
  // Grouped-query attention: query head h reads key / value head floor(h / (H / KVH)); K and V hold KVH heads.
  ['grouped K/V heads B=2 H=6 KVH=2 L=9 S=9 D=8, causal', { shape: { B: 2, H: 6, KVH: 2, L: 9, S: 9, D: 8, causal: true } }],
  ['grouped K/V heads B=3 H=4 KVH=1 L=5 S=70 D=13 + key padding', { shape: { B: 3, H: 4, KVH: 1, L: 5, S: 70, D: 13 }, keyPaddingMask: padLast([0, 30, 69]) }],
  ['grouped K/V heads B=1 H=9 KVH=3 L=1 S=33 D=64 (a decode step), causal', { shape: { B: 1, H: 9, KVH: 3, L: 1, S: 33, D: 64, causal: true } }],
  [
    'grouped K/V heads, seq-first rows with offsets B=2 H=4 KVH=2 L=5 S=7 D=6',
    {
      shape: {
        B: 2, H: 4, KVH: 2, L: 5, S: 7, D: 6,
        q: { off: 2, strideB: 24, strideL: 2 * 24 },
        k: { off: 1, strideB: 13, strideL: 2 * 13 },
        v: { off: 0, strideB: 12, strideL: 2 * 12 },
      },
      outSeqFirst: true,
    },
  ],
];

/** Shapes only attentionSteps runs: no head-dim limit, and the other matmul workgroup sizes. */
const stepsSpecs: [string, Spec][] = [
  [`D=${MAX_HEAD_DIM + 44} (past the fused kernel's maximum) L=5 S=9`, { shape: { B: 2, H: 2, L: 5, S: 9, D: MAX_HEAD_DIM + 44 } }],
  ['matmul workgroup 8: packed seq-first B=3 H=5 L=S=17 D=13, causal', { shape: { B: 3, H: 5, L: 17, S: 17, D: 13, causal: true }, packed: 'seq-first', workgroupSize: 8 }],
  ['matmul workgroup 16: packed batch-first B=3 H=2 L=S=130 D=64, 3-D mask', { shape: { B: 3, H: 2, L: 130, S: 130, D: 64, maskBatched: true }, packed: 'batch-first', mask: randomMask(3 * 2 * 130 * 130, 0.2), workgroupSize: 16 }],
];

export const cases: GpuCase[] = [
  ...specs.map(([name, spec], i) => attentionCase(name, spec, 500 + i, 'kernel')),
  ...specs.map(([name, spec], i) => attentionCase(name, spec, 500 + i, 'steps')),
  ...stepsSpecs.map(([name, spec], i) => attentionCase(name, spec, 600 + i, 'steps')),
  {
    name: `attention rejects D > ${MAX_HEAD_DIM} and a missing probs buffer`,
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const D = MAX_HEAD_DIM + 1;
        const x = sc.empty(2 * D);
        const expectThrow = async (what: string, f: () => Promise<unknown>, re: RegExp) => {
          const err = await f().then(
            () => undefined,
            (e: unknown) => e,
          );
          if (!(err instanceof Error) || !re.test(err.message)) throw new Error(`attention: ${what} should fail with ${re}, got ${String(err)}`);
        };
        await expectThrow('D > max', () => attention(ctx, { q: x, k: x, v: x, o: x }, { B: 1, H: 1, L: 1, S: 1, D }), /head dim D = 257 exceeds .* maximum of 256/);
        await expectThrow('writeProbs without probs', () => attention(ctx, { q: x, k: x, v: x, o: x }, { B: 1, H: 1, L: 1, S: 1, D: 8 }, 'attention', { writeProbs: true }), /writeProbs needs a probs buffer/);
        await expectThrow('short buffer', () => attention(ctx, { q: x, k: x, v: x, o: x }, { B: 4, H: 2, L: 100, S: 1, D: 8 }), /buffer q holds/);
        await expectThrow('KVH not dividing H', () => attention(ctx, { q: x, k: x, v: x, o: x }, { B: 1, H: 6, KVH: 4, L: 1, S: 1, D: 8 }), /KVH = 4 key\/value heads do not divide H = 6 query heads/);
      }),
  },
  {
    name: 'attention steps rejects a missing probs buffer, aliasing outputs and short buffers',
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const x = sc.empty(1024);
        const [o, probs] = [sc.empty(256), sc.empty(64)];
        const shape = { B: 1, H: 2, L: 2, S: 2, D: 4 };
        const expectThrow = async (what: string, f: () => Promise<unknown>, re: RegExp) => {
          const err = await f().then(() => 'no error', String);
          if (!re.test(err)) throw new Error(`attention steps ${what}: got '${err}', want ${re}`);
        };
        await expectThrow('no probs', () => attentionSteps(ctx, { q: x, k: x, v: x, o }, shape, 'st'), /st: attentionSteps needs a probs buffer/);
        await expectThrow('o is probs', () => attentionSteps(ctx, { q: x, k: x, v: x, o, probs: o }, shape, 'st'), /st: buffer o must not be the same GPUBuffer as probs/);
        await expectThrow('o is q', () => attentionSteps(ctx, { q: x, k: x, v: x, o: x, probs }, shape, 'st'), /st: buffer o must not be the same GPUBuffer as q/);
        await expectThrow('probs is v', () => attentionSteps(ctx, { q: x, k: x, v: probs, o, probs }, shape, 'st'), /st: buffer probs must not be the same GPUBuffer as v/);
        await expectThrow('probs is the mask', () => attentionSteps(ctx, { q: x, k: x, v: x, o, probs, mask: probs }, shape, 'st'), /st: buffer probs must not be the same GPUBuffer as mask/);
        await expectThrow('short probs', () => attentionSteps(ctx, { q: x, k: x, v: x, o, probs }, { ...shape, L: 9, S: 4 }, 'st'), /st: buffer probs holds 64 elements, the shape needs 72/);
      }),
  },
];
