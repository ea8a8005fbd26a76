// The adapter's roofs (bench:roof, bench:gpu): peak f32 multiply-add throughput from a register-only kernel
// (roof_fma.wgsl, as fma() and as a * b + c: the better counts) over enough workgroups to fill every core, read bandwidth from a streaming kernel (roof_read.wgsl, interleaved and
// blocked; the better counts), and a roofline table: each kernel's arithmetic intensity (flops per byte it must move
// at least), GFLOP/s, and its share of the roof min(peak, AI x BW).
import type { GpuContext } from '../src/gpu/context.ts';
import { type Dispatch, release } from '../src/kernels/dispatch.ts';
import { roofFma, roofFmaFlops } from '../src/kernels/roof_fma.ts';
import { roofRead } from '../src/kernels/roof_read.ts';
import { Tensor } from '../src/tensor.ts';
import { type AttentionRow, type Row, SHAPES, timeInterleaved } from './kernel_timing.ts';

export interface Roof {
  adapter: string;
  /** Best GFLOP/s of the multiply-add kernel over its variants, and each variant's. */
  peakGflops: number;
  fma: { op: 'fma' | 'muladd'; workgroupSize: number; invocations: number; gflops: number }[];
  /** Best GB/s of the streaming kernel, and each variant's. */
  readGBs: number;
  read: { blocked: boolean; threads: number; GBs: number }[];
}

export interface RooflineRow {
  kernel: string;
  shape: string;
  /** Flops per byte moved at least. */
  intensity: number;
  gflops: number;
  /** min(peak, intensity x bandwidth) in GFLOP/s, and gflops as a share of it. */
  roofGflops: number;
  ofRoof: number;
  bound: 'compute' | 'memory';
}

/** Picks a step count so that one dispatch takes about `ms` on this adapter (from one timed trial). */
async function calibrate(ctx: GpuContext, make: (scale: number) => Promise<Dispatch>, ms: number): Promise<number> {
  const trial = await make(1);
  const [t] = await timeInterleaved(ctx, [[trial]], 1, 2);
  release(ctx, [trial]);
  return Math.max(1, Math.round(ms / Math.max(t, 0.01)));
}

export async function measureRoof(ctx: GpuContext, rounds = 5): Promise<Roof> {
  const out = Tensor.empty(ctx, [1 << 20], 'roof out');
  try {
    // Multiply-add, as fma() and as a * b + c: 64 or 256 threads a workgroup, 1024 workgroups of 64 (many per core
    // on any adapter).
    const fmaVariants = (['fma', 'muladd'] as const).flatMap((op) => [
      { op, workgroupSize: 64, invocations: 1 << 16 },
      { op, workgroupSize: 256, invocations: 1 << 16 },
      { op, workgroupSize: 64, invocations: 1 << 12 },
    ]);
    const fma: Roof['fma'] = [];
    for (const v of fmaVariants) {
      const shape = (iters: number) => ({ n: v.invocations, iters, workgroupSize: v.workgroupSize, op: v.op });
      const iters = 8 * (await calibrate(ctx, (k) => roofFma(ctx, { out: { buffer: out.buffer } }, shape(8 * k)), 150));
      const d = await roofFma(ctx, { out: { buffer: out.buffer } }, shape(iters));
      const [ms] = await timeInterleaved(ctx, [[d]], 1, rounds);
      fma.push({ ...v, gflops: roofFmaFlops(shape(iters)) / ms / 1e6 });
      release(ctx, [d]);
    }
    // Read: 64 MiB (past any cache), interleaved and blocked, 4096 or 65536 invocations.
    const n = (64 << 20) / 16;
    const x = Tensor.upload(ctx, Float32Array.from({ length: 4 * n }, (_, i) => (i % 13) / 13), [4 * n], 'roof x');
    const read: Roof['read'] = [];
    try {
      const variants: { blocked: boolean; threads: number; d: Dispatch }[] = [];
      for (const blocked of [false, true]) {
        for (const threads of [4096, 65536]) {
          variants.push({ blocked, threads, d: await roofRead(ctx, { x: { buffer: x.buffer }, out: { buffer: out.buffer } }, { n, threads, blocked }) });
        }
      }
      const ms = await timeInterleaved(ctx, variants.map((v) => [v.d]), 1, rounds);
      variants.forEach((v, i) => read.push({ blocked: v.blocked, threads: v.threads, GBs: (16 * n) / ms[i] / 1e6 }));
      release(ctx, variants.map((v) => v.d));
    } finally {
      x.dispose();
    }
    return { adapter: ctx.adapterName, peakGflops: Math.max(...fma.map((f) => f.gflops)), fma, readGBs: Math.max(...read.map((r) => r.GBs)), read };
  } finally {
    out.dispose();
  }
}

/** Each measured kernel against the roofs. */
export function roofline(roof: Roof, rows: readonly (Row | AttentionRow)[], prefix: string): RooflineRow[] {
  return rows.map((r) => {
    const intensity = r.flop / r.bytes;
    const memoryRoof = intensity * roof.readGBs;
    const roofGflops = Math.min(roof.peakGflops, memoryRoof);
    return { kernel: `${prefix} ${r.kernel}`, shape: r.shape, intensity, gflops: r.gflops, roofGflops, ofRoof: r.gflops / roofGflops, bound: memoryRoof < roof.peakGflops ? 'memory' : 'compute' };
  });
}

export function printRoof(roof: Roof, table: readonly RooflineRow[]): void {
  console.log(`\nroofs on ${roof.adapter}`);
  for (const f of roof.fma) console.log(`  ${f.op === 'fma' ? 'fma()' : 'a * b + c'}: ${f.invocations} invocations in workgroups of ${f.workgroupSize}: ${f.gflops.toFixed(1)} GFLOP/s`);
  for (const r of roof.read) console.log(`  read: ${r.blocked ? 'blocked' : 'interleaved'}, ${r.threads} invocations: ${r.GBs.toFixed(1)} GB/s`);
  console.log(`  peak ${roof.peakGflops.toFixed(1)} GFLOP/s, ${roof.readGBs.toFixed(1)} GB/s (ridge at ${(roof.peakGflops / roof.readGBs).toFixed(1)} flop/byte)\n`);
  console.log('| kernel | shape | flop/byte | GFLOP/s | roof GFLOP/s | % of roof | bound |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | --- |');
  for (const r of table) {
    console.log(`| ${r.kernel} | ${r.shape} | ${r.intensity.toFixed(1)} | ${r.gflops.toFixed(2)} | ${r.roofGflops.toFixed(1)} | ${(100 * r.ofRoof).toFixed(1)}% | ${r.bound} |`);
  }
}

/** The model's Linear shapes (B^T), the ones the target is about. */
export const LINEAR_SHAPES = SHAPES.filter(([name]) => name.includes('Linear'));

