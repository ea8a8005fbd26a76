// attention_flash against attentionRef: every shape of the fused / steps kernels' cases (layouts, masks of every kind,
// grouped K/V heads, fully blocked rows), and self-attention at lengths 1, 7, 64 and 300 under each kind of mask.
import { boolToAdditive } from '../../src/kernels/attention.ts';
import { attentionFlash } from '../../src/kernels/attention_flash.ts';
import { assertClose, type GpuCase, rng, withScope } from '../harness.ts';
import { attentionInputs, padLast, randomMask, type Spec, specs } from './attention.cases.ts';

function flashCase(name: string, spec: Spec, seed: number): GpuCase {
  const label = `attention_flash ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const { shape, o0, bufs, want } = attentionInputs(sc, spec, rng(seed));
        const o = sc.upload(o0, 'o');
        await sc.run(await attentionFlash(ctx, { ...bufs, o }, shape, label));
        const got = await sc.read(o);
        if (got.some(Number.isNaN)) throw new Error(`${label}: NaN in the output`);
        assertClose(label, got, want.out, { atol: 1e-5, shape: [got.length] });
      }),
  };
}

/** Self-attention of length n, batch 2, 2 heads, D 16, under one kind of mask. */
function lengthSpecs(n: number): [string, Spec][] {
  const shape = { B: 2, H: 2, L: n, S: n, D: 16 };
  return [
    [`length ${n}, no mask`, { shape, packed: 'batch-first' }],
    [`length ${n}, causal`, { shape: { ...shape, causal: true }, packed: 'seq-first' }],
    [`length ${n}, float mask with -inf`, { shape, mask: randomMask(n * n, 0.2) }],
    [
      `length ${n}, bool 3-D mask`,
      { shape: { ...shape, maskBatched: true }, mask: (r, s) => boolToAdditive(Uint8Array.from({ length: s.B * s.H * s.L * s.S }, (_, i) => (i % s.S === 0 ? 0 : r() < 0.5 ? 1 : 0))) },
    ],
    [`length ${n}, key padding (batch 1 pads all but one key)`, { shape, packed: 'batch-first', keyPaddingMask: padLast([0, n - 1]) }],
  ];
}

export const cases: GpuCase[] = [
  ...specs.map(([name, spec], i) => flashCase(name, spec, 700 + i)),
  ...[1, 7, 64, 300].flatMap((n) => lengthSpecs(n)).map(([name, spec], i) => flashCase(name, spec, 800 + i)),
];
