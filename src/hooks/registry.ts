import type { GpuContext } from '../gpu/context.ts';
import type { AttnSelection } from '../kernels/attn_select.ts';
import { checkPatchIndex } from '../kernels/patch_rows.ts';
import type { Module } from '../nn/module.ts';
import { checkSummary, type SummaryOptions } from './summary.ts';

/** A tensor copied back from the GPU. */
export interface CapturedTensor {
  shape: number[];
  data: Float32Array;
}

export type HookKind = 'forward' | 'forward_pre' | 'backward';

/** GPU-side interventions: no round trip, no record. */
export type InterventionKind = 'scale_heads' | 'patch' | 'patch_rows';

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
  /** generate(): the decoding step the record belongs to. */
  step?: number;
  /**
   * Backward hooks on a MultiheadAttention: the gradient of the attention probabilities [B, H, L, S] (the
   * target's gradient with respect to the softmax output that weighs the values).
   */
  weightsGrad?: CapturedTensor;
  /**
   * Forward hooks with a `summary` option: what was computed from the attention probabilities on the GPU, by name
   * (`topk.values`, `entropy`, … see SummaryOptions); the weights themselves are not copied back (output holds only
   * attn_output).
   */
  summary?: Record<string, CapturedTensor>;
}

/** fn of a forward hook: may return replacements for what is stored (and, with writeBack, what flows on). */
export type ForwardHookFn = (
  module: Module,
  input: CapturedTensor[],
  output: CapturedTensor[],
) => void | { input?: CapturedTensor[]; output?: CapturedTensor[] } | Promise<void | { input?: CapturedTensor[]; output?: CapturedTensor[] }>;

/**
 * fn of a backward hook (PyTorch's full backward hook): the gradients of the module's inputs and outputs, and for
 * a MultiheadAttention the gradient of its attention probabilities. May return replacements for the input
 * gradients, which then flow on. An input no gradient reaches (token ids, or one the target does not depend on)
 * reads as zeros.
 */
export type BackwardHookFn = (
  module: Module,
  gradInput: CapturedTensor[],
  gradOutput: CapturedTensor[],
  weightsGrad?: CapturedTensor,
) => void | CapturedTensor[] | Promise<void | CapturedTensor[]>;

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
   * Attention modules, forward hooks without writeBack: 'heads' stores the merged heads [.., H*D] (each head's
   * output before the output projection, TransformerLens's hook_z) as the record's only output.
   */
  site?: 'heads';
  /**
   * Forward hooks with fn: what fn returns as `output` replaces the module's output in the computation
   * (the plan stops there, reads back, calls fn, writes back, continues). Without it fn only edits the stored copy.
   */
  writeBack?: boolean;
  /**
   * Attention modules only: summaries of the probabilities computed on the GPU (top-k, entropy, a downsampled grid,
   * rows, columns, head mean, rollout) and stored in the record's `summary` instead of the [B, H, L, S] weights.
   */
  summary?: SummaryOptions;
  /**
   * Attention modules only: the weights [B, H, L, S] are read back in chunks of query rows instead of with the
   * forward's captures (not counted in captureBudgetBytes): after the module ran, one submit and one map of a staging
   * buffer of at most `chunkBytes` (default 16 MiB, at least one query row) per chunk, each handed to `onChunk` as it
   * arrives (awaited before the next). The record's output then holds only attn_output.
   */
  stream?: StreamOptions;
  /**
   * With summary or stream: false leaves the module's inputs and outputs on the GPU (the record's input and output
   * are empty lists), so only the summaries (or the streamed chunks) are read back. Default true.
   */
  keepIO?: boolean;
}

/** One chunk of streamed attention weights: queries [from, to) of every head. */
export interface WeightsChunk {
  hook: string;
  module: string;
  queries: [number, number];
  /** [B, H, to - from, S]. */
  weights: CapturedTensor;
}

export interface StreamOptions {
  chunkBytes?: number;
  onChunk: (chunk: WeightsChunk) => void | Promise<void>;
}

