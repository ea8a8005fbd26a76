import type { GpuContext } from '../gpu/context.ts';
import type { HookObserver } from '../hooks/observer.ts';
import type { HookRecord } from '../hooks/registry.ts';
import type { DecoderCache } from '../nn/decoder_layer.ts';
import { EncoderLM } from '../nn/lm.ts';
import type { Module } from '../nn/module.ts';
import type { SelfCache } from '../nn/multihead_attention.ts';
import { Seq2SeqTransformer } from '../nn/seq2seq.ts';
import { Plan } from '../scheduler/compile.ts';
import type { Act, PlanBuilder } from '../scheduler/plan.ts';
import type { ModelConfig } from './config.ts';
import { InputError, type InputTensor, tokenInput } from './inputs.ts';

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
  config: ModelConfig;
  root: Module;
  /** A builder with the model's current hooks attached. */
  builder(): { b: PlanBuilder; observer?: HookObserver };
}

function argmax(logits: Float32Array, offset: number, V: number): number {
  let best = 0;
  for (let v = 1; v < V; v++) if (logits[offset + v] > logits[offset + best]) best = v;
  return best;
}

/**
 * Greedy decoding with KV caches on the GPU. Each layer's self-attention keeps packed q|k|v rows of every
 * position so far (a step appends its row with one copy); a seq2seq model also keeps the encoder memory and each
 * layer's memory k|v, computed once. One plan per step (its shapes differ by the cached length), built for this
 * call and disposed at its end; hooks fire in every step's plan.
 */
