// attnscope next to its peers, one run, side by side: the same PyTorch-built nn.Transformer (seq-first, batch 1,
// causal tgt mask) through
//   attnscope (node)                Dawn (the `webgpu` package)
//   attnscope (browser)             headless Chromium (/usr/bin/chromium), navigator.gpu, page bench/page/
//   attnscope+captures (browser)    the same with a forward hook on every self_attn and multihead_attn
//   ort-webgpu                      onnxruntime-web's WebGPU execution provider ('onnxruntime-web/webgpu': native
//                                   C++ EP), same page, same adapter
//   ort-webgpu (jsep)               the WebGPU EP of the package's default entry ('onnxruntime-web': JS kernels)
//   ort-wasm                        its wasm (CPU) execution provider, for reference
//   torch CPU                       PyTorch 1.13 (/usr/bin/python3), all CPU threads, timed just before the others
// Every forward is awaited with its output on the CPU and checked against PyTorch's output. Engines run interleaved
// round-robin (the starting engine rotates each round) so load on the machine hits them evenly.
// Models, ONNX files, inputs and PyTorch outputs come from tools/export_bench_models.py into bench/models/ (ignored by
// git), run here when they are missing and torch is installed.
// `--configs gpt2` and `smollm` add the GPT-2-small- and SmolLM-135M-shaped Hugging Face checkpoints of bench/hf.ts
// (their own repeats: --gpt2-repeats, default 1, since one forward takes tens of seconds on a CPU adapter; results in
// bench/results/<name>-<adapter>.json).
// `--causal` then runs bench/causal.ts (npm run bench:causal: a layer x position patching sweep and 32-step integrated
// gradients, batched vs one run per variant vs PyTorch's CPU loop, on the medium config and the GPT-2-shaped model) into
// bench/results/causal-<adapter>.json.
// Run: npm run bench [-- --configs small,medium[,large][,gpt2][,smollm]] [--repeats 10] [--warmup 1] [--gpt2-repeats 1] [--profile]
//      [--causal] [--json FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { Page } from '@playwright/test';
import type { ViteDevServer } from 'vite';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import type { ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import type { ProfileReport } from '../src/model/profile.ts';
import { readSafetensors } from '../src/model/safetensors.ts';
import { HF_BENCHES, type HfBench } from './gpt2_check.ts';
import { benchHf, type Gpt2Result, gpt2Table } from './hf.ts';
import type { CaptureCheck, LoadResult, PageEngine, RunResult } from './page/main.ts';
import { adapterSlug, hasTorch, log, MODELS, openPage, PYTHON, RESULTS, ROOT, runScript, startServer } from './shared.ts';
import { errorText, maxAbsDiff, median } from './stats.ts';

const EXPORTER = join(ROOT, 'tools', 'export_bench_models.py');
const FILES = ['.safetensors', '.onnx', '.io.safetensors', '.json'];

const CONFIGS = ['small', 'medium', 'large'] as const;
type ConfigName = (typeof CONFIGS)[number];

const PAGE_ENGINES: readonly PageEngine[] = ['attnscope (browser)', 'attnscope+captures (browser)', 'ort-webgpu', 'ort-webgpu (jsep)', 'ort-wasm'];
type Engine = 'attnscope (node)' | PageEngine;
const ENGINES: readonly Engine[] = ['attnscope (node)', ...PAGE_ENGINES];

interface Options {
  configs: ConfigName[];
  /** The Hugging Face checkpoints --configs names (bench/hf.ts). */
  hf: HfBench['name'][];
  gpt2Repeats: number;
  repeats: number;
  warmup: number;
  profile: boolean;
  /** Then bench/causal.ts (patching sweep and integrated gradients, medium and GPT-2-shaped), in a process of its own. */
  causal: boolean;
  json?: string;
}

/** What tools/export_bench_models.py wrote next to the model (<name>.json). */
interface ExportInfo {
  num_encoder_layers: number;
  num_decoder_layers: number;
  d_model: number;
  nhead: number;
  dim_feedforward: number;
  length: number;
  seed: number;
  parameters: number;
  torch: string;
  onnx: { opset: number; inputs: string[]; ops: Record<string, number> };
}

/** <name>.torch.json: PyTorch CPU forward latency. */
interface TorchTiming {
  torch: string;
  /** The BLAS libraries the timing process loaded (tools/export_bench_models.py blas_library; absent in older records). */
  blas?: string;
  threads: number;
  date: string;
  medianMs: number;
  minMs: number;
  samplesMs: number[];
  /** The same on one thread (absent on a one-CPU machine). */
  oneThread?: { medianMs: number; minMs: number; samplesMs: number[] };
  maxAbsDiffVsStoredOutput?: number;
}

interface EngineResult {
  engine: Engine;
  medianMs?: number;
  minMs?: number;
  /** The first forward: pipelines compiled, plan / session built, then run. */
  firstMs?: number;
  loadMs?: number;
  samplesMs: number[];
  /** max |output - PyTorch's output| of the last forward. */
  maxAbsErr?: number;
  error?: string;
}

interface ConfigResult {
  name: ConfigName;
  shape: string;
  parameters: number;
  onnxOps: Record<string, number>;
  engines: EngineResult[];
  torch?: TorchTiming & { stale: boolean };
  /** ort-webgpu / attnscope (browser), medians: above 1, attnscope is faster. */
  ortWebgpuOverAttnscope?: number;
  /** ort-webgpu / attnscope (node). */
  ortWebgpuOverAttnscopeNode?: number;
  /** ort-webgpu (jsep) / attnscope (browser). */
  ortJsepOverAttnscope?: number;
  /** attnscope+captures / attnscope (browser), medians. */
  captureOverhead?: number;
  /** Median over rounds of captures / no-captures of the same round (robust to slow drift). */
  captureOverheadPaired?: number;
  captures?: CaptureCheck;
  /** model.profile() in Node: the most expensive kernels, without and with captures. */
  profile?: { none: TopKernels; captures: TopKernels };
  totalMs: number;
}

type TopKernels = Pick<ProfileReport, 'forwardMs' | 'cpu' | 'gpuMs' | 'dispatches'> & { byKernel: { kernel: string; ms: number; count: number }[] };

function usage(msg: string): never {
  console.error(`bench: ${msg}\nusage: npm run bench -- [--configs small,medium,large,gpt2,smollm] [--repeats N>=1] [--warmup N>=0] [--gpt2-repeats N>=1] [--profile] [--causal] [--json FILE]`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { configs: ['small', 'medium'], hf: [], gpt2Repeats: 1, repeats: 10, warmup: 1, profile: false, causal: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    const int = (min: number) => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) usage(`${a} ${v}: expected an integer >= ${min}`);
      return n;
    };
    if (a === '--configs') {
      const names = value().split(',').map((s) => s.trim()).filter((s) => s);
      const isHf = (n: string): n is HfBench['name'] => n in HF_BENCHES;
      for (const n of names) if (!isHf(n) && !(CONFIGS as readonly string[]).includes(n)) usage(`--configs: unknown config '${n}' (known: ${[...CONFIGS, ...Object.keys(HF_BENCHES)].join(', ')})`);
      if (!names.length) usage('--configs: no config named');
      o.hf = names.filter(isHf);
      o.configs = names.filter((n) => !isHf(n)) as ConfigName[];
    } else if (a === '--repeats') o.repeats = int(1);
    else if (a === '--gpt2-repeats') o.gpt2Repeats = int(1);
    else if (a === '--warmup') o.warmup = int(0);
    else if (a === '--profile') o.profile = true;
    else if (a === '--causal') o.causal = true;
    else if (a === '--json') o.json = value();
    else usage(`unknown option ${a}`);
  }
  return o;
}


