import { type AttentionShape, attentionLayout, boolToAdditive } from '../../src/kernels/attention.ts';
import { attentionSoftmax, attentionSoftmaxRef } from '../../src/kernels/attention_softmax.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

type Full = ReturnType<typeof attentionLayout>;

interface Spec {
  shape: AttentionShape;
  /** Score range (default ±4 before the scale). */
  lo?: number;
  hi?: number;
  mask?: (rand: () => number, s: Full) => Float32Array;
  keyPaddingMask?: (rand: () => number, s: Full) => Float32Array;
  /** The number of all-zero probability rows expected (fully blocked queries). */
  zeroRows?: number;
}

function softmaxCase(name: string, spec: Spec, seed: number): GpuCase {
  return {
    name: `attention_softmax ${name}`,
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const rand = rng(seed);
        const s = attentionLayout(spec.shape);
        const n = s.B * s.H * s.L * s.S;
        const scores = uniform(rand, n, spec.lo ?? -4, spec.hi ?? 4);
        const mask = spec.mask?.(rand, s);
        const kpm = spec.keyPaddingMask?.(rand, s);
        const probs = sc.upload(scores, 'probs');
        await sc.run(await attentionSoftmax(ctx, { probs, mask: mask && sc.upload(mask, 'mask'), keyPaddingMask: kpm && sc.upload(kpm, 'kpm') }, spec.shape));
        const got = await sc.read(probs);
        const want = attentionSoftmaxRef(scores, spec.shape, { mask, keyPaddingMask: kpm });
        const label = `attention_softmax ${name}`;
        assertClose(label, got, want, { atol: 1e-6, shape: [s.B, s.H, s.L, s.S] });
        if (got.some(Number.isNaN)) throw new Error(`${label}: NaN in the output`);
        // Every row sums to 1 unless fully blocked (all zeros); zeroRows pins how many are, where the spec knows.
        let zero = 0;
        for (let r = 0; r < s.B * s.H * s.L; r++) {
          const row = got.subarray(r * s.S, (r + 1) * s.S);
          if (row.every((x) => x === 0)) zero++;
          else {
            const sum = row.reduce((a, x) => a + x, 0);
            if (Math.abs(sum - 1) > 1e-5) throw new Error(`${label}: row ${r} sums to ${sum}`);
          }
        }
        if (spec.zeroRows !== undefined && zero !== spec.zeroRows) throw new Error(`${label}: ${zero} all-zero rows, expected ${spec.zeroRows}`);
      }),
  };
}

/** An additive mask with random values in [-2, 2] and about `pInf` of its entries -inf. */
function randomMask(pInf: number, batched = false) {
  return (rand: () => number, s: Full) => {
    const n = (batched ? s.B * s.H : 1) * s.L * s.S;
    const m = uniform(rand, n, -2, 2);
    for (let i = 0; i < n; i++) if (rand() < pInf) m[i] = -Infinity;
    return m;
  };
}

/** Key padding [B, S]: batch row b pads its last pad[b] keys. */
function padLast(pad: number[]) {
  return (_rand: () => number, s: Full) => {
    const m = new Uint8Array(s.B * s.S);
    for (let b = 0; b < s.B; b++) for (let j = s.S - pad[b]; j < s.S; j++) m[b * s.S + j] = 1;
    return boolToAdditive(m);
  };
}

const specs: [string, Spec][] = [
  ['1 row, 1 key', { shape: { B: 1, H: 1, L: 1, S: 1, D: 1 } }],
  ['B=3 H=5 L=17 S=65, default scale', { shape: { B: 3, H: 5, L: 17, S: 65, D: 13 } }],
  ['rows past one workgroup B=2 H=8 L=64 S=64', { shape: { B: 2, H: 8, L: 64, S: 64, D: 32 } }],
  ['long rows S=1000, scale 0.3', { shape: { B: 1, H: 2, L: 3, S: 1000, D: 8, scale: 0.3 } }],
  ['large magnitudes ±80 (scale 1)', { shape: { B: 1, H: 2, L: 5, S: 130, D: 1 }, lo: -80, hi: 80 }],
  ['causal L=S=17', { shape: { B: 3, H: 2, L: 17, S: 17, D: 8, causal: true } }],
  ['causal with a cached prefix L=3 S=17', { shape: { B: 3, H: 5, L: 3, S: 17, D: 13, causal: true } }],
  ['causal S < L: first queries fully blocked', { shape: { B: 1, H: 2, L: 17, S: 3, D: 8, causal: true }, zeroRows: 2 * 14 }],
  ['causal, explicit causalOffset 2', { shape: { B: 2, H: 1, L: 9, S: 9, D: 8, causal: true, causalOffset: 2 } }],
  ['causal, causalOffset -20 blocks every key', { shape: { B: 1, H: 2, L: 9, S: 9, D: 8, causal: true, causalOffset: -20 }, zeroRows: 2 * 9 }],
  ['2-D float mask with some -inf', { shape: { B: 3, H: 2, L: 17, S: 65, D: 13 }, mask: randomMask(0.3) }],
  ['3-D float mask [B*H, L, S]', { shape: { B: 3, H: 5, L: 17, S: 17, D: 8, maskBatched: true }, mask: randomMask(0.2, true) }],
  ['key padding, batch 2 pads every key -> zeros', { shape: { B: 3, H: 2, L: 5, S: 130, D: 13 }, keyPaddingMask: padLast([3, 70, 130]), zeroRows: 2 * 5 }],
  [
    'causal + 2-D mask + key padding',
    { shape: { B: 3, H: 2, L: 17, S: 17, D: 8, causal: true }, mask: randomMask(0.1), keyPaddingMask: padLast([0, 5, 16]) },
  ],
  [
    'a fully -inf mask row gives zeros',
    {
      shape: { B: 2, H: 3, L: 4, S: 7, D: 8 },
      mask: (r, s) => {
        const m = uniform(r, s.L * s.S, -1, 1);
        m.fill(-Infinity, 2 * s.S, 3 * s.S);
        return m;
      },
      zeroRows: 2 * 3,
    },
  ],
];

export const cases: GpuCase[] = [
  ...specs.map(([name, spec], i) => softmaxCase(name, spec, 700 + i)),
  {
    name: 'attention_softmax rejects short buffers and probs aliasing a mask',
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const x = sc.empty(64);
        const shape = { B: 1, H: 2, L: 4, S: 8, D: 8 };
        const expectThrow = async (what: string, f: () => Promise<unknown>, re: RegExp) => {
          const err = await f().then(() => 'no error', String);
          if (!re.test(err)) throw new Error(`attention_softmax ${what}: got '${err}', want ${re}`);
        };
        await expectThrow('short probs', () => attentionSoftmax(ctx, { probs: x }, { ...shape, L: 5 }, 'asm'), /asm: buffer probs holds 64 elements, the shape needs 80/);
        await expectThrow('short mask', () => attentionSoftmax(ctx, { probs: x, mask: sc.empty(31) }, shape, 'asm'), /asm: buffer mask holds 31 elements, the shape needs 32/);
        await expectThrow('mask is probs', () => attentionSoftmax(ctx, { probs: x, mask: x }, shape, 'asm'), /asm: buffer probs must not be the same GPUBuffer as mask/);
        await expectThrow('bad scale', () => attentionSoftmax(ctx, { probs: x }, { ...shape, scale: NaN }, 'asm'), /asm: scale NaN is not finite/);
      }),
  },
];