export interface Hook {
  name: string;
  path: string;
  kind: HookKind | InterventionKind;
  fn?: ForwardHookFn | PreHookFn | BackwardHookFn;
  opts: HookOptions;
  /** scale_heads: f32 [H] factors; patch: the replacement output. Owned by the registry. */
  buffer?: GPUBuffer;
  /** patch: the replacement's shape. */
  shape?: number[];
  /** patch_rows: where it patches, its segments and the u32 index buffer (`buffer` holds the value rows). */
  rows?: PatchRowsHook;
  /** Unique per registration: plans that bind `buffer` are keyed by it. */
  id: number;
}

/** A registered hook (or, for a pattern, the group of hooks it made); `remove()` deletes them. */
export interface HookHandle {
  readonly names: readonly string[];
  remove(): void;
}

/**
 * Per-segment patching (sweeps, attribution): the module's first output (at 'output') or its merged heads (at 'heads',
 * attention modules) seen as segments of `segment` values; segment s is replaced by row index[s] of `values` unless
 * index[s] is KEEP (0xffffffff). Its backward passes the gradient through unchanged, as PyTorch's
 * `out + (patched - out).detach()`: a backward hook on the module reads the gradient at the values patched in.
 */
export interface PatchRowsSpec {
  at: 'output' | 'heads';
  segment: number;
  index: Uint32Array;
  values: Float32Array;
}

export interface PatchRowsHook {
  at: 'output' | 'heads';
  segment: number;
  /** Segments (index entries) and value rows. */
  S: number;
  M: number;
  index: GPUBuffer;
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

/** Module paths a target names (a module, an exact path, or a glob) among `modules`; throws on no match. */
export function resolveModules(modules: ReadonlyMap<string, Module>, target: string | Module): string[] {
  if (typeof target !== 'string') {
    if (modules.get(target.path) !== target) throw new Error(`module ${target.path || '(root)'} does not belong to this model`);
    return [target.path];
  }
  if (!target.includes('*')) {
    if (!modules.has(target)) {
      const near = [...modules.keys()].filter((p) => p.endsWith(target.split('.').pop()!)).slice(0, 3);
      throw new Error(`no module '${target}' in this model${near.length ? ` (did you mean ${near.map((p) => `'${p}'`).join(', ')}?)` : ''}`);
    }
    return [target];
  }
  const re = globToRegExp(target);
  const paths = [...modules.keys()].filter((p) => re.test(p));
  if (!paths.length) throw new Error(`pattern '${target}' matches no module of this model`);
  return paths;
}

/**
 * The hooks of one model, by unique name. A pattern that matches several modules registers one hook per
 * module, named `name[path]`. `signature` changes whenever the set of hooks changes what a forward must do.
 */
export class HookRegistry {
  private readonly hooks = new Map<string, Hook>();
  private nextId = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly modules: ReadonlyMap<string, Module>,
    /** The model's attention modules (whatever their class: MultiheadAttention, GPT2Attention, …) and their heads. */
    private readonly attention: ReadonlyMap<string, number>,
  ) {}

  /** Head scaling on attention modules: factor per head, applied to the merged heads before the output projection. */
  scaleHeads(name: string, target: string | Module, scales: Readonly<Record<number, number>>): HookHandle {
    const paths = this.resolve(target);
    for (const p of paths) {
      if (!this.attention.has(p)) throw new Error(`scaleHeads '${name}': ${p} is a ${this.modules.get(p)!.kind}, not an attention module`);
      if (this.all().some((h) => h.path === p && h.kind === 'scale_heads')) throw new Error(`scaleHeads '${name}': ${p} already has head scaling; delete it first`);
    }
    const H = this.attention.get(paths[0])!;
    const f = new Float32Array(H).fill(1);
    for (const [k, v] of Object.entries(scales)) {
      const h = Number(k);
      if (!Number.isInteger(h) || h < 0 || h >= H) throw new Error(`scaleHeads '${name}': head ${k} does not exist (${H} heads)`);
      if (!Number.isFinite(v)) throw new Error(`scaleHeads '${name}': factor ${v} for head ${k} is not finite`);
      f[h] = v;
    }
    return this.register(name, 'scale_heads', paths, target, () => {
      const buffer = this.ctx.buffers.create(f.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, `${name} head scales`);
      this.ctx.device.queue.writeBuffer(buffer, 0, f);
      return { buffer };
    });
  }

