// Matmul throughput: the tiled kernel next to the naive baseline, same run, same device.
// Run: npm run bench:kernels [-- --json bench/results/kernels-<adapter>.json]
import { writeFileSync } from 'node:fs';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { type Dispatch, encode, release } from '../src/kernels/dispatch.ts';
import { matmul, type MatmulShape } from '../src/kernels/matmul.ts';
import { matmulNaive } from '../src/kernels/matmul_naive.ts';
import { Tensor } from '../src/tensor.ts';

interface Row {
  shape: string;
  kernel: string;
  medianMs: number;
  gflops: number;
}

const SHAPES: [string, MatmulShape][] = [
  ['256x256x256', { M: 256, N: 256, K: 256 }],
  ['1024x1024x1024', { M: 1024, N: 1024, K: 1024 }],
  ['M64 K1024 N4096 (Linear, B^T)', { M: 64, N: 4096, K: 1024, transB: true }],
];

/** Median wall time of one dispatch, timing `reps` back-to-back dispatches per submit. */
async function time(ctx: GpuContext, d: Dispatch, reps: number, rounds: number): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    const t0 = performance.now();
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encode(pass, Array(reps).fill(d));
    pass.end();
    ctx.device.queue.submit([enc.finish()]);
    await ctx.device.queue.onSubmittedWorkDone();
    if (r > 0) samples.push((performance.now() - t0) / reps); // round 0 warms up
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function main(): Promise<void> {
  const jsonAt = process.argv.indexOf('--json');
  const ctx = await createNodeContext({ who: 'bench:kernels' });
  const rows: Row[] = [];
  try {
    for (const [name, shape] of SHAPES) {
      const { M, N, K } = shape;
      const a = Tensor.upload(ctx, new Float32Array(M * K).fill(0.5), [M, K], 'a');
      const b = Tensor.upload(ctx, new Float32Array(K * N).fill(0.25), [K, N], 'b');
      const c = Tensor.empty(ctx, [M, N], 'c');
      const bufs = { a: { buffer: a.buffer }, b: { buffer: b.buffer }, c: { buffer: c.buffer } };
      const flop = 2 * M * N * K;
      const reps = Math.max(1, Math.round(2e9 / flop));
      for (const [kernel, make] of [['tiled', matmul], ['naive', matmulNaive]] as const) {
        const d = await make(ctx, bufs, shape);
        await ctx.scoped(`${kernel} ${name}`, async () => {
          const ms = await time(ctx, d, reps, 5);
          rows.push({ shape: name, kernel, medianMs: ms, gflops: flop / ms / 1e6 });
        });
        release(ctx, [d]);
      }
      for (const t of [a, b, c]) t.dispose();
    }
  } finally {
    ctx.dispose();
  }
  console.log(`\nmatmul on ${ctx.adapterName} (median of 5 rounds)\n`);
  console.log('| shape | kernel | ms | GFLOP/s | tiled / naive |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const r of rows) {
    const naive = rows.find((x) => x.shape === r.shape && x.kernel === 'naive')!;
    const ratio = r.kernel === 'tiled' ? `${(naive.medianMs / r.medianMs).toFixed(2)}x` : '';
    console.log(`| ${r.shape} | ${r.kernel} | ${r.medianMs.toFixed(2)} | ${r.gflops.toFixed(1)} | ${ratio} |`);
  }
  if (jsonAt > 0) {
    const out = process.argv[jsonAt + 1];
    writeFileSync(out, JSON.stringify({ adapter: ctx.adapterName, date: new Date().toISOString(), rows }, null, 2));
    console.log(`\nwrote ${out}`);
  }
}

await main();
