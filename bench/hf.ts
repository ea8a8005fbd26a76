// The Hugging Face checkpoint part of `npm run bench` (`--configs gpt2` and / or `smollm`): a GPT-2-small-shaped
// GPT2LMHeadModel (12 layers, d 768, 12 heads, vocab 50257; tools/export_hf_bench.py) or a SmolLM-135M-shaped
// LlamaForCausalLM (30 layers, d 576, 9 heads on 3 KV heads, intermediate 1536, vocab 49152;
// tools/export_llama_bench.py), random weights, with every layer's attention brought back to the CPU:
//   load               load time, GPU bytes (ctx.buffers.stats) and peak RSS of Model.fromCheckpoint on its F16
//                      checkpoint and on the same values in F32, each in a process of its own (bench/load_memory.ts)
//   GPU memory         after the Node forward below: the F16 weights on the GPU against 1.1x the file, and the whole
//                      GPU growth against 1.1x the file plus that forward's activation slots and staging (#14)
//   forward            at length 128: attnscope in Node and in the page, onnxruntime-web's WebGPU provider in the page
//                      on the ONNX export of the same model (bench/page/gpt2.ts)
//   generate           32 greedy tokens after that prompt, every step's attention captured too
// Engines run interleaved, as bench/peers.ts runs them; each result is checked against the PyTorch reference.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
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
/** The F32 copy the exporter writes beside the F16 checkpoint (the same values). */
const f32Dir = (b: HfBench) => b.dir.replace(/-f16$/, '-f32');
const files = (b: HfBench) => [`${b.name}.onnx`, `${b.name}.io.safetensors`, `${b.name}.json`, `${b.dir}/model.safetensors`, `${f32Dir(b)}/model.safetensors`];
/** Loads measured per dtype, each in a fresh process; the peak is the largest, the load time the median. */
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
  /** The F16 checkpoint's and its F32 copy's loads. */
  memory: { f16?: LoadRuns; f32?: LoadRuns; f16OverF32?: { loadMs: number; gpuBytes: number } };
  /** GPU memory of the F16 model in the Node engine after its first forward (every attention captured). */
  gpuMemory?: GpuMemory;
  engines: EngineResult[];
  /** ort-webgpu / attnscope (browser), medians: above 1, attnscope is faster. */
  forwardOrtOverAttnscope?: number;
  generateOrtOverAttnscope?: number;
  loadAverage: { start: number[]; end: number[] };
  totalMs: number;
}

/** The run with the largest peak RSS, the median load time, every run, and the peak over the file. */
type LoadRuns = LoadMemory & { runs: LoadMemory[]; medianLoadMs: number; ratio: number; hostRatio: number; note: string };

