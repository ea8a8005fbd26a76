import type { GpuContext } from '../gpu/context.ts';
import { TransformerDecoder } from '../nn/decoder.ts';
import { type MemoryArgs, TransformerDecoderLayer } from '../nn/decoder_layer.ts';
import { TransformerEncoder } from '../nn/encoder.ts';
import type { LayerOptions, SelfAttentionArgs } from '../nn/encoder_layer.ts';
import { type Module, Weights } from '../nn/module.ts';
import { EncoderLM } from '../nn/lm.ts';
import { Seq2SeqTransformer, type TokenOptions } from '../nn/seq2seq.ts';
import { Transformer } from '../nn/transformer.ts';
import { HookObserver } from '../hooks/observer.ts';
import { type BackwardHookFn, type CapturedTensor, type ForwardHookFn, globToRegExp, type HookHandle, type HookOptions, type HookRecord, HookRegistry, type PreHookFn } from '../hooks/registry.ts';
import { recordBackward } from '../scheduler/backward.ts';
import { type DispatchTiming, Plan, type PlanStats } from '../scheduler/compile.ts';
import { type Act, PlanBuilder } from '../scheduler/plan.ts';
import { type ModelConfig, type ModelFile, readModelFile } from './config.ts';
import { generate, type GenerateOptions, type GenerateResult } from './generate.ts';
import { aggregate, median, type ProfileReport } from './profile.ts';
import { type BackwardTarget, seedFor } from './target.ts';
import { type AttentionRole, type RelevanceMaps, relevanceMaps } from './relevance.ts';
import { additiveMask, checkShape, floatInput, InputError, INPUT_NAMES, type InputTensor, type ModelInputs, tokenInput } from './inputs.ts';

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
}

/** One attention module's probabilities and their gradient, from a backward. */
export interface AttentionGrad {
  /** The MultiheadAttention's path. */
  path: string;
  /** [B, H, L, S] */
  weights: CapturedTensor;
  /** d(target)/d(weights) [B, H, L, S]; zeros when the target does not depend on this module. */
  grad: CapturedTensor;
}

/** What a backward returns. */
export interface BackwardResult {
  /** The target's value (Σ seed · output). */
  value: number;
  /** Gradients of the forward's float inputs (src, tgt, memory) by name; token-id inputs have none. */
  inputs: Record<string, CapturedTensor>;
  /** Every MultiheadAttention in forward order: its probabilities and their gradient (relevance maps use them). */
  attention: AttentionGrad[];
  /** Gradients of the parameters the forward's `params` named, by state_dict name, in PyTorch's shapes. */
  params: Record<string, CapturedTensor>;
}

/** What a gradient plan reads back after its backward phase. */
interface GradOutputs {
  inputs: { name: string; shape: number[]; act?: Act }[];
  /** Parameters asked for; each gradient comes back in parts, as backward outputs after the inputs'. */
  params: { name: string; shape: number[]; parts: { offset: number; size: number }[] }[];
  attention: { path: string; shape: number[]; hasGrad: boolean }[];
}

/** One input of a plan: where its data goes and the data itself. */
interface Feed {
  act: Act;
  data: Float32Array | Uint32Array;
}

/** Records inputs and masks into a plan being built, remembering the data to feed on each run. */
class Feeder {
  readonly feeds: Feed[] = [];
  readonly key: string[] = [];

  constructor(readonly b: PlanBuilder) {}

  tensor(name: string, shape: number[], data: Float32Array | Uint32Array): Act {
    const act = this.b.input(shape, name, data instanceof Uint32Array);
    this.feeds.push({ act, data });
    this.key.push(`${name}[${shape}]`);
    return act;
  }

  /** A PyTorch attn mask or key-padding mask: undefined when absent, `causal` when it is exactly the causal mask. */
  mask(name: string, t: InputTensor | undefined, shapes: number[][]): { act?: Act; causal: boolean } {
    if (!t) return { causal: false };
    const m = additiveMask(name, t, shapes);
    if (m.causal) {
      this.key.push(`${name}:causal`);
      return { causal: true };
    }
    return { act: this.tensor(name, m.shape, m.data), causal: false };
  }
}

