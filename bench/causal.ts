// Causal analysis, batched against one run per variant: a full layer x position activation patching sweep and a
// 32-step integrated-gradients attribution, on the medium nn.Transformer config (4 + 4 layers, d 256, 8 heads, ff 1024,
// float src / tgt) and on a GPT-2-small-shaped GPT2LMHeadModel (12 layers, d 768, 12 heads, vocab 50257), with
// seeded random weights. Three engines, side by side in one run:
//   batched            attnscope: every variant a row of batched forwards (maxBatch 64)
//   one per variant    attnscope, the same engine, maxBatch 1: one forward (+ backward) per site / step
//   torch CPU loop     PyTorch 1.13 (bench/causal_torch.py), one forward per site, one forward + backward per step
// One-per-variant patching times the first module's positions, torch the first --sample sites; both are scaled to the
// whole sweep (said in the table);
// the IG runs are timed whole. A warm-up (one-module sweep, 2-step IG) compiles the pipelines first; the load average
// is printed and saved beside the times.
//
// Run: npm run bench:causal [-- --configs medium,gpt2] [--length N] [--gpt2-length N] [--sample N] [--steps 32]
//                             [--json FILE (default bench/results/causal-<adapter>.json)]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createNodeContext } from '../src/gpu/node.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import { type FileConfig, writeModelFile } from '../src/model/config.ts';
import { directoryFiles } from '../src/model/hf/dir.ts';
import { f32, generateSquareSubsequentMask, type ModelInputs } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { writeSafetensors } from '../src/model/safetensors.ts';
import { randomWeights, rng, uniform } from './model_common.ts';
import { attribute, patchingSweep } from '../src/analysis/index.ts';
import { BenchArgs } from './args.ts';
import { adapterSlug, RESULTS, ROOT } from './shared.ts';

const PYTHON = '/usr/bin/python3';
const TORCH_LOOP = new URL('./causal_torch.py', import.meta.url).pathname;

interface Setup {
  name: string;
  shape: string;
  model: Model;
  inputs: ModelInputs;
  corrupted: ModelInputs;
  sites: string[];
  /** For the torch loop: its KIND and MODEL arguments and the inputs file. */
  torch: { kind: 'transformer' | 'gpt2'; model: string; inputs: string };
}

export interface CausalResult {
  config: string;
  shape: string;
  length: number;
  sites: number;
  steps: number;
  /** The 1-minute load average when the run ended (the machine may be shared). */
  load?: number;
  patch: { batchedMs: number; batchedForwards: number; perVariantMs: number; perVariantTimed: number; torchMs?: number; torchTimed?: number };
  ig: { batchedMs: number; perVariantMs: number; torchMs?: number };
  /** The torch loop's PyTorch, the BLAS it loaded (it decides PyTorch's CPU speed many times over) and its threads. */
  torch?: { version: string; blas: string | null; threads: number };
}

const USAGE = 'npm run bench:causal -- [--configs medium,gpt2] [--length 16] [--gpt2-length 8] [--sample 8] [--steps 32] [--json FILE]';

function options() {
  const a = new BenchArgs(USAGE, ['configs', 'length', 'gpt2-length', 'sample', 'steps', 'json']);
  return {
    configs: a.list('configs', 'medium,gpt2', ['medium', 'gpt2'] as const),
    length: a.int('length', 16),
    gpt2Length: a.int('gpt2-length', 8),
    sample: a.int('sample', 8),
    steps: a.int('steps', 32, 2),
    json: a.string('json'),
  };
}

async function medium(ctx: GpuContext, L: number, work: string): Promise<Setup> {
  const config: FileConfig = {
    format_version: 1, kind: 'transformer', d_model: 256, nhead: 8, dim_feedforward: 1024, num_encoder_layers: 4, num_decoder_layers: 4,
    activation: 'relu', layer_norm_eps: 1e-5, norm_first: false, batch_first: false, bias: true, encoder_norm: true, decoder_norm: true,
  };
  const bytes = writeModelFile(config, randomWeights(config, 1234));
  const path = join(work, 'medium.safetensors');
  writeFileSync(path, bytes);
  const rand = rng(99);
  const seq = () => f32(uniform(rand, L * 256, 1), [L, 1, 256]);
  const inputs: ModelInputs = { src: seq(), tgt: seq(), tgt_mask: generateSquareSubsequentMask(L) };
  const corrupted: ModelInputs = { ...inputs, src: seq(), tgt: seq() };
  const torchInputs = join(work, 'medium.in.safetensors');
  writeFileSync(torchInputs, writeSafetensors(['src', 'tgt'].map((n) => ({ name: n, ...(inputs[n] as { dtype: 'F32'; shape: number[]; data: Float32Array }) }))));
  return {
    name: 'medium', shape: '4+4 layers, d 256, 8 heads, ff 1024', model: Model.load(ctx, bytes, 'bench medium'), inputs, corrupted,
    sites: ['encoder.layers.*', 'decoder.layers.*'], torch: { kind: 'transformer', model: path, inputs: torchInputs },
  };
}

