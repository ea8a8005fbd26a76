// Decoding speed: tokens/s of Model.generate (greedy, batch 1, KV caches on the GPU) for causal lm configs shaped
// like bench:model's small and medium transformers. Each config gets a fresh device; one untimed generate compiles
// the pipelines, then `reps` timed ones (prefill + every new token, all of generate's work). With `before` (the
// library of a checkout of the code before a change) its generate runs in the same process, interleaved call by call
// with this one (ABBA…), so the machine's load hits both alike: the speed-up is the median of the paired ratios.
import { resolve } from 'node:path';
import { createNodeContext } from '../src/gpu/node.ts';
import { type FileConfig, writeModelFile } from '../src/model/config.ts';
import type { InputTensor } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { median, randomWeights } from './model_common.ts';

/** What the bench needs of a library: this checkout's, or the one a --before checkout holds. */
export interface Lib {
  createNodeContext: typeof createNodeContext;
  Model: typeof Model;
}

/** The library of the checkout at `dir` (its src/, as this process loads it). */
export async function loadLib(dir: string): Promise<Lib> {
  const src = resolve(dir, 'src');
  const [node, model] = await Promise.all([import(`${src}/gpu/node.ts`), import(`${src}/model/model.ts`)]);
  return { createNodeContext: node.createNodeContext, Model: model.Model };
}

export interface DecodeConfig {
  name: string;
  layers: number;
  dModel: number;
  nhead: number;
  ff: number;
  vocab: number;
  /** Prompt tokens, then new tokens generated (batch 1). */
  prompt: number;
  newTokens: number;
  reps: number;
}

export const DECODE_CONFIGS: readonly DecodeConfig[] = [
  { name: 'small', layers: 2, dModel: 64, nhead: 4, ff: 256, vocab: 512, prompt: 16, newTokens: 32, reps: 7 },
  { name: 'medium', layers: 4, dModel: 256, nhead: 8, ff: 1024, vocab: 2048, prompt: 64, newTokens: 32, reps: 5 },
];

/** One library's generate calls. */
export interface DecodeSide {
  /** The first (untimed) generate: pipelines compiled, plans made. */
  firstMs: number;
  samplesMs: number[];
  medianMs: number;
  /** newTokens / the median generate's seconds. */
  tokensPerSecond: number;
  /** Process CPU time (every thread: SwiftShader runs the kernels on them) per generate. */
  cpuMs: number[];
  /** The generated ids: equal before and after a change that keeps the numbers. */
  tokens: number[];
}

export interface DecodeResult {
  config: DecodeConfig;
  adapter: string;
  after: DecodeSide;
  before?: DecodeSide;
  /** Median over rounds of before ms / after ms of the same round. */
  speedup?: number;
  /** The same of CPU time. */
  cpuSpeedup?: number;
}

export function lmConfig(c: DecodeConfig): FileConfig {
  return {
    format_version: 1,
    kind: 'lm',
    d_model: c.dModel,
    nhead: c.nhead,
    dim_feedforward: c.ff,
    num_encoder_layers: c.layers,
    num_decoder_layers: 0,
    activation: 'gelu',
    layer_norm_eps: 1e-5,
    norm_first: true,
    batch_first: true,
    bias: true,
    encoder_norm: true,
    decoder_norm: false,
    positional: 'learned',
    max_len: c.prompt + c.newTokens,
    embed_scale: 1,
    pad_id: null,
    bos_id: null,
    eos_id: null,
    vocab: Array.from({ length: c.vocab }, (_, i) => `t${i}`),
    causal: true,
  };
}

