import { type AttentionShape, attentionLayout, layoutExtent, rowLayout } from '../../src/kernels/attention.ts';
import { attentionKvGrad, attentionKvGradRef, type KvGradOf } from '../../src/kernels/attention_kv_grad.ts';
import { type GpuCase, assertClose, rng, uniform, withScope } from '../harness.ts';

/** The grouped key / value gradient against its reference; y starts at a sentinel that unwritten columns keep. */
function kvGradCase(name: string, shape: AttentionShape, which: KvGradOf, seed: number): GpuCase {
  const label = `attention_kv_grad d${which} ${name}`;
  return {
    name: label,
    run: (ctx) =>
      withScope(ctx, async (sc) => {
        const rand = rng(seed);
        const s = attentionLayout(shape);
        const { B, H, L, S, D, KVH } = s;
        const [x, y] = which === 'k' ? [s.q, s.k] : [s.o, s.v];
        const w = uniform(rand, B * H * L * S);
        const xs = uniform(rand, layoutExtent(x, B, L, H * D));
        const want = attentionKvGradRef(w, xs, which, shape);
        const SENTINEL = 3.5;
        const y0 = new Float32Array(want.length).fill(SENTINEL);
        for (let b = 0; b < B; b++) for (let j = 0; j < S; j++) for (let c = 0; c < KVH * D; c++) y0[y.off + b * y.strideB + j * y.strideL + c] = Number.NaN;
        const expect = want.map((v, i) => (Number.isNaN(y0[i]) ? v : SENTINEL));
        const yb = sc.upload(y0, 'y');
        await sc.run(await attentionKvGrad(ctx, { w: sc.upload(w, 'w'), x: sc.upload(xs, 'x'), y: yb }, which, shape, label));
        assertClose(label, await sc.read(yb), expect, { atol: 1e-5, rtol: 1e-5, shape: [expect.length] });
      }),
  };
}

const specs: [string, AttentionShape][] = [
  ['B=1 H=2 KVH=1 L=1 S=1 D=1', { B: 1, H: 2, KVH: 1, L: 1, S: 1, D: 1 }],
  ['B=2 H=6 KVH=2 L=7 S=11 D=5, scale 0.3', { B: 2, H: 6, KVH: 2, L: 7, S: 11, D: 5, scale: 0.3 }],
  ['seq-first rows B=3 H=4 KVH=2 L=9 S=5 D=8', { B: 3, H: 4, KVH: 2, L: 9, S: 5, D: 8, q: rowLayout(3, 9, 32, false), o: rowLayout(3, 9, 32, false), k: rowLayout(3, 5, 16, false), v: rowLayout(3, 5, 16, false) }],
  ['packed columns B=2 H=9 KVH=3 L=4 S=4 D=4 (k at 36, v at 48 of 60)', { B: 2, H: 9, KVH: 3, L: 4, S: 4, D: 4, q: rowLayout(2, 4, 60, true), k: rowLayout(2, 4, 60, true, 36), v: rowLayout(2, 4, 60, true, 48) }],
  ['many threads B=1 H=8 KVH=2 L=33 S=70 D=64', { B: 1, H: 8, KVH: 2, L: 33, S: 70, D: 64 }],
];

export const cases: GpuCase[] = specs.flatMap(([name, shape], i) => [kvGradCase(name, shape, 'k', 1700 + 2 * i), kvGradCase(name, shape, 'v', 1701 + 2 * i)]);