export interface GpuMemory {
  fileBytes: number;
  /** ctx.buffers.stats growth over the load: the weights. */
  weightBytes: number;
  /** Growth over the load and the first forward at the bench's length with every attention captured. */
  totalBytes: number;
  /** The forward plan's activation slots, its readback (captures + logits) and its dispatch count. */
  slotBytes: number;
  readbackBytes: number;
  dispatches: number;
  /** 1.1 x the file + the slots + the pooled staging (readback rounded up to a power of two: <= 2x) + 256 B of
   * uniforms per dispatch: the issue's bound (1.1x the file plus the activation slots). */
  bound: number;
  weightsWithin: boolean;
  totalWithin: boolean;
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

/** Peak RSS, GPU bytes and time of loading the checkpoint in `dir`: MEMORY_RUNS fresh processes, the largest peak. */
function loadMemory(dir: string): LoadRuns | undefined {
  const runs: LoadMemory[] = [];
  for (let i = 0; i < MEMORY_RUNS; i++) {
    const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'vite-node'), [join(ROOT, 'bench', 'load_memory.ts'), join(MODELS, dir)], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
    const line = r.stdout?.trim().split('\n').at(-1);
    if (r.status !== 0 || !line) {
      log(`  ${dir} load: failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr?.trim().split('\n').at(-1) ?? ''}`);
      return undefined;
    }
    runs.push(JSON.parse(line) as LoadMemory);
  }
  const peak = runs.reduce((a, b) => (b.peakDeltaBytes > a.peakDeltaBytes ? b : a));
  const cpuAdapter = /swiftshader|llvmpipe|lavapipe/i.test(peak.adapter);
  // On a CPU adapter the GPU's memory is the process's: the uploaded weights are resident too, and belong to the
  // device, not to the load. On a GPU they live in VRAM and the peak is the load's own.
  const host = cpuAdapter ? peak.peakDeltaBytes - peak.weightBytes : peak.peakDeltaBytes;
  const note = cpuAdapter
    ? `CPU adapter: the ${mib(peak.weightBytes)} of weights on the "GPU" are host memory, counted in RSS and taken out of hostRatio`
    : 'GPU adapter: RSS holds no device memory';
  const medianLoadMs = median(runs.map((r) => r.loadMs));
  log(
    `  ${dir} load: ${(medianLoadMs / 1000).toFixed(1)} s (median of ${MEMORY_RUNS}), GPU ${mib(peak.gpuBytes)} = ${peak.gpuRatio.toFixed(3)}x the ${mib(peak.fileBytes)} file; ` +
      `peak RSS +${mib(peak.peakDeltaBytes)}, ${mib(host)} beyond the GPU weights = ${(host / peak.fileBytes).toFixed(2)}x the file`,
  );
  return { ...peak, runs, medianLoadMs, ratio: peak.peakDeltaBytes / peak.fileBytes, hostRatio: host / peak.fileBytes, note };
}

/** The F16 checkpoint and its F32 copy, loaded each on their own; F16 / F32 load time and GPU bytes. */
function loadMemories(b: HfBench): Gpt2Result['memory'] {
  const f16 = loadMemory(b.dir);
  const f32 = loadMemory(f32Dir(b));
  if (!f16 || !f32) return { f16, f32 };
  const f16OverF32 = { loadMs: f16.medianLoadMs / f32.medianLoadMs, gpuBytes: f16.gpuBytes / f32.gpuBytes };
  log(`  ${b.name} F16 / F32: load time ${f16OverF32.loadMs.toFixed(2)}x, GPU memory ${f16OverF32.gpuBytes.toFixed(2)}x`);
  return { f16, f32, f16OverF32 };
}

/** ctx.buffers.stats after the first forward against the issue's bound; logs it, and loudly when it is broken. */
function gpuMemory(b: HfBench, model: Model, ctx: GpuContext, before: number, weightBytes: number): GpuMemory | undefined {
  const s = model.planStats;
  if (!s) return undefined;
  const fileBytes = statSync(join(MODELS, b.dir, 'model.safetensors')).size;
  const totalBytes = ctx.buffers.stats.bytes - before;
  const bound = 1.1 * fileBytes + s.slotBytes + 2 * s.readbackBytes + 256 * s.dispatches;
  const m: GpuMemory = {
    fileBytes,
    weightBytes,
    totalBytes,
    slotBytes: s.slotBytes,
    readbackBytes: s.readbackBytes,
    dispatches: s.dispatches,
    bound,
    weightsWithin: weightBytes <= 1.1 * fileBytes,
    totalWithin: totalBytes <= bound,
  };
  const ok = m.weightsWithin && m.totalWithin;
  log(
    `  ${b.name} GPU memory (F16, after the forward): weights ${mib(weightBytes)} = ${(weightBytes / fileBytes).toFixed(3)}x the file; total ${mib(totalBytes)} ` +
      `${m.totalWithin ? '<=' : '>'} ${mib(bound)} (1.1x file + ${mib(s.slotBytes)} slots + staging + uniforms)${ok ? '' : ' -- OVER THE BOUND'}`,
  );
  return m;
}

