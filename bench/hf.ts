// The Hugging Face checkpoint part of `npm run bench` (`--configs gpt2` and / or `smollm`): a GPT-2-small-shaped
// GPT2LMHeadModel (12 layers, d 768, 12 heads, vocab 50257; tools/export_hf_bench.py) or a SmolLM-135M-shaped
// LlamaForCausalLM (30 layers, d 576, 9 heads on 3 KV heads, intermediate 1536, vocab 49152;
// tools/export_llama_bench.py), random weights, with every layer's attention brought back to the CPU:
//   load memory        peak RSS of Model.fromCheckpoint on its F16 checkpoint, in a process of its own
//                      (bench/load_memory.ts), against the file's size
//   forward            at length 128: attnscope in Node and in the page, onnxruntime-web's WebGPU provider in the page
//                      on the ONNX export of the same model (bench/page/gpt2.ts)
//   generate           32 greedy tokens after that prompt, every step's attention captured too
// Engines run interleaved, as bench/peers.ts runs them; each result is checked against the PyTorch reference.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import type { Page } from '@playwright/test';
import type { GpuContext } from '../src/gpu/context.ts';
import { Model } from '../src/model/model.ts';
import { directoryFiles } from '../src/node.ts';
import type { LoadMemory } from './load_memory.ts';
import { attentionCheck, capturedAttentions, type ForwardResult, type GenerateRun, GPT2_ENGINES, type Gpt2Engine, type HfBench, readReference } from './gpt2_check.ts';
import { log, MODELS, PYTHON, hasTorch, ROOT } from './shared.ts';
import { errorText, maxAbsDiff, median } from './stats.ts';

type Engine = 'attnscope (node)' | Gpt2Engine;
const ENGINES: readonly Engine[] = ['attnscope (node)', ...GPT2_ENGINES];
const files = (b: HfBench) => [`${b.name}.onnx`, `${b.name}.io.safetensors`, `${b.name}.json`, `${b.dir}/model.safetensors`];
/** Loads measured, each in a fresh process; the peak is the largest. */
const MEMORY_RUNS = 3;

interface EngineResult {
  engine: Engine;
  loadMs?: number;
  /** The first forward: pipelines compiled, plan / session built, then run. */
  firstForwardMs?: number;
  forwardMs: number[];
  forward?: Omit<ForwardResult, 'ms'>;
  /** generate(1): the prompt's forward and one token (attnscope; ort times its prompt run inside generate). */
  prefillMs?: number;
  generateMs: number[];
  tokens?: number[];
  tokensMatchReference?: boolean;
  generateAttentions?: number;
  medianForwardMs?: number;
  medianGenerateMs?: number;
  /** 32 / the median generate time (the 128-token prompt's forward included). */
  tokensPerSecond?: number;
  /** 31 / (the median generate time - the prefill): the rate once the prompt is in the cache. */
  decodeTokensPerSecond?: number;
  error?: string;
}

export interface Gpt2Result {
  name: HfBench['name'];
  title: string;
  shape: string;
  parameters: number;
  length: number;
  newTokens: number;
  repeats: number;
  ortGeneration: string;
  memory?: LoadMemory & { runs: LoadMemory[]; ratio: number; hostRatio: number; note: string };
  engines: EngineResult[];
  /** ort-webgpu / attnscope (browser), medians: above 1, attnscope is faster. */
  forwardOrtOverAttnscope?: number;
  generateOrtOverAttnscope?: number;
  loadAverage: { start: number[]; end: number[] };
  totalMs: number;
}

interface ExportInfo {
  n_layer: number;
  n_embd: number;
  n_head: number;
  n_kv_head?: number;
  vocab_size: number;
  length: number;
  new_tokens: number;
  parameters: number;
}