/** One library's model of config `c`, and its timed generate. */
async function side(lib: Lib, c: DecodeConfig, file: Uint8Array) {
  const ctx = await lib.createNodeContext({ who: 'bench:model decoding' });
  const model = lib.Model.load(ctx, file, `decode ${c.name}`);
  const prompt: InputTensor = { dtype: 'I32', shape: [1, c.prompt], data: Int32Array.from({ length: c.prompt }, (_, i) => (i * 7919) % c.vocab) };
  const s: DecodeSide = { firstMs: 0, samplesMs: [], medianMs: 0, tokensPerSecond: 0, cpuMs: [], tokens: [] };
  return {
    s,
    adapter: ctx.adapterName,
    async generate(): Promise<void> {
      const c0 = process.cpuUsage();
      const t = performance.now();
      const { tokens } = await model.generate(prompt, { maxNewTokens: c.newTokens, eos: null });
      const ms = performance.now() - t;
      const used = process.cpuUsage(c0);
      if (!s.tokens.length) [s.firstMs, s.tokens] = [ms, tokens[0]];
      else [s.samplesMs, s.cpuMs] = [[...s.samplesMs, ms], [...s.cpuMs, (used.user + used.system) / 1000]];
    },
    dispose(): void {
      model.dispose();
      ctx.dispose();
    },
  };
}

export async function benchDecoding(c: DecodeConfig, reps: number | undefined, log: (s: string) => void, before?: Lib): Promise<DecodeResult> {
  const config = lmConfig(c);
  const file = writeModelFile(config, randomWeights(config, 4321));
  const after = await side({ createNodeContext, Model }, c, file);
  const old = before && (await side(before, c, file));
  const sides = old ? [old, after] : [after];
  try {
    for (let r = 0; r <= (reps ?? c.reps); r++) {
      // Round 0 is the untimed first call; the order alternates so neither always runs right after the other.
      for (const x of r % 2 ? [...sides].reverse() : sides) await x.generate();
      const show = (x: typeof after) => `${x.s.samplesMs.at(-1)?.toFixed(0)} ms (cpu ${x.s.cpuMs.at(-1)?.toFixed(0)})`;
      if (r > 0) log(`  decode ${c.name} round ${r}: ${old ? `before ${show(old)}, ` : ''}after ${show(after)}`);
    }
  } finally {
    for (const x of sides) x.dispose();
  }
  for (const { s } of sides) [s.medianMs, s.tokensPerSecond] = [median(s.samplesMs), c.newTokens / (median(s.samplesMs) / 1000)];
  const [a, b] = [after.s, old?.s];
  if (!b) return { config: c, adapter: after.adapter, after: a };
  const paired = (f: (x: DecodeSide) => number[]) => median(f(a).map((x, i) => f(b)[i] / x));
  return { config: c, adapter: after.adapter, after: a, before: b, speedup: paired((x) => x.samplesMs), cpuSpeedup: paired((x) => x.cpuMs) };
}

/** The decoding table: this code's tokens/s, and with a before run, both side by side and the paired speed-up. */
export function decodeTable(results: readonly DecodeResult[]): string {
  const before = results.some((r) => r.before);
  const lines = [
    '| config | prompt + new | rounds | tokens/s | median ms | CPU ms | first call ms |' + (before ? ' before tokens/s | before median ms | before CPU ms | speed-up (paired) | CPU speed-up (paired) | same tokens |' : ''),
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |' + (before ? ' ---: | ---: | ---: | ---: | ---: | --- |' : ''),
  ];
  for (const { config: c, after: a, before: b, speedup, cpuSpeedup } of results) {
    const name = `${c.name} lm (${c.layers} layers, E ${c.dModel}, H ${c.nhead}, ff ${c.ff}, V ${c.vocab})`;
    let line = `| ${name} | ${c.prompt} + ${c.newTokens} | ${a.samplesMs.length} | ${a.tokensPerSecond.toFixed(1)} | ${a.medianMs.toFixed(0)} | ${median(a.cpuMs).toFixed(0)} | ${a.firstMs.toFixed(0)} |`;
    if (b) {
      line += ` ${b.tokensPerSecond.toFixed(1)} | ${b.medianMs.toFixed(0)} | ${median(b.cpuMs).toFixed(0)} | ${speedup!.toFixed(2)}x | ${cpuSpeedup!.toFixed(2)}x | ${b.tokens.join(',') === a.tokens.join(',') ? 'yes' : 'NO'} |`;
    }
    lines.push(line);
  }
  return lines.join('\n');
}
