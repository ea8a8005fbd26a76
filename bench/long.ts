// Long context (issue #15), side by side in one run on this machine's adapter:
// 1. attention kernels at growing lengths: attention_flash (no [L, S] buffer) against the steps kernel (matmul, masked
//    softmax, matmul: writes [B, H, L, S]) and the fused kernel (GPU set): median ms, the [L, S] bytes each form
//    allocates, and the process RSS growth while it runs; flash at --check-length (default 8192) against attentionRef on
//    sampled query rows.
// 2. the CLI at --cli-length tokens (default 8192): `attnscope run` of an lm (4 layers, d_model 128, 4 heads, seeded
//    weights) with --capture '**.self_attn' --topk 8 --entropy: wall time, peak RSS of the child (VmHWM) against one
//    layer's full map (B·H·L·L·4 bytes), and the summaries it wrote.
// 3. a full map to OUT at --stream-length tokens (default 2048): `attnscope run --capture` of layer 0's self-attention
//    captured whole and streamed to OUT by chunks (--chunk-bytes): wall time, peak RSS, the two files byte for byte.
// Run: npm run bench:long -- [--lengths 256,1024,2048] [--check-length 8192] [--cli-length 8192] [--stream-length 2048]
//      [--skip-kernels] [--skip-cli] [--skip-stream] [--json bench/results/long-<adapter>.json]
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeContext } from '../src/gpu/node.ts';
import { attention, type AttentionShape } from '../src/kernels/attention.ts';
import { attentionFlash, attentionRowRef } from '../src/kernels/attention_flash.ts';
import { attentionSteps } from '../src/kernels/attention_steps.ts';
import { type Dispatch, release, run } from '../src/kernels/dispatch.ts';
import { type FileConfig, writeModelFile } from '../src/model/config.ts';
import { readSafetensors, writeSafetensors } from '../src/model/safetensors.ts';
import { Tensor } from '../src/tensor.ts';
import { median, randomWeights, rng, uniform } from './model_common.ts';
import { BenchArgs } from './args.ts';
import { adapterSlug, log, MODELS, RESULTS, ROOT } from './shared.ts';

const args = new BenchArgs('npm run bench:long -- [--lengths 256,1024,2048] [--check-length 8192] [--cli-length 8192] [--stream-length 2048] [--skip-kernels] [--skip-cli] [--skip-stream] [--json FILE]', ['lengths', 'check-length', 'cli-length', 'stream-length', 'json'], ['skip-kernels', 'skip-cli', 'skip-stream']);
const lengths = args.ints('lengths', '256,1024,2048');
const checkLength = args.int('check-length', 8192);
const cliLength = args.int('cli-length', 8192);
const streamLength = args.int('stream-length', 2048);
const MiB = (b: number) => +(b / 2 ** 20).toFixed(1);
const rss = () => process.memoryUsage().rss;

/** Runs `body` while sampling RSS every 20 ms; returns its result and the peak growth over the RSS at the start. */
async function peakGrowth<T>(body: () => Promise<T>): Promise<{ value: T; growth: number }> {
  const start = rss();
  let peak = start;
  const t = setInterval(() => (peak = Math.max(peak, rss())), 20);
  try {
    const value = await body();
    peak = Math.max(peak, rss());
    return { value, growth: peak - start };
  } finally {
    clearInterval(t);
  }
}

interface KernelRow {
  L: number;
  form: 'flash' | 'steps' | 'fused';
  medianMs: number;
  /** Bytes of the [B, H, L, S] buffer the form needs (0: none). */
  probsBytes: number;
  rssGrowthMiB: number;
}

const H = 4;
const D = 32;

