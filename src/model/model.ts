import type { AttentionModuleInfo } from '../analysis/attention_modules.ts';
import type { GpuContext } from '../gpu/context.ts';
import { HookObserver } from '../hooks/observer.ts';
import { type BackwardHookFn, type ForwardHookFn, type HookHandle, type HookOptions, type HookRecord, HookRegistry, type PatchRowsSpec, type PreHookFn } from '../hooks/registry.ts';
import { type Module, Weights } from '../nn/module.ts';
import { Plan, type PlanStats } from '../scheduler/compile.ts';
import { PlanBuilder } from '../scheduler/plan.ts';
import { type ModelConfig, type ModelFile, readModelFile } from './config.ts';
import { Feeder } from './feeder.ts';
import { type CheckpointFiles, readCheckpoint } from './hf/checkpoint.ts';
import { hubFiles, type HubOptions } from './hf/hub.ts';
import { type BackwardResult, paramsMatching, readBackward, recordGrad } from './grad.ts';
import { generate, type GenerateOptions, type GenerateResult } from './generate.ts';
import { checkInputNames, InputError, type InputTensor, type ModelInputs } from './inputs.ts';
import type { BuiltModel, ModelKind } from './kinds/kind.ts';
import { kindOf } from './kinds/index.ts';
import { type CachedPlan, PlanCache } from './plans.ts';
import { profilePlan, type ProfileReport } from './profile.ts';
import { type RelevanceMaps, relevanceMaps } from './relevance.ts';
import { RelevanceRowProgram } from './relevance_row.ts';
import { type BackwardTarget, seedFor } from './target.ts';

export type { AttentionGrad, BackwardResult } from './grad.ts';

/** What a forward returns: the output tensor in PyTorch's layout. */
export interface ForwardResult {
  output: Float32Array;
  shape: number[];
}

export interface ForwardOptions {
  /**
   * Keep what a backward needs (every attention's probabilities, and the activations the backward reads) so that
   * `backward(target)` can follow. Costs memory, not time: the forward runs the same kernels.
   */
  grad?: boolean;
  /**
   * With grad: parameters whose gradients the backward also returns, by state_dict name or glob
   * ('encoder.layers.*.linear1.weight', '**' for all).
   */
  params?: string | readonly string[];
  /**
   * false: the output is not read back (`output` comes back empty, `shape` as always): a forward run for its hooks'
   * records alone copies only those. Default true.
   */
  output?: boolean;
}

/**
 * A model loaded on the GPU: the module tree its kind built (named as PyTorch names it), its weights uploaded once,
 * and a cache of compiled plans, one per input signature (shapes, masks present), hook set and gradient request.
 * A forward is one submit. The facade: hooks here, the rest in the files beside (kinds/, grad, generate, profile).
 */
export class Model {
  private readonly plans = new PlanCache();
  private lastPlan?: Plan;
  /** The last forward, when it kept what a backward needs. */
  private lastGrad?: { entry: CachedPlan; output: Float32Array; shape: number[]; hooks: Record<string, HookRecord> };
  private disposed = false;
  private readonly registry: HookRegistry;
  private readonly modulesByPath: Map<string, Module>;
  /** Forwards run one after another: a plan's buffers serve one forward at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Hook fns being called right now: a forward started from one would queue behind the forward waiting on it. */
  private hookCalls = 0;
  /** What each hook stored in the last forward, by hook name (the seed's `model.hooks[name]`). */
  hooks: Record<string, HookRecord> = {};
  /** The GPU program relevanceRow last ran, for the plan and batch element it was made for. */
  private rowProgram?: { plan: Plan; batch: number; program: RelevanceRowProgram };
  /** Per-forward limit on captured bytes; a forward that would copy more fails before it runs. */
  captureBudgetBytes = 256 * 1024 * 1024;
  readonly root: Module;
  private readonly kind: ModelKind<ModelConfig>;

  private constructor(
    readonly ctx: GpuContext,
    readonly config: ModelConfig,
    private readonly built: BuiltModel,
    private readonly weights: Weights,
  ) {
    this.kind = kindOf(config);
    this.root = built.root;
    this.modulesByPath = new Map([...this.root.modules()].map((m) => [m.path, m]));
    this.registry = new HookRegistry(ctx, this.modulesByPath, new Map(built.attentionModules().map((m) => [m.path, m.heads])));
  }

  /** Reads and validates a model file, then uploads its weights. */
  static load(ctx: GpuContext, bytes: Uint8Array, label = 'model file'): Model {
    return Model.fromFile(ctx, readModelFile(bytes, label));
  }