  /** Activation patching: the module's (first) output is replaced by `value` on the GPU. */
  patch(name: string, target: string | Module, value: CapturedTensor): HookHandle {
    const paths = this.resolve(target);
    const n = value.shape.reduce((a, b) => a * b, 1);
    if (!(value.data instanceof Float32Array) || value.data.length !== n) throw new Error(`patchOutput '${name}': data has ${value.data?.length} values for shape [${value.shape.join(', ')}]`);
    return this.register(name, 'patch', paths, target, () => {
      const buffer = this.ctx.buffers.create(value.data.byteLength, GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, `${name} patch`);
      this.ctx.device.queue.writeBuffer(buffer, 0, value.data.buffer as ArrayBuffer, value.data.byteOffset, value.data.byteLength);
      return { buffer, shape: [...value.shape] };
    });
  }

  /** Per-segment patching of one module (see PatchRowsSpec); `writeRows` replaces its index and values later. */
  patchRows(name: string, target: string | Module, spec: PatchRowsSpec): HookHandle {
    const paths = this.resolve(target);
    if (paths.length !== 1) throw new Error(`patchRows '${name}': ${paths.length} modules match; patch one module per registration`);
    if (spec.at === 'heads' && !this.attention.has(paths[0])) throw new Error(`patchRows '${name}': ${paths[0]} is not an attention module, so it has no heads to patch`);
    const { S, M } = this.rowsShape(name, spec);
    return this.register(name, 'patch_rows', paths, target, () => {
      const index = this.ctx.buffers.create(S * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, `${name} patch index`);
      const buffer = this.ctx.buffers.create(M * spec.segment * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, `${name} patch values`);
      this.write(buffer, spec.values);
      this.write(index, spec.index);
      return { buffer, rows: { at: spec.at, segment: spec.segment, S, M, index } };
    });
  }

  /** A new index (and, if given, new values) for a patchRows registration, of the sizes it was registered with (no new plan). */
  writeRows(name: string, index: Uint32Array, values?: Float32Array): void {
    const h = this.hooks.get(name);
    if (!h?.rows) throw new Error(`writeRows: no patchRows registration named '${name}'`);
    const { S, M, segment } = h.rows;
    if (!(index instanceof Uint32Array) || index.length !== S) throw new Error(`writeRows '${name}': index must be a Uint32Array of the ${S} segments it was registered with`);
    if (values && (!(values instanceof Float32Array) || values.length !== M * segment)) throw new Error(`writeRows '${name}': values must be a Float32Array of the ${M} rows of ${segment} it was registered with`);
    checkPatchIndex(index, S, M, `writeRows '${name}'`);
    this.write(h.rows.index, index);
    if (values) this.write(h.buffer!, values);
  }

  private write(buffer: GPUBuffer, data: Float32Array | Uint32Array): void {
    this.ctx.device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  }

  private rowsShape(name: string, spec: PatchRowsSpec): { S: number; M: number } {
    const C = spec.segment;
    if (!Number.isInteger(C) || C < 1) throw new Error(`patchRows '${name}': segment ${C} is not a positive integer`);
    if (!(spec.index instanceof Uint32Array) || !spec.index.length) throw new Error(`patchRows '${name}': index must be a non-empty Uint32Array`);
    if (!(spec.values instanceof Float32Array) || !spec.values.length || spec.values.length % C) throw new Error(`patchRows '${name}': values must be a Float32Array of whole rows of ${C}`);
    const M = spec.values.length / C;
    checkPatchIndex(spec.index, spec.index.length, M, `patchRows '${name}'`);
    return { S: spec.index.length, M };
  }