export async function generate(host: GenerationHost, src: InputTensor, o: GenerateOptions): Promise<GenerateResult> {
  const { ctx, config: c, root } = host;
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1) throw new InputError(`generate: maxNewTokens ${o.maxNewTokens} must be a positive integer`);
  const bf = c.batch_first;
  const E = c.d_model;
  if (src.shape.length !== 2) throw new InputError(`generate: src must be token ids ${bf ? '[B, L]' : '[L, B]'}, got [${src.shape.join(', ')}]`);
  const [B, L] = bf ? src.shape : [src.shape[1], src.shape[0]];
  const owned: GPUBuffer[] = [];
  const plans: Plan[] = [];
  const buffer = (elements: number, label: string) => {
    const buf = ctx.buffers.create(elements * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label);
    owned.push(buf);
    return buf;
  };
  const steps: Record<string, HookRecord>[] = [];
  const runPlan = async (b: PlanBuilder, observer: HookObserver | undefined, data: (Uint32Array | Float32Array)[], step: number, label: string) => {
    const plan = await Plan.compile(ctx, b, label);
    plans.push(plan);
    const { outputs, captures } = await plan.run(data, label);
    if (observer) {
      const recs = await observer.records(captures);
      steps[step] = { ...steps[step], ...Object.fromEntries([...recs].map(([k, r]) => [k, { ...r, step }])) };
    } else steps[step] ??= {};
    return outputs;
  };
  const tokens: number[][] = Array.from({ length: B }, () => []);
  const done = new Array<boolean>(B).fill(false);
  /** Appends each row's greedy pick; returns the next input ids, or undefined when every row is finished. */
  const pick = (logits: Float32Array, rowOf: (bt: number) => number, V: number, eos: number | undefined): Uint32Array | undefined => {
    const next = new Uint32Array(B);
    for (let bt = 0; bt < B; bt++) {
      next[bt] = argmax(logits, rowOf(bt) * V, V);
      if (!done[bt]) {
        tokens[bt].push(next[bt]);
        if (next[bt] === eos) done[bt] = true;
      }
    }
    return done.every((d) => d) ? undefined : next;
  };
  const selfCache = (b: PlanBuilder, bufs: GPUBuffer[], maxT: number, pos: number): SelfCache[] =>
    bufs.map((buf, i) => ({ kind: 'self', kv: b.external(buf, [B * maxT * 3 * E], `kv cache ${i}`), maxT, pos }));

  try {
    if (root instanceof Seq2SeqTransformer && c.kind === 'seq2seq') {
      const Vs = c.src_vocab.length;
      const V = c.tgt_vocab.length;
      const bos = o.bos ?? c.bos_id;
      const eos = (o.eos === undefined ? c.eos_id : o.eos) ?? undefined;
      if (bos === null || bos === undefined) throw new InputError('generate: the model has no bos_id; pass options.bos');
      for (const [k, t] of [['bos', bos], ['eos', eos]] as const) {
        if (t !== undefined && (!Number.isInteger(t) || t < 0 || t >= V)) throw new InputError(`generate: ${k} ${t} is outside the target vocabulary [0, ${V})`);
      }
      const maxT = o.maxNewTokens;
      if (maxT > c.max_len) throw new InputError(`generate: maxNewTokens ${maxT} exceeds the model's max_len ${c.max_len}`);
      const ids = tokenInput('src', src, src.shape, Vs);
      const layers = root.transformer.decoder.layers;
      const memShape = bf ? [B, L, E] : [L, B, E];
      const memBuf = buffer(B * L * E, 'memory');
      const crossBufs = layers.map((_, i) => buffer(B * L * 2 * E, `memory k|v ${i}`));
      const selfBufs = layers.map((_, i) => buffer(B * maxT * 3 * E, `kv cache ${i}`));
      // Source padding (pad_id) is masked for the encoder and for cross-attention, as a caller of forward would.
      const pad = c.pad_id;
      const padMask = pad !== null && ids.includes(pad) ? new Float32Array(B * L).map((_, i) => (ids[bf ? i : (i % L) * B + Math.floor(i / L)] === pad ? -Infinity : 0)) : undefined;
      const srcData = padMask ? [ids, padMask] : [ids];

      let { b, observer } = host.builder();
      const srcAct = b.input([...src.shape], 'src');
      const kpm = padMask ? b.input([B, L], 'src_key_padding_mask') : undefined;
      await root.encode(b, srcAct, { B, L, batchFirst: bf, keyPaddingMask: kpm }, b.external(memBuf, memShape, 'memory'), crossBufs.map((buf, i) => b.external(buf, [B * L * 2 * E], `memory k|v ${i}`)));
      await runPlan(b, observer, srcData, 0, 'encode');

      let next: Uint32Array | undefined = new Uint32Array(B).fill(bos);
      for (let t = 0; t < maxT && next; t++) {
        ({ b, observer } = host.builder());
        const tgt = b.input(bf ? [B, 1] : [1, B], 'tgt');
        const kpmStep = padMask ? b.input([B, L], 'memory_key_padding_mask') : undefined;
        const memory = b.external(memBuf, memShape, 'memory');
        const self = selfCache(b, selfBufs, maxT, t);
        const caches: DecoderCache[] = layers.map((_, i) => ({ self: self[i], cross: { kind: 'cross', kv: b.external(crossBufs[i], [B * L * 2 * E], `memory k|v ${i}`), S: L } }));
        const logits = await root.decodeStep(b, tgt, { B, L: 1, batchFirst: bf, causal: true }, t, memory, { S: L, keyPaddingMask: kpmStep }, caches);
        b.output(logits);
        const [out] = await runPlan(b, observer, padMask ? [next, padMask] : [next], t, `decode step ${t}`);
        next = pick(out, (bt) => bt, V, eos);
      }
      return { tokens, steps };
    }
    if (root instanceof EncoderLM && c.kind === 'lm') {
      if (!c.causal) throw new InputError('generate: this lm is not causal (config causal=false); generation needs a causal model');
      const V = c.vocab.length;
      const eos = (o.eos === undefined ? c.eos_id : o.eos) ?? undefined;
      const maxT = L + o.maxNewTokens;
      if (maxT > c.max_len) throw new InputError(`generate: prompt ${L} + maxNewTokens ${o.maxNewTokens} exceeds the model's max_len ${c.max_len}`);
      const ids = tokenInput('src', src, src.shape, V);
      const selfBufs = root.encoder.layers.map((_, i) => buffer(B * maxT * 3 * E, `kv cache ${i}`));
      let pos = 0;
      let data = ids;
      let len = L;
      for (let step = 0; step <= o.maxNewTokens - 1; step++) {
        const { b, observer } = host.builder();
        const x: Act = b.input(bf ? [B, len] : [len, B], 'src');
        const logits = await root.forward(b, x, { B, L: len, batchFirst: bf }, pos, selfCache(b, selfBufs, maxT, pos));
        b.output(logits);
        const [out] = await runPlan(b, observer, [data], step, step === 0 ? 'prefill' : `decode step ${step}`);
        const last = len - 1;
        const next = pick(out, (bt) => (bf ? bt * len + last : last * B + bt), V, eos);
        if (!next) break;
        pos += len;
        len = 1;
        data = next;
      }
      return { tokens, steps };
    }
    throw new InputError(`generate: a ${c.kind} model has no vocabulary to generate from (seq2seq and lm models do)`);
  } finally {
    for (const p of plans) p.dispose();
    for (const buf of owned) ctx.buffers.destroy(buf);
  }
}
