// Whole-model forward latency of an nn.Transformer with and without attention capture, same run, same device.
// Variants, interleaved round-robin (ABCABC…) so machine noise hits them evenly:
//   none     no hooks, the adapter's kernels (ctx.kernels: steps attention, direct matmul, narrow rows on SwiftShader, else
//            fused attention, tiled matmul, wide rows)
//   gpu / cpu  no hooks, the other set: 'gpu' = fused attention (probabilities never materialised) + tiled matmul +
//            wide layer norm, 'cpu' = steps attention + direct matmul + narrow layer norm; only the one that is not
//            the adapter's runs
//   hooked   a forward hook on every self_attn and multihead_attn (inputs, outputs, per-head weights copied back)
//   avg      the same hooks with averageHeads (weights averaged over heads on the GPU before the copy)
//   grad     no hooks, forward({ grad: true }): keeps what a backward reads (every attention's probabilities)
//   backward the backward of one output element after a grad forward (only the backward is timed): one submit,
//            input gradients and every attention's probabilities and their gradient mapped back
// Each forward is the awaited Model.forward: inputs written, one submit, output and captures mapped back.
// Then decoding (bench/decode.ts): tokens/s of generate for causal lm configs of the small and medium shapes; with
// --before DIR (a checkout of the code before a change, e.g. `git worktree add DIR REV` with node_modules linked)
// its generate interleaved with this one's in the same process, side by side with the paired speed-up.
// Run: npm run bench:model [-- --json bench/results/model-<adapter>.json] [--configs small,medium,large] [--reps N (default: small 30, medium and large 10)] [--warmup 1]
//        [--decode-only] [--before DIR]; with --before, vite-node must serve files outside this project: run it as
//        npx vite-node -r / $PWD/bench/model.ts --decode-only --before DIR
import { writeFileSync } from 'node:fs';
import { defaultKernels, type GpuContext, type KernelChoice } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import type { HookOptions } from '../src/hooks/registry.ts';
import { type FileConfig, writeModelFile } from '../src/model/config.ts';
import { f32, generateSquareSubsequentMask, type ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { BenchArgs } from './args.ts';
import { benchDecoding, DECODE_CONFIGS, type DecodeResult, decodeTable, loadLib } from './decode.ts';
import { median, randomWeights, rng, uniform } from './model_common.ts';

interface BenchConfig {
  name: string;
  encoderLayers: number;
  decoderLayers: number;
  dModel: number;
  nhead: number;
  ff: number;
  /** src and tgt length (batch 1, seq-first). */
  length: number;
  /** Timed rounds unless --reps says otherwise (each round runs every variant once). */
  reps: number;
}

const CONFIGS: BenchConfig[] = [
  { name: 'small', encoderLayers: 2, decoderLayers: 2, dModel: 64, nhead: 4, ff: 256, length: 16, reps: 30 },
  { name: 'medium', encoderLayers: 4, decoderLayers: 4, dModel: 256, nhead: 8, ff: 1024, length: 64, reps: 10 },
  { name: 'large', encoderLayers: 6, decoderLayers: 6, dModel: 512, nhead: 8, ff: 2048, length: 128, reps: 10 },
];

type VariantName = 'none' | 'gpu' | 'cpu' | 'hooked' | 'avg' | 'grad' | 'backward';
const VARIANTS: { name: VariantName; hooks?: HookOptions; grad?: 'forward' | 'backward'; kernels?: KernelChoice }[] = [
  { name: 'none' },
  { name: 'gpu', kernels: { attention: 'fused', matmul: 'tiled', rows: 'wide' } },
  { name: 'cpu', kernels: { attention: 'steps', matmul: 'direct', rows: 'narrow' } },
  { name: 'hooked', hooks: {} },
  { name: 'avg', hooks: { averageHeads: true } },
  { name: 'grad', grad: 'forward' },
  { name: 'backward', grad: 'backward' },
];

interface VariantResult {
  variant: VariantName;
  /**
   * The first forward of the variant: records and compiles its plan (slots, bind groups) and runs it. Each config
   * gets a fresh device, so 'none' (run first) also compiles every shared pipeline; 'hooked' and 'avg' compile
   * only what they add (the probability-writing attention, the head average).
   */
  firstForwardMs: number;
  medianMs: number;
  minMs: number;
  /** medianMs / the no-hooks medianMs. */
  ratio: number;
  /** Median over rounds of this variant's time / the no-hooks time of the same round (robust to slow drift). */
  pairedRatio: number;
  samplesMs: number[];
  /**
   * Process CPU time (user + system, every thread) per forward. On SwiftShader the kernels run on the process's
   * own threads, so this is the work done, much less disturbed by other load on the machine than wall time.
   */
  cpuMedianMs: number;
  /** cpuMedianMs / the no-hooks cpuMedianMs. */
  cpuRatio: number;
  cpuSamplesMs: number[];
  dispatches: number;
  submitsPerForward: number;
  captures: number;
  /** Bytes mapped back per forward: captures plus the output. */
  readbackBytes: number;
  /** Bytes of the plan's activation slots. */
  slotBytes: number;
  peakLiveBytes: number;
  /** Plan steps per kind ("attention (weights)", "capture", "select weights", …): what hooking adds. */
  stepKinds: Record<string, number>;
  /** Hook records stored by the last forward. */
  hookRecords: number;
  /** max |output - no-hooks output| of the last forward (hooking must not change the result). */
  maxAbsDiffVsNone: number;
}

interface ConfigResult {
  config: BenchConfig;
  parameters: number;
  weightBytes: number;
  /** Building the weights, writing and reading the model file, uploading. */
  loadMs: number;
  /** Wall time of this config's whole measurement (warm-up included). */
  totalMs: number;
  variants: VariantResult[];
}

function modelConfig(c: BenchConfig): FileConfig {
  return {
    format_version: 1,
    kind: 'transformer',
    d_model: c.dModel,
    nhead: c.nhead,
    dim_feedforward: c.ff,
    num_encoder_layers: c.encoderLayers,
    num_decoder_layers: c.decoderLayers,
    activation: 'relu',
    layer_norm_eps: 1e-5,
    norm_first: false,
    batch_first: false,
    bias: true,
    encoder_norm: true,
    decoder_norm: true,
  };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** "encoder.layers.0.self_attn: attention (weights)" -> "attention (weights)"; captures collapse to "capture". */
function stepKinds(labels: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of labels) {
    const rest = l.includes(': ') ? l.slice(l.lastIndexOf(': ') + 2) : l;
    const kind = rest.startsWith('capture ') ? 'capture' : rest;
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

async function benchConfig(ctx: GpuContext, c: BenchConfig, repsArg: number | undefined, warmup: number, log: (s: string) => void): Promise<ConfigResult> {
  const t0 = performance.now();
  const reps = repsArg ?? c.reps;
  const config = modelConfig(c);
  const weights = randomWeights(config, 1234);
  const parameters = [...weights.values()].reduce((n, w) => n + w.length, 0);
  const model = Model.load(ctx, writeModelFile(config, weights), `bench ${c.name}`);
  weights.clear();
  const loadMs = performance.now() - t0;
  try {
    const rand = rng(99);
    const E = c.dModel;
    const L = c.length;
    const inputs: ModelInputs = {
      src: f32(uniform(rand, L * E, 1), [L, 1, E]), // [S, B, E]
      tgt: f32(uniform(rand, L * E, 1), [L, 1, E]), // [T, B, E]
      tgt_mask: generateSquareSubsequentMask(L), // [T, T], detected as causal
    };
    let hooked = false;
    /** Registers the variant's hooks (outside the timed region); the plan for each hook set stays cached. */
    // The variant for the other kernel set only: the adapter's own is 'none'.
    const kernels = defaultKernels(ctx.adapterInfo);
    const list = VARIANTS.filter((v) => !v.kernels || v.kernels.attention !== kernels.attention);
    const set = (v: (typeof VARIANTS)[number]) => {
      ctx.kernels = v.kernels ?? kernels;
      if (hooked) for (const n of ['self', 'cross']) model.delHook(n);
      hooked = !!v.hooks;
      if (!v.hooks) return;
      model.setForwardHook('self', '**.self_attn', undefined, v.hooks);
      model.setForwardHook('cross', '**.multihead_attn', undefined, v.hooks);
    };
    const samples = new Map<VariantName, number[]>(list.map((v) => [v.name, []]));
    const cpu = new Map<VariantName, number[]>(list.map((v) => [v.name, []]));
    const first = new Map<VariantName, number>();
    const last = new Map<VariantName, { output: Float32Array; labels: readonly string[]; hooks: number }>();
    const stats = new Map<VariantName, NonNullable<Model['planStats']>>();
    /** One awaited forward (or, for 'backward', the backward after an untimed grad forward): wall ms and process CPU ms. */
    const forward = async (v: (typeof VARIANTS)[number]): Promise<{ ms: number; cpuMs: number }> => {
      set(v);
      const pre = v.grad === 'backward' ? await model.forward(inputs, { grad: true }) : undefined;
      const c0 = process.cpuUsage();
      const s = performance.now();
      const r = pre ? (await model.backward({ index: [L - 1, 0, 0] }), pre) : await model.forward(inputs, { grad: v.grad === 'forward' });
      const ms = performance.now() - s;
      const c = process.cpuUsage(c0);
      last.set(v.name, { output: r.output, labels: model.planSteps, hooks: Object.keys(model.hooks).length });
      const st = model.planStats!;
      // The backward's own dispatches, submits and readback.
      stats.set(v.name, pre ? { ...st, dispatches: st.backward!.dispatches, submitsPerForward: st.backward!.submits, captures: st.backward!.captures, readbackBytes: st.backward!.readbackBytes } : st);
      return { ms, cpuMs: (c.user + c.system) / 1000 };
    };
    for (const v of list) {
      first.set(v.name, (await forward(v)).ms);
      log(`  ${c.name} ${v.name}: first forward ${first.get(v.name)!.toFixed(0)} ms`);
    }
    for (let r = 0; r < warmup; r++) for (const v of list) await forward(v);
    for (let r = 0; r < reps; r++) {
      // Rotate the starting variant too, so none of them always runs right after another.
      for (let i = 0; i < list.length; i++) {
        const v = list[(r + i) % list.length];
        const { ms, cpuMs } = await forward(v);
        samples.get(v.name)!.push(ms);
        cpu.get(v.name)!.push(cpuMs);
      }
      const show = (v: (typeof VARIANTS)[number]) => `${v.name} ${samples.get(v.name)!.at(-1)!.toFixed(0)} (cpu ${cpu.get(v.name)!.at(-1)!.toFixed(0)})`;
      log(`  ${c.name} round ${r + 1}/${reps}: ${list.map(show).join(', ')} ms`);
    }
    set(list[0]);
    const base = median(samples.get('none')!);
    const cpuBase = median(cpu.get('none')!);
    const variants = list.map((v): VariantResult => {
      const s = samples.get(v.name)!;
      const st = stats.get(v.name)!;
      const l = last.get(v.name)!;
      return {
        variant: v.name,
        firstForwardMs: first.get(v.name)!,
        medianMs: median(s),
        minMs: Math.min(...s),
        ratio: median(s) / base,
        pairedRatio: median(s.map((x, i) => x / samples.get('none')![i])),
        samplesMs: s,
        cpuMedianMs: median(cpu.get(v.name)!),
        cpuRatio: median(cpu.get(v.name)!) / cpuBase,
        cpuSamplesMs: cpu.get(v.name)!,
        dispatches: st.dispatches,
        submitsPerForward: st.submitsPerForward,
        captures: st.captures,
        readbackBytes: st.readbackBytes,
        slotBytes: st.slotBytes,
        peakLiveBytes: st.peakLiveBytes,
        stepKinds: stepKinds(l.labels),
        hookRecords: l.hooks,
        maxAbsDiffVsNone: maxAbsDiff(l.output, last.get('none')!.output),
      };
    });
    return { config: c, parameters, weightBytes: model.weightBytes, loadMs, totalMs: performance.now() - t0, variants };
  } finally {
    model.dispose();
  }
}


const mib = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

async function main(): Promise<void> {
  const args = new BenchArgs('npm run bench:model -- [--configs small,medium,large] [--reps N] [--warmup 1] [--decode-only] [--before DIR] [--json FILE]', ['json', 'configs', 'reps', 'warmup', 'before'], ['decode-only']);
  const jsonOut = args.string('json');
  const names = args.list('configs', 'small,medium', CONFIGS.map((c) => c.name));
  const reps = args.string('reps') === undefined ? undefined : args.int('reps', 1);
  const warmup = args.int('warmup', 1, 0);
  const decodeOnly = args.flag('decode-only');
  const beforeDir = args.string('before');
  const before = beforeDir === undefined ? undefined : await loadLib(beforeDir);
  const configs = (decodeOnly ? [] : names).map((n) => CONFIGS.find((x) => x.name === n)!);
  const results: ConfigResult[] = [];
  const started = performance.now();
  let adapter = '';
  for (const c of configs) {
    console.error(`${c.name}: ${c.encoderLayers}+${c.decoderLayers} layers, d_model ${c.dModel}, ${c.nhead} heads, ff ${c.ff}, length ${c.length}`);
    // A fresh device per config: its first forward compiles every pipeline it uses, as a cold start does.
    const ctx = await createNodeContext({ who: 'bench:model' });
    adapter = ctx.adapterName;
    try {
      results.push(await ctx.scoped(`bench ${c.name}`, () => benchConfig(ctx, c, reps, warmup, (s) => console.error(s))));
    } finally {
      ctx.dispose();
    }
  }
  const decoding: DecodeResult[] = [];
  for (const c of DECODE_CONFIGS.filter((d) => names.includes(d.name))) {
    console.error(`decode ${c.name}: lm ${c.layers} layers, d_model ${c.dModel}, prompt ${c.prompt}, ${c.newTokens} new tokens`);
    const r = await benchDecoding(c, decodeOnly ? reps : undefined, (s) => console.error(s), before);
    adapter ||= r.adapter;
    decoding.push(r);
  }
  const totalMs = performance.now() - started;
  const label = { none: 'no hooks', gpu: 'no hooks, GPU kernels (fused, tiled, wide)', cpu: 'no hooks, CPU kernels (steps, direct, narrow)', hooked: 'all attention hooked', avg: 'hooked, averageHeads', grad: 'forward({grad: true})', backward: 'backward (one logit)' };
  if (results.length) {
    console.log(`\nnn.Transformer forward on ${adapter} (batch 1, seq-first, causal tgt mask; awaited forwards, variants interleaved round-robin)\n`);
    console.log('| config | variant | rounds | median ms | min ms | / none (medians) | / none (paired) | CPU ms | CPU / none | first call ms | dispatches | submits | captures | readback | slots | weights |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of results) {
      const c = r.config;
      const name = `${c.name} (${c.encoderLayers}+${c.decoderLayers}, E ${c.dModel}, H ${c.nhead}, ff ${c.ff}, L ${c.length})`;
      for (const v of r.variants) {
        console.log(
          `| ${name} | ${label[v.variant]} | ${v.samplesMs.length} | ${v.medianMs.toFixed(1)} | ${v.minMs.toFixed(1)} | ` +
            `${v.variant === 'none' ? '' : `${v.ratio.toFixed(3)}x`} | ${v.variant === 'none' ? '' : `${v.pairedRatio.toFixed(3)}x`} | ` +
            `${v.cpuMedianMs.toFixed(1)} | ${v.variant === 'none' ? '' : `${v.cpuRatio.toFixed(3)}x`} | ` +
            `${v.firstForwardMs.toFixed(0)} | ${v.dispatches} | ${v.submitsPerForward} | ${v.captures} | ${mib(v.readbackBytes)} | ${mib(v.slotBytes)} | ${mib(r.weightBytes)} |`,
        );
      }
    }
    for (const r of results) {
      for (const v of r.variants) {
        if (v.maxAbsDiffVsNone > 1e-3) console.log(`\nwarning: ${r.config.name} ${v.variant}: output differs from no-hooks by ${v.maxAbsDiffVsNone.toExponential(2)}`);
      }
    }
  }
  console.log(`\ngenerate on ${adapter} (greedy, batch 1, median of the timed calls)${beforeDir ? `; before: ${beforeDir}, interleaved call by call` : ''}\n`);
  console.log(decodeTable(decoding));
  console.log(`\ntotal ${(totalMs / 1000).toFixed(1)} s (${results.map((r) => `${r.config.name} ${(r.totalMs / 1000).toFixed(1)} s`).join(', ')})`);
  if (jsonOut) {
    const out = { adapter, date: new Date().toISOString(), warmup, totalMs, results, decoding };
    writeFileSync(jsonOut, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${jsonOut}`);
  }
}

await main();
