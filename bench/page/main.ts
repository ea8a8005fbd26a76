// The in-browser half of `npm run bench` (bench/peers.ts drives it through window.peers with Playwright):
// attnscope on navigator.gpu, alone and with every attention module captured, next to onnxruntime-web on the same
// models (bench/models/, written by tools/export_bench_models.py), the same inputs, in the same page:
//   ort-webgpu          `import 'onnxruntime-web/webgpu'`, the import onnxruntime-web documents for WebGPU: its
//                       native (C++) WebGPU execution provider, the ort-wasm-simd-threaded.asyncify build
//   ort-webgpu (jsep)   `import 'onnxruntime-web'` with executionProviders ['webgpu']: the older JavaScript kernels
//                       (JSEP, ort-wasm-simd-threaded.jsep build) that the package's default entry still ships
//   ort-wasm            `import 'onnxruntime-web'` with executionProviders ['wasm'] (CPU, SIMD, threads when the
//                       page is cross-origin isolated)
// Each run is one awaited forward with its output read back to the CPU, checked against PyTorch's output.
// By hand: /bench/page/?run=small (or small,medium) prints medians on the page.
// The Hugging Face checkpoints' engines (bench/hf.ts: GPT-2, SmolLM shaped) are window.gpt2, from ./gpt2.ts.
import type * as Ort from 'onnxruntime-web';
import type { ModelInputs } from '../../src/model/inputs.ts';
import { Model } from '../../src/model/model.ts';
import { readSafetensors } from '../../src/model/safetensors.ts';
import { errorText, maxAbsDiff, median } from '../stats.ts';
import { gpt2Page } from './gpt2.ts';
import { fetchBytes, gpuContext, modelUrl, ortAdapter, ortBuild, type OrtBuild, params, threads } from './shared.ts';

export const PAGE_ENGINES = ['attnscope (browser)', 'attnscope+captures (browser)', 'ort-webgpu', 'ort-webgpu (jsep)', 'ort-wasm'] as const;
export type PageEngine = (typeof PAGE_ENGINES)[number];
type OrtEngine = Extract<PageEngine, `ort-${string}`>;

/** Which onnxruntime-web build and execution provider each ort engine uses. */
const ORT_ENGINES: Record<OrtEngine, { build: OrtBuild; ep: 'webgpu' | 'wasm' }> = {
  'ort-webgpu': { build: 'onnxruntime-web/webgpu', ep: 'webgpu' },
  'ort-webgpu (jsep)': { build: 'onnxruntime-web', ep: 'webgpu' },
  'ort-wasm': { build: 'onnxruntime-web', ep: 'wasm' },
};
const isOrt = (e: PageEngine): e is OrtEngine => e in ORT_ENGINES;

export interface PageInfo {
  /** attnscope's adapter (GpuContext.adapterName). */
  adapter: string;
  ortVersion: string;
  crossOriginIsolated: boolean;
  /** ort.env.wasm.numThreads as set (1 unless the page is cross-origin isolated, which wasm threads need). */
  wasmThreads: number;
  userAgent: string;
}

export interface LoadResult {
  engine: PageEngine;
  /** Fetching the files and creating the model / session (pipelines compile lazily, in the first run). */
  loadMs: number;
  /** ort webgpu engines: the adapter of the device onnxruntime-web created (to show it is the one attnscope uses). */
  adapter?: string;
  error?: string;
}

/** What hooking every attention module brought back, and a sanity check of the probabilities. */
export interface CaptureCheck {
  records: number;
  bytes: number;
  /** max |sum of a probability row - 1| over every captured attention map. */
  maxRowSumErr: number;
  /** max probability above the diagonal in the decoder's (causal) self-attention maps: must be 0. */
  maxCausalLeak: number;
}

export interface RunResult {
  ms: number;
  /** max |output - PyTorch's output|. */
  maxAbsErr: number;
  captures?: CaptureCheck;
}

export interface PeersPage {
  info: Promise<PageInfo>;
  load(config: string, engines: readonly PageEngine[]): Promise<LoadResult[]>;
  run(config: string, engine: PageEngine): Promise<RunResult>;
  unload(config: string): Promise<void>;
}