  /** Reads a Hugging Face checkpoint (config.json + safetensors, sharded or not) and uploads its weights. */
  static async fromCheckpoint(ctx: GpuContext, files: CheckpointFiles): Promise<Model> {
    return Model.fromFile(ctx, await readCheckpoint(files));
  }

  /** Downloads a Hugging Face hub checkpoint (see hubFiles: revision, progress, cache) and uploads its weights. */
  static fromHub(ctx: GpuContext, id: string, opts: HubOptions = {}): Promise<Model> {
    return Model.fromCheckpoint(ctx, hubFiles(id, opts));
  }

  static fromFile(ctx: GpuContext, file: ModelFile): Model {
    const w = new Weights(ctx, file.tensors);
    try {
      const built = kindOf(file.config).build(w, file.config);
      w.built();
      return new Model(ctx, file.config, built, w);
    } catch (e) {
      w.dispose();
      throw e;
    }
  }

  /**
   * Stores the module's inputs and outputs after every forward in `hooks[name]` (a MultiheadAttention's outputs are
   * [attn_output, attn_weights], weights per head [B, H, L, S] unless opts cut or average them). `target` is a
   * module, its PyTorch path, or a glob ('encoder.layers.*.self_attn'): a pattern registers one hook per match,
   * named `name[path]`. fn may edit what is stored; with opts.writeBack its returned output flows on.
   */
  setForwardHook(name: string, target: string | Module, fn?: ForwardHookFn, opts: HookOptions = {}): HookHandle {
    this.assertLive('setForwardHook');
    return this.registry.add(name, 'forward', target, fn, opts);
  }

  /** Stores the module's inputs before it runs; fn may return the inputs the module then sees. */
  setForwardPreHook(name: string, target: string | Module, fn?: PreHookFn): HookHandle {
    this.assertLive('setForwardPreHook');
    return this.registry.add(name, 'forward_pre', target, fn, {});
  }

  /**
   * PyTorch's full backward hook: after every `backward`, `hooks[name]` holds the gradients of the module's inputs
   * (`input`, grad_input) and outputs (`output`, grad_output), and for a MultiheadAttention `weightsGrad`, the
   * gradient of its attention probabilities. fn may return replacement input gradients, which then flow on.
   */
  setBackwardHook(name: string, target: string | Module, fn?: BackwardHookFn): HookHandle {
    this.assertLive('setBackwardHook');
    return this.registry.add(name, 'backward', target, fn, {});
  }

  /**
   * GPU-side head scaling on MultiheadAttention modules (path, glob or module): {head: factor}; 0 ablates the
   * head (its output zeroed before out_proj). No round trip; removed with delHook(name).
   */
  scaleHeads(name: string, target: string | Module, scales: Readonly<Record<number, number>>): HookHandle {
    this.assertLive('scaleHeads');
    return this.registry.scaleHeads(name, target, scales);
  }

  /** Activation patching: the module's output is replaced by `value` (uploaded once) in every forward. */
  patchOutput(name: string, target: string | Module, value: { shape: number[]; data: Float32Array }): HookHandle {
    this.assertLive('patchOutput');
    return this.registry.patch(name, target, value);
  }

  /**
   * Per-segment patching for sweeps (see PatchRowsSpec): the module's output, or its merged heads, as segments that
   * each keep their value or take a row of `values`; the batch carries the variants. `writeRows` swaps the index.
   */
  patchRows(name: string, target: string | Module, spec: PatchRowsSpec): HookHandle {
    this.assertLive('patchRows');
    return this.registry.patchRows(name, target, spec);
  }

  writeRows(name: string, index: Uint32Array, values?: Float32Array): void {
    this.registry.writeRows(name, index, values);
  }

  /** Names of the registered hooks and interventions (pattern registrations appear as `name[path]`). */
  hookNames(): string[] {
    return this.registry.all().map((h) => h.name);
  }

  /** Removes a hook (or every hook a pattern registered under that name) and its stored record. */
  delHook(name: string): void {
    this.registry.delete(name);
    for (const k of Object.keys(this.hooks)) if (k === name || k.startsWith(`${name}[`)) delete this.hooks[k];
  }

  private assertLive(what: string): void {
    if (this.disposed) throw new Error(`${what}: the model was disposed`);
  }

  /** Every module by its PyTorch path ('' is the root), in named_modules() order. */
  namedModules(): ReadonlyMap<string, Module> {
    return this.modulesByPath;
  }

  /** Module paths a target names (a module, an exact path, or a glob); throws on no match. */
  modulesMatching(target: string | Module): string[] {
    return this.registry.resolve(target);
  }

  /** Every attention module in forward order, with its role (encoder, decoder, cross), layer and heads. */
  attentionModules(): AttentionModuleInfo[] {
    return this.built.attentionModules();
  }