/** Writes the model when it is missing and torch is installed; false when it cannot be had. */
function prepare(b: HfBench): boolean {
  const have = () => files(b).every((f) => existsSync(join(MODELS, f)));
  if (have()) return true;
  if (!hasTorch()) {
    log(`bench: skipping ${b.name}: PyTorch is not installed for ${PYTHON}, so bench/models/${b.name}* cannot be made (see README, Benchmarks)`);
    return false;
  }
  const exporter = join(ROOT, 'tools', b.exporter);
  log(`$ ${PYTHON} ${relative(ROOT, exporter)}`);
  const r = spawnSync(PYTHON, [exporter, '--out', MODELS], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 1_800_000 });
  if (r.status !== 0) log(`bench: the ${b.name} exporter failed (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`})`);
  return r.status === 0 && have();
}

/** Peak RSS while loading the F16 checkpoint, MEMORY_RUNS fresh processes, the largest peak. */
function loadMemory(b: HfBench): Gpt2Result['memory'] {
  const runs: LoadMemory[] = [];
  for (let i = 0; i < MEMORY_RUNS; i++) {
    const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'vite-node'), [join(ROOT, 'bench', 'load_memory.ts'), join(MODELS, b.dir)], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
    const line = r.stdout?.trim().split('\n').at(-1);
    if (r.status !== 0 || !line) {
      log(`  ${b.name} load memory: failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr?.trim().split('\n').at(-1) ?? ''}`);
      return undefined;
    }
    runs.push(JSON.parse(line) as LoadMemory);
  }
  const peak = runs.reduce((a, b) => (b.peakDeltaBytes > a.peakDeltaBytes ? b : a));
  const cpuAdapter = /swiftshader|llvmpipe|lavapipe/i.test(peak.adapter);
  // On a CPU adapter the GPU's memory is the process's: the uploaded f32 weights are resident too, and belong to
  // the device, not to the load. On a GPU they live in VRAM and the peak is the load's own.
  const host = cpuAdapter ? peak.peakDeltaBytes - peak.weightBytes : peak.peakDeltaBytes;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const note = cpuAdapter
    ? `CPU adapter: the ${mb(peak.weightBytes)} of f32 weights on the "GPU" are host memory, counted in RSS and taken out of hostRatio`
    : 'GPU adapter: RSS holds no device memory';
  log(`  ${b.name} load memory: peak +${mb(peak.peakDeltaBytes)} over ${MEMORY_RUNS} loads, ${mb(host)} beyond the GPU weights = ${(host / peak.fileBytes).toFixed(2)}x the ${mb(peak.fileBytes)} F16 file`);
  return { ...peak, runs, ratio: peak.peakDeltaBytes / peak.fileBytes, hostRatio: host / peak.fileBytes, note };
}

export async function benchHf(b: HfBench, repeats: number, ctx: GpuContext, page: Page | undefined): Promise<Gpt2Result | undefined> {
  if (!prepare(b)) return undefined;
  const t0 = performance.now();
  const start = loadavg();
  const info = JSON.parse(readFileSync(join(MODELS, `${b.name}.json`), 'utf8')) as ExportInfo;
  const ref = readReference(readFileSync(join(MODELS, `${b.name}.io.safetensors`)), b);
  const shape = `${info.n_layer} layers, d ${info.n_embd}, ${info.n_head} heads${info.n_kv_head ? ` on ${info.n_kv_head} KV heads` : ''}, vocab ${info.vocab_size}`;
  log(`${b.name} (${shape}, L ${info.length}, ${info.new_tokens} new tokens)`);
  const memory = loadMemory(b);

  const results = new Map<Engine, EngineResult>(ENGINES.map((e) => [e, { engine: e, forwardMs: [], generateMs: [] }]));
  const fail = (e: Engine, err: unknown) => {
    const r = results.get(e)!;
    r.error ??= errorText(err);
    log(`  ${b.name} ${e}: failed: ${r.error}`);
  };
  const l0 = performance.now();
  const model = await Model.fromCheckpoint(ctx, directoryFiles(join(MODELS, b.dir)));
  model.setForwardHook('attn', b.attention);
  results.get('attnscope (node)')!.loadMs = performance.now() - l0;
  try {
    if (page) {
      for (const l of await page.evaluate(([n, e]) => window.gpt2.load(n, e), [b.name, GPT2_ENGINES] as const)) {
        results.get(l.engine)!.loadMs = l.loadMs;
        if (l.error) fail(l.engine, l.error);
        else log(`  ${b.name} ${l.engine}: loaded in ${l.loadMs.toFixed(0)} ms${l.adapter ? ` on ${l.adapter}` : ''}`);
      }
    } else for (const e of GPT2_ENGINES) fail(e, 'no browser');

    /** Runs `body` for engine e unless it failed before; a throw drops the engine. */
    const guard = async <T>(e: Engine, body: () => Promise<T>): Promise<T | undefined> => {
      if (results.get(e)!.error) return undefined;
      try {
        return await body();
      } catch (err) {
        fail(e, err);
        return undefined;
      }
    };
    const forward = (e: Engine) =>
      guard(e, async (): Promise<ForwardResult> => {
        if (e !== 'attnscope (node)') return page!.evaluate((x) => window.gpt2.forward(x), e);
        const s = performance.now();
        const out = await model.forward({ input_ids: ref.inputIds });
        const ms = performance.now() - s;
        return { ms, maxAbsErr: maxAbsDiff(out.output, ref.logits), ...attentionCheck(capturedAttentions(model.hooks), ref) };
      });
    const generate = (e: Engine, n: number) =>
      guard(e, async (): Promise<GenerateRun> => {
        if (e !== 'attnscope (node)') return page!.evaluate(([x, k]) => window.gpt2.generate(x, k), [e, n] as const);
        const s = performance.now();
        const g = await model.generate(ref.inputIds, { maxNewTokens: n, eos: null });
        return { ms: performance.now() - s, tokens: g.tokens[0], attentions: g.steps.reduce((a, st) => a + Object.keys(st).length, 0) };
      });

    for (const e of ENGINES) {
      const f = await forward(e);
      if (!f) continue;
      const r = results.get(e)!;
      r.firstForwardMs = f.ms;
      log(`  ${b.name} ${e}: first forward ${f.ms.toFixed(0)} ms, max |logits err| ${f.maxAbsErr.toExponential(2)}, max |attention err| ${f.maxAttnErr.toExponential(2)} (${f.attentions} maps)`);
    }
    // Rounds rotate the starting engine so load on the machine hits every engine evenly.
    const rounds = async (what: string, body: (e: Engine) => Promise<void>) => {
      for (let round = 0; round < repeats; round++) {
        for (let i = 0; i < ENGINES.length; i++) await body(ENGINES[(round + i) % ENGINES.length]);
        log(`  ${b.name} ${what} round ${round + 1}/${repeats} done`);
      }
    };
    await rounds('forward', async (e) => {
      const f = await forward(e);
      if (!f) return;
      const r = results.get(e)!;
      r.forwardMs.push(f.ms);
      r.forward = { maxAbsErr: f.maxAbsErr, maxAttnErr: f.maxAttnErr, attentions: f.attentions, attentionBytes: f.attentionBytes };
      log(`  ${b.name} ${e}: forward ${f.ms.toFixed(0)} ms`);
    });
    for (const e of ENGINES.filter((x) => x.startsWith('attnscope'))) {
      const g = await generate(e, 1);
      if (g) results.get(e)!.prefillMs = g.ms;
    }
    await rounds('generate', async (e) => {
      const g = await generate(e, info.new_tokens);
      if (!g) return;
      const r = results.get(e)!;
      r.generateMs.push(g.ms);
      r.prefillMs ??= g.prefillMs;
      r.tokens = g.tokens;
      r.tokensMatchReference = g.tokens.length === ref.generated.length && g.tokens.every((t, i) => t === ref.generated[i]);
      r.generateAttentions = g.attentions;
      log(`  ${b.name} ${e}: ${info.new_tokens} tokens in ${g.ms.toFixed(0)} ms (${r.tokensMatchReference ? 'the reference tokens' : `tokens differ from the reference: ${g.tokens.join(' ')}`})`);
    });
    if (page) await page.evaluate(() => window.gpt2.unload());
  } finally {
    model.dispose();
  }

  for (const r of results.values()) {
    if (r.forwardMs.length) r.medianForwardMs = median(r.forwardMs);
    if (!r.generateMs.length) continue;
    r.medianGenerateMs = median(r.generateMs);
    r.tokensPerSecond = (info.new_tokens * 1000) / r.medianGenerateMs;
    if (r.prefillMs !== undefined && r.medianGenerateMs > r.prefillMs) r.decodeTokensPerSecond = ((info.new_tokens - 1) * 1000) / (r.medianGenerateMs - r.prefillMs);
  }
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? a / b : undefined);
  const ort = results.get('ort-webgpu')!;
  const browser = results.get('attnscope (browser)')!;
  return {
    name: b.name,
    title: b.title,
    shape,
    parameters: info.parameters,
    length: info.length,
    newTokens: info.new_tokens,
    repeats,
    ortGeneration: `${b.name}.onnx with past key/values (as transformers.js runs it): the prompt with an empty past, then one token per run, presents kept on the GPU`,
    memory,
    engines: [...results.values()],
    forwardOrtOverAttnscope: ratio(ort.medianForwardMs, browser.medianForwardMs),
    generateOrtOverAttnscope: ratio(ort.medianGenerateMs, browser.medianGenerateMs),
    loadAverage: { start, end: loadavg() },
    totalMs: performance.now() - t0,
  };
}

const ms = (x?: number) => (x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const rate = (x?: number) => (x === undefined ? '—' : x.toFixed(2));
const times = (x?: number) => (x === undefined ? '—' : `${x.toFixed(2)}×`);

/** The README's table: per engine forward, generate, tokens/s and the checks; then the load memory. */
export function gpt2Table(r: Gpt2Result): string {
  const lines = [
    `| engine | forward L ${r.length}, ms | first forward, ms | generate ${r.newTokens}, ms | tokens/s | decode tokens/s | max \\|logits err\\| | max \\|attention err\\| | tokens = reference |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const e of r.engines) {
    if (e.error) {
      lines.push(`| ${e.engine} | failed: ${e.error.slice(0, 80)} | | | | | | | |`);
      continue;
    }
    const err = (x?: number) => (x === undefined ? '—' : x.toExponential(1));
    lines.push(
      `| ${e.engine} | ${ms(e.medianForwardMs)} | ${ms(e.firstForwardMs)} | ${ms(e.medianGenerateMs)} | ${rate(e.tokensPerSecond)} | ${rate(e.decodeTokensPerSecond)} | ` +
        `${err(e.forward?.maxAbsErr)} | ${err(e.forward?.maxAttnErr)} | ${e.tokensMatchReference === undefined ? '—' : e.tokensMatchReference ? 'yes' : 'no'} |`,
    );
  }
  lines.push('', `ort-webgpu / attnscope (browser): forward ${times(r.forwardOrtOverAttnscope)}, generate ${times(r.generateOrtOverAttnscope)}`);
  const m = r.memory;
  if (m) {
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    lines.push(
      `load memory (F16 checkpoint, ${mb(m.fileBytes)}): peak RSS +${mb(m.peakDeltaBytes)} (${m.ratio.toFixed(2)}× the file); ` +
        `beyond the GPU's weights ${m.hostRatio.toFixed(2)}× (target ≤ 1.25×); ${m.note}`,
    );
  }
  return lines.join('\n');
}
