import type { GpuContext } from '../gpu/context.ts';
import type { Dispatch } from '../kernels/dispatch.ts';
import { accessOf, type KernelIO } from '../kernels/kernel.ts';

/** A plan's run-time parameters (a decode step's position): integers given to each run, declared by `b.param`. */
export type Params = Readonly<Record<string, number>>;

/**
 * A size or offset: fixed when the plan is recorded, or following its run-time params (never past `max`). A decode
 * step's plan is recorded once and run for every token, so where a new token's rows go and how many keys it
 * attends to are Dims.
 */
export type Dim = number | { readonly max: number; at(p: Params): number };

export const dimMax = (d: Dim): number => (typeof d === 'number' ? d : d.max);
export const dimAt = (d: Dim, p: Params): number => (typeof d === 'number' ? d : d.at(p));

/** scale · d + add. */
export function affine(d: Dim, scale: number, add: number): Dim {
  return typeof d === 'number' ? scale * d + add : { max: scale * d.max + add, at: (p) => scale * d.at(p) + add };
}

/**
 * An activation: a value a plan produces or consumes, not yet tied to a buffer. The scheduler gives it a
 * slot (a pooled GPU buffer) for its lifetime only, so activations that never live at the same time share.
 */
export interface Act {
  readonly id: number;
  /** 4-byte elements (f32, or u32 token ids). */
  readonly size: number;
  /** Shape for readers and capture; row-major. */
  readonly shape: readonly number[];
  readonly label: string;
  /** u32 token ids: no gradient flows to them. */
  readonly ids?: boolean;
  /**
   * The shape as Dims when some follow the plan's params: at run time the activation is the contiguous prefix of
   * its slot that `shapeAt` gives (`shape` and `size` are the largest, what the slot holds).
   */
  readonly dims?: readonly Dim[];
}

/** The shape of `a` in a run with params `p`. */
export function shapeAt(a: Act, p: Params): number[] {
  return a.dims ? a.dims.map((d) => dimAt(d, p)) : [...a.shape];
}

/** Elements of `a` in a run with params `p`. */
export function sizeAt(a: Act, p: Params): number {
  return a.dims ? shapeAt(a, p).reduce((x, y) => x * y, 1) : a.size;
}

/** `a`'s shape as Dims (for an activation of the same run-time shape). */
export const dimsOf = (a: Act): readonly Dim[] => a.dims ?? a.shape;

/** Resolves an activation to what a kernel binds. */
export type Resolve = (a: Act) => GPUBufferBinding;

interface StepBase {
  label: string;
  /** The module path that recorded it (profiling, hooks). */
  module: string;
  reads: readonly Act[];
  writes: readonly Act[];
}

/**
 * What a backward pass may do while it replays a forward step in reverse: read the gradients of the step's
 * outputs and hand gradients to its inputs, recording backward steps on `b` (see scheduler/backward.ts).
 */
export interface GradContext {
  readonly b: PlanBuilder;
  /** The full gradient of an activation the step wrote; undefined when none flows to it (it is zero). */
  grad(a: Act): Act | undefined;
  /** Adds `g` to the gradient of `to`, an activation the step read. */
  give(to: Act, g: Act): void;
  /** Keeps `g` under `name` for the module being replayed (an attention's probability gradient for its hooks). */
  keep(name: string, g: Act): void;
  /** Whether the gradient of parameter `name` (its state_dict name) was asked for. */
  wantsParam(name: string): boolean;
  /** Adds `g` to elements [offset, offset + g.size) of parameter `name`'s gradient. */
  giveParam(name: string, g: Act, offset?: number): void;
}

/** The backward of a kernel step; a step without one stops every gradient that reaches it with an error. */
export type GradRule = (g: GradContext) => void | Promise<void>;

/** A kernel call: how to make its Dispatch once buffers are known. */
export interface KernelStep extends StepBase {
  kind: 'kernel';
  /** The kernel, and the activation bound to each of its buffers (reads and writes follow from its bindings). */
  kernel: string;
  args: Readonly<Record<string, Act>>;
  /**
   * One dispatch, or several that run in order (a kernel recorded as steps of its own). A make that reads `p` is
   * run again whenever the params change, with `ctx` set to update its dispatches' uniforms and grids in place
   * (kernel.ts `rebinding`): such a make must call its kernels with the `ctx` it is given.
   */
  make: (resolve: Resolve, p: Params, ctx: GpuContext) => Promise<Dispatch | Dispatch[]>;
  grad?: GradRule;
}

/** A copy of an activation into the forward's staging buffer (a capture); `key` names it in the result. */
export interface CaptureStep extends StepBase {
  kind: 'capture';
  key: string;
}

