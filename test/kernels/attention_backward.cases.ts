import {
  type AttentionMasks,
  type AttentionShape,
  attentionLayout,
  attentionRef,
  boolToAdditive,
  layoutExtent,
  MAX_HEAD_DIM,
  packedQkvLayouts,
  type RowLayout,
  rowLayout,
} from '../../src/kernels/attention.ts';
import {
  attentionBackwardRef,
  attentionKeyGrad,
  attentionProbsGrad,
  attentionQueryGrad,
  attentionValueGrad,
} from '../../src/kernels/attention_backward.ts';
import { softmaxBackward } from '../../src/kernels/softmax_backward.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

type Full = ReturnType<typeof attentionLayout>;

interface Spec {
  shape: AttentionShape;
  /** Q, K and V are column slices of one packed [rows, 3E] buffer, and so are dQ, dK and dV (needs L == S). */
  packed?: 'batch-first' | 'seq-first';
  /** Separate Q, K, V and O in seq-first row order (PyTorch's default) instead of batch-first. */
  seqFirst?: boolean;
  /** O (and so dO) rows in seq-first order, overriding the default of the case. */
  outSeqFirst?: boolean;
  mask?: (rand: () => number, s: Full) => Float32Array;
  keyPaddingMask?: (rand: () => number, s: Full) => Float32Array;
  /** The number of all-zero probability rows (fully blocked queries) the masks must produce. */
  zeroRows?: number;
}

/** The shape with its layouts filled in as the spec asks. */
function specShape(spec: Spec): Full {
  const { B, L, S, H, D } = spec.shape;
  const E = H * D;
  const kvE = (spec.shape.KVH ?? H) * D;
  let shape: AttentionShape = { ...spec.shape };
  if (spec.packed) {
    if (L !== S) throw new Error('packed cases are self-attention (L == S)');
    const bf = spec.packed === 'batch-first';
    shape = { ...shape, ...packedQkvLayouts(B, L, E, bf), o: rowLayout(B, L, E, spec.outSeqFirst === undefined ? bf : !spec.outSeqFirst) };
  } else if (spec.seqFirst) {
    shape = { ...shape, q: rowLayout(B, L, E, false), k: rowLayout(B, S, kvE, false), v: rowLayout(B, S, kvE, false), o: rowLayout(B, L, E, false) };
  }
  if (spec.outSeqFirst !== undefined && !spec.packed) shape = { ...shape, o: rowLayout(B, L, E, !spec.outSeqFirst) };
  return attentionLayout(shape);
}

/** Calls f(index) for every element of the H*D columns of each of the `len` rows of `lay`. */
function forEachElement(lay: RowLayout, B: number, len: number, E: number, f: (i: number) => void): void {
  for (let b = 0; b < B; b++) for (let i = 0; i < len; i++) for (let c = 0; c < E; c++) f(lay.off + b * lay.strideB + i * lay.strideL + c);
}