declare global {
  interface Window {
    peers: PeersPage;
    gpt2: typeof gpt2Page;
  }
}

interface Loaded {
  inputs: ModelInputs;
  expected: Float32Array;
  model?: Model;
  hooked: boolean;
  sessions: Map<OrtEngine, { session: Ort.InferenceSession; feeds: Record<string, Ort.Tensor> }>;
}

const logEl = document.getElementById('log')!;
const statusEl = document.getElementById('status')!;
const log = (s: string) => {
  logEl.textContent += `${s}\n`;
  console.log(s);
};

const loaded = new Map<string, Loaded>();

async function load(config: string, engines: readonly PageEngine[]): Promise<LoadResult[]> {
  await unload(config);
  const io = readSafetensors(await fetchBytes(modelUrl(`${config}.io.safetensors`)), `${config}.io.safetensors`);
  const t = (n: string) => {
    const e = io.tensors.get(n);
    if (!e || e.dtype !== 'F32') throw new Error(`${config}.io.safetensors: no F32 tensor '${n}'`);
    return e;
  };
  const entry: Loaded = {
    inputs: { src: t('src'), tgt: t('tgt'), tgt_mask: t('tgt_mask') },
    expected: t('output').data as Float32Array,
    hooked: false,
    sessions: new Map(),
  };
  loaded.set(config, entry);
  const results: LoadResult[] = [];
  const wantsAttnscope = engines.some((e) => e.startsWith('attnscope'));
  const ortEngines = engines.filter(isOrt);
  const timed = async (engine: PageEngine, body: () => Promise<string | undefined>) => {
    const t0 = performance.now();
    try {
      const adapter = await body();
      results.push({ engine, loadMs: performance.now() - t0, ...(adapter ? { adapter } : {}) });
    } catch (e) {
      results.push({ engine, loadMs: performance.now() - t0, error: errorText(e) });
    }
  };
  if (wantsAttnscope) {
    await timed('attnscope (browser)', async () => {
      entry.model = Model.load(await gpuContext(), await fetchBytes(modelUrl(`${config}.safetensors`)), `${config}.safetensors`);
      return undefined;
    });
    const ok = results.at(-1)!;
    if (engines.includes('attnscope+captures (browser)')) results.push({ ...ok, engine: 'attnscope+captures (browser)' });
    if (!engines.includes('attnscope (browser)')) results.splice(results.indexOf(ok), 1);
  }
  if (ortEngines.length) {
    const onnx = await fetchBytes(modelUrl(`${config}.onnx`));
    for (const engine of ortEngines) {
      await timed(engine, async () => {
        const { build, ep } = ORT_ENGINES[engine];
        const ort = await ortBuild(build);
        const session = await ort.InferenceSession.create(onnx, { executionProviders: [ep], graphOptimizationLevel: 'all' });
        const feeds: Record<string, Ort.Tensor> = {};
        for (const [name, x] of Object.entries(entry.inputs)) feeds[name] = new ort.Tensor('float32', x!.data as Float32Array, x!.shape);
        entry.sessions.set(engine, { session, feeds });
        return ep === 'webgpu' ? ortAdapter(ort) : undefined;
      });
    }
  }
  return results;
}

/** Registers (or removes) a forward hook on every self_attn and multihead_attn; plans stay cached per hook set. */
function setHooks(entry: Loaded, on: boolean): void {
  const m = entry.model!;
  if (entry.hooked === on) return;
  if (on) {
    m.setForwardHook('self', '**.self_attn');
    m.setForwardHook('cross', '**.multihead_attn');
  } else {
    m.delHook('self');
    m.delHook('cross');
  }
  entry.hooked = on;
}