function layerOptions(c: ModelConfig): LayerOptions {
  return {
    dModel: c.d_model,
    nhead: c.nhead,
    dimFeedforward: c.dim_feedforward,
    activation: c.activation,
    layerNormEps: c.layer_norm_eps,
    normFirst: c.norm_first,
    bias: c.bias,
  };
}

/**
 * A model loaded on the GPU: the module tree (named as PyTorch names it), its weights uploaded once, and a
 * cache of compiled plans, one per input signature (shapes, masks present). A forward is one submit.
 */
/** Compiled plans kept per model; the least recently used beyond this are disposed. */
const PLAN_CACHE_SIZE = 16;

interface CachedPlan {
  plan: Plan;
  observer?: HookObserver;
  grad?: GradOutputs;
}

export class Model {
  private readonly plans = new Map<string, CachedPlan>();
  private lastPlan?: Plan;
  /** The last forward, when it kept what a backward needs. */
  private lastGrad?: { entry: CachedPlan; output: Float32Array; shape: number[]; hooks: Record<string, HookRecord> };
  private disposed = false;
  private readonly registry: HookRegistry;
  private readonly modulesByPath: Map<string, Module>;
  /** Forwards run one after another: a plan's buffers serve one forward at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  /** What each hook stored in the last forward, by hook name (the seed's `model.hooks[name]`). */
  hooks: Record<string, HookRecord> = {};
  /** Per-forward limit on captured bytes; a forward that would copy more fails before it runs. */
  captureBudgetBytes = 256 * 1024 * 1024;