export async function benchHf(b: HfBench, repeats: number, ctx: GpuContext, page: Page | undefined): Promise<Gpt2Result | undefined> {
  if (!prepare(b)) return undefined;
  const t0 = performance.now();
  const start = loadavg();
  const info = JSON.parse(readFileSync(join(MODELS, `${b.name}.json`), 'utf8')) as ExportInfo;
  const ref = readReference(readFileSync(join(MODELS, `${b.name}.io.safetensors`)), b);
  const shape = `${info.n_layer} layers, d ${info.n_embd}, ${info.n_head} heads${info.n_kv_head ? ` on ${info.n_kv_head} KV heads` : ''}, vocab ${info.vocab_size}`;
  log(`${b.name} (${shape}, L ${info.length}, ${info.new_tokens} new tokens)`);
  const memory = loadMemories(b);

  const results = new Map<Engine, EngineResult>(ENGINES.map((e) => [e, { engine: e, forwardMs: [], generateMs: [] }]));
  const fail = (e: Engine, err: unknown) => {
    const r = results.get(e)!;
    r.error ??= errorText(err);
    log(`  ${b.name} ${e}: failed: ${r.error}`);
  };
  const gpuBefore = ctx.buffers.stats.bytes;
  const l0 = performance.now();
  const model = await Model.fromCheckpoint(ctx, directoryFiles(join(MODELS, b.dir)));
  model.setForwardHook('attn', b.attention);
  results.get('attnscope (node)')!.loadMs = performance.now() - l0;
  const weightBytes = ctx.buffers.stats.bytes - gpuBefore;
  let gpu: GpuMemory | undefined;
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
      if (e === 'attnscope (node)') gpu = gpuMemory(b, model, ctx, gpuBefore, weightBytes);
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
    gpuMemory: gpu,
    engines: [...results.values()],
    forwardOrtOverAttnscope: ratio(ort.medianForwardMs, browser.medianForwardMs),
    generateOrtOverAttnscope: ratio(ort.medianGenerateMs, browser.medianGenerateMs),
    loadAverage: { start, end: loadavg() },
    totalMs: performance.now() - t0,
  };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const ms = (x?: number) => (x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const rate = (x?: number) => (x === undefined ? '—' : x.toFixed(2));
const times = (x?: number) => (x === undefined ? '—' : `${x.toFixed(2)}×`);

/** The README's table: per engine forward, generate, tokens/s and the checks; then F16 vs F32 loads and the GPU memory bound. */
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
  lines.push('', '| checkpoint | file | load, s | GPU bytes (ctx.buffers.stats) | GPU / file | peak RSS during the load |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, m] of [['F16', r.memory.f16], ['F32', r.memory.f32]] as const) {
    if (!m) lines.push(`| ${name} | failed | | | | |`);
    else lines.push(`| ${name} | ${mib(m.fileBytes)} | ${(m.medianLoadMs / 1000).toFixed(1)} | ${mib(m.gpuBytes)} | ${m.gpuRatio.toFixed(3)} | +${mib(m.peakDeltaBytes)} |`);
  }
  const q = r.memory.f16OverF32;
  if (q) lines.push('', `F16 / F32: load time ${times(q.loadMs)}, GPU memory ${times(q.gpuBytes)}`);
  const g = r.gpuMemory;
  if (g) {
    lines.push(
      `GPU memory of the F16 model after a forward at L ${r.length} with every attention captured: weights ${mib(g.weightBytes)} (${(g.weightBytes / g.fileBytes).toFixed(3)}× the file, ` +
        `${g.weightsWithin ? 'within' : 'OVER'} 1.1×); total ${mib(g.totalBytes)}, ${g.totalWithin ? 'within' : 'OVER'} 1.1× the file + activation slots ${mib(g.slotBytes)} + staging + uniforms = ${mib(g.bound)}`,
    );
  }
  return lines.join('\n');
}