/** A GPT-2-small-shaped checkpoint folder with seeded weights (std 0.02 matrices, as HF initialises GPT-2). */
async function gpt2(ctx: GpuContext, L: number, work: string): Promise<Setup> {
  const E = 768;
  const V = 50257;
  const cfg = { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: V, n_positions: 1024, n_embd: E, n_layer: 12, n_head: 12, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 };
  const rand = rng(7);
  const t = (name: string, shape: number[], fill?: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return { name, dtype: 'F32' as const, shape, data: fill === undefined ? uniform(rand, n, 0.035) : new Float32Array(n).fill(fill) };
  };
  const tensors = [t('transformer.wte.weight', [V, E]), t('transformer.wpe.weight', [1024, E]), t('transformer.ln_f.weight', [E], 1), t('transformer.ln_f.bias', [E], 0)];
  for (let i = 0; i < 12; i++) {
    const p = `transformer.h.${i}.`;
    tensors.push(
      t(`${p}ln_1.weight`, [E], 1), t(`${p}ln_1.bias`, [E], 0), t(`${p}attn.c_attn.weight`, [E, 3 * E]), t(`${p}attn.c_attn.bias`, [3 * E], 0),
      t(`${p}attn.c_proj.weight`, [E, E]), t(`${p}attn.c_proj.bias`, [E], 0), t(`${p}ln_2.weight`, [E], 1), t(`${p}ln_2.bias`, [E], 0),
      t(`${p}mlp.c_fc.weight`, [E, 4 * E]), t(`${p}mlp.c_fc.bias`, [4 * E], 0), t(`${p}mlp.c_proj.weight`, [4 * E, E]), t(`${p}mlp.c_proj.bias`, [E], 0),
    );
  }
  const dir = join(work, 'gpt2');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensors));
  const ids = (seed: number) => ({ dtype: 'I32' as const, shape: [1, L], data: Int32Array.from({ length: L }, (_, i) => (seed * 7919 + i * 104729) % V) });
  const inputs = { input_ids: ids(1) };
  const torchInputs = join(work, 'gpt2.in.safetensors');
  writeFileSync(torchInputs, writeSafetensors([{ name: 'input_ids', ...inputs.input_ids }]));
  return {
    name: 'gpt2', shape: '12 layers, d 768, 12 heads, vocab 50257', model: await Model.fromCheckpoint(ctx, directoryFiles(dir)), inputs, corrupted: { input_ids: ids(2) },
    sites: ['transformer.h.*'], torch: { kind: 'gpt2', model: dir, inputs: torchInputs },
  };
}

const since = (t0: number) => performance.now() - t0;