  private constructor(
    readonly ctx: GpuContext,
    readonly config: ModelConfig,
    readonly root: Module,
    private readonly weights: Weights,
  ) {
    this.modulesByPath = new Map([...root.modules()].map((m) => [m.path, m]));
    this.registry = new HookRegistry(ctx, this.modulesByPath);
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

  /** Reads and validates a model file, then uploads its weights. */
  static load(ctx: GpuContext, bytes: Uint8Array, label = 'model file'): Model {
    return Model.fromFile(ctx, readModelFile(bytes, label));
  }

  static fromFile(ctx: GpuContext, file: ModelFile): Model {
    const c = file.config;
    const w = new Weights(ctx, file.tensors);
    try {
      const o = layerOptions(c);
      let root: Module;
      if (c.kind === 'transformer') root = new Transformer(w, '', c.num_encoder_layers, c.num_decoder_layers, o);
      else if (c.kind === 'encoder') root = new TransformerEncoder(w, '', c.num_encoder_layers, o, c.encoder_norm);
      else if (c.kind === 'decoder') root = new TransformerDecoder(w, '', c.num_decoder_layers, o, c.decoder_norm);
      else if (c.kind === 'seq2seq' || c.kind === 'lm') {
        const t: TokenOptions = { positional: c.positional, maxLen: c.max_len, embedScale: c.embed_scale };
        if (c.kind === 'seq2seq') root = new Seq2SeqTransformer(w, c.src_vocab.length, c.tgt_vocab.length, [c.num_encoder_layers, c.num_decoder_layers], o, t);
        else root = new EncoderLM(w, c.vocab.length, c.num_encoder_layers, c.encoder_norm, c.causal, o, t);
      } else throw new Error(`unknown model kind ${String((c as { kind: unknown }).kind)}`);
      return new Model(ctx, c, root, w);
    } catch (e) {
      w.dispose();
      throw e;
    }
  }

  /** Every module by its PyTorch path ('' is the root), in named_modules() order. */
  namedModules(): ReadonlyMap<string, Module> {
    return this.modulesByPath;
  }

  /** Module paths a target names (a module, an exact path, or a glob); throws on no match. */
  modulesMatching(target: string | Module): string[] {
    return this.registry.resolve(target);
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

  /** Runs one forward (queued behind any running one); hooks' records land in `hooks`. */
  forward(inputs: ModelInputs, opts: ForwardOptions = {}): Promise<ForwardResult> {
    return this.enqueue('forward', () => {
      if (inputs === null || typeof inputs !== 'object') throw new InputError('forward: inputs must be an object of named tensors ({src, tgt, ...})');
      const params = opts.params === undefined ? [] : this.paramsMatching(opts.params);
      if (params.length && !opts.grad) throw new InputError('forward: params needs grad: true');
      return this.forwardNow(inputs, opts.grad ?? false, params);
    });
  }

  /** State_dict names of the parameters, in the order the modules hold them. */
  paramNames(): string[] {
    return [...this.weights.params.keys()];
  }

  /** Parameter names matching names or globs; each pattern must match one at least. */
  private paramsMatching(patterns: string | readonly string[]): string[] {
    const all = this.paramNames();
    const list = typeof patterns === 'string' ? [patterns] : patterns;
    if (!Array.isArray(list) || list.some((p) => typeof p !== 'string')) throw new InputError('forward: params must be a name or glob, or a list of them');
    const out = new Set<string>();
    for (const p of list) {
      const re = globToRegExp(p);
      const hits = all.filter((n) => re.test(n));
      if (!hits.length) throw new InputError(`forward: params '${p}' matches no parameter of this model (e.g. ${all.slice(0, 3).join(', ')})`);
      hits.forEach((n) => out.add(n));
    }
    return all.filter((n) => out.has(n));
  }

  /**
   * Backpropagates `target` (a scalar function of the last forward's output) on the GPU through that forward,
   * which must have run with `{ grad: true }`. Backward hooks' records land in `hooks` beside the forward's.
   */
  backward(target: BackwardTarget): Promise<BackwardResult> {
    return this.enqueue('backward', () => this.backwardNow(target));
  }

  /**
   * Gradient-weighted attention rolled out across layers (relevance maps, Chefer et al. 2021) from a backward's
   * attention probabilities and gradients: which input tokens the backward's target depends on, per position.
   */
  relevanceMaps(result: BackwardResult): RelevanceMaps {
    return relevanceMaps(result.attention.map((a) => ({ role: this.attentionRole(a.path), weights: a.weights, grad: a.grad })));
  }

  /** Encoder self-attention, decoder self-attention or cross-attention, from the module that owns it. */
  private attentionRole(path: string): AttentionRole {
    const m = this.modulesByPath.get(path);
    if (m?.kind !== 'MultiheadAttention') throw new Error(`relevance: ${path} is not a MultiheadAttention of this model`);
    const parent = this.modulesByPath.get(path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '');
    if (parent instanceof TransformerDecoderLayer) return parent.selfAttn === m ? 'decoder' : 'cross';
    return 'encoder';
  }

  private async backwardNow(target: BackwardTarget): Promise<BackwardResult> {
    this.assertLive('backward');
    const last = this.lastGrad;
    if (!last || last.entry.plan !== this.lastPlan) throw new Error('backward: the last forward kept nothing for a backward; run forward(inputs, { grad: true }) first');
    const { seed, value } = seedFor(target, last.shape, last.output);
    const { entry } = last;
    const grad = entry.grad!;
    const { outputs, captures } = await entry.plan.run([seed], 'backward', false, 'backward');
    const records = entry.observer ? Object.fromEntries(await entry.observer.records(captures, 'backward')) : {};
    this.hooks = { ...last.hooks, ...records };
    let k = 0;
    const zeros = (shape: number[]) => new Float32Array(shape.reduce((a, b) => a * b, 1));
    const inputs = Object.fromEntries(grad.inputs.map((i) => [i.name, { shape: i.shape, data: i.act ? outputs[k++] : zeros(i.shape) }]));
    const params = Object.fromEntries(
      grad.params.map((p) => {
        const data = zeros(p.shape);
        for (const part of p.parts) {
          const d = outputs[k++];
          for (let i = 0; i < part.size; i++) data[part.offset + i] += d[i];
        }
        return [p.name, { shape: p.shape, data }];
      }),
    );
    const attention = grad.attention.map((a) => {
      const weights = captures.get(`attention ${a.path}`)!;
      const g = a.hasGrad ? captures.get(`attention grad ${a.path}`)! : new Float32Array(weights.length);
      return { path: a.path, weights: { shape: a.shape, data: weights }, grad: { shape: a.shape, data: g } };
    });
    return { value, inputs, attention, params };
  }

  /** Hook fns being called right now: a forward started from one would queue behind the forward waiting on it. */
  private hookCalls = 0;

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

  /**
   * Greedy autoregressive decoding (seq2seq and causal lm models) with KV caches on the GPU; hooks fire on every
   * step and each record carries its step. `src`: source ids (seq2seq) or the prompt (lm), [L, B] / [B, L].
   */
  generate(src: InputTensor, opts: GenerateOptions): Promise<GenerateResult> {
    return this.enqueue('generate', () => {
      this.assertLive('generate');
      return generate({ ctx: this.ctx, config: this.config, root: this.root, builder: () => this.builder() }, src, opts);
    });
  }

  private builder(grad = false): { b: PlanBuilder; observer?: HookObserver } {
    const hooks = this.registry.all();
    const observer = hooks.length
      ? new HookObserver(hooks, this.modulesByPath, (n) => this.registry.all().find((h) => h.name === n), this.captureBudgetBytes, (call) => this.inHook(call))
      : undefined;
    return { b: new PlanBuilder(this.ctx, observer, grad), observer };
  }

  private async forwardNow(inputs: ModelInputs, grad: boolean, params: readonly string[] = []): Promise<ForwardResult> {
    this.lastGrad = undefined;
    const { entry, data, shape } = await this.prepare(inputs, grad, params);
    const { outputs, captures } = await entry.plan.run(data);
    this.hooks = entry.observer ? Object.fromEntries(await entry.observer.records(captures)) : {};
    if (grad) this.lastGrad = { entry, output: outputs[0], shape, hooks: this.hooks };
    return { output: outputs[0], shape };
  }

  /**
   * Records the backward of a gradient plan after its forward: the gradients of the float inputs come back as the
   * backward phase's outputs; every attention's probabilities and their gradient are captured.
   */
  private async recordGrad(b: PlanBuilder, output: Act, f: Feeder, observer: HookObserver | undefined, wanted: readonly string[]): Promise<GradOutputs> {
    const { grads, kept, params: parts } = await recordBackward(b, output, observer, (n) => wanted.includes(n));
    const inputs = f.feeds
      .filter((x) => x.data instanceof Float32Array && ['src', 'tgt', 'memory'].includes(x.act.label))
      .map((x) => ({ name: x.act.label, shape: [...x.act.shape], act: grads.get(x.act.id) }));
    b.output(...inputs.flatMap((i) => (i.act ? [i.act] : [])));
    // A parameter no gradient reaches (a head the target does not use) comes back as zeros.
    const params = wanted.map((name) => ({ name, shape: this.weights.params.get(name)!, parts: parts.filter((p) => p.name === name) }));
    for (const p of params) b.output(...p.parts.map((x) => x.act));
    const attention = b.calls
      .filter((c) => this.modulesByPath.get(c.path)?.kind === 'MultiheadAttention')
      .map((c) => {
        const [, weights] = c.outputs;
        b.capture(`attention ${c.path}`, weights);
        const g = kept.get(c.path)?.get('weights');
        if (g) b.capture(`attention grad ${c.path}`, g);
        return { path: c.path, shape: [...weights.shape], hasGrad: !!g };
      });
    return { inputs, attention, params: params.map((p) => ({ ...p, parts: p.parts.map((x) => ({ offset: x.offset, size: x.act.size })) })) };
  }

  /**
   * Where a forward's time goes: the median wall time and CPU phases of `runs` ordinary forwards, then (with
   * timestamp-query) `runs` profiled forwards timing every dispatch in its own compute pass, summed per kernel and
   * per module path. Hooks stay active, so capture costs show up too.
   */
  profile(inputs: ModelInputs, opts: { runs?: number } = {}): Promise<ProfileReport> {
    return this.enqueue('profile', () => this.profileNow(inputs, opts.runs ?? 5));
  }

  private async profileNow(inputs: ModelInputs, runs: number): Promise<ProfileReport> {
    if (!Number.isInteger(runs) || runs < 1) throw new Error(`profile: runs ${runs} must be a positive integer`);
    const { entry, data } = await this.prepare(inputs);
    await entry.plan.run(data, 'warm-up');
    const walls: number[] = [];
    const cpus: { encodeSubmitMs: number; waitMs: number; readbackMs: number }[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = await entry.plan.run(data);
      walls.push(performance.now() - t0);
      cpus.push(r.cpu);
    }
    const timestamps = this.ctx.features.has('timestamp-query');
    const report: ProfileReport = {
      adapter: this.ctx.adapterName,
      timestamps,
      runs,
      forwardMs: median(walls),
      cpu: { encodeSubmitMs: median(cpus.map((c) => c.encodeSubmitMs)), waitMs: median(cpus.map((c) => c.waitMs)), readbackMs: median(cpus.map((c) => c.readbackMs)) },
      dispatches: entry.plan.stats.dispatches,
    };
    if (!timestamps) return report;
    const timings: DispatchTiming[][] = [];
    for (let i = 0; i < runs; i++) timings.push((await entry.plan.run(data, 'profile', true)).timings!);
    return { ...report, ...aggregate(timings) };
  }

  /** The cached (or newly compiled) plan for these inputs and the current hooks, and the data to feed it. */
  private async prepare(inputs: ModelInputs, grad = false, params: readonly string[] = []): Promise<{ entry: CachedPlan; data: (Float32Array | Uint32Array)[]; shape: number[] }> {
    this.assertLive('forward');
    for (const k of Object.keys(inputs)) {
      if (!(INPUT_NAMES as readonly string[]).includes(k)) throw new InputError(`unknown input '${k}' (expected some of ${INPUT_NAMES.join(', ')})`);
    }
    const { b, observer } = this.builder(grad);
    const f = new Feeder(b);
    const { shape, body } = this.record(f, inputs);
    const key = `${f.key.join(' ')}#${this.registry.signature()}#${this.captureBudgetBytes}#${JSON.stringify(this.ctx.kernels)}${grad ? `#grad:${params.join(',')}` : ''}`;
    let entry = this.plans.get(key);
    if (entry) this.plans.delete(key); // re-inserted below as the most recent
    else {
      // Only a plan that is not cached yet records its modules.
      const out = await body();
      b.output(out);
      const gradOut = grad ? await this.recordGrad(b, out, f, observer, params) : undefined;
      entry = { plan: await Plan.compile(this.ctx, b, `${this.config.kind} plan`), observer, grad: gradOut };
      while (this.plans.size >= PLAN_CACHE_SIZE) {
        const [oldest, old] = this.plans.entries().next().value!;
        old.plan.dispose();
        this.plans.delete(oldest);
      }
    }
    this.plans.set(key, entry);
    this.lastPlan = entry.plan;
    // A cached plan's inputs are the acts recorded when it was built, in the same order as these feeds.
    return { entry, data: f.feeds.map((x) => x.data), shape };
  }

  /**
   * Validates the inputs and feeds them (which fixes the plan's key); `body` records the modules' forward and
   * returns the output activation, needed only when the plan is not cached.
   */
  private record(f: Feeder, x: ModelInputs): { shape: number[]; body: () => Promise<Act> } {
    const c = this.config;
    const E = c.d_model;
    const H = c.nhead;
    const bf = c.batch_first;
    const need = (name: keyof ModelInputs): InputTensor => {
      const t = x[name];
      if (!t) throw new InputError(`input ${name} is required for a ${c.kind} model`);
      return t;
    };
    /** (B, L) of a [L, B, E] / [B, L, E] input. */
    const dims = (name: string, t: InputTensor): [number, number] => {
      if (t.shape.length !== 3 || t.shape[2] !== E) throw new InputError(`input ${name}: shape [${t.shape.join(', ')}], expected ${bf ? '[B, L, E]' : '[L, B, E]'} with E = ${E}`);
      return bf ? [t.shape[0], t.shape[1]] : [t.shape[1], t.shape[0]];
    };
    const seq = (name: string, t: InputTensor, B: number, L: number): Act => {
      const shape = bf ? [B, L, E] : [L, B, E];
      return f.tensor(name, shape, floatInput(name, t, shape));
    };
    const selfArgs = (prefix: 'src' | 'tgt', B: number, L: number): SelfAttentionArgs => {
      const m = f.mask(`${prefix}_mask`, x[`${prefix}_mask`], [[L, L], [B * H, L, L]]);
      const kpm = f.mask(`${prefix}_key_padding_mask`, x[`${prefix}_key_padding_mask`], [[B, L]]);
      return { B, L, batchFirst: bf, mask: m.act, keyPaddingMask: kpm.act, causal: m.causal };
    };
    const memArgs = (B: number, L: number, S: number): MemoryArgs => {
      const m = f.mask('memory_mask', x.memory_mask, [[L, S], [B * H, L, S]]);
      const kpm = f.mask('memory_key_padding_mask', x.memory_key_padding_mask, [[B, S]]);
      if (m.causal) throw new InputError('input memory_mask: a causal memory mask is not supported; pass it as a float mask with one finite entry');
      return { S, mask: m.act, keyPaddingMask: kpm.act };
    };
    const b = f.b;
    const shapeOf = (B: number, L: number) => (bf ? [B, L, E] : [L, B, E]);

    if (this.root instanceof Transformer) {
      const [B, S] = dims('src', need('src'));
      const [Bt, T] = dims('tgt', need('tgt'));
      if (Bt !== B) throw new InputError(`inputs src and tgt have batch sizes ${B} and ${Bt}`);
      const src = seq('src', x.src!, B, S);
      const tgt = seq('tgt', x.tgt!, B, T);
      const args = [b, src, tgt, selfArgs('src', B, S), selfArgs('tgt', B, T), memArgs(B, T, S)] as const;
      const root = this.root;
      return { shape: shapeOf(B, T), body: () => root.forward(...args) };
    }
    if (this.root instanceof TransformerEncoder) {
      const [B, S] = dims('src', need('src'));
      const args = [b, seq('src', x.src!, B, S), selfArgs('src', B, S)] as const;
      const root = this.root;
      return { shape: shapeOf(B, S), body: () => root.forward(...args) };
    }
    if (this.root instanceof TransformerDecoder) {
      const [B, T] = dims('tgt', need('tgt'));
      const [Bm, S] = dims('memory', need('memory'));
      if (Bm !== B) throw new InputError(`inputs tgt and memory have batch sizes ${B} and ${Bm}`);
      const tgt = seq('tgt', x.tgt!, B, T);
      const memory = seq('memory', x.memory!, B, S);
      checkShape('memory', x.memory!.shape, shapeOf(B, S));
      const args = [b, tgt, memory, selfArgs('tgt', B, T), memArgs(B, T, S)] as const;
      const root = this.root;
      return { shape: shapeOf(B, T), body: () => root.forward(...args) };
    }
    /** (B, L) of token ids [L, B] / [B, L]. */
    const idDims = (name: string, t: InputTensor): [number, number] => {
      if (t.shape.length !== 2) throw new InputError(`input ${name}: shape [${t.shape.join(', ')}], expected token ids ${bf ? '[B, L]' : '[L, B]'}`);
      return bf ? [t.shape[0], t.shape[1]] : [t.shape[1], t.shape[0]];
    };
    const ids = (name: string, t: InputTensor, vocab: number): Act => f.tensor(name, [...t.shape], tokenInput(name, t, t.shape, vocab));
    const logits = (B: number, L: number, V: number) => (bf ? [B, L, V] : [L, B, V]);
    if (this.root instanceof Seq2SeqTransformer && c.kind === 'seq2seq') {
      const [B, S] = idDims('src', need('src'));
      const [Bt, T] = idDims('tgt', need('tgt'));
      if (Bt !== B) throw new InputError(`inputs src and tgt have batch sizes ${B} and ${Bt}`);
      const src = ids('src', x.src!, c.src_vocab.length);
      const tgt = ids('tgt', x.tgt!, c.tgt_vocab.length);
      const args = [b, src, tgt, selfArgs('src', B, S), selfArgs('tgt', B, T), memArgs(B, T, S)] as const;
      const root = this.root;
      return { shape: logits(B, T, c.tgt_vocab.length), body: () => root.forward(...args) };
    }
    if (this.root instanceof EncoderLM && c.kind === 'lm') {
      const [B, L] = idDims('src', need('src'));
      const args = [b, ids('src', x.src!, c.vocab.length), selfArgs('src', B, L)] as const;
      const root = this.root;
      return { shape: logits(B, L, c.vocab.length), body: () => root.forward(...args) };
    }
    throw new Error(`model kind ${c.kind} has no forward`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.plans.values()) p.plan.dispose();
    this.plans.clear();
    this.registry.dispose();
    this.weights.dispose();
  }
}
