// Reading flag values: usage errors (exit 2), numbers, lists, and the library's option shapes.
import type { KernelChoice } from '../gpu/context.ts';
import type { Values } from './command.ts';

/** A mistake in how the command was called: one line, a hint, exit status 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose --help explains the fix, when there is one. */
    readonly command?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'UsageError';
  }
}

export const str = (v: Values, name: string): string | undefined => v[name] as string | undefined;
export const bool = (v: Values, name: string): boolean => v[name] === true;
export const strs = (v: Values, name: string): string[] => (v[name] as string[] | undefined) ?? [];

export function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${flag} ${value}: expected a positive integer`);
  return n;
}

/** A positive integer flag, or `dflt` when absent. */
export function intFlag(v: Values, flag: string, dflt?: number): number | undefined {
  const s = str(v, flag);
  return s === undefined ? dflt : positiveInt(flag, s);
}

/** A number flag, or undefined when absent; its range is the library's to check (it names the option). */
export function numberFlag(v: Values, flag: string): number | undefined {
  const s = str(v, flag);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (s.trim() === '' || Number.isNaN(n)) throw new UsageError(`--${flag} ${s}: expected a number`);
  return n;
}

/** --heads 0,3: attention heads to keep (each a non-negative integer, no repeats). */
export function headsFlag(v: Values): number[] | undefined {
  const s = str(v, 'heads');
  if (s === undefined) return undefined;
  const heads = s.split(',').map((h) => {
    if (!/^\s*\d+\s*$/.test(h)) throw new UsageError(`--heads ${s}: '${h}' is not a head index (expected e.g. --heads 0,3)`);
    return Number(h);
  });
  if (new Set(heads).size !== heads.length) throw new UsageError(`--heads ${s}: a head is named twice`);
  return heads;
}

/** --queries FROM:TO: query rows [FROM, TO) of the attention weights. */
export function queriesFlag(v: Values): [number, number] | undefined {
  const s = str(v, 'queries');
  if (s === undefined) return undefined;
  const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(s);
  if (!m || Number(m[1]) >= Number(m[2])) throw new UsageError(`--queries ${s}: expected FROM:TO with FROM < TO (e.g. --queries 0:8)`);
  return [Number(m[1]), Number(m[2])];
}

/** Every kernel choice and its values, as `--kernels` takes them. */
const KERNELS = {
  attention: ['fused', 'steps'],
  matmul: ['tiled', 'direct'],
  rows: ['wide', 'narrow'],
} as const satisfies { [K in keyof KernelChoice]: readonly KernelChoice[K][] };

/** --kernels attention=steps,matmul=tiled: the library's KernelChoice (the rest stay the adapter's defaults). */
export function kernelsFlag(v: Values): Partial<KernelChoice> | undefined {
  const s = str(v, 'kernels');
  if (s === undefined) return undefined;
  const choice: Record<string, string> = {};
  const all = Object.entries(KERNELS).map(([k, vs]) => `${k}=${vs.join('|')}`).join(', ');
  for (const part of s.split(',')) {
    const [k, val, ...more] = part.split('=').map((x) => x.trim());
    const values = (KERNELS as Record<string, readonly string[]>)[k];
    if (!Object.hasOwn(KERNELS, k) || more.length || !values.includes(val)) throw new UsageError(`--kernels ${s}: '${part}' is not one of ${all}`);
    choice[k] = val;
  }
  return choice as Partial<KernelChoice>;
}