/** The adapter of the device onnxruntime-web's WebGPU provider created (reported by the page). */
let ortWebgpuAdapter: string | undefined;


const haveFiles = (c: ConfigName) => FILES.every((ext) => existsSync(join(MODELS, c + ext)));


function runExporter(args: string[]): boolean {
  log(`$ ${relative(ROOT, PYTHON) || PYTHON} ${relative(ROOT, EXPORTER)} ${args.join(' ')}`);
  const r = spawnSync(PYTHON, [EXPORTER, ...args, '--out', MODELS], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 1_800_000 });
  if (r.status !== 0) log(`bench: the exporter failed (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`})`);
  return r.status === 0;
}

/**
 * Makes the models that are missing (and times PyTorch on the rest) when torch is installed. Returns the configs
 * that have their files and whether the PyTorch timings are from this run.
 */
function prepareModels(o: Options): { ready: ConfigName[]; fresh: boolean } {
  mkdirSync(MODELS, { recursive: true });
  const missing = o.configs.filter((c) => !haveFiles(c));
  if (!hasTorch()) {
    const hint = `PyTorch is not installed for ${PYTHON} (apt-get install -y python3-torch python3-numpy gives torch 1.13; see README, Benchmarks)`;
    if (missing.length) log(`bench: skipping ${missing.join(', ')}: ${hint}, so bench/models/${missing[0]}.* cannot be made`);
    else log(`bench: ${hint}: PyTorch CPU times are the stored ones (bench/models/*.torch.json)`);
    return { ready: o.configs.filter((c) => haveFiles(c)), fresh: false };
  }
  const times = ['--repeats', String(Math.max(10, o.repeats)), '--warmup', '3'];
  if (missing.length) runExporter(['--configs', missing.join(','), ...times]);
  const present = o.configs.filter((c) => !missing.includes(c) && haveFiles(c));
  const fresh = present.length ? runExporter(['--configs', present.join(','), '--time-only', ...times]) : true;
  return { ready: o.configs.filter((c) => haveFiles(c)), fresh };
}

function readTorchTiming(c: ConfigName, fresh: boolean): (TorchTiming & { stale: boolean }) | undefined {
  const p = join(MODELS, `${c}.torch.json`);
  if (!existsSync(p)) return undefined;
  return { ...(JSON.parse(readFileSync(p, 'utf8')) as TorchTiming), stale: !fresh };
}

function readInputs(c: ConfigName): { inputs: ModelInputs; expected: Float32Array } {
  const io = readSafetensors(readFileSync(join(MODELS, `${c}.io.safetensors`)), `${c}.io.safetensors`);
  const t = (n: string) => {
    const e = io.tensors.get(n);
    if (!e || e.dtype !== 'F32') throw new Error(`${c}.io.safetensors: no F32 tensor '${n}'`);
    return e;
  };
  return { inputs: { src: t('src'), tgt: t('tgt'), tgt_mask: t('tgt_mask') }, expected: t('output').data as Float32Array };
}

function topKernels(r: ProfileReport): TopKernels {
  return { forwardMs: r.forwardMs, cpu: r.cpu, gpuMs: r.gpuMs, dispatches: r.dispatches, byKernel: (r.byKernel ?? []).slice(0, 8) };
}

async function benchConfig(o: Options, ctx: GpuContext, page: Page | undefined, c: ConfigName, torch: ConfigResult['torch']): Promise<ConfigResult> {
  const t0 = performance.now();
  const info = JSON.parse(readFileSync(join(MODELS, `${c}.json`), 'utf8')) as ExportInfo;
  const shape = `${info.num_encoder_layers}+${info.num_decoder_layers}, E ${info.d_model}, H ${info.nhead}, ff ${info.dim_feedforward}, L ${info.length}`;
  log(`${c} (${shape}): loading`);
  const { inputs, expected } = readInputs(c);
  const results = new Map<Engine, EngineResult>(ENGINES.map((e) => [e, { engine: e, samplesMs: [] }]));
  const fail = (e: Engine, err: unknown) => {
    const r = results.get(e)!;
    r.error ??= errorText(err);
    log(`  ${c} ${e}: failed: ${r.error}`);
  };

  const l0 = performance.now();
  const model = Model.load(ctx, readFileSync(join(MODELS, `${c}.safetensors`)), `${c}.safetensors`);
  results.get('attnscope (node)')!.loadMs = performance.now() - l0;
  let captures: CaptureCheck | undefined;
  try {
    if (page) {
      const loads: LoadResult[] = await page.evaluate(([n, e]) => window.peers.load(n, e), [c, PAGE_ENGINES] as const);
      for (const l of loads) {
        results.get(l.engine)!.loadMs = l.loadMs;
        if (l.error) fail(l.engine, l.error);
        if (l.adapter && l.adapter !== ortWebgpuAdapter) log(`  ${c} ${l.engine}: adapter ${l.adapter}`);
        if (l.adapter) ortWebgpuAdapter = l.adapter;
      }
    } else for (const e of PAGE_ENGINES) fail(e, 'no browser');

    /** One forward of one engine; undefined when it failed (the engine is then dropped). */
    const once = async (e: Engine): Promise<RunResult | undefined> => {
      const r = results.get(e)!;
      if (r.error) return undefined;
      try {
        if (e !== 'attnscope (node)') return await page!.evaluate(([n, x]) => window.peers.run(n, x), [c, e] as const);
        const s = performance.now();
        const out = await model.forward(inputs);
        return { ms: performance.now() - s, maxAbsErr: maxAbsDiff(out.output, expected) };
      } catch (err) {
        fail(e, err);
        return undefined;
      }
    };
    const record = (e: Engine, x: RunResult | undefined, timed: boolean) => {
      if (!x) return;
      const r = results.get(e)!;
      r.maxAbsErr = x.maxAbsErr;
      if (x.captures) captures = x.captures;
      if (timed) r.samplesMs.push(x.ms);
      else r.firstMs ??= x.ms;
    };
    for (const e of ENGINES) {
      record(e, await once(e), false);
      const r = results.get(e)!;
      if (!r.error) log(`  ${c} ${e}: first forward ${r.firstMs!.toFixed(0)} ms, max |err| vs torch ${r.maxAbsErr!.toExponential(2)}`);
    }
    for (let w = 0; w < o.warmup; w++) for (const e of ENGINES) record(e, await once(e), false);
    for (let round = 0; round < o.repeats; round++) {
      for (let i = 0; i < ENGINES.length; i++) {
        const e = ENGINES[(round + i) % ENGINES.length];
        record(e, await once(e), true);
      }
      const shown = ENGINES.filter((e) => !results.get(e)!.error).map((e) => `${e} ${results.get(e)!.samplesMs.at(-1)!.toFixed(0)}`);
      log(`  ${c} round ${round + 1}/${o.repeats}: ${shown.join(', ')} ms`);
    }

    let profile: ConfigResult['profile'];
    if (o.profile) {
      log(`  ${c}: model.profile() in node, without and with captures`);
      const none = topKernels(await model.profile(inputs, { runs: 3 }));
      model.setForwardHook('self', '**.self_attn');
      model.setForwardHook('cross', '**.multihead_attn');
      const hooked = topKernels(await model.profile(inputs, { runs: 3 }));
      profile = { none, captures: hooked };
    }
    if (page) await page.evaluate((n) => window.peers.unload(n), c);

    for (const r of results.values()) {
      if (r.error || !r.samplesMs.length) continue;
      r.medianMs = median(r.samplesMs);
      r.minMs = Math.min(...r.samplesMs);
    }
    const m = (e: Engine) => results.get(e)!.medianMs;
    const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? a / b : undefined);
    const plain = results.get('attnscope (browser)')!.samplesMs;
    const hooked = results.get('attnscope+captures (browser)')!.samplesMs;
    return {
      name: c,
      shape,
      parameters: info.parameters,
      onnxOps: info.onnx.ops,
      engines: [...results.values()],
      torch,
      ortWebgpuOverAttnscope: ratio(m('ort-webgpu'), m('attnscope (browser)')),
      ortWebgpuOverAttnscopeNode: ratio(m('ort-webgpu'), m('attnscope (node)')),
      ortJsepOverAttnscope: ratio(m('ort-webgpu (jsep)'), m('attnscope (browser)')),
      captureOverhead: ratio(m('attnscope+captures (browser)'), m('attnscope (browser)')),
      captureOverheadPaired: plain.length && plain.length === hooked.length ? median(hooked.map((h, i) => h / plain[i])) : undefined,
      captures,
      profile,
      totalMs: performance.now() - t0,
    };
  } finally {
    model.dispose();
  }
}

