// Decoding speed: tokens/s of Model.generate (greedy, batch 1, KV caches on the GPU) for causal lm configs shaped
// like bench:model's small and medium transformers. Each config gets a fresh device; one untimed generate compiles
// the pipelines, then `reps` timed ones (prefill + every new token, all of generate's work).
import { createNodeContext } from '../src/gpu/node.ts';
import { type FileConfig, writeModelFile } from '../src/model/config.ts';
import type { InputTensor } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { median, randomWeights } from './model_common.ts';

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

export interface DecodeResult {
  config: DecodeConfig;
  adapter: string;
  /** The first (untimed) generate: pipelines compiled, plans made. */
  firstMs: number;
  samplesMs: number[];
  medianMs: number;
  /** newTokens / the median generate's seconds. */
  tokensPerSecond: number;
  /** Process CPU time (every thread: SwiftShader runs the kernels on them) per generate, median. */
  cpuMedianMs: number;
  /** The generated ids: equal before and after a change that keeps the numbers. */
  tokens: number[];
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

export async function benchDecoding(c: DecodeConfig, reps: number | undefined, log: (s: string) => void): Promise<DecodeResult> {
  const ctx = await createNodeContext({ who: 'bench:model decoding' });
  try {
    const config = lmConfig(c);
    const model = Model.load(ctx, writeModelFile(config, randomWeights(config, 4321)), `decode ${c.name}`);
    try {
      const prompt: InputTensor = { dtype: 'I32', shape: [1, c.prompt], data: Int32Array.from({ length: c.prompt }, (_, i) => (i * 7919) % c.vocab) };
      const generate = () => model.generate(prompt, { maxNewTokens: c.newTokens, eos: null });
      let t = performance.now();
      const { tokens } = await generate();
      const firstMs = performance.now() - t;
      const samplesMs: number[] = [];
      const cpu: number[] = [];
      for (let r = 0; r < (reps ?? c.reps); r++) {
        const c0 = process.cpuUsage();
        t = performance.now();
        await generate();
        samplesMs.push(performance.now() - t);
        const used = process.cpuUsage(c0);
        cpu.push((used.user + used.system) / 1000);
        log(`  decode ${c.name} rep ${r + 1}: ${samplesMs.at(-1)!.toFixed(0)} ms (cpu ${cpu.at(-1)!.toFixed(0)})`);
      }
      const medianMs = median(samplesMs);
      return { config: c, adapter: ctx.adapterName, firstMs, samplesMs, medianMs, tokensPerSecond: c.newTokens / (medianMs / 1000), cpuMedianMs: median(cpu), tokens: tokens[0] };
    } finally {
      model.dispose();
    }
  } finally {
    ctx.dispose();
  }
}

/** The decoding table; with a baseline (an earlier run's results), before and after side by side. */
export function decodeTable(results: readonly DecodeResult[], baseline?: readonly DecodeResult[]): string {
  const lines = [
    '| config | prompt + new | tokens/s | median ms | CPU ms | first call ms |' + (baseline ? ' before tokens/s | before CPU ms | speed-up (tokens/s) | CPU ratio | same tokens |' : ''),
    '| --- | ---: | ---: | ---: | ---: | ---: |' + (baseline ? ' ---: | ---: | ---: | ---: | --- |' : ''),
  ];
  for (const r of results) {
    const c = r.config;
    const b = baseline?.find((x) => x.config.name === c.name);
    const name = `${c.name} lm (${c.layers} layers, E ${c.dModel}, H ${c.nhead}, ff ${c.ff}, V ${c.vocab})`;
    let line = `| ${name} | ${c.prompt} + ${c.newTokens} | ${r.tokensPerSecond.toFixed(1)} | ${r.medianMs.toFixed(0)} | ${r.cpuMedianMs.toFixed(0)} | ${r.firstMs.toFixed(0)} |`;
    if (baseline) {
      line += b
        ? ` ${b.tokensPerSecond.toFixed(1)} | ${b.cpuMedianMs.toFixed(0)} | ${(r.tokensPerSecond / b.tokensPerSecond).toFixed(2)}x | ${(b.cpuMedianMs / r.cpuMedianMs).toFixed(2)}x | ${b.tokens.join(',') === r.tokens.join(',') ? 'yes' : 'NO'} |`
        : ' | | | | |';
    }
    lines.push(line);
  }
  return lines.join('\n');
}
