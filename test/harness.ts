import type { GpuContext, KernelChoice } from '../src/gpu/context.ts';
import { type Dispatch, release, run } from '../src/kernels/dispatch.ts';
import { Tensor } from '../src/tensor.ts';

/** A test that runs the same way under vitest in Node and in the browser kernel page. */
export interface GpuCase {
  name: string;
  run(ctx: GpuContext): Promise<void>;
}

/** mulberry32: small, fast, seeded (generate's sampler uses it too). */
export { mulberry32 as rng } from '../src/model/sampling.ts';

export function uniform(rand: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}

export interface Tolerance {
  atol?: number;
  rtol?: number;
  /** Per-element magnitude the relative tolerance is taken against, instead of |want|. */
  scale?: ArrayLike<number>;
  /** Shape, to print the first mismatch as coordinates too. */
  shape?: readonly number[];
}

function coords(i: number, shape: readonly number[]): string {
  const out: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    out.unshift(i % shape[d]);
    i = Math.floor(i / shape[d]);
  }
  return `[${out.join(', ')}]`;
}

/** Throws naming the first index where |got - want| > atol + rtol * scale (NaN matches NaN only). */
export function assertClose(label: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): void {
  if (got.length !== want.length) throw new Error(`${label}: length ${got.length}, expected ${want.length}`);
  const { atol = 0, rtol = 0, scale, shape } = tol;
  let first = -1;
  let bad = 0;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want[i];
    const limit = atol + rtol * Math.abs(scale ? scale[i] : w);
    const ok = Number.isNaN(w) ? Number.isNaN(g) : g === w || Math.abs(g - w) <= limit;
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
    if (Number.isFinite(g - w)) worst = Math.max(worst, Math.abs(g - w));
  }
  if (first >= 0) {
    const at = shape ? ` ${coords(first, shape)}` : '';
    const tolAt = atol + rtol * Math.abs(scale ? scale[first] : want[first]);
    throw new Error(
      `${label}: first mismatch at index ${first}${at}: got ${got[first]}, want ${want[first]} (tolerance ${tolAt.toExponential(2)}); ` +
        `${bad} of ${got.length} differ, max |diff| ${worst.toExponential(2)}`,
    );
  }
}

/** Called with every dispatch a GpuScope runs (test/kernels/index.ts tallies the row kernels' widths). */
export const dispatchObservers: ((ctx: GpuContext, d: Dispatch) => void)[] = [];

/** Tensors and dispatches made through a scope are freed when the scope's body ends. */
export class GpuScope {
  private readonly tensors: Tensor[] = [];
  private readonly dispatches: Dispatch[] = [];

  constructor(readonly ctx: GpuContext) {}

  upload(data: Float32Array, label = 'input'): GPUBufferBinding {
    const t = Tensor.upload(this.ctx, data, [data.length], label);
    this.tensors.push(t);
    return { buffer: t.buffer };
  }

  empty(n: number, label = 'output'): GPUBufferBinding {
    const t = Tensor.empty(this.ctx, [n], label);
    this.tensors.push(t);
    return { buffer: t.buffer };
  }

  async run(...ds: Dispatch[]): Promise<void> {
    this.dispatches.push(...ds);
    for (const d of ds) for (const observe of dispatchObservers) observe(this.ctx, d);
    await run(this.ctx, ds, ds.map((d) => d.label).join(' + '));
  }

  async read(b: GPUBufferBinding): Promise<Float32Array> {
    const t = this.tensors.find((x) => x.buffer === b.buffer);
    if (!t) throw new Error('read: buffer not made by this scope');
    return t.download();
  }

  dispose(): void {
    release(this.ctx, this.dispatches);
    for (const t of this.tensors) t.dispose();
  }
}

export async function withScope<T>(ctx: GpuContext, body: (s: GpuScope) => Promise<T>): Promise<T> {
  const s = new GpuScope(ctx);
  try {
    return await body(s);
  } finally {
    s.dispose();
  }
}

/** The two kernel sets model tests run under: the GPU one (fused attention, tiled matmul, wide rows) and SwiftShader's. */
export const KERNEL_SETS: readonly KernelChoice[] = [
  { attention: 'fused', matmul: 'tiled', rows: 'wide' },
  { attention: 'steps', matmul: 'direct', rows: 'narrow' },
];

/** How a kernel set is named in test names and reports: 'wide rows, tiled matmul, fused attention'. */
export function kernelSetName(k: KernelChoice): string {
  return `${k.rows} rows, ${k.matmul} matmul, ${k.attention} attention`;
}

/**
 * Runs `body` with `ctx.kernels` set to `kernels`, restoring the previous choice after. `read`, when given, receives
 * the name of every field of the choice that code reads meanwhile (a spread or JSON.stringify reads them all).
 */
export async function withKernels<T>(ctx: GpuContext, kernels: KernelChoice, body: () => Promise<T>, read?: Set<string>): Promise<T> {
  const saved = ctx.kernels;
  ctx.kernels = read
    ? new Proxy(kernels, {
        get: (t, k, r) => {
          if (typeof k === 'string') read.add(k);
          return Reflect.get(t, k, r) as unknown;
        },
      })
    : kernels;
  try {
    return await body();
  } finally {
    ctx.kernels = saved;
  }
}

/**
 * Widths on both sides of every row kernel's thread counts (narrow 4, wide 64 and 256, layer-norm backward's
 * 1024 step): each row kernel's cases run each of them under both kernel sets (test/kernels/index.ts checks it).
 */
export const ROW_WIDTHS: readonly number[] = [1, 3, 4, 5, 63, 64, 65, 255, 256, 257, 768, 1024, 1025, 4096];