/**
 * A round trip to the CPU inside the forward: `reads` come back, `run` returns the data for `writes`
 * (same order, same sizes), which are written to the GPU before the next step.
 */
export interface HostStep extends StepBase {
  kind: 'host';
  /** `data` and the result are the activations at their run-time shapes (shapeAt with `p`). */
  run: (data: Float32Array[], p: Params) => Promise<Float32Array[]>;
}

/** Data written into an activation from a buffer that outlives the plan (activation patching). */
export interface FillStep extends StepBase {
  kind: 'fill';
  source: GPUBuffer;
}

/** Bytes of one activation copied into a region of another (KV-cache appends). Offsets and size in elements. */
export interface CopyStep extends StepBase {
  kind: 'copy';
  from: Act;
  to: Act;
  fromOffset: Dim;
  toOffset: Dim;
  count: number;
}

/**
 * `act`, viewed as [outer, len, inner], read back in chunks of `rows` along len after the steps before it ran: one
 * submit and one map of a staging buffer of outer·rows·inner elements per chunk, each chunk [outer, to - from, inner]
 * handed to `deliver` as it arrives (a capture too large for the forward's staging, e.g. [B, H, L, S] weights by query rows).
 */
export interface StreamStep extends StepBase {
  kind: 'stream';
  outer: number;
  len: number;
  inner: number;
  rows: number;
  deliver: (from: number, to: number, data: Float32Array) => Promise<void>;
}

export type Step = KernelStep | CaptureStep | HostStep | FillStep | CopyStep | StreamStep;

/** Where a module's forward began and ended in the step list, with its real inputs and outputs. */
export interface ModuleCall {
  path: string;
  /** Step index of the module's first step, and one past its last. */
  begin: number;
  end: number;
  /** Step index where the module's own body began (after what the observer recorded at its entry). */
  body: number;
  inputs: readonly Act[];
  outputs: readonly Act[];
}

/**
 * What a plan does at module boundaries beyond the module's own steps: captures, interventions. The hooks
 * registry implements it; `enter` may replace the module's inputs and `exit` its outputs (returning new acts).
 */
export interface ModuleObserver {
  enter(b: PlanBuilder, path: string, inputs: readonly Act[]): readonly Act[];
  exit(b: PlanBuilder, path: string, inputs: readonly Act[], outputs: readonly Act[]): Promise<readonly Act[]>;
  /** Whether any hook concerns the module at `path` (then it must not be fused with its neighbours). */
  observes(path: string): boolean;
  /** Whether the attention module at `path` must produce its probabilities. */
  wantsWeights(path: string): boolean;
  /** f32 [H] factors for the merged heads of the attention module at `path`, before out_proj (head ablation). */
  headScales(path: string): GPUBuffer | undefined;
  /**
   * When only summaries of the attention module's probabilities [B, H, L, S] are wanted and the map is large: where
   * the module hands them chunk by chunk of query rows (the map is never whole); undefined: compute the map whole.
   */
  probsChunks?(b: PlanBuilder, path: string, shape: readonly [number, number, number, number]): ProbsChunks | undefined;
  /** The merged heads [.., H*D] of the attention module at `path` as the output projection reads them (row patches, captures). */
  heads(b: PlanBuilder, path: string, o: Act): Act;
}

/** Where an attention module hands its probabilities when it computes them by chunks of query rows (see ModuleObserver.probsChunks). */
export interface ProbsChunks {
  /** Query rows per chunk. */
  rows: number;
  /** Records what consumes `probs` [B, H, rows', S], query rows [l0, l0 + rows') of the map. */
  chunk(probs: Act, l0: number): void;
  /** Records what follows the last chunk. */
  finish(): void;
}

export class CaptureBudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaptureBudgetError';
  }
}

