import type { GpuContext } from '../gpu/context.ts';
import type { HookObserver } from '../hooks/observer.ts';
import type { HookRecord } from '../hooks/registry.ts';
import type { SelfCache } from '../nn/attention_core.ts';
import { Plan } from '../scheduler/compile.ts';
import type { PlanBuilder } from '../scheduler/plan.ts';
import { InputError, type InputTensor } from './inputs.ts';

export interface GenerateOptions {
  /** Tokens to generate at most (the eos token, when generated, counts and ends that row). */
  maxNewTokens: number;
  /** seq2seq: the first decoder token; default the model's bos_id. */
  bos?: number;
  /** Stop a row when it generates this token; default the model's eos_id; null: never stop early. */
  eos?: number | null;
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

function argmax(logits: Float32Array, offset: number, V: number): number {
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[offset + v] > logits[offset + best]) best = v;
  return best;
}

/**
 * One generate call: the GPU buffers it owns (KV caches, memory), the plans it runs, each row's tokens so far and
 * each step's hook records. A kind's `generate` drives it; `dispose` frees everything at the end.
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
  selfCaches(b: PlanBuilder, bufs: readonly GPUBuffer[], maxT: number, pos: number, E: number): SelfCache[] {
    return bufs.map((buf, i) => ({ kind: 'self', kv: b.external(buf, [this.B * maxT * 3 * E], `kv cache ${i}`), maxT, pos }));
  }

  /** Compiles and runs a step's plan; its hook records become step `step`'s. Returns the plan's outputs. */
  async run(b: PlanBuilder, observer: HookObserver | undefined, data: (Uint32Array | Float32Array)[], step: number, label: string): Promise<Float32Array[]> {
    const plan = await Plan.compile(this.host.ctx, b, label);
    this.plans.push(plan);
    const { outputs, captures } = await plan.run(data, label);
    const recs = observer ? await observer.records(captures) : new Map<string, HookRecord>();
    this.steps[step] = { ...this.steps[step], ...Object.fromEntries([...recs].map(([k, r]) => [k, { ...r, step }])) };
    return outputs;
  }

  /** Appends each unfinished row's greedy pick; returns the next input ids, or undefined when every row is done. */
  pick(logits: Float32Array, rowOf: (bt: number) => number, V: number, eos: number | undefined): Uint32Array | undefined {
    const next = new Uint32Array(this.B);
    for (let bt = 0; bt < this.B; bt++) {
      next[bt] = argmax(logits, rowOf(bt) * V, V);
      if (!this.done[bt]) {
        this.tokens[bt].push(next[bt]);
        if (next[bt] === eos) this.done[bt] = true;
      }
    }
    return this.done.every((d) => d) ? undefined : next;
  }

  dispose(): void {
    for (const p of this.plans) p.dispose();
    for (const buf of this.owned) this.host.ctx.buffers.destroy(buf);
  }
}

/**
 * Greedy decoding of `src` token ids ([B, L] batch first, else [L, B]) by a kind's decoder loop (`run`), which
 * drives a Decoding; every GPU buffer and plan of the call is freed at its end.
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
  const d = new Decoding(host, batchFirst ? src.shape[0] : src.shape[1], o.maxNewTokens);
  try {
    await run(d, src, o);
    return { tokens: d.tokens, steps: d.steps };
  } finally {
    d.dispose();
  }
}