function checkCaptures(m: Model): CaptureCheck {
  const c: CaptureCheck = { records: 0, bytes: 0, maxRowSumErr: 0, maxCausalLeak: 0 };
  for (const r of Object.values(m.hooks)) {
    c.records++;
    for (const t of [...r.input, ...(r.output ?? [])]) c.bytes += t.data.byteLength;
    const w = r.output?.[1];
    if (!w) continue;
    const S = w.shape.at(-1)!;
    const L = w.shape.at(-2)!;
    const causal = r.module.startsWith('decoder.') && r.module.endsWith('.self_attn');
    for (let row = 0; row < w.data.length / S; row++) {
      const q = row % L;
      let sum = 0;
      for (let k = 0; k < S; k++) {
        const p = w.data[row * S + k];
        sum += p;
        if (causal && k > q) c.maxCausalLeak = Math.max(c.maxCausalLeak, Math.abs(p));
      }
      c.maxRowSumErr = Math.max(c.maxRowSumErr, Math.abs(sum - 1));
    }
  }
  return c;
}

async function run(config: string, engine: PageEngine): Promise<RunResult> {
  const entry = loaded.get(config);
  if (!entry) throw new Error(`${config}: not loaded`);
  if (engine.startsWith('attnscope')) {
    if (!entry.model) throw new Error(`${config}: attnscope model not loaded`);
    const captures = engine === 'attnscope+captures (browser)';
    setHooks(entry, captures);
    const t0 = performance.now();
    const r = await entry.model.forward(entry.inputs);
    const ms = performance.now() - t0;
    return { ms, maxAbsErr: maxAbsDiff(r.output, entry.expected), ...(captures ? { captures: checkCaptures(entry.model) } : {}) };
  }
  const s = isOrt(engine) ? entry.sessions.get(engine) : undefined;
  if (!s) throw new Error(`${config}: ${engine} session not loaded`);
  const t0 = performance.now();
  const out = await s.session.run(s.feeds);
  const data = (await out.output.getData()) as Float32Array; // already on the CPU (preferredOutputLocation 'cpu')
  const ms = performance.now() - t0;
  const err = maxAbsDiff(data, entry.expected);
  out.output.dispose();
  return { ms, maxAbsErr: err };
}

async function unload(config: string): Promise<void> {
  const entry = loaded.get(config);
  if (!entry) return;
  loaded.delete(config);
  entry.model?.dispose();
  for (const s of entry.sessions.values()) await s.session.release();
}

async function pageInfo(): Promise<PageInfo> {
  return {
    adapter: (await gpuContext()).adapterName,
    ortVersion: await ortBuild('onnxruntime-web').then(
      (ort) => ort.env.versions.web ?? ort.env.versions.common,
      (e) => `not loaded: ${errorText(e)}`,
    ),
    crossOriginIsolated: self.crossOriginIsolated,
    wasmThreads: threads,
    userAgent: navigator.userAgent,
  };
}

window.peers = { info: pageInfo(), load, run, unload };
window.gpt2 = gpt2Page;

/** ?run=small[,medium]: load every engine, one warm-up, `?repeats=` (5) runs each, medians on the page. */
async function manual(configs: string[]): Promise<void> {
  const repeats = Number(params.get('repeats') ?? 5);
  for (const config of configs) {
    statusEl.textContent = `${config}: loading…`;
    const loads = await load(config, PAGE_ENGINES);
    for (const l of loads) log(`${config} ${l.engine}: ${l.error ? `failed: ${l.error}` : `loaded in ${l.loadMs.toFixed(0)} ms`}`);
    const ok = loads.filter((l) => !l.error).map((l) => l.engine);
    const samples = new Map<PageEngine, number[]>(ok.map((e) => [e, []]));
    for (let i = 0; i <= repeats; i++) {
      statusEl.textContent = `${config}: round ${i}/${repeats}`;
      for (const e of ok) {
        const r = await run(config, e);
        if (i > 0) samples.get(e)!.push(r.ms);
        if (i === repeats) log(`${config} ${e}: median ${median(samples.get(e)!).toFixed(1)} ms, max |err| ${r.maxAbsErr.toExponential(2)}`);
      }
    }
    await unload(config);
  }
  statusEl.textContent = 'done';
}

window.peers.info.then(
  (i) => {
    statusEl.textContent = `ready: ${i.adapter}; onnxruntime-web ${i.ortVersion}, wasm threads ${i.wasmThreads}`;
    const configs = params.get('run');
    if (configs) manual(configs.split(',')).catch((e) => log(`error: ${errorText(e)}`));
  },
  (e) => {
    statusEl.textContent = `no WebGPU: ${errorText(e)}`;
  },
);