const bytes = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${n} B`);

/**
 * Records a forward pass as data: activations, steps, module boundaries. Modules call `act` and `step`;
 * `module` brackets a sub-module's recording. The result is compiled once by `Plan.compile`.
 */
export class PlanBuilder {
  readonly acts: Act[] = [];
  readonly steps: Step[] = [];
  readonly calls: ModuleCall[] = [];
  readonly inputs: Act[] = [];
  readonly outputs: Act[] = [];
  /** Activations that live in buffers owned outside the plan (KV caches): never given a slot. */
  readonly externals = new Map<number, GPUBuffer>();
  /** Activations written once when the plan is compiled (index tables): their slots are never shared. */
  readonly constants = new Map<number, Float32Array | Uint32Array>();
  /** The backward phase, once `beginBackward` was called: its first step and its own inputs and outputs. */
  backward?: { start: number; inputs: Act[]; outputs: Act[] };
  /** Activations whose slots hold them to the end of every run (work encoded after a run reads them: Plan.binding). */
  readonly kept: Act[] = [];
  /** Run-time params by name, with the largest value each may take. */
  readonly params = new Map<string, number>();
  private readonly stack: string[] = [];
  /** Capture key of each activation copied to staging, per phase: one copy however many readers. */
  private readonly captured = new Map<string, string>();
  private captureBytes = 0;

  constructor(
    readonly ctx: GpuContext,
    readonly observer?: ModuleObserver,
    /** The forward will be followed by a backward: attention keeps its probabilities for it. */
    readonly grad = false,
    /** Bytes the plan may copy back per run, all phases together; a capture past it throws CaptureBudgetError. */
    readonly captureBudget = Infinity,
  ) {}

  /** A new activation of the given shape (`ids`: it holds token ids); a shape with run-time Dims is sized for their max. */
  act(dims: readonly Dim[], label: string, ids = false): Act {
    const shape = dims.map(dimMax);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(size) || size < 1) throw new Error(`activation ${label}: bad shape [${shape.join(', ')}]`);
    const dynamic = dims.some((d) => typeof d !== 'number');
    const a: Act = { id: this.acts.length, size, shape, label, ...(ids ? { ids } : {}), ...(dynamic ? { dims: [...dims] } : {}) };
    this.acts.push(a);
    return a;
  }

  /** Declares a run-time param (every run gives it, an integer in [0, max]) and returns it as a Dim. */
  param(name: string, max: number): Dim {
    if (this.params.has(name)) throw new Error(`plan: param ${name} is declared twice`);
    if (!Number.isInteger(max) || max < 0) throw new Error(`plan: param ${name} max ${max} is not a non-negative integer`);
    this.params.set(name, max);
    return { max, at: (p) => p[name] };
  }

  /** An activation filled from the CPU before its phase runs (model inputs, masks; a backward's seed). */
  input(shape: readonly number[], label: string, ids = false): Act {
    const a = this.act(shape, label, ids);
    (this.backward?.inputs ?? this.inputs).push(a);
    return a;
  }

  /** An activation holding `data` for the plan's whole life (written once, when it is compiled). */
  constant(data: Float32Array | Uint32Array, shape: readonly number[], label: string): Act {
    const a = this.act(shape, label);
    if (data.length !== a.size) throw new Error(`constant ${label}: ${data.length} values for [${shape.join(', ')}]`);
    this.constants.set(a.id, data);
    return a;
  }

  /** An activation held in `buffer`, which outlives the plan (a KV cache, a cross-attention K/V). */
  external(buffer: GPUBuffer, shape: readonly number[], label: string): Act {
    const a = this.act(shape, label);
    if (buffer.size < a.size * 4) throw new Error(`external ${label}: buffer of ${buffer.size} B is smaller than [${shape.join(', ')}]`);
    this.externals.set(a.id, buffer);
    return a;
  }

  /** Marks activations to be read back after their phase runs. */
  output(...acts: Act[]): void {
    (this.backward?.outputs ?? this.outputs).push(...acts);
  }

  /** Keeps `acts` in their slots to the end of every run, unshared with anything written after them (see kept). */
  keep(...acts: Act[]): void {
    this.kept.push(...acts);
  }

  /** Steps, inputs and outputs from here on form the backward phase, which runs on its own after the forward. */
  beginBackward(): void {
    if (this.backward) throw new Error('plan: the backward phase has begun already');
    this.backward = { start: this.steps.length, inputs: [], outputs: [] };
  }

  get path(): string {
    return this.stack[this.stack.length - 1] ?? '';
  }

  /** Records what `body` records as if the module at `path` did (backward steps carry their forward module's path). */
  async at<T>(path: string, body: () => Promise<T>): Promise<T> {
    this.stack.push(path);
    try {
      return await body();
    } finally {
      this.stack.pop();
    }
  }

  private base(label: string, reads: readonly Act[], writes: readonly Act[]): StepBase {
    return { label: this.path ? `${this.path}: ${label}` : label, module: this.path, reads, writes };
  }

  /**
   * Records a call of `kernel` with activations bound to its buffers by name (`args`; undefined: not given). Its reads
   * and writes follow from the kernel's bindings (a buffer it updates in place is both). `make` gets the same names
   * resolved to bindings and binds what lives outside the plan (weights) itself; it also gets the run's params and the
   * context to call its kernels on (see KernelStep.make).
   */
  step<B extends string, A extends { readonly [K in B]?: Act }>(
    label: string,
    kernel: KernelIO<B>,
    args: A,
    make: (bufs: { [K in keyof A]: A[K] extends Act ? GPUBufferBinding : GPUBufferBinding | undefined }, p: Params, ctx: GpuContext) => Promise<Dispatch | Dispatch[]>,
    grad?: GradRule,
  ): void {
    const given = (Object.keys(args) as B[]).filter((k) => args[k]).map((k) => [k, args[k]!] as const);
    for (const [k] of given) if (!(k in kernel.bindings)) throw new Error(`${label}: ${kernel.name} has no buffer ${k}`);
    const access = accessOf(kernel, (k) => !!args[k]);
    const acts = (keep: (a: string) => boolean) => [...new Set(given.filter(([k]) => keep(access.get(k)!)).map(([, a]) => a))];
    const bound = (resolve: Resolve) => Object.fromEntries(given.map(([k, a]) => [k, resolve(a)]));
    this.steps.push({
      kind: 'kernel',
      ...this.base(label, acts((a) => a !== 'write'), acts((a) => a !== 'read')),
      kernel: kernel.name,
      args: Object.fromEntries(given),
      make: (resolve, p, ctx) => make(bound(resolve) as Parameters<typeof make>[0], p, ctx),
      ...(grad ? { grad } : {}),
    });
  }

  /**
   * Copies `act` into its phase's staging buffer when the phase runs; returns the key its data comes back under.
   * An activation is written once and never changed, so one copy serves every reader that asks (self-attention's
   * query, key and value; a hook and the gradient path reading the same probabilities). `who` names the reader in
   * the error when the copy would pass the capture budget.
   */
  capture(act: Act, who: string): string {
    const id = `${this.backward ? 'backward' : 'forward'} ${act.id}`;
    const had = this.captured.get(id);
    if (had !== undefined) return had;
    this.captureBytes += act.size * 4;
    if (this.captureBytes > this.captureBudget) {
      throw new CaptureBudgetError(
        `captures need more than the per-forward budget of ${bytes(this.captureBudget)} (${who} [${act.shape.join(', ')}] brings the total to ` +
          `${bytes(this.captureBytes)}); capture fewer modules, cut heads / queries, or raise captureBudgetBytes`,
      );
    }
    const key = `${id} ${act.label}`;
    this.captured.set(id, key);
    this.steps.push({ kind: 'capture', ...this.base(`capture ${act.label}`, [act], []), key });
    return key;
  }

  host(label: string, reads: readonly Act[], writes: readonly Act[], run: HostStep['run']): void {
    this.steps.push({ kind: 'host', ...this.base(label, reads, writes), run });
  }

  /** Reads `act` back in chunks along the middle of its [outer, len, inner] view (see StreamStep). */
  stream(label: string, act: Act, view: { outer: number; len: number; inner: number }, rows: number, deliver: StreamStep['deliver']): void {
    if (act.dims || view.outer * view.len * view.inner !== act.size) throw new Error(`${label}: [${view.outer}, ${view.len}, ${view.inner}] is not a fixed view of ${act.label} [${act.shape.join(', ')}]`);
    if (!Number.isInteger(rows) || rows < 1) throw new Error(`${label}: ${rows} rows per chunk`);
    this.steps.push({ kind: 'stream', ...this.base(label, [act], []), ...view, rows, deliver });
  }

  copy(label: string, from: Act, fromOffset: Dim, to: Act, toOffset: Dim, count: number): void {
    if (dimMax(fromOffset) + count > from.size || dimMax(toOffset) + count > to.size) throw new Error(`${label}: copy of ${count} elements out of bounds`);
    this.steps.push({ kind: 'copy', ...this.base(label, [from], [to]), from, to, fromOffset, toOffset, count });
  }

  fill(label: string, act: Act, source: GPUBuffer): void {
    this.steps.push({ kind: 'fill', ...this.base(label, [], [act]), source });
  }

  /** Whether the attention module at `path` must write its probabilities (someone listens). */
  wantsWeights(path: string): boolean {
    return this.observer?.wantsWeights(path) ?? false;
  }

  /**
   * Records `body` as the forward of the module at `path`. The body gets the inputs to use (a pre-hook may
   * have replaced them) and returns its outputs; what the caller gets back may be replaced by a forward hook.
   */
  async module<T extends Act | Act[]>(path: string, inputs: readonly Act[], body: (inputs: Act[]) => Promise<T>): Promise<T> {
    this.stack.push(path);
    const begin = this.steps.length;
    try {
      const ins = this.observer ? this.observer.enter(this, path, inputs) : inputs;
      const bodyStart = this.steps.length;
      const out = await body([...ins]);
      const outs: Act[] = Array.isArray(out) ? out : [out as Act];
      this.calls.push({ path, begin, end: this.steps.length, body: bodyStart, inputs: ins, outputs: outs });
      if (!this.observer) return out;
      const replaced = await this.observer.exit(this, path, ins, outs);
      return (Array.isArray(out) ? [...replaced] : replaced[0]) as T;
    } finally {
      this.stack.pop();
    }
  }
}