/** Copies the written elements of `src` (a gradient at layout `lay`) into `dst`. */
function place(dst: Float32Array, src: Float32Array, lay: RowLayout, B: number, len: number, E: number): void {
  forEachElement(lay, B, len, E, (i) => (dst[i] = src[i]));
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Gradient buffers start filled with this: elements outside the written columns must keep it. */
const SENTINEL = 7.25;

/**
 * Every GPU stage of the backward pass against attentionBackwardRef: dP, dS (softmaxBackward of P and the GPU's dP),
 * then dQ, dK, dV from the GPU's dS. Tolerance: atol 1e-5 + rtol 1e-4 of the tensor's largest magnitude (f32 sums
 * of up to a few hundred terms).
 */
function backwardCase(name: string, spec: Spec, seed: number): GpuCase {
  const label = `attention backward ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const rand = rng(seed);
        const s = specShape(spec);
        const { B, H, L, S, D } = s;
        const E = H * D;
        const kvE = s.KVH * D;
        let q: Float32Array, k: Float32Array, v: Float32Array;
        if (spec.packed) {
          q = k = v = uniform(rand, layoutExtent(s.v, B, S, E));
        } else {
          q = uniform(rand, layoutExtent(s.q, B, L, E));
          k = uniform(rand, layoutExtent(s.k, B, S, kvE));
          v = uniform(rand, layoutExtent(s.v, B, S, kvE));
        }
        const masks: AttentionMasks = { mask: spec.mask?.(rand, s), keyPaddingMask: spec.keyPaddingMask?.(rand, s) };
        const { probs } = attentionRef(q, k, v, s, masks);
        const dO = uniform(rand, layoutExtent(s.o, B, L, E));
        const want = attentionBackwardRef(q, k, v, probs, dO, s);
        if (spec.zeroRows !== undefined) {
          let zero = 0;
          for (let r = 0; r < B * H * L; r++) if (probs.subarray(r * S, (r + 1) * S).every((x) => x === 0)) zero++;
          if (zero !== spec.zeroRows) throw new Error(`${label}: ${zero} all-zero probability rows, expected ${spec.zeroRows}`);
        }

        const qb = sc.upload(q, 'q');
        const kb = k === q ? qb : sc.upload(k, 'k');
        const vb = v === q ? qb : sc.upload(v, 'v');
        const pb = sc.upload(probs, 'probs');
        const dOb = sc.upload(dO, 'dO');
        const dP = sc.empty(B * H * L * S, 'dP');
        const dS = sc.empty(B * H * L * S, 'dS');
        // Gradient buffers (one packed buffer, or three) and what they must hold afterwards.
        const grads = spec.packed ? ['dqkv'] : ['dq', 'dk', 'dv'];
        const lens = spec.packed ? [q.length] : [q.length, k.length, v.length];
        const gb = grads.map((g, i) => sc.upload(new Float32Array(lens[i]).fill(SENTINEL), g));
        const expect = lens.map((n) => new Float32Array(n).fill(SENTINEL));
        const [eq, ek, ev] = spec.packed ? [expect[0], expect[0], expect[0]] : expect;
        place(eq, want.dq, s.q, B, L, E);
        place(ek, want.dk, s.k, B, S, kvE);
        place(ev, want.dv, s.v, B, S, kvE);
        const [gq, gk, gv] = spec.packed ? [gb[0], gb[0], gb[0]] : gb;

        await sc.run(
          ...(await attentionProbsGrad(ctx, { dO: dOb, v: vb, dP }, s, `${label}: dP`)),
          await softmaxBackward(ctx, { probs: pb, dp: dP, dx: dS }, { rows: B * H * L, n: S }, `${label}: dS`),
          ...(await attentionQueryGrad(ctx, { dS, k: kb, dq: gq }, s, `${label}: dq`)),
          ...(await attentionKeyGrad(ctx, { dS, q: qb, dk: gk }, s, `${label}: dk`)),
          ...(await attentionValueGrad(ctx, { p: pb, dO: dOb, dv: gv }, s, `${label}: dv`)),
        );

        // The magnitude the relative tolerance is taken against: the largest |value| of the reference tensor(s).
        const check = (what: string, got: Float32Array, w: Float32Array, shape: number[], m = maxAbs(w)) => {
          const scale = new Float32Array(w.length).fill(m);
          assertClose(`${label}: ${what}`, got, w, { atol: 1e-5, rtol: 1e-4, scale, shape });
          if (got.some(Number.isNaN)) throw new Error(`${label}: NaN in ${what}`);
        };
        check('dP', await sc.read(dP), want.dP, [B, H, L, S]);
        check('dS', await sc.read(dS), want.dS, [B, H, L, S]);
        const mags = spec.packed ? [Math.max(maxAbs(want.dq), maxAbs(want.dk), maxAbs(want.dv))] : [maxAbs(want.dq), maxAbs(want.dk), maxAbs(want.dv)];
        for (let i = 0; i < grads.length; i++) check(grads[i], await sc.read(gb[i]), expect[i], [lens[i]], mags[i]);
        // Masked keys: P = 0 must give dS = 0 exactly.
        const gotDS = await sc.read(dS);
        for (let i = 0; i < probs.length; i++) if (probs[i] === 0 && gotDS[i] !== 0) throw new Error(`${label}: dS[${i}] = ${gotDS[i]} where P = 0`);
      }),
  };
}

/** Key padding [B, S]: batch row b pads its last pad[b] keys. */
function padLast(pad: number[]) {
  return (_rand: () => number, s: { B: number; S: number }) => {
    const m = new Uint8Array(s.B * s.S);
    for (let b = 0; b < s.B; b++) for (let j = s.S - pad[b]; j < s.S; j++) m[b * s.S + j] = 1;
    return boolToAdditive(m);
  };
}

/** An additive mask with random values in [-2, 2] and about `pInf` of its entries -inf. */
function randomMask(n: number, pInf: number) {
  return (rand: () => number) => {
    const m = uniform(rand, n, -2, 2);
    for (let i = 0; i < n; i++) if (rand() < pInf) m[i] = -Infinity;
    return m;
  };
}

const specs: [string, Spec][] = [
  ['1 query, 1 key, D=1', { shape: { B: 1, H: 1, L: 1, S: 1, D: 1 } }],
  ['batch-first B=2 H=3 L=7 S=11 D=5', { shape: { B: 2, H: 3, L: 7, S: 11, D: 5 } }],
  ['seq-first B=3 H=2 L=11 S=7 D=5', { shape: { B: 3, H: 2, L: 11, S: 7, D: 5 }, seqFirst: true }],
  ['seq-first Q/K/V, batch-first output B=2 H=2 L=9 S=33 D=8', { shape: { B: 2, H: 2, L: 9, S: 33, D: 8 }, seqFirst: true, outSeqFirst: false }],
  ['packed batch-first B=3 H=2 L=S=17 D=5', { shape: { B: 3, H: 2, L: 17, S: 17, D: 5 }, packed: 'batch-first' }],
  ['packed seq-first B=2 H=4 L=S=33 D=13', { shape: { B: 2, H: 4, L: 33, S: 33, D: 13 }, packed: 'seq-first' }],
  ['packed batch-first B=1 H=2 L=S=40 D=64, output seq-first', { shape: { B: 1, H: 2, L: 40, S: 40, D: 64 }, packed: 'batch-first', outSeqFirst: true }],
  ['many workgroups B=2 H=4 L=70 S=130 D=40', { shape: { B: 2, H: 4, L: 70, S: 130, D: 40 } }],
  [`D=${MAX_HEAD_DIM} (the maximum) L=3 S=37`, { shape: { B: 1, H: 2, L: 3, S: 37, D: MAX_HEAD_DIM } }],
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
  ['causal + key padding, packed seq-first B=3 H=2 L=S=17 D=5', { shape: { B: 3, H: 2, L: 17, S: 17, D: 5, causal: true }, packed: 'seq-first', keyPaddingMask: padLast([0, 6, 16]) }],
  ['causal with a cached prefix L=5 S=19 D=7', { shape: { B: 2, H: 3, L: 5, S: 19, D: 7, causal: true } }],
  // S < L: causalOffset = S - L < 0, so the first L - S queries see no key at all: zero probabilities and gradients.
  ['causal S < L: first queries fully blocked', { shape: { B: 2, H: 2, L: 17, S: 5, D: 6, causal: true }, zeroRows: 2 * 2 * 12 }],
  ['key padding, batch 1 pads every key (fully blocked rows)', { shape: { B: 3, H: 2, L: 6, S: 70, D: 5 }, keyPaddingMask: padLast([3, 70, 0]), zeroRows: 2 * 6 }],
  ['float 2-D mask with some -inf, B=2 H=4 L=70 S=130 D=5', { shape: { B: 2, H: 4, L: 70, S: 130, D: 5 }, mask: randomMask(70 * 130, 0.3) }],
  // Grouped-query attention: KVH key / value heads, each read by H / KVH query heads; dK and dV sum over the group.
  ['grouped K/V heads B=2 H=6 KVH=2 L=7 S=11 D=5, causal', { shape: { B: 2, H: 6, KVH: 2, L: 7, S: 11, D: 5, causal: true } }],
  ['grouped K/V heads seq-first B=3 H=4 KVH=1 L=9 S=9 D=8 + key padding', { shape: { B: 3, H: 4, KVH: 1, L: 9, S: 9, D: 8 }, seqFirst: true, keyPaddingMask: padLast([0, 4, 8]) }],
  ['grouped K/V heads B=1 H=9 KVH=3 L=1 S=40 D=16 (a decode step)', { shape: { B: 1, H: 9, KVH: 3, L: 1, S: 40, D: 16, causal: true } }],
];

/**
 * The reference is a real gradient: central finite differences of loss = Σ attentionRef(q, k, v).out · dO against
 * attentionBackwardRef's dq, dk, dv at a few random elements of each. The forward runs in f64 end to end (its output
 * goes to a Float64Array), so the differences are accurate to ~1e-7; tolerance 1e-3 of |g| + 1e-5 of the largest |g|.
 */
function finiteDifferenceCase(name: string, spec: Spec, seed: number, picks = 8): GpuCase {
  const label = `attention backward reference is the gradient (finite differences): ${name}`;
  return {
    name: label,
    run: async () => {
      const rand = rng(seed);
      const s = specShape(spec);
      const { B, L, S, H, D } = s;
      const E = H * D;
      const kvE = s.KVH * D;
      const q = spec.packed ? uniform(rand, layoutExtent(s.v, B, S, E)) : uniform(rand, layoutExtent(s.q, B, L, E));
      const k = spec.packed ? q : uniform(rand, layoutExtent(s.k, B, S, kvE));
      const v = spec.packed ? q : uniform(rand, layoutExtent(s.v, B, S, kvE));
      const masks: AttentionMasks = { mask: spec.mask?.(rand, s), keyPaddingMask: spec.keyPaddingMask?.(rand, s) };
      const dO = uniform(rand, layoutExtent(s.o, B, L, E));
      const { probs } = attentionRef(q, k, v, s, masks);
      const g = attentionBackwardRef(q, k, v, probs, dO, s);
      const loss = () => {
        // attentionRef only indexes `out`; a Float64Array keeps its output (hence the loss) in f64.
        const out = new Float64Array(dO.length);
        attentionRef(q, k, v, s, masks, out as unknown as Float32Array);
        let sum = 0;
        for (let i = 0; i < out.length; i++) sum += out[i] * dO[i];
        return sum;
      };
      // Packed: one input array, whose gradient is dq + dk + dv (each zero outside its own columns).
      // (name, input, its layout, rows, columns, gradient at element i)
      const targets: [string, Float32Array, RowLayout, number, number, (i: number) => number][] = spec.packed
        ? [['dqkv', q, s.q, L, 3 * E, (i) => (g.dq[i] ?? 0) + (g.dk[i] ?? 0) + (g.dv[i] ?? 0)]]
        : [['dq', q, s.q, L, E, (i) => g.dq[i]], ['dk', k, s.k, S, kvE, (i) => g.dk[i]], ['dv', v, s.v, S, kvE, (i) => g.dv[i]]];
      for (const [what, x, lay, len, width, grad] of targets) {
        const idx: number[] = [];
        forEachElement(lay, B, len, width, (i) => idx.push(i));
        let gmax = 0;
        for (const i of idx) gmax = Math.max(gmax, Math.abs(grad(i)));
        if (!(gmax > 0)) throw new Error(`${label}: ${what} is all zero`);
        for (let t = 0; t < (spec.packed ? 3 * picks : picks); t++) {
          const i = idx[Math.floor(rand() * idx.length)];
          const x0 = x[i];
          const eps = 1e-3;
          x[i] = x0 + eps;
          const up = x[i];
          const fUp = loss();
          x[i] = x0 - eps;
          const down = x[i];
          const fDown = loss();
          x[i] = x0;
          const fd = (fUp - fDown) / (up - down);
          const want = grad(i);
          if (!(Math.abs(fd - want) <= 1e-3 * Math.abs(want) + 1e-5 * gmax)) {
            throw new Error(`${label}: ${what}[${i}] = ${want}, finite difference ${fd} (|diff| ${Math.abs(fd - want).toExponential(2)}, max |grad| ${gmax.toExponential(2)})`);
          }
        }
      }
    },
  };
}

const fdSpecs: [string, Spec][] = [
  ['separate Q/K/V B=2 H=2 L=5 S=7 D=5, scale 0.7, causal + key padding', { shape: { B: 2, H: 2, L: 5, S: 7, D: 5, scale: 0.7, causal: true }, keyPaddingMask: padLast([2, 0]) }],
  ['packed seq-first B=2 H=2 L=S=6 D=3, float mask', { shape: { B: 2, H: 2, L: 6, S: 6, D: 3 }, packed: 'seq-first', mask: randomMask(36, 0.2) }],
  ['seq-first B=2 H=3 L=4 S=9 D=4, output batch-first', { shape: { B: 2, H: 3, L: 4, S: 9, D: 4 }, seqFirst: true, outSeqFirst: false }],
  ['grouped K/V heads B=2 H=4 KVH=2 L=5 S=6 D=3, causal', { shape: { B: 2, H: 4, KVH: 2, L: 5, S: 6, D: 3, causal: true } }],
];

export const cases: GpuCase[] = [
  ...specs.map(([name, spec], i) => backwardCase(name, spec, 1500 + i)),
  ...fdSpecs.map(([name, spec], i) => finiteDifferenceCase(name, spec, 1600 + i)),
  {
    name: 'attention backward rejects D > max, a short buffer and a written buffer bound as an input',
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const x = sc.empty(4096);
        const y = sc.empty(4096);
        const z = sc.empty(4096);
        const expectThrow = async (what: string, f: () => Promise<unknown>, re: RegExp) => {
          const err = await f().then(
            () => undefined,
            (e: unknown) => e,
          );
          if (!(err instanceof Error) || !re.test(err.message)) throw new Error(`attention backward: ${what} should fail with ${re}, got ${String(err)}`);
        };
        const D = MAX_HEAD_DIM + 1;
        await expectThrow('D > max', () => attentionQueryGrad(ctx, { dS: x, k: y, dq: z }, { B: 1, H: 1, L: 1, S: 1, D }, 'dq'), /dq: head dim D = 257 exceeds .* maximum of 256/);
        await expectThrow('short dP', () => attentionProbsGrad(ctx, { dO: x, v: y, dP: z }, { B: 2, H: 4, L: 40, S: 30, D: 8 }, 'dp'), /dp: buffer dP holds 4096 elements, the shape needs 9600/);
        await expectThrow('short v', () => attentionValueGrad(ctx, { p: x, dO: y, dv: z }, { B: 1, H: 2, L: 30, S: 100, D: 8 }, 'dv'), /dv: buffer p holds 4096 elements, the shape needs 6000/);
        await expectThrow('short k', () => attentionKeyGrad(ctx, { dS: x, q: y, dk: z }, { B: 1, H: 1, L: 3, S: 3, D: 8, k: { off: 5000, strideB: 0, strideL: 8 } }, 'dk'), /dk: buffer dk holds 4096 elements, the shape needs 5024/);
        await expectThrow('alias', () => attentionKeyGrad(ctx, { dS: x, q: z, dk: z }, { B: 1, H: 1, L: 3, S: 3, D: 8 }, 'dk'), /dk: buffer dk must not be the same GPUBuffer as q/);
        await expectThrow('fractional', () => attentionValueGrad(ctx, { p: x, dO: y, dv: z }, { B: 1, H: 1, L: 2.5, S: 3, D: 8 }, 'dv'), /dv: L = 2.5 is not a non-negative 32-bit integer/);
      }),
  },
];
