// `attnscope analyze` run as a user would (the built CLI in a child process), its files against the PyTorch values of
// test/fixtures/causal (tools/make_causal_fixtures.py): integrated gradients on GPT-2, a patching sweep on the nn lm
// (the other methods share the library calls test/causal.test.ts checks), each under both kernel sets (--kernels);
// usage mistakes named.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseTarget } from '../src/cli/analyze.ts';
import { SWIFTSHADER_ICD } from '../src/gpu/node.ts';
import { readSafetensors, type SafetensorsFile, writeSafetensors } from '../src/model/safetensors.ts';
import { assertClose, KERNEL_SETS, kernelSetName } from './harness.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(repo, 'test', 'fixtures');
const TOL = { atol: 1e-4, rtol: 1e-4 };
/** A child analyze run's limit (a GPT-2 IG took 91 s on 2 shared cores at load 30), and a test's. */
const CHILD_MS = 240_000;
const TEST_MS = CHILD_MS + 20_000;
let buildDir = '';
let work = '';
let env: NodeJS.ProcessEnv = {};

beforeAll(() => {
  mkdirSync(join(repo, 'test-output'), { recursive: true });
  buildDir = mkdtempSync(join(repo, 'test-output', 'cli-causal-'));
  const vite = join(repo, 'node_modules', 'vite', 'bin', 'vite.js');
  const b = spawnSync(process.execPath, [vite, 'build', '--ssr', 'src/cli/main.ts', '--outDir', buildDir, '--emptyOutDir', '--logLevel', 'warn'], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
  if (b.status !== 0) throw new Error(`vite build of src/cli/main.ts failed:\n${b.stdout}\n${b.stderr}`);
  work = mkdtempSync(join(tmpdir(), 'attnscope-analyze-test-'));
  env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? work };
  if (!env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
}, 120_000);
afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

function analyze(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(buildDir, 'main.js'), 'analyze', ...args], { cwd: work, env, encoding: 'utf8', timeout: CHILD_MS });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The fixture's tensors under `prefix`, written as an inputs file. */
function inputsFile(fx: SafetensorsFile, prefix: string, file: string): string {
  const tensors = [...fx.tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => ({ ...t, name: k.slice(prefix.length) }));
  const path = join(work, file);
  writeFileSync(path, writeSafetensors(tensors));
  return path;
}

const fixture = (name: string) => readSafetensors(readFileSync(join(fixtures, 'causal', `${name}.safetensors`)), name);
const out = (f: string) => readSafetensors(readFileSync(join(work, f)), f);

it('--target SPEC: logit, prob, diff, each @POSITION; @POSITION alone; anything else a usage error', () => {
  expect(parseTarget('diff:3,4@-2')).toEqual({ metric: { logitDiff: [3, 4], position: -2 }, position: -2 });
  expect(parseTarget('prob:7')).toEqual({ metric: { prob: 7 }, position: undefined });
  expect(parseTarget('@3')).toEqual({ position: 3 });
  for (const bad of ['diff:3', 'logit:1,2', 'x:1', '', 'prob:-1']) expect(() => parseTarget(bad)).toThrow(/--target .*: expected logit:T/);
});

/** Each kernel set as `--kernels` names it, beside its name for the test title. */
const SETS = KERNEL_SETS.map((k) => [kernelSetName(k), `attention=${k.attention},matmul=${k.matmul},rows=${k.rows}`] as const);

it.each(SETS)('ig on the GPT-2 checkpoint (%s): input_ids.attribution equals torch, completeness written', (_, kernels) => {
  const fx = fixture('gpt2');
  const spec = JSON.parse(fx.metadata.spec);
  const r = analyze([join(fixtures, 'hf', 'gpt2_lm'), '--inputs', inputsFile(fx, 'input.', 'gpt2.in.safetensors'), '--out', 'ig.safetensors', '--method', 'ig', '--steps', '8', '--target', `logit:${spec.target[1]}@${spec.target[0]}`, '--kernels', kernels]);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^ig: output 234 at position 6 .* attributed to input_ids; completeness error/);
  const o = out('ig.safetensors');
  assertClose('ig', o.tensors.get('input_ids.attribution')!.data as Float32Array, fx.tensors.get('attr.ig.input_ids')!.data as Float32Array, TOL);
  expect(o.tensors.get('input_ids.tokens')!.shape).toEqual([7]);
  expect(JSON.parse(o.metadata.analysis)).toMatchObject({ method: 'ig', target: { position: 6, index: 234 } });
}, TEST_MS);

it.each(SETS)('patch on the nn lm (%s): patching.<layer> per layer as torch computes it', (_, kernels) => {
  const fx = fixture('lm');
  const spec = JSON.parse(fx.metadata.spec);
  const model = join(fixtures, 'lm-learned-causal.model.safetensors');
  const inputs = inputsFile(fx, 'input.', 'lm.in.safetensors');
  const p = analyze([model, '--inputs', inputs, '--corrupted', inputsFile(fx, 'corrupted.', 'lm.corrupted.safetensors'), '--out', 'patch.safetensors', '--method', 'patch', '--target', `diff:${spec.logitDiff.join(',')}`, '--kernels', kernels]);
  expect(p.status, p.stderr).toBe(0);
  const want = fx.tensors.get('patch.position')!.data as Float32Array;
  const L = want.length / spec.layers.length;
  spec.layers.forEach((m: string, i: number) => assertClose(`patching.${m}`, out('patch.safetensors').tensors.get(`patching.${m}`)!.data as Float32Array, want.subarray(i * L, (i + 1) * L), TOL));
}, TEST_MS);

it('usage mistakes are named: no method, patch without --corrupted or a metric', () => {
  const model = join(fixtures, 'lm-learned-causal.model.safetensors');
  const inputs = inputsFile(fixture('lm'), 'input.', 'lm2.in.safetensors');
  expect(analyze([model, '--inputs', inputs, '--out', 'x.safetensors']).stderr).toMatch(/analyze needs --method ig\|ixg\|grad\|patch\|heads\|lens/);
  expect(analyze([model, '--inputs', inputs, '--out', 'x.safetensors', '--method', 'patch', '--target', 'prob:1']).stderr).toMatch(/--method patch needs --corrupted/);
  expect(analyze([model, '--inputs', inputs, '--out', 'x.safetensors', '--method', 'heads']).stderr).toMatch(/--method heads needs --target diff:A,B \| prob:T \| logit:T/);
});
