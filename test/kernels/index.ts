import type { KernelChoice } from '../../src/gpu/context.ts';
import type { KernelDesc } from '../../src/kernels/kernel.ts';
import { type GpuCase, KERNEL_SETS, ROW_WIDTHS, dispatchObservers, kernelSetName, withKernels } from '../harness.ts';

// Every `*.cases.ts` here contributes its `cases`; Node and the browser page both run this list, each case under
// every kernel set (see underEachSet).
const modules = import.meta.glob<{ cases: GpuCase[] }>('./*.cases.ts', { eager: true });

/** How many cases each file holds, by file name ('layernorm.cases.ts'). */
export const caseCounts: Readonly<Record<string, number>> = Object.fromEntries(
  Object.keys(modules)
    .sort()
    .map((k) => [k.replace(/^\.\//, ''), modules[k].cases.length]),
);

/** The kernel sets (kernelSetName) each case that ran was run under, in the order they ran. */
export const setsRun: { name: string; sets: string[] }[] = [];

/** The set the running case is under (read here, not through ctx.kernels, so the tally is not a read of the choice). */
let current: KernelChoice | undefined;

/**
 * A case run under each kernel set of KERNEL_SETS in turn, the first watching which fields of ctx.kernels are read.
 * When nothing read the choice, the other sets would dispatch the same pipelines on the same data, so they are not
 * run again (setsRun says which ran). A failure names the set it happened under.
 */
function underEachSet(c: GpuCase): GpuCase {
  return {
    name: c.name,
    async run(ctx) {
      const ran: string[] = [];
      setsRun.push({ name: c.name, sets: ran });
      const read = new Set<string>();
      for (const [i, kernels] of KERNEL_SETS.entries()) {
        if (i > 0 && read.size === 0) break;
        current = kernels;
        try {
          await withKernels(ctx, kernels, () => c.run(ctx), read);
        } catch (e) {
          throw new Error(`under ${kernelSetName(kernels)}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        } finally {
          current = undefined;
        }
        ran.push(kernelSetName(kernels));
      }
    },
  };
}

export const allCases: GpuCase[] = Object.keys(modules)
  .sort()
  .flatMap((k) => modules[k].cases)
  .map(underEachSet);

// ---- the row kernels' widths -------------------------------------------------------------------------------------

/** Row-shaped kernels (uniforms `rows` and `C` or `n`): the uniform word holding the row width, by kernel name. */
const widthWord = new Map<string, number>();
const kernelModules = import.meta.glob<Record<string, unknown>>('../../src/kernels/*.ts', { eager: true });
for (const m of Object.values(kernelModules)) {
  for (const v of Object.values(m)) {
    const d = v as Partial<KernelDesc>;
    if (typeof d?.name !== 'string' || typeof d.uniforms !== 'object' || typeof d.source !== 'string') continue;
    const names = Object.keys(d.uniforms);
    const w = names.includes('C') ? 'C' : 'n';
    if (names.includes('rows') && names.includes(w)) widthWord.set(d.name, names.indexOf(w));
  }
}

/** Dispatches of row-shaped kernels: kernel -> width -> rows set -> threads per row -> count. */
const tally = new Map<string, Map<number, Map<string, Map<number, number>>>>();

dispatchObservers.push((_ctx, d) => {
  const word = widthWord.get(d.pipeline.label);
  if (word === undefined || !d.uniforms || !current) return;
  const u = d.uniforms.data;
  const width = new DataView(u.buffer, u.byteOffset, u.byteLength).getUint32(4 * word, true);
  const constants = (JSON.parse(d.uniforms.variant) as [unknown, Record<string, number> | undefined])[1];
  const threads = constants?.WG ?? 0;
  const byWidth = tally.get(d.pipeline.label) ?? new Map<number, Map<string, Map<number, number>>>();
  tally.set(d.pipeline.label, byWidth);
  const bySet = byWidth.get(width) ?? new Map<string, Map<number, number>>();
  byWidth.set(width, bySet);
  const byThreads = bySet.get(current.rows) ?? new Map<number, number>();
  bySet.set(current.rows, byThreads);
  byThreads.set(threads, (byThreads.get(threads) ?? 0) + 1);
});

export interface RowWidthReport {
  /** Printable: per row kernel and width of ROW_WIDTHS, the dispatches under each set and their threads per row. */
  lines: string[];
  /** 'kernel width rows-set' for each ROW_WIDTHS width a row kernel never ran at under that set. */
  missing: string[];
  /** Cases run under every kernel set, and cases run once (nothing they dispatch consults the choice). */
  bothSets: number;
  oneSet: number;
}

/**
 * What the cases that ran so far dispatched. A row kernel is one whose threads per row follow ctx.kernels.rows: at
 * some width it ran with other threads under 'wide' than under 'narrow'. Each must have run at every width of
 * ROW_WIDTHS under both.
 */
export function rowWidthReport(): RowWidthReport {
  const lines: string[] = [];
  const missing: string[] = [];
  const fmt = (m: Map<number, number> | undefined) =>
    m ? [...m].map(([t, n]) => `${n}x ${t} thread${t === 1 ? '' : 's'}`).join(', ') : 'none';
  for (const [kernel, byWidth] of [...tally].sort(([a], [b]) => a.localeCompare(b))) {
    const key = (m: Map<number, number> | undefined) => [...(m?.keys() ?? [])].sort().join();
    const followsSet = [...byWidth.values()].some((s) => s.has('wide') && s.has('narrow') && key(s.get('wide')) !== key(s.get('narrow')));
    if (!followsSet) continue;
    lines.push(`${kernel}:`);
    for (const w of ROW_WIDTHS) {
      const s = byWidth.get(w);
      lines.push(`  width ${String(w).padStart(4)}: wide ${fmt(s?.get('wide'))}; narrow ${fmt(s?.get('narrow'))}`);
      for (const rows of ['wide', 'narrow']) if (!s?.get(rows)) missing.push(`${kernel} width ${w} ${rows}`);
    }
    const others = [...byWidth].filter(([w]) => !ROW_WIDTHS.includes(w));
    const count = (rows: string) => others.reduce((a, [, s]) => a + [...(s.get(rows)?.values() ?? [])].reduce((x, y) => x + y, 0), 0);
    lines.push(`  ${others.length} other widths: wide ${count('wide')} dispatches; narrow ${count('narrow')}`);
  }
  const runs = setsRun.map((r) => r.sets);
  return { lines, missing, bothSets: runs.filter((r) => r.length === KERNEL_SETS.length).length, oneSet: runs.filter((r) => r.length === 1).length };
}