  add(name: string, kind: HookKind, target: string | Module, fn: Hook['fn'], opts: HookOptions): HookHandle {
    if (typeof name !== 'string' || name === '') throw new Error('hook name must be a non-empty string');
    const paths = this.resolve(target);
    const other = paths.find((p) => !this.attention.has(p));
    if ((opts.averageHeads || opts.heads || opts.queries || opts.summary) && other !== undefined) {
      throw new Error(`hook '${name}': averageHeads / heads / queries / summary apply to attention modules only (${other} is a ${this.modules.get(other)!.kind})`);
    }
    if (opts.stream) {
      const { chunkBytes, onChunk } = opts.stream;
      if (typeof onChunk !== 'function') throw new Error(`hook '${name}': stream needs an onChunk function`);
      if (chunkBytes !== undefined && (!Number.isInteger(chunkBytes) || chunkBytes < 1)) throw new Error(`hook '${name}': stream chunkBytes ${chunkBytes} is not a whole number of bytes >= 1`);
      if (other !== undefined) throw new Error(`hook '${name}': stream applies to attention modules only (${other} is a ${this.modules.get(other)!.kind})`);
      if (kind !== 'forward' || opts.writeBack || opts.summary || opts.averageHeads || opts.heads || opts.queries) throw new Error(`hook '${name}': stream is for forward hooks without writeBack, summary, averageHeads, heads or queries`);
    }
    if (opts.summary) {
      checkSummary(`hook '${name}'`, opts.summary);
      if (kind !== 'forward' || opts.writeBack || opts.averageHeads || opts.heads || opts.queries) throw new Error(`hook '${name}': summary is for forward hooks without writeBack, averageHeads, heads or queries`);
    }
    if (opts.keepIO !== undefined && (typeof opts.keepIO !== 'boolean' || (!opts.keepIO && !opts.summary && !opts.stream))) throw new Error(`hook '${name}': keepIO is true or false, and false needs summary or stream (the record would hold nothing)`);
    if (opts.writeBack && (kind !== 'forward' || !fn)) throw new Error(`hook '${name}': writeBack needs a forward hook with a fn`);
    if (opts.site === 'heads' && (kind !== 'forward' || opts.writeBack || opts.averageHeads || opts.heads || opts.queries || other !== undefined)) {
      throw new Error(`hook '${name}': site 'heads' is for forward hooks on attention modules, without writeBack or weight cuts`);
    }
    if (opts.writeBack && (opts.averageHeads || opts.heads || opts.queries)) throw new Error(`hook '${name}': writeBack cannot be combined with averageHeads / heads / queries`);
    return this.register(name, kind, paths, target, { fn, opts: { ...opts } });
  }

  private register(
    name: string,
    kind: Hook['kind'],
    paths: string[],
    target: string | Module,
    extra: Partial<Hook> | (() => Partial<Hook>),
  ): HookHandle {
    if (typeof name !== 'string' || name === '') throw new Error('hook name must be a non-empty string');
    const names = paths.length === 1 && (typeof target !== 'string' || !target.includes('*')) ? [name] : paths.map((p) => `${name}[${p}]`);
    for (const n of [name, ...names]) {
      if (this.hooks.has(n) || this.group(n).length) throw new Error(`a hook named '${n}' already exists; delete it with delHook('${n}') first`);
    }
    names.forEach((n, i) => {
      const more = typeof extra === 'function' ? extra() : extra;
      this.hooks.set(n, { name: n, path: paths[i], kind, opts: {}, ...more, id: this.nextId++ });
    });
    return { names, remove: () => names.forEach((n) => this.drop(n)) };
  }

  private drop(name: string): void {
    const h = this.hooks.get(name);
    if (!h) return;
    if (h.buffer) this.ctx.buffers.destroy(h.buffer);
    if (h.rows) this.ctx.buffers.destroy(h.rows.index);
    this.hooks.delete(name);
  }

  /** Deletes a hook by name, or every hook a pattern registration made under that name. */
  delete(name: string): void {
    const names = this.hooks.has(name) ? [name] : this.group(name);
    if (!names.length) throw new Error(`no hook named '${name}'`);
    for (const n of names) this.drop(n);
  }

  private group(name: string): string[] {
    return [...this.hooks.keys()].filter((n) => n.startsWith(`${name}[`));
  }

  /** Module paths a target names: a Module of this model, an exact path, or a glob. */
  resolve(target: string | Module): string[] {
    return resolveModules(this.modules, target);
  }

  all(): Hook[] {
    return [...this.hooks.values()];
  }

  get size(): number {
    return this.hooks.size;
  }

  dispose(): void {
    for (const n of [...this.hooks.keys()]) this.drop(n);
  }

  /** What a plan depends on: names, paths, kinds, options, whether there is a fn (fn bodies are looked up at run time). */
  signature(): string {
    return this.all()
      .map((h) => `${h.name}:${h.kind}:${h.path}:${JSON.stringify(h.opts)}:${h.fn ? 'fn' : ''}${h.buffer ? `:#${h.id}` : ''}`)
      .sort()
      .join('|');
  }
}
