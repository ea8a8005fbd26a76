import type { DispatchTiming, Plan } from '../scheduler/compile.ts';

/** Where a forward's time goes. GPU times are medians over the profiled runs. */
export interface ProfileReport {
  adapter: string;
  /** false: the adapter has no timestamp-query; only wall-clock times are given. */
  timestamps: boolean;
  runs: number;
  /** Median wall time of an ordinary (unprofiled) forward, output read back. */
  forwardMs: number;
  /** Medians of the CPU-side phases of an ordinary forward. */
  cpu: { encodeSubmitMs: number; waitMs: number; readbackMs: number };
  dispatches: number;
  /** Sum of the per-dispatch GPU medians (each dispatch in its own pass while profiling). */
  gpuMs?: number;
  /** Per kernel (pipeline), most expensive first. */
  byKernel?: { kernel: string; ms: number; count: number }[];
  /** Per module path, inclusive of its submodules ('' = the whole model), most expensive first. */
  byModule?: { module: string; ms: number; count: number }[];
  /** Every dispatch in plan order with its median GPU time. */
  perDispatch?: DispatchTiming[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Medians per dispatch over runs, then sums per kernel and per module (and each of its ancestors). */
export function aggregate(runs: readonly DispatchTiming[][]): Pick<ProfileReport, 'gpuMs' | 'byKernel' | 'byModule' | 'perDispatch'> {
  const perDispatch = runs[0].map((d, i) => ({ ...d, ms: median(runs.map((r) => r[i].ms)) }));
  const add = (m: Map<string, { ms: number; count: number }>, k: string, ms: number) => {
    const e = m.get(k) ?? { ms: 0, count: 0 };
    e.ms += ms;
    e.count++;
    m.set(k, e);
  };
  const kernels = new Map<string, { ms: number; count: number }>();
  const modules = new Map<string, { ms: number; count: number }>();
  for (const d of perDispatch) {
    add(kernels, d.kernel, d.ms);
    const parts = d.module ? d.module.split('.') : [];
    for (let n = 0; n <= parts.length; n++) add(modules, parts.slice(0, n).join('.'), d.ms);
  }
  const sorted = <K extends string>(m: Map<string, { ms: number; count: number }>, key: K) =>
    [...m].map(([k, v]) => ({ [key]: k, ...v }) as { [P in K]: string } & { ms: number; count: number }).sort((a, b) => b.ms - a.ms);
  return {
    gpuMs: perDispatch.reduce((a, d) => a + d.ms, 0),
    byKernel: sorted(kernels, 'kernel'),
    byModule: sorted(modules, 'module'),
    perDispatch,
  };
}

/** A plain-text table of the report: top kernels and the modules down to `depth` path segments. */
export function formatProfile(r: ProfileReport, depth = 3, top = 12): string {
  const f = (ms: number) => ms.toFixed(2).padStart(9);
  const lines = [
    `adapter: ${r.adapter}; forward ${r.forwardMs.toFixed(2)} ms (median of ${r.runs}); ${r.dispatches} dispatches; ` +
      `CPU encode+submit ${r.cpu.encodeSubmitMs.toFixed(2)} ms, GPU wait ${r.cpu.waitMs.toFixed(2)} ms, readback ${r.cpu.readbackMs.toFixed(2)} ms`,
  ];
  if (!r.timestamps) {
    lines.push('no timestamp-query on this adapter: per-kernel GPU times are not available (wall-clock only)');
    return lines.join('\n');
  }
  lines.push(`GPU time (each dispatch in its own pass): ${r.gpuMs!.toFixed(2)} ms`, '', '       ms  share  calls  kernel');
  for (const k of r.byKernel!.slice(0, top)) lines.push(`${f(k.ms)}  ${((100 * k.ms) / r.gpuMs!).toFixed(1).padStart(4)}%  ${String(k.count).padStart(5)}  ${k.kernel}`);
  lines.push('', '       ms  share  calls  module');
  for (const m of r.byModule!.filter((x) => (x.module ? x.module.split('.').length : 0) <= depth).slice(0, top * 2)) {
    lines.push(`${f(m.ms)}  ${((100 * m.ms) / r.gpuMs!).toFixed(1).padStart(4)}%  ${String(m.count).padStart(5)}  ${m.module || '(model)'}`);
  }
  return lines.join('\n');
}

/**
 * Where a forward's time goes: the median wall time and CPU phases of `runs` ordinary forwards of `plan`, then (with
 * timestamp-query) `runs` profiled forwards timing every dispatch in its own compute pass, summed per kernel and per
 * module path.
 */
export async function profilePlan(plan: Plan, data: readonly (Float32Array | Uint32Array)[], runs: number, adapter: string, timestamps: boolean): Promise<ProfileReport> {
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`profile: runs ${runs} must be a positive integer`);
  await plan.run(data, 'warm-up');
  const walls: number[] = [];
  const cpus: ProfileReport['cpu'][] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await plan.run(data);
    walls.push(performance.now() - t0);
    cpus.push(r.cpu);
  }
  const report: ProfileReport = {
    adapter,
    timestamps,
    runs,
    forwardMs: median(walls),
    cpu: { encodeSubmitMs: median(cpus.map((c) => c.encodeSubmitMs)), waitMs: median(cpus.map((c) => c.waitMs)), readbackMs: median(cpus.map((c) => c.readbackMs)) },
    dispatches: plan.stats.dispatches,
  };
  if (!timestamps) return report;
  const timings: DispatchTiming[][] = [];
  for (let i = 0; i < runs; i++) timings.push((await plan.run(data, 'profile', true)).timings!);
  return { ...report, ...aggregate(timings) };
}