async function benchOne(s: Setup, L: number, o: ReturnType<typeof options>, log: (line: string) => void): Promise<CausalResult> {
  const { model } = s;
  const metric = { logitDiff: [0, 1] as [number, number] };
  const sweep = (maxBatch: number, sites: string | string[] = s.sites) => patchingSweep(model, { clean: s.inputs, corrupted: s.corrupted, sites, metric, maxBatch });
  const ig = (maxBatch: number, steps = o.steps) => attribute(model, s.inputs, { method: 'ig', steps, maxBatch });
  // Warm-up: a one-module sweep and a 2-step IG, one variant per forward, compile every pipeline the timed runs use;
  // each timed run then compiles only its own plan (a fraction of a second; counted in its time).
  const first = model.modulesMatching(s.sites[0])[0];
  await sweep(1, first);
  await ig(1, 2);
  log(`  warmed up; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  let t0 = performance.now();
  const full = await sweep(64);
  const batchedMs = since(t0);
  const count = full.values.filter((v) => !Number.isNaN(v)).length;
  log(`  patching batched: ${ms(batchedMs)}, ${full.forwards} forwards`);
  // One per variant: the first layer's positions, one forward each (its clean and corrupted forwards included).
  t0 = performance.now();
  const one = await sweep(1, first);
  const perForward = since(t0) / one.forwards;
  log(`  patching one per variant: ${ms(perForward)} per forward`);
  t0 = performance.now();
  await ig(64);
  const igBatched = since(t0);
  log(`  ig batched: ${ms(igBatched)}`);
  t0 = performance.now();
  await ig(1);
  const igOne = since(t0);
  log(`  ig one per variant: ${ms(igOne)}`);
  const torch = torchLoop(s, o, log);
  return {
    config: s.name, shape: s.shape, length: L, sites: count, steps: o.steps, load: loadavg()[0],
    patch: { batchedMs, batchedForwards: full.forwards, perVariantMs: perForward * (count + 2), perVariantTimed: one.forwards, ...(torch ? { torchMs: torch.patchMs, torchTimed: torch.timedSites } : {}) },
    ig: { batchedMs: igBatched, perVariantMs: igOne, ...(torch ? { torchMs: torch.igMs } : {}) },
    ...(torch ? { torch: { version: torch.torch, blas: torch.blas, threads: torch.threads } } : {}),
  };
}

interface TorchLoop {
  torch: string;
  blas: string | null;
  threads: number;
  patchMs: number;
  igMs: number;
  timedSites: number;
}

function torchLoop(s: Setup, o: ReturnType<typeof options>, log: (line: string) => void): TorchLoop | undefined {
  const r = spawnSync(PYTHON, [TORCH_LOOP, s.torch.kind, s.torch.model, s.torch.inputs, String(o.sample), String(o.steps)], { encoding: 'utf8', timeout: 1_800_000, maxBuffer: 1 << 20 });
  if (r.status !== 0) {
    log(`  torch loop failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
    return undefined;
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

const ms = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(0)} ms`);
const ratio = (a: number | undefined, b: number) => (a === undefined ? '—' : `${(a / b).toFixed(1)}x`);

export function causalTable(rs: readonly CausalResult[]): string {
  const rows = rs.flatMap((r) => [
    `| ${r.config} (${r.shape}), L ${r.length} | patching, ${r.sites} sites | ${ms(r.patch.batchedMs)} (${r.patch.batchedForwards} forwards) | ${ms(r.patch.perVariantMs)} (scaled from ${r.patch.perVariantTimed} forwards) | ${r.patch.torchMs === undefined ? '—' : `${ms(r.patch.torchMs)} (scaled from ${r.patch.torchTimed} sites)`} | ${ratio(r.patch.perVariantMs, r.patch.batchedMs)} | ${ratio(r.patch.torchMs, r.patch.batchedMs)} |`,
    `| ${r.config} (${r.shape}), L ${r.length} | integrated gradients, ${r.steps} steps | ${ms(r.ig.batchedMs)} | ${ms(r.ig.perVariantMs)} | ${r.ig.torchMs === undefined ? '—' : ms(r.ig.torchMs)} | ${ratio(r.ig.perVariantMs, r.ig.batchedMs)} | ${ratio(r.ig.torchMs, r.ig.batchedMs)} |`,
  ]);
  return ['| model | analysis | batched | one per variant | torch CPU loop | one per variant / batched | torch / batched |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

async function main(): Promise<void> {
  const o = options();
  const log = (line: string) => console.log(line);
  const ctx = await createNodeContext({ who: 'bench:causal' });
  const work = mkdtempSync(join(tmpdir(), 'attnscope-bench-causal-'));
  const results: CausalResult[] = [];
  try {
    for (const c of o.configs) {
      const L = c === 'gpt2' ? o.gpt2Length : o.length;
      log(`${c}: L ${L}, building…`);
      const s = c === 'gpt2' ? await gpt2(ctx, L, work) : await medium(ctx, L, work);
      try {
        results.push(await benchOne(s, L, o, log));
        log(causalTable(results.slice(-1)));
      } finally {
        s.model.dispose();
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    ctx.dispose();
  }
  const t = results.find((r) => r.torch)?.torch;
  log(`\n${causalTable(results)}\nadapter: ${ctx.adapterName}; torch ${t ? `${t.version} on ${t.threads} threads, BLAS ${t.blas}` : '—'}; load average at the end of each config: ${results.map((r) => `${r.config} ${r.load?.toFixed(1)}`).join(', ')}`);
  const out = o.json ?? join(RESULTS, `causal-${adapterSlug(ctx.adapterName)}.json`);
  writeFileSync(out, `${JSON.stringify({ adapter: ctx.adapterName, date: new Date().toISOString(), args: o, results }, null, 1)}\n`);
  log(`wrote ${relative(ROOT, out)}`);
}

await main();