async function kernels(): Promise<{ adapter: string; rows: KernelRow[]; check: { L: number; rows: number; maxAbsDiff: number; ms: number } }> {
  const ctx = await createNodeContext({ who: 'bench long' });
  const adapter = ctx.adapterName;
  const rows: KernelRow[] = [];
  try {
    for (const L of lengths) {
      const shape: AttentionShape = { B: 1, H, L, S: L, D, causal: true };
      const x = Tensor.upload(ctx, uniform(rng(L), L * 3 * H * D, 1), [L * 3 * H * D], 'qkv');
      const o = Tensor.empty(ctx, [L * H * D], 'o');
      const lay = { q: { off: 0, strideB: 0, strideL: 3 * H * D }, k: { off: H * D, strideB: 0, strideL: 3 * H * D }, v: { off: 2 * H * D, strideB: 0, strideL: 3 * H * D } };
      const s = { ...shape, ...lay };
      const bufs = { q: { buffer: x.buffer }, k: { buffer: x.buffer }, v: { buffer: x.buffer }, o: { buffer: o.buffer } };
      const probsBytes = H * L * L * 4;
      const forms: [KernelRow['form'], () => Promise<Dispatch[]>, number][] = [
        ['flash', async () => [await attentionFlash(ctx, bufs, s)], 0],
        ['steps', async () => attentionSteps(ctx, { ...bufs, probs: { buffer: probsT!.buffer } }, s), probsBytes],
        // The fused kernel pays per thread at every barrier on a CPU adapter: only the shortest length there.
        ...(L <= 1024 ? [['fused', async () => [await attention(ctx, bufs, s)], 0] as [KernelRow['form'], () => Promise<Dispatch[]>, number]] : []),
      ];
      let probsT: Tensor | undefined;
      for (const [form, make, bytes] of forms) {
        // Pipelines compile on the first make: not part of what a form needs at run time.
        probsT = bytes ? Tensor.empty(ctx, [bytes / 4], 'probs') : undefined;
        release(ctx, await make());
        probsT?.dispose();
        const { value: ms, growth } = await peakGrowth(async () => {
          probsT = bytes ? Tensor.empty(ctx, [bytes / 4], 'probs') : undefined;
          const ds = await make();
          await run(ctx, ds);
          const times: number[] = [];
          for (let i = 0; i < 3; i++) {
            const t0 = performance.now();
            await run(ctx, ds);
            times.push(performance.now() - t0);
          }
          release(ctx, ds);
          probsT?.dispose();
          return median(times);
        });
        rows.push({ L, form, medianMs: +ms.toFixed(1), probsBytes: bytes, rssGrowthMiB: MiB(growth) });
        log(`L ${L} ${form}: ${ms.toFixed(1)} ms, [L, S] buffer ${MiB(bytes)} MiB, RSS +${MiB(growth)} MiB`);
      }
      x.dispose();
      o.dispose();
    }
    // flash at checkLength against the f64 reference on sampled query rows (the full reference is an n² CPU job).
    const L = checkLength;
    const data = uniform(rng(5), L * 3 * H * D, 1);
    const x = Tensor.upload(ctx, data, [data.length], 'qkv');
    const o = Tensor.empty(ctx, [L * H * D], 'o');
    const shape: AttentionShape = { B: 1, H, L, S: L, D, causal: true, q: { off: 0, strideB: 0, strideL: 3 * H * D }, k: { off: H * D, strideB: 0, strideL: 3 * H * D }, v: { off: 2 * H * D, strideB: 0, strideL: 3 * H * D } };
    const d = await attentionFlash(ctx, { q: { buffer: x.buffer }, k: { buffer: x.buffer }, v: { buffer: x.buffer }, o: { buffer: o.buffer } }, shape);
    const t0 = performance.now();
    await run(ctx, [d]);
    const ms = performance.now() - t0;
    const got = await o.download();
    release(ctx, [d]);
    x.dispose();
    o.dispose();
    const sample = [0, 1, 63, 64, 1000, L >> 1, L - 2, L - 1].filter((l) => l < L);
    let worst = 0;
    for (const l of sample) {
      for (let h = 0; h < H; h++) {
        const want = attentionRowRef(data, data, data, shape, {}, 0, h, l);
        for (let c = 0; c < D; c++) worst = Math.max(worst, Math.abs(want[c] - got[l * H * D + h * D + c]));
      }
    }
    log(`flash at L ${L}: ${ms.toFixed(0)} ms, ${sample.length} query rows x ${H} heads vs attentionRef's rows: max |diff| ${worst.toExponential(2)}`);
    if (!(worst <= 1e-5)) throw new Error(`attention_flash at L ${L} differs from the reference by ${worst}`);
    return { adapter, rows, check: { L, rows: sample.length, maxAbsDiff: worst, ms: +ms.toFixed(0) } };
  } finally {
    ctx.dispose();
  }
}

