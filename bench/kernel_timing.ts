// What bench:kernels measures, shared with bench:roof (which puts the same rows against the adapter's roofs):
// matmul under its kernels and attention three ways, interleaved, same run, same device.
import type { GpuContext } from '../src/gpu/context.ts';
import { attention, type AttentionShape, attentionLayout, layoutExtent } from '../src/kernels/attention.ts';
import { attentionSteps } from '../src/kernels/attention_steps.ts';
import { type Dispatch, encode, release } from '../src/kernels/dispatch.ts';
import { matmul, matmulExtent, type MatmulShape } from '../src/kernels/matmul.ts';
import { matmulNaive } from '../src/kernels/matmul_naive.ts';
import { Tensor } from '../src/tensor.ts';

export type MatmulKernel = 'tiled' | 'direct' | 'naive';

export interface Row {
  shape: string;
  kernel: MatmulKernel;
  medianMs: number;
  gflops: number;
  /** Flops and the fewest bytes the product must move (A and B read, C written once): its arithmetic intensity. */
  flop: number;
  bytes: number;
}

/** Square products, then the issue #6 model's Linear (B^T), A·B and weight-gradient (A^T) shapes. */
export const SHAPES: [string, MatmulShape][] = [
  ['256x256x256', { M: 256, N: 256, K: 256 }],
  ['1024x1024x1024', { M: 1024, N: 1024, K: 1024 }],
  ['M64 K1024 N4096 (Linear, B^T)', { M: 64, N: 4096, K: 1024, transB: true }],
  ['M64 K256 N768 (Linear, B^T)', { M: 64, N: 768, K: 256, transB: true }],
  ['M128 K512 N1536 (Linear, B^T)', { M: 128, N: 1536, K: 512, transB: true }],
  ['M128 K2048 N512 (Linear, B^T)', { M: 128, N: 512, K: 2048, transB: true }],
  ['M128 K1536 N512 (A·B)', { M: 128, N: 512, K: 1536 }],
  ['M256 K64 N256 (weight gradient, A^T)', { M: 256, N: 256, K: 64, transA: true }],
];

/** Attention shapes of the issue #6 profile (medium: the 4+4-layer d_model 256 model at length 64) and a larger one. */
export const ATTENTION: [string, AttentionShape][] = [
  ['medium B1 H8 D32 L=S=64', { B: 1, H: 8, L: 64, S: 64, D: 32 }],
  ['large B1 H8 D64 L=S=128', { B: 1, H: 8, L: 128, S: 128, D: 64 }],
];

export interface AttentionRow {
  shape: string;
  kernel: 'fused' | 'writeProbs' | 'steps';
  medianMs: number;
  gflops: number;
  flop: number;
  /** q, k, v read and o written once, plus the probabilities written (writeProbs) or written and read back (steps). */
  bytes: number;
}

/**
 * Median wall time of each variant (a list of dispatches), `reps` back-to-back copies per submit, the variants
 * interleaved round by round so that load from other processes hits them alike. Round 0 warms up.
 */
export async function timeInterleaved(ctx: GpuContext, variants: readonly (readonly Dispatch[])[], reps: number, rounds: number): Promise<number[]> {
  const samples: number[][] = variants.map(() => []);
  for (let r = 0; r < rounds + 1; r++) {
    for (const [i, ds] of variants.entries()) {
      const t0 = performance.now();
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (let k = 0; k < reps; k++) encode(pass, ds);
      pass.end();
      ctx.device.queue.submit([enc.finish()]);
      await ctx.wait(ctx.device.queue.onSubmittedWorkDone());
      if (r > 0) samples[i].push((performance.now() - t0) / reps);
    }
  }
  return samples.map((x) => x.sort((a, b) => a - b)[Math.floor(x.length / 2)]);
}

