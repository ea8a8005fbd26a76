import type { AttnSelection } from '../kernels/attn_select.ts';
import type { Module } from '../nn/module.ts';

/** A tensor copied back from the GPU. */
export interface CapturedTensor {
  shape: number[];
  data: Float32Array;
}

export type HookKind = 'forward' | 'forward_pre' | 'backward';

/**
 * What one hook stores after a forward (the seed's `model.hooks[name]`): the module's real inputs (after any
 * pre-hook) and, for forward hooks, its outputs. A MultiheadAttention's outputs are [attn_output, attn_weights].
 */
export interface HookRecord {
  name: string;
  module: string;
  kind: HookKind;
  input: CapturedTensor[];
  output?: CapturedTensor[];
}

/** fn of a forward hook: may return replacements for what is stored (and, with writeBack, what flows on). */
export type ForwardHookFn = (
  module: Module,
  input: CapturedTensor[],
  output: CapturedTensor[],
) => void | { input?: CapturedTensor[]; output?: CapturedTensor[] } | Promise<void | { input?: CapturedTensor[]; output?: CapturedTensor[] }>;

/** fn of a forward-pre hook: may return the inputs the module then sees. */
export type PreHookFn = (module: Module, input: CapturedTensor[]) => void | CapturedTensor[] | Promise<void | CapturedTensor[]>;

export interface HookOptions {
  /** MultiheadAttention only: average the weights over heads ([B, L, S]; PyTorch's average_attn_weights=True). */
  averageHeads?: boolean;
  /** MultiheadAttention only: keep these heads of the weights (cut on the GPU before copy-back). */
  heads?: number[];
  /** MultiheadAttention only: keep queries [from, to) of the weights. */
  queries?: [number, number];
  /**
   * Forward hooks with fn: what fn returns as `output` replaces the module's output in the computation
   * (the plan stops there, reads back, calls fn, writes back, continues). Without it fn only edits the stored copy.
   */
  writeBack?: boolean;
}

export interface Hook {
  name: string;
  path: string;
  kind: HookKind;
  fn?: ForwardHookFn | PreHookFn;
  opts: HookOptions;
}

/** A registered hook (or, for a pattern, the group of hooks it made); `remove()` deletes them. */
export interface HookHandle {
  readonly names: readonly string[];
  remove(): void;
}

export function weightSelection(o: HookOptions): AttnSelection {
  return { heads: o.heads, queries: o.queries, average: o.averageHeads };
}

/** A glob over module paths: `*` is one path segment, `**` any number of them (including none). */
export function globToRegExp(pattern: string): RegExp {
  const ANY = '\u0001'; // stands for ".*" until single stars are done
  const s = pattern
    .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\\\.\*\*\\\./g, `(?:\\.|\\.${ANY}\\.)`)
    .replace(/^\*\*\\\./, `(?:${ANY}\\.)?`)
    .replace(/\\\.\*\*$/, `(?:\\.${ANY})?`)
    .replace(/\*\*/g, ANY)
    .replace(/\*/g, '[^.]+')
    .replaceAll(ANY, '.*');
  return new RegExp(`^${s}$`);
}

/**
 * The hooks of one model, by unique name. A pattern that matches several modules registers one hook per
 * module, named `name[path]`. `signature` changes whenever the set of hooks changes what a forward must do.
 */
export class HookRegistry {
  private readonly hooks = new Map<string, Hook>();

  constructor(private readonly modules: ReadonlyMap<string, Module>) {}

  add(name: string, kind: HookKind, target: string | Module, fn: Hook['fn'], opts: HookOptions): HookHandle {
    if (typeof name !== 'string' || name === '') throw new Error('hook name must be a non-empty string');
    const paths = this.resolve(target);
    const names = paths.length === 1 && (typeof target !== 'string' || !target.includes('*')) ? [name] : paths.map((p) => `${name}[${p}]`);
    for (const n of [name, ...names]) {
      if (this.hooks.has(n) || this.group(n).length) throw new Error(`a hook named '${n}' already exists; delete it with delHook('${n}') first`);
    }
    const isAttention = (p: string) => this.modules.get(p)?.kind === 'MultiheadAttention';
    if ((opts.averageHeads || opts.heads || opts.queries) && !paths.every(isAttention)) {
      throw new Error(`hook '${name}': averageHeads / heads / queries apply to MultiheadAttention modules only (${paths.find((p) => !isAttention(p))} is a ${this.modules.get(paths.find((p) => !isAttention(p))!)!.kind})`);
    }
    if (opts.writeBack && (kind !== 'forward' || !fn)) throw new Error(`hook '${name}': writeBack needs a forward hook with a fn`);
    if (opts.writeBack && (opts.averageHeads || opts.heads || opts.queries)) throw new Error(`hook '${name}': writeBack cannot be combined with averageHeads / heads / queries`);
    names.forEach((n, i) => this.hooks.set(n, { name: n, path: paths[i], kind, fn, opts: { ...opts } }));
    return { names, remove: () => names.forEach((n) => this.hooks.delete(n)) };
  }

  /** Deletes a hook by name, or every hook a pattern registration made under that name. */
  delete(name: string): void {
    const names = this.hooks.has(name) ? [name] : this.group(name);
    if (!names.length) throw new Error(`no hook named '${name}'`);
    for (const n of names) this.hooks.delete(n);
  }

  private group(name: string): string[] {
    return [...this.hooks.keys()].filter((n) => n.startsWith(`${name}[`));
  }

  /** Module paths a target names: a Module of this model, an exact path, or a glob. */
  resolve(target: string | Module): string[] {
    if (typeof target !== 'string') {
      if (this.modules.get(target.path) !== target) throw new Error(`module ${target.path || '(root)'} does not belong to this model`);
      return [target.path];
    }
    if (!target.includes('*')) {
      if (!this.modules.has(target)) {
        const near = [...this.modules.keys()].filter((p) => p.endsWith(target.split('.').pop()!)).slice(0, 3);
        throw new Error(`no module '${target}' in this model${near.length ? ` (did you mean ${near.map((p) => `'${p}'`).join(', ')}?)` : ''}`);
      }
      return [target];
    }
    const re = globToRegExp(target);
    const paths = [...this.modules.keys()].filter((p) => re.test(p));
    if (!paths.length) throw new Error(`pattern '${target}' matches no module of this model`);
    return paths;
  }

  all(): Hook[] {
    return [...this.hooks.values()];
  }

  get size(): number {
    return this.hooks.size;
  }

  /** What a plan depends on: names, paths, kinds, options, whether there is a fn (fn bodies are looked up at run time). */
  signature(): string {
    return this.all()
      .map((h) => `${h.name}:${h.kind}:${h.path}:${JSON.stringify(h.opts)}:${h.fn ? 'fn' : ''}`)
      .sort()
      .join('|');
  }
}