/** The child's peak RSS (VmHWM, bytes), polled from /proc while it runs. */
function runChild(argv: string[]): Promise<{ status: number; stdout: string; stderr: string; peakRss: number; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, argv, { cwd: ROOT });
    let [stdout, stderr, peakRss] = ['', '', 0];
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakRss = Math.max(peakRss, Number(m[1]) * 1024);
      } catch {
        // exited
      }
    }, 100);
    child.on('close', (status) => {
      clearInterval(poll);
      resolve({ status: status ?? -1, stdout, stderr, peakRss, ms: performance.now() - t0 });
    });
  });
}

/** The 4-layer d128 4-head lm at L tokens and seeded inputs, written to bench/models; their paths. */
function longLm(L: number): { model: string; inputs: string } {
  const config = {
    format_version: 1, kind: 'lm', d_model: 128, nhead: 4, dim_feedforward: 512, num_encoder_layers: 4, num_decoder_layers: 0,
    activation: 'gelu', layer_norm_eps: 1e-5, norm_first: true, batch_first: true, bias: true, encoder_norm: true, decoder_norm: false,
    vocab: ['<pad>', '<s>', '</s>', ...'abcdefghijklmnopqrstuvwxyz '.split('')], positional: 'sinusoidal', max_len: L, embed_scale: 1,
    pad_id: 0, bos_id: 1, eos_id: 2, causal: true,
  } as unknown as FileConfig;
  mkdirSync(MODELS, { recursive: true });
  const model = join(MODELS, `long-lm-${L}.safetensors`);
  const inputs = join(MODELS, `long-lm-${L}.in.safetensors`);
  writeFileSync(model, writeModelFile(config, randomWeights(config, 15)));
  const rand = rng(9);
  writeFileSync(inputs, writeSafetensors([{ name: 'src', dtype: 'I32', shape: [1, L], data: Int32Array.from({ length: L }, () => 3 + Math.floor(rand() * 27)) }]));
  return { model, inputs };
}

/** `attnscope run MODEL --inputs IN ...` in a child process: wall time and the child's peak RSS. */
async function runCli(run: string[]): Promise<{ wallS: number; peakRss: number }> {
  const vite = join(ROOT, 'node_modules', 'vite-node', 'dist', 'cli.mjs');
  // --debug keeps the GPU work in this child (the built CLI hands it to a grandchild of its own).
  const argv = [vite, join(ROOT, 'src', 'cli', 'main.ts'), '--', 'run', ...run, '--debug'];
  log(`cli: attnscope ${argv.slice(3).join(' ')}`);
  const r = await runChild(argv);
  if (r.status !== 0) throw new Error(`the CLI failed (${r.status}): ${r.stderr.trim().split('\n').pop()}`);
  return { wallS: +(r.ms / 1000).toFixed(1), peakRss: r.peakRss };
}