export async function benchAttention(ctx: GpuContext): Promise<AttentionRow[]> {
  const rows: AttentionRow[] = [];
  for (const [name, shape] of ATTENTION) {
    const s = attentionLayout(shape);
    const E = s.H * s.D;
    const fill = (n: number, label: string) => Tensor.upload(ctx, Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)), [n], label);
    const tensors = [
      fill(layoutExtent(s.q, s.B, s.L, E), 'q'),
      fill(layoutExtent(s.k, s.B, s.S, E), 'k'),
      fill(layoutExtent(s.v, s.B, s.S, E), 'v'),
      Tensor.empty(ctx, [layoutExtent(s.o, s.B, s.L, E)], 'o'),
      Tensor.empty(ctx, [s.B * s.H * s.L * s.S], 'probs'),
    ];
    const [q, k, v, o, probs] = tensors.map((t) => ({ buffer: t.buffer }));
    const variants: [AttentionRow['kernel'], Dispatch[]][] = [
      ['fused', [await attention(ctx, { q, k, v, o }, shape, 'fused')]],
      ['writeProbs', [await attention(ctx, { q, k, v, o, probs }, shape, 'writeProbs', { writeProbs: true })]],
      ['steps', await attentionSteps(ctx, { q, k, v, o, probs }, shape, 'steps')],
    ];
    // Q·Kᵀ and P·V: 2 * 2*L*S*D per (b, h); the softmax is not counted.
    const flop = 4 * s.B * s.H * s.L * s.S * s.D;
    const reps = Math.max(1, Math.round(2e7 / flop));
    const ms = await ctx.scoped(`attention ${name}`, () => timeInterleaved(ctx, variants.map(([, ds]) => ds), reps, 12));
    const io = 4 * (3 * s.B * s.S * E + s.B * s.L * E);
    const probBytes = 4 * s.B * s.H * s.L * s.S;
    const bytes = { fused: io, writeProbs: io + probBytes, steps: io + 3 * probBytes };
    variants.forEach(([kernel], i) => rows.push({ shape: name, kernel, medianMs: ms[i], gflops: flop / ms[i] / 1e6, flop, bytes: bytes[kernel] }));
    release(ctx, variants.flatMap(([, ds]) => ds));
    for (const t of tensors) t.dispose();
  }
  return rows;
}


/** Each shape under the tiled, direct and (`naive`, without transA) naive kernels, interleaved: median of 5 rounds. */
export async function benchMatmul(ctx: GpuContext, shapes: readonly [string, MatmulShape][] = SHAPES, naive = true): Promise<Row[]> {
  const rows: Row[] = [];
for (const [name, shape] of shapes) {
    const fill = (n: number, v: number) => Tensor.upload(ctx, new Float32Array(n).fill(v), [n], 'operand');
    const a = fill(matmulExtent(shape, 'a'), 0.5);
    const b = fill(matmulExtent(shape, 'b'), 0.25);
    const c = Tensor.empty(ctx, [matmulExtent(shape, 'c')], 'c');
    const bufs = { a: { buffer: a.buffer }, b: { buffer: b.buffer }, c: { buffer: c.buffer } };
    const variants: [MatmulKernel, Dispatch][] = [
      ['tiled', await matmul(ctx, bufs, shape, 'matmul', { direct: false })],
      ['direct', await matmul(ctx, bufs, shape, 'matmul direct', { direct: true })],
    ];
    // The naive baseline has no transA.
    if (naive && !shape.transA) variants.push(['naive', await matmulNaive(ctx, bufs, shape)]);
    const flop = 2 * shape.M * shape.N * shape.K;
    const reps = Math.max(1, Math.round(5e8 / flop));
    const ms = await ctx.scoped(`matmul ${name}`, () => timeInterleaved(ctx, variants.map(([, d]) => [d]), reps, 5));
    const bytes = 4 * (shape.M * shape.K + shape.K * shape.N + shape.M * shape.N);
    variants.forEach(([kernel], i) => rows.push({ shape: name, kernel, medianMs: ms[i], gflops: flop / ms[i] / 1e6, flop, bytes }));
    release(ctx, variants.map(([, d]) => d));
    for (const t of [a, b, c]) t.dispose();
  }
  return rows;
}