const ms = (x?: number) => (x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const times = (x?: number) => (x === undefined ? '—' : `${x.toFixed(2)}×`);
const err = (x?: number) => (x === undefined ? '—' : x.toExponential(1));

function table(results: ConfigResult[]): string {
  const threads = results.find((r) => r.torch)?.torch?.threads ?? cpus().length;
  const lines = [
    `| config | ${ENGINES.join(' | ')} | torch CPU (${threads} threads) | torch CPU (1 thread) | ort-webgpu / attnscope | ort-webgpu (jsep) / attnscope | capture overhead |`,
    `| --- |${' ---: |'.repeat(ENGINES.length + 5)}`,
  ];
  for (const r of results) {
    const e = (n: Engine) => {
      const x = r.engines.find((y) => y.engine === n)!;
      return x.error ? 'failed' : ms(x.medianMs);
    };
    const stored = r.torch?.stale ? ' (stored)' : '';
    const torch = r.torch ? `${ms(r.torch.medianMs)}${stored} | ${r.torch.oneThread ? `${ms(r.torch.oneThread.medianMs)}${stored}` : '—'}` : '— | —';
    lines.push(
      `| ${r.name} (${r.shape}) | ${ENGINES.map(e).join(' | ')} | ${torch} | ${times(r.ortWebgpuOverAttnscope)} | ${times(r.ortJsepOverAttnscope)} | ` +
        `${times(r.captureOverhead)}${r.captureOverheadPaired ? ` (paired ${times(r.captureOverheadPaired)})` : ''} |`,
    );
  }
  lines.push('', 'max |output − PyTorch output| (last forward) and first forward (compile + run), ms:', '');
  lines.push(`| config | ${ENGINES.join(' | ')} |`, `| --- |${ENGINES.map(() => ' ---: |').join('')}`);
  for (const r of results) {
    const cell = (n: Engine) => {
      const x = r.engines.find((y) => y.engine === n)!;
      return x.error ? `failed: ${x.error.slice(0, 60)}` : `${err(x.maxAbsErr)}; first ${ms(x.firstMs)}`;
    };
    lines.push(`| ${r.name} | ${ENGINES.map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(o: Options): Promise<void> {
  const started = performance.now();
  const { ready, fresh } = o.configs.length ? prepareModels(o) : { ready: [], fresh: false };
  if (!ready.length && !o.hf.length) {
    log('bench: no config has its models in bench/models/: nothing to run');
    return;
  }
  const torchMs = performance.now() - started;
  const ctx = await createNodeContext();
  let server: ViteDevServer | undefined;
  let browser: Awaited<ReturnType<typeof openPage>> | undefined;
  const results: ConfigResult[] = [];
  const hf: Gpt2Result[] = [];
  try {
    const s = await startServer();
    server = s.server;
    try {
      browser = await openPage(s.url);
      log(`browser: ${browser.info.adapter}; onnxruntime-web ${browser.info.ortVersion}, wasm threads ${browser.info.wasmThreads}${browser.info.crossOriginIsolated ? '' : ' (not cross-origin isolated)'}`);
    } catch (e) {
      log(`bench: no browser engines: ${errorText(e)}`);
    }
    log(`node: ${ctx.adapterName}`);
    for (const c of ready) results.push(await benchConfig(o, ctx, browser?.page, c, readTorchTiming(c, fresh)));
    for (const n of o.hf) {
      const r = await benchHf(HF_BENCHES[n], o.gpt2Repeats, ctx, browser?.page);
      if (r) hf.push(r);
    }
  } finally {
    await browser?.close();
    await server?.close();
    ctx.dispose();
  }
  const totalMs = performance.now() - started;
  const info = browser?.info;
  const browserName = info ? `${info.adapter}, ${info.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? 'Chromium'}` : 'none';
  for (const r of hf) writeHf(r, ctx.adapterName, browserName, info?.ortVersion);
  if (!results.length) return;
  console.log(
    `\nnn.Transformer forward, median of ${o.repeats} after ${o.warmup} warm-up round(s), ms (seq-first, batch 1, causal tgt mask; output read back; engines interleaved)` +
      `\nnode: ${ctx.adapterName}; browser: ${browserName}` +
      `; onnxruntime-web ${info?.ortVersion ?? '—'} (wasm threads ${info?.wasmThreads ?? '—'}); torch ${torchInfo(results.find((r) => r.torch)?.torch)} on ${cpus().length} CPU threads\n`,
  );
  console.log(table(results));
  for (const r of results) {
    if (r.captures) {
      const k = r.captures;
      console.log(`\n${r.name} captures: ${k.records} records, ${(k.bytes / 1024).toFixed(0)} KiB per forward; max |row sum − 1| ${err(k.maxRowSumErr)}, max causal leak ${err(k.maxCausalLeak)}`);
    }
    if (r.profile) {
      for (const [name, p] of Object.entries(r.profile)) {
        const top = p.byKernel.slice(0, 5).map((k) => `${k.kernel} ${k.ms.toFixed(1)} ms ×${k.count}`).join(', ');
        console.log(
          `${r.name} node profile (${name}): forward ${ms(p.forwardMs)} ms (encode+submit ${ms(p.cpu.encodeSubmitMs)}, wait ${ms(p.cpu.waitMs)}, readback ${ms(p.cpu.readbackMs)}), ` +
            `GPU ${ms(p.gpuMs)} ms in ${p.dispatches} dispatches; top kernels: ${top}`,
        );
      }
    }
  }
  const torchNote = fresh ? `PyTorch timed in this run (${(torchMs / 1000).toFixed(0)} s incl. any export)` : 'PyTorch times are stored ones';
  console.log(`\ntotal ${(totalMs / 1000).toFixed(0)} s (${results.map((r) => `${r.name} ${(r.totalMs / 1000).toFixed(0)} s`).join(', ')}; ${torchNote})`);
  const out = o.json ?? join(RESULTS, `peers-${adapterSlug(ctx.adapterName)}.json`);
  mkdirSync(dirname(out), { recursive: true });
  const record = {
    adapter: ctx.adapterName,
    browserAdapter: info?.adapter,
    ortWebgpuAdapter,
    date: new Date().toISOString(),
    repeats: o.repeats,
    warmup: o.warmup,
    cpuThreads: cpus().length,
    browser: info?.userAgent,
    onnxruntimeWeb: info?.ortVersion,
    wasmThreads: info?.wasmThreads,
    totalMs,
    results,
  };
  writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`wrote ${relative(ROOT, out)}`);
}

/** "1.13.0a0 (BLAS openblas-pthread/libblas.so.3)": which BLAS runs PyTorch's matmuls decides its speed many times over. */
function torchInfo(t: TorchTiming | undefined): string {
  return t ? `${t.torch} (BLAS ${t.blas ?? 'not recorded'})` : '—';
}

function writeHf(r: Gpt2Result, adapter: string, browser: string, ortVersion?: string): void {
  console.log(
    `\n${r.title} (${r.shape}, random weights), every attention captured; median of ${r.repeats}; ` +
      `node: ${adapter}; browser: ${browser}; onnxruntime-web ${ortVersion ?? '—'}; ort generation: ${r.ortGeneration}\n`,
  );
  console.log(gpt2Table(r));
  const out = join(RESULTS, `${r.name}-${adapterSlug(adapter)}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ adapter, browser, onnxruntimeWeb: ortVersion, date: new Date().toISOString(), cpuThreads: cpus().length, ...r }, null, 2)}\n`);
  console.log(`wrote ${relative(ROOT, out)}`);
}

const options = parseArgs(process.argv.slice(2));
await main(options);
// bench/causal.ts in a process of its own (it writes bench/results/causal-<adapter>.json and prints its table).
if (options.causal) runScript(['bench/causal.ts'], 4 * 3600);