async function cli(): Promise<Record<string, unknown>> {
  const L = cliLength;
  const { model, inputs } = longLm(L);
  const out = join(MODELS, `long-lm-${L}.out.safetensors`);
  const r = await runCli([model, '--inputs', inputs, '--out', out, '--capture', '**.self_attn', '--topk', '8', '--entropy']);
  const names = [...readSafetensors(readFileSync(out), out).tensors.keys()];
  const mapBytes = 1 * 4 * L * L * 4;
  const res = { L, layers: 4, dModel: 128, heads: 4, wallS: r.wallS, peakRssMiB: MiB(r.peakRss), oneLayerMapMiB: MiB(mapBytes), below: r.peakRss < mapBytes, tensors: names.filter((n) => /topk|entropy/.test(n)).length };
  log(`cli at ${L} tokens: ${res.wallS} s, peak RSS ${res.peakRssMiB} MiB vs one layer's full map ${res.oneLayerMapMiB} MiB (${res.below ? 'below' : 'NOT below'}); ${res.tensors} summary tensors`);
  return res;
}

/**
 * A full map to OUT at --stream-length tokens (default 2048), layer 0's self-attention of the same lm: captured whole
 * (the forward's staging, then the file built in memory) and streamed to OUT by 4 MiB chunks (--chunk-bytes), side by
 * side: wall time, the child's peak RSS, and whether the two files are the same bytes.
 */
async function stream(): Promise<Record<string, unknown>> {
  const L = streamLength;
  const { model, inputs } = longLm(L);
  const outs = ['whole', 'streamed'].map((n) => join(MODELS, `long-lm-${L}.${n}.safetensors`));
  const base = [model, '--inputs', inputs, '--capture', 'encoder.layers.0.self_attn'];
  const whole = await runCli([...base, '--out', outs[0]]);
  const streamed = await runCli([...base, '--out', outs[1], '--chunk-bytes', String(4 << 20)]);
  const same = Buffer.compare(readFileSync(outs[0]), readFileSync(outs[1])) === 0;
  const mapBytes = 1 * 4 * L * L * 4;
  const res = { L, mapMiB: MiB(mapBytes), chunkMiB: 4, whole: { wallS: whole.wallS, peakRssMiB: MiB(whole.peakRss) }, streamed: { wallS: streamed.wallS, peakRssMiB: MiB(streamed.peakRss) }, sameBytes: same };
  log(`full map at ${L} tokens (${res.mapMiB} MiB): whole ${whole.wallS} s, peak RSS ${res.whole.peakRssMiB} MiB; streamed by 4 MiB chunks ${streamed.wallS} s, peak RSS ${res.streamed.peakRssMiB} MiB; files ${same ? 'equal' : 'DIFFER'}`);
  if (!same) throw new Error(`the streamed capture differs from the whole one at L ${L}`);
  return res;
}

const k = args.flag('skip-kernels') ? undefined : await kernels();
const c = args.flag('skip-cli') ? undefined : await cli();
const st = args.flag('skip-stream') ? undefined : await stream();
if (k) {
  console.log('| L | form | median ms | [L, S] buffer MiB | RSS growth MiB |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of k.rows) console.log(`| ${r.L} | ${r.form} | ${r.medianMs} | ${MiB(r.probsBytes)} | ${r.rssGrowthMiB} |`);
  console.log(`flash at ${k.check.L}: ${k.check.ms} ms, max |diff| vs reference rows ${k.check.maxAbsDiff.toExponential(2)}`);
}
if (c) console.log(`cli --topk 8 --entropy at ${c.L} tokens: ${c.wallS} s, peak RSS ${c.peakRssMiB} MiB, one layer's map ${c.oneLayerMapMiB} MiB`);
if (st) console.log(`full map at ${st.L} tokens to OUT: whole ${JSON.stringify(st.whole)}, streamed ${JSON.stringify(st.streamed)}, same bytes ${st.sameBytes}`);
const json = args.string('json');
if (json) {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(json, JSON.stringify({ ...(k && { adapter: k.adapter, slug: adapterSlug(k.adapter), kernels: k.rows, check: k.check }), cli: c, stream: st }, null, 2));
}
