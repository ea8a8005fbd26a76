import type { GpuContext } from '../gpu/context.ts';
import type { HookObserver } from '../hooks/observer.ts';
import type { HookRecord } from '../hooks/registry.ts';
import type { AttentionArgs, SelfCache } from '../nn/attention_core.ts';
import { Plan } from '../scheduler/compile.ts';
import type { Act, Dim, Params, PlanBuilder } from '../scheduler/plan.ts';
import { InputError, type InputTensor, tokenInput } from './inputs.ts';
import { type Pick, sampler, type SamplingOptions } from './sampling.ts';

/** Token ids that end a row: one, or several (HF's eos_token_id may be a list, and generation stops on any of them). */
export type EosIds = number | readonly number[];

/** The ids of `eos` as a list (none for undefined). */
export function eosList(eos: EosIds | undefined): readonly number[] {
  return eos === undefined ? [] : typeof eos === 'number' ? [eos] : eos;
}

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most (the eos token, when generated, counts and ends that row). */
  maxNewTokens: number;
  /** seq2seq: the first decoder token; default the model's bos_id. */
  bos?: number;
  /**
   * Stop a row when it generates this token, or any token of a list; default the model's eos (eos_id, or
   * eos_token_id: config.json's, or generation_config.json's when the checkpoint has one); null: never stop early.
   */
  eos?: EosIds | null;
  /**
   * Called as each token is picked, before the next step runs: streaming. `tokens` are every row's tokens so far,
   * `records` the hook records of the step that produced them (its attention, for a listener on the attention modules).
   */
  onStep?: (s: { step: number; tokens: readonly (readonly number[])[]; records: Readonly<Record<string, HookRecord>> }) => void;
  /**
   * Cancels the call: checked before each plan runs (the prefill or encode, then every decode step) and after each
   * token is picked, so an abort takes effect between steps (a step in flight finishes first). An aborted call
   * rejects with the signal's reason (as fetch does: an 'AbortError' DOMException unless abort() was given one),
   * returns no partial result and frees its buffers; the tokens picked so far were handed to onStep.
   */
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** Per batch row: the generated ids (without bos; with eos when it was generated). */
  tokens: number[][];
  /** Per step: every hook's record (record.step = the step). Step 0 also holds the encoder's or prompt's records. */
  steps: Record<string, HookRecord>[];
}

/** What generation needs from a Model. */
export interface GenerationHost {
  ctx: GpuContext;
  /** A builder with the model's current hooks attached. */
  builder(): { b: PlanBuilder; observer?: HookObserver };
}

type Data = Uint32Array | Float32Array;

/** A plan of one generate call and the observer that reads its captures. */
export interface DecodePlan {
  plan: Plan;
  observer?: HookObserver;
  label: string;
}

/**
 * One generate call: the GPU buffers it owns (KV caches, memory), its plans (a prefill or an encode, then one decode
 * step plan run for every token), each row's tokens so far and each step's hook records. A kind's `generate` drives
 * it; `dispose` frees everything at the end.
 */
export class Decoding {
  readonly tokens: number[][];
  readonly steps: Record<string, HookRecord>[] = [];
  private readonly done: boolean[];
  private readonly owned: GPUBuffer[] = [];
  private readonly plans: Plan[] = [];

  constructor(
    readonly host: GenerationHost,
    /** Batch rows. */
    readonly B: number,
    readonly maxNewTokens: number,
    private readonly choose: Pick,
    private readonly onStep?: GenerateOptions['onStep'],
    private readonly signal?: AbortSignal,
  ) {
    this.tokens = Array.from({ length: B }, () => []);
    this.done = new Array<boolean>(B).fill(false);
  }

  /** A zeroed f32 storage buffer of `elements` owned by this call. */
  buffer(elements: number, label: string): GPUBuffer {
    const buf = this.host.ctx.buffers.create(elements * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label);
    this.owned.push(buf);
    return buf;
  }

  /** Self-attention caches of packed q|k|v rows [B, maxT, 3E], one per layer, the new rows at `pos`. */
  selfCaches(b: PlanBuilder, bufs: readonly GPUBuffer[], maxT: number, pos: Dim, E: number): SelfCache[] {
    return bufs.map((buf, i) => ({ kind: 'self', kv: b.external(buf, [this.B * maxT * 3 * E], `kv cache ${i}`), maxT, pos }));
  }

  /** Compiles what `b` recorded into a plan of this call. */
  async compile(b: PlanBuilder, observer: HookObserver | undefined, label: string): Promise<DecodePlan> {
    const plan = await Plan.compile(this.host.ctx, b, label);
    this.plans.push(plan);
    return { plan, observer, label };
  }

  /** Runs a plan of this call; its hook records become step `step`'s. Returns the plan's outputs. */
  async run(p: DecodePlan, data: Data[], step: number, params: Params = {}): Promise<Float32Array[]> {
    this.signal?.throwIfAborted();
    const { outputs, captures } = await p.plan.run(data, `${p.label} ${step}`, false, 'forward', params);
    const recs = p.observer ? await p.observer.records(captures, 'forward', params) : new Map<string, HookRecord>();
    this.steps[step] = { ...this.steps[step], ...Object.fromEntries([...recs].map(([k, r]) => [k, { ...r, step }])) };
    return outputs;
  }