  /** Whether sequences are batch first ([B, L, …]; else [L, B, …]). */
  get batchFirst(): boolean {
    return this.built.batchFirst;
  }

  /** The input names forward accepts. */
  get inputNames(): readonly string[] {
    return this.kind.inputs;
  }

  /** Step labels of the plan the last forward used, in order. */
  get planSteps(): readonly string[] {
    return this.lastPlan?.labels ?? [];
  }

  /** Statistics of the plan the last forward used. */
  get planStats(): PlanStats | undefined {
    return this.lastPlan?.stats;
  }

  get weightBytes(): number {
    return this.weights.bytes;
  }

  /** State_dict names of the parameters, in the order the modules hold them. */
  paramNames(): string[] {
    return [...this.weights.params.keys()];
  }

  /** Runs one forward (queued behind any running one); hooks' records land in `hooks`. */
  forward(inputs: ModelInputs, opts: ForwardOptions = {}): Promise<ForwardResult> {
    return this.enqueue('forward', async () => {
      const params = opts.params === undefined ? [] : paramsMatching(this.paramNames(), opts.params);
      if (params.length && !opts.grad) throw new InputError('forward: params needs grad: true');
      const grad = opts.grad ?? false;
      this.lastGrad = undefined;
      const readOutput = opts.output ?? true;
      if (!readOutput && grad) throw new InputError('forward: output: false cannot be combined with grad (the backward seeds from the output)');
      const { entry, data, shape } = await this.prepare(inputs, grad, params, readOutput);
      const { outputs, captures } = await entry.plan.run(data);
      this.hooks = entry.observer ? Object.fromEntries(await entry.observer.records(captures)) : {};
      if (grad) this.lastGrad = { entry, output: outputs[0], shape, hooks: this.hooks };
      return { output: readOutput ? outputs[0] : new Float32Array(0), shape };
    });
  }

  /**
   * Backpropagates `target` (a scalar function of the last forward's output) on the GPU through that forward,
   * which must have run with `{ grad: true }`. Backward hooks' records land in `hooks` beside the forward's.
   */
  backward(target: BackwardTarget): Promise<BackwardResult> {
    return this.enqueue('backward', async () => {
      const { value, grad, outputs, captures } = await this.runBackward('backward', target);
      return readBackward(grad, value, outputs, captures);
    });
  }

  /**
   * The backward phase of the last forward's plan seeded by `target` (`what` names the caller in errors); backward
   * hooks' records join the forward's in `hooks`. `skip`: capture keys not read back.
   */
  private async runBackward(what: string, target: BackwardTarget, skip?: Set<string>) {
    this.assertLive(what);
    const last = this.lastGrad;
    if (!last || last.entry.plan !== this.lastPlan) throw new Error(`${what}: the last forward kept nothing for a backward; run forward(inputs, { grad: true }) first`);
    const { seed, value } = seedFor(target, last.shape, last.output);
    const { plan, observer, grad } = last.entry;
    const { outputs, captures } = await plan.run([seed], what, false, 'backward', {}, skip);
    const records = observer ? Object.fromEntries(await observer.records(captures, 'backward')) : {};
    this.hooks = { ...last.hooks, ...records };
    return { value, plan, grad: grad!, outputs, captures };
  }

  /**
   * Gradient-weighted attention rolled out across layers (relevance maps, Chefer et al. 2021) from a backward's
   * attention probabilities and gradients: which input tokens the backward's target depends on, per position.
   */
  relevanceMaps(result: BackwardResult): RelevanceMaps {
    const roles = new Map(this.attentionModules().map((m) => [m.path, m.role]));
    return relevanceMaps(
      result.attention.map((a) => {
        const role = roles.get(a.path);
        if (!role) throw new Error(`relevance: ${a.path} is not an attention module of this model`);
        return { role, weights: a.weights, grad: a.grad };
      }),
    );
  }

  /**
   * Backpropagates `target` like `backward`, then computes row `row` of batch element `batch` of the relevance map
   * whose columns are the input tokens (cross-attention's when the model has one, else its self-attention's: see
   * relevanceMaps) on the GPU, from the attention probabilities and gradients where the backward left them: only the
   * row (S floats), the target's value and the map's number of rows come back, not the maps.
   */
  relevanceRow(target: BackwardTarget, batch: number, row: number): Promise<{ value: number; map: keyof RelevanceMaps; rows: number; row: Float32Array }> {
    return this.enqueue('relevanceRow', async () => {
      const skip = new Set(this.lastGrad?.entry.grad?.attentionOnly);
      const { value, plan, grad } = await this.runBackward('relevanceRow', target, skip);
      if (this.rowProgram?.plan !== plan || this.rowProgram.batch !== batch) {
        this.rowProgram?.program.dispose();
        this.rowProgram = undefined;
        const roles = new Map(this.attentionModules().map((m) => [m.path, m.role]));
        const layers = grad.attention.map((a) => ({
          role: roles.get(a.path)!,
          shape: a.shape,
          weights: plan.binding(a.acts.weights),
          ...(a.acts.grad ? { grad: plan.binding(a.acts.grad) } : {}),
        }));
        this.rowProgram = { plan, batch, program: await RelevanceRowProgram.build(this.ctx, layers, batch) };
      }
      const { program } = this.rowProgram;
      return { value, map: program.map, rows: program.rows, row: await program.row(row) };
    });
  }