  /**
   * Generates tokens `from`.. with ONE plan, recorded once by `record` for one new token per row at position `pos`
   * (a run-time param: the KV-cache append offset, the keys attended to, the positional encoding) and run for every
   * token: token t at pos = t + shift, fed `feed(next, pos)`. Stops when every row is done or at maxNewTokens.
   */
  async decode(
    next: Uint32Array | undefined,
    from: number,
    shift: number,
    record: (b: PlanBuilder, pos: Dim) => Promise<void>,
    feed: (next: Uint32Array, pos: number) => Data[],
    V: number,
    eos: EosIds | undefined,
  ): Promise<void> {
    if (!next || from >= this.maxNewTokens) return;
    const { b, observer } = this.host.builder();
    await record(b, b.param('pos', this.maxNewTokens - 1 + shift));
    const plan = await this.compile(b, observer, 'decode step');
    for (let t = from; t < this.maxNewTokens && next; t++) {
      const [logits] = await this.run(plan, feed(next, t + shift), t, { pos: t + shift });
      next = this.pick(logits, (bt) => bt, V, eos);
    }
  }

  /**
   * A causal LM's decoding (batch-first ids [B, L], HF position ids): the prompt in a prefill plan at positions 0..L-1,
   * then one decode plan for every token. `forward` records the model on input_ids and position_ids [B, len] with
   * its caches' new rows at `pos` and returns the logits.
   */
  async causalLm(src: InputTensor, V: number, eos: EosIds | undefined, forward: (b: PlanBuilder, ids: Act, positions: Act, a: AttentionArgs, pos: Dim) => Promise<Act>): Promise<void> {
    const [B, L] = src.shape;
    const record = async (b: PlanBuilder, len: number, pos: Dim) => {
      const ids = b.input([B, len], 'input_ids', true);
      const positions = b.input([B, len], 'position_ids', true);
      b.output(await forward(b, ids, positions, { B, L: len, S: len, batchFirst: true, causal: true }, pos));
    };
    const positions = (len: number, pos: number) => Uint32Array.from({ length: B * len }, (_, i) => pos + (i % len));
    const { b, observer } = this.host.builder();
    await record(b, L, 0);
    const [out] = await this.run(await this.compile(b, observer, 'prefill'), [tokenInput('input_ids', src, src.shape, V), positions(L, 0)], 0);
    const next = this.pick(out, (bt) => bt * L + L - 1, V, eos);
    await this.decode(next, 1, L - 1, (b, pos) => record(b, 1, pos), (ids, pos) => [ids, positions(1, pos)], V, eos);
  }

  /**
   * Appends each unfinished row's pick (greedy or sampled); a row that picks an eos id (any of a list) is done.
   * Returns the next input ids, or undefined when every row is done.
   */
  pick(logits: Float32Array, rowOf: (bt: number) => number, V: number, eos: EosIds | undefined): Uint32Array | undefined {
    const ends = eosList(eos);
    const next = new Uint32Array(this.B);
    for (let bt = 0; bt < this.B; bt++) {
      next[bt] = this.choose(logits, rowOf(bt) * V, V);
      if (!this.done[bt]) {
        this.tokens[bt].push(next[bt]);
        if (ends.includes(next[bt])) this.done[bt] = true;
      }
    }
    const step = this.steps.length - 1;
    this.onStep?.({ step, tokens: this.tokens, records: this.steps[step] ?? {} });
    this.signal?.throwIfAborted();
    return this.done.every((d) => d) ? undefined : next;
  }

  dispose(): void {
    for (const p of this.plans) p.dispose();
    for (const buf of this.owned) this.host.ctx.buffers.destroy(buf);
  }
}

/**
 * Decoding of `src` token ids ([B, L] batch first, else [L, B]) by a kind's decoder loop (`run`), which drives a
 * Decoding, greedy or sampled as `o` asks; every GPU buffer and plan of the call is freed at its end.
 */
export async function generate(
  host: GenerationHost,
  run: (d: Decoding, src: InputTensor, o: GenerateOptions) => Promise<void>,
  batchFirst: boolean,
  src: InputTensor,
  o: GenerateOptions,
): Promise<GenerateResult> {
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1) throw new InputError(`generate: maxNewTokens ${o.maxNewTokens} must be a positive integer`);
  if (src.shape.length !== 2) throw new InputError(`generate: src must be token ids ${batchFirst ? '[B, L]' : '[L, B]'}, got [${src.shape.join(', ')}]`);
  for (const id of eosList(o.eos ?? undefined)) {
    if (!Number.isInteger(id) || id < 0) throw new InputError(`generate: eos ${JSON.stringify(o.eos)} is not a token id or a list of them`);
  }
  const d = new Decoding(host, batchFirst ? src.shape[0] : src.shape[1], o.maxNewTokens, sampler(o), o.onStep, o.signal);
  try {
    await run(d, src, o);
    return { tokens: d.tokens, steps: d.steps };
  } finally {
    d.dispose();
  }
}