  /**
   * Greedy autoregressive decoding (seq2seq and causal lm models) with KV caches on the GPU; hooks fire on every
   * step and each record carries its step. `src`: source ids (seq2seq) or the prompt (lm), [L, B] / [B, L].
   */
  generate(src: InputTensor, opts: GenerateOptions): Promise<GenerateResult> {
    return this.enqueue('generate', () => {
      this.assertLive('generate');
      const run = this.built.generate;
      if (!run) throw new InputError(`generate: a ${this.config.kind} model has no vocabulary to generate from (seq2seq, lm and LM-head models do)`);
      return generate({ ctx: this.ctx, builder: () => this.builder() }, run, this.built.batchFirst, src, opts);
    });
  }

  /**
   * Where a forward's time goes (see profilePlan): ordinary forwards timed, then every dispatch timed where the
   * adapter has timestamp-query. Hooks stay active, so capture costs show up too.
   */
  profile(inputs: ModelInputs, opts: { runs?: number } = {}): Promise<ProfileReport> {
    return this.enqueue('profile', async () => {
      const { entry, data } = await this.prepare(inputs);
      return profilePlan(entry.plan, data, opts.runs ?? 5, this.ctx.adapterName, this.ctx.features.has('timestamp-query'));
    });
  }

  private inHook<T>(call: () => T): T {
    this.hookCalls++;
    try {
      const r = call();
      if (r instanceof Promise) return r.finally(() => this.hookCalls--) as T;
      this.hookCalls--;
      return r;
    } catch (e) {
      this.hookCalls--;
      throw e;
    }
  }

  /** Forwards, profiles and generations run one after another; one started from inside a hook fn is refused. */
  private enqueue<T>(what: string, body: () => Promise<T>): Promise<T> {
    if (this.hookCalls > 0) {
      return Promise.reject(new Error(`${what}: called while a hook fn of this model is running; a hook cannot run its own model (it would wait on itself)`));
    }
    const run = this.queue.then(body);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private builder(grad = false): { b: PlanBuilder; observer?: HookObserver } {
    const hooks = this.registry.all();
    const observer = hooks.length ? new HookObserver(hooks, this.modulesByPath, (n) => this.registry.all().find((h) => h.name === n), (call) => this.inHook(call)) : undefined;
    return { b: new PlanBuilder(this.ctx, observer, grad, this.captureBudgetBytes), observer };
  }

  /** The cached (or newly compiled) plan for these inputs and the current hooks, and the data to feed it. */
  private async prepare(inputs: ModelInputs, grad = false, params: readonly string[] = [], readOutput = true): Promise<{ entry: CachedPlan; data: (Float32Array | Uint32Array)[]; shape: number[] }> {
    this.assertLive('forward');
    checkInputNames(inputs, this.inputNames, this.config.kind);
    const { b, observer } = this.builder(grad);
    const f = new Feeder(b);
    const { shape, body } = this.built.feed(f, inputs);
    const key = `${f.key.join(' ')}#${this.registry.signature()}#${this.captureBudgetBytes}#${JSON.stringify(this.ctx.kernels)}${grad ? `#grad:${params.join(',')}` : ''}${readOutput ? '' : '#no-output'}`;
    let entry = this.plans.get(key);
    if (!entry) {
      // Only a plan that is not cached yet records its modules.
      const out = await body();
      if (readOutput) b.output(out);
      const attention = this.attentionModules().map((m) => m.path);
      const gradOut = grad ? await recordGrad(b, out, f.feeds, this.kind.gradInputs, attention, this.weights.params, observer, params) : undefined;
      entry = { plan: await Plan.compile(this.ctx, b, `${this.config.kind} plan`), observer, grad: gradOut };
      this.plans.set(key, entry);
    }
    this.lastPlan = entry.plan;
    // A cached plan's inputs are the acts recorded when it was built, in the same order as these feeds.
    return { entry, data: f.feeds.map((x) => x.data), shape };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rowProgram?.program.dispose();
    this.plans.dispose();
    this.registry.dispose();
    this.weights.dispose();
  }
}
