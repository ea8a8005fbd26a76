// The `attnscope` CLI as a user runs it: built from src/cli/main.ts into a fresh folder (never a stale dist/), run with
// node in a child process, its files and streams checked. Also: models freshly exported by tools/export_torch.py
// from every config of the fixture matrix match PyTorch through the CLI (when /usr/bin/python3 has torch).
import { execFile, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWIFTSHADER_ICD } from '../src/gpu/node.ts';
import type { CapturedTensor } from '../src/hooks/registry.ts';
import { attnDownsampleRef } from '../src/kernels/attn_downsample.ts';
import { attnEntropyRef } from '../src/kernels/attn_entropy.ts';
import { attnTopkRef } from '../src/kernels/attn_topk.ts';
import { directoryFiles } from '../src/model/hf/dir.ts';
import { loadTokenizer } from '../src/model/hf/tokenizer.ts';
import { INPUT_NAMES } from '../src/model/inputs.ts';
import { readSafetensors, type TensorEntry, type TensorInput, writeSafetensors } from '../src/model/safetensors.ts';
import { maxAbsDiff, PARITY_ATOL } from './parity.cases.ts';
import { noTorch, PYTHON } from './python.ts';
import { rolloutF64 } from './rollout_ref.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(repo, 'test', 'fixtures');

let buildDir = '';
let cliJs = '';
let work = '';
/**
 * The environment the CLI runs in. Dawn prints adapter-probing noise to stderr on a machine with no GPU (the Vulkan
 * loader's "XDG_RUNTIME_DIR is invalid", lavapipe's rejection, then the CLI's own SwiftShader notice); the tests
 * pin what the CLI would pick anyway so stderr holds only what the CLI means to say.
 */
let env: NodeJS.ProcessEnv = {};

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function node(args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): Result {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, args, { cwd: work, env: opts.env ?? env, encoding: 'utf8', timeout: opts.timeout ?? 60_000 });
  if (r.error) throw new Error(`node ${args.join(' ')}: ${r.error.message}\nstderr: ${r.stderr}`);
  if (r.signal) throw new Error(`node ${args.join(' ')}: killed by ${r.signal}\nstderr: ${r.stderr}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A child process without blocking the event loop (so several can run at once). */
function spawnAsync(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeout?: number }): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...opts, encoding: 'utf8', timeout: opts.timeout ?? 90_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(new Error(`${cmd} ${args.join(' ')}: ${error.message}\nstderr: ${stderr}`));
      else resolve({ status: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

const attnscope = (args: string[], opts?: { env?: NodeJS.ProcessEnv }): Result => node([cliJs, ...args], opts);

function lines(s: string): string[] {
  const l = s.split('\n');
  if (l.at(-1) === '') l.pop();
  return l;
}

/**
 * Asserts a failed run: nothing on stdout, stderr exactly one `attnscope: ` line; exit status 1, or for usage errors
 * 2 with a hint to the command's --help at the end of the line.
 */
function expectFailure(r: Result, message: RegExp, opts: { usage?: boolean } = {}): void {
  const err = lines(r.stderr);
  expect(r.status, `exit status; stderr:\n${r.stderr}`).toBe(opts.usage ? 2 : 1);
  expect(err, r.stderr).toHaveLength(1);
  expect(err[0], r.stderr).toMatch(/^attnscope: /);
  const [, text, hint] = /^(.*?)( \(see attnscope (?:[a-z-]+ )?--help\))?$/.exec(err[0])!;
  expect(text).toMatch(message);
  expect(hint !== undefined, `usage hint in: ${err[0]}`).toBe(opts.usage === true);
  expect(r.stdout).toBe('');
}

/** Lines Dawn prints while it probes for an adapter (the Vulkan loader, lavapipe, the CLI's SwiftShader notice). */
const DAWN_NOISE = /XDG_RUNTIME_DIR|Vulkan|vkCreateInstance|SwiftShader|BackendType|adapter/;

/** An environment whose Vulkan ICD list names nothing: asking for an adapter makes Dawn (and the CLI) say so. */
const noGpuEnv = (): NodeJS.ProcessEnv => ({ ...env, VK_ICD_FILENAMES: join(work, 'no-such-icd.json') });

/**
 * Asserts a failure found before any GPU adapter was requested: run with --debug (one process, Dawn's messages
 * not dropped) in noGpuEnv, the first stderr line is the error and no line is Dawn's adapter probing.
 */
function expectFailureBeforeGpu(args: string[], message: RegExp, opts: { usage?: boolean } = {}): void {
  const r = attnscope([...args, '--debug'], { env: noGpuEnv() });
  const err = lines(r.stderr);
  expect(r.status, r.stderr).toBe(opts.usage ? 2 : 1);
  expect(err[0].replace(/ \(see attnscope (?:[a-z-]+ )?--help\)$/, '')).toMatch(message);
  expect(err.filter((l) => DAWN_NOISE.test(l)), r.stderr).toEqual([]);
}

/** The output file (and any temporary sibling of it) must not exist. */
function expectNoOutput(out: string): void {
  expect(existsSync(out), `${out} was left behind`).toBe(false);
  const dir = join(out, '..');
  const base = out.slice(dir.length + 1);
  expect(readdirSync(dir).filter((f) => f.startsWith(base))).toEqual([]);
}

function readIo(name: string): Map<string, TensorEntry> {
  return readSafetensors(readFileSync(join(fixtures, `${name}.io.safetensors`)), `${name}.io.safetensors`).tensors;
}

/** The forward arguments of a fixture's io file, as a list the writer takes. */
function fixtureInputs(name: string): TensorInput[] {
  const io = readIo(name);
  return INPUT_NAMES.flatMap((n) => {
    const t = io.get(n);
    return t ? [{ name: n, dtype: t.dtype, shape: t.shape, data: t.data }] : [];
  });
}

function writeInputs(file: string, tensors: readonly TensorInput[]): string {
  const path = join(work, file);
  writeFileSync(path, writeSafetensors(tensors));
  return path;
}

let n = 0;
/** A fresh output path in the work folder. */
const outPath = (): string => join(work, `out-${++n}.safetensors`);

function readOutput(path: string): TensorEntry {
  const f = readSafetensors(readFileSync(path), path);
  expect([...f.tensors.keys()]).toEqual(['output']);
  return f.tensors.get('output')!;
}

beforeAll(() => {
  // Inside the repository so the bundle's bare imports (webgpu, wgsl-preprocessor) resolve from node_modules.
  mkdirSync(join(repo, 'test-output'), { recursive: true });
  buildDir = mkdtempSync(join(repo, 'test-output', 'cli-'));
  const vite = join(repo, 'node_modules', 'vite', 'bin', 'vite.js');
  const b = spawnSync(process.execPath, [vite, 'build', '--ssr', 'src/cli/main.ts', '--outDir', buildDir, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (b.status !== 0) throw new Error(`vite build of src/cli/main.ts failed (${b.error?.message ?? `status ${b.status}`}):\n${b.stdout}\n${b.stderr}`);
  cliJs = join(buildDir, 'main.js');
  work = mkdtempSync(join(tmpdir(), 'attnscope-cli-test-'));

  // The Vulkan loader wants XDG_RUNTIME_DIR (a private folder; mkdtemp makes it 0700).
  env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? work };
  // Where the CLI falls back to SwiftShader (it says so on stderr), pin it: the same adapter, without the probing.
  if (!env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    const probe = attnscope(['info', join(fixtures, 'len2-h8-seqfirst.model.safetensors')]);
    if (probe.stderr.includes('using SwiftShader')) env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
}, 120_000);

afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('attnscope run', () => {
  const cases = [
    { name: 'post-relu-seqfirst', what: 'nn.Transformer [L, B, E], float causal tgt_mask, bool key padding' },
    { name: 'bool-masks-eps1e-3', what: 'every mask bool', repeat: 2 },
    { name: 'pre-gelu-batchfirst', what: 'nn.Transformer [B, L, E], bool src_mask' },
    { name: 'seq2seq-sinusoidal', what: 'token seq2seq, I64 ids [B, L]' },
  ];
  for (const c of cases) {
    it(`${c.name} (${c.what}): output matches PyTorch, one submit`, () => {
      const inputs = writeInputs(`${c.name}.in.safetensors`, fixtureInputs(c.name));
      const out = outPath();
      const args = ['run', join(fixtures, `${c.name}.model.safetensors`), '--inputs', inputs, '--out', out];
      if (c.repeat) args.push('--repeat', String(c.repeat));
      const r = attnscope(args);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/\b\d+ dispatches, 1 submit per forward\b/);
      if (c.repeat) expect(r.stdout).toContain(`median of ${c.repeat}`);
      expect(lines(r.stdout).at(-1)).toMatch(/^wrote /);
      expect(lines(r.stdout).at(-1)!.startsWith(`wrote ${out}`)).toBe(true);
      const want = readIo(c.name).get('output')!;
      const got = readOutput(out);
      expect(got.dtype).toBe('F32');
      expect(got.shape).toEqual(want.shape);
      const err = maxAbsDiff(got.data, want.data);
      expect(err, `max |cli - torch| = ${err}`).toBeLessThanOrEqual(PARITY_ATOL);
      expect(readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
    });
  }
});

describe('attnscope run --capture', () => {
  it('writes the matched modules\' attention weights and outputs, matching PyTorch\'s', () => {
    const name = 'post-relu-seqfirst';
    const inputs = writeInputs(`${name}.capture.in.safetensors`, fixtureInputs(name));
    const out = outPath();
    const r = attnscope(['run', join(fixtures, `${name}.model.safetensors`), '--inputs', inputs, '--out', out, '--capture', 'encoder.layers.*.self_attn', '--capture', 'decoder.layers.1']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\b\d+ dispatches, 1 submit per forward\b/);
    const got = readSafetensors(readFileSync(out), out).tensors;
    const io = readIo(name);
    for (const t of ['output', 'encoder.layers.0.self_attn.weights', 'encoder.layers.1.self_attn.weights', 'decoder.layers.1.output']) {
      const g = got.get(t);
      const w = io.get(t)!;
      expect(g, `${out} lacks ${t}; it has ${[...got.keys()].join(', ')}`).toBeDefined();
      expect(g!.shape, t).toEqual(w.shape);
      const err = maxAbsDiff(g!.data, w.data);
      expect(err, `${t}: max |cli - torch| = ${err}`).toBeLessThanOrEqual(PARITY_ATOL);
    }
  });
});

describe('attnscope run --relevance', () => {
  const grads = (name: string) => readSafetensors(readFileSync(join(fixtures, `${name}.grad.safetensors`)), name).tensors;
  for (const [name, target] of [['post-relu-seqfirst', '-1,0,0'], ['seq2seq-sinusoidal', '0,-1,0'], ['lm-learned-causal', '-1,0,0']]) {
    it(`${name} '${target}': relevance maps match the same rules on PyTorch's autograd`, () => {
      const inputs = writeInputs(`${name}.relevance.in.safetensors`, fixtureInputs(name));
      const out = outPath();
      const r = attnscope(['run', join(fixtures, `${name}.model.safetensors`), '--inputs', inputs, '--out', out, `--relevance=${target}`]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`relevance of ${target} \\(value -?[\\d.e+-]+\\): [a-z, ]+; backward \\d+ dispatches, 1 submit`));
      const got = readSafetensors(readFileSync(out), out).tensors;
      const want = [...grads(name)].filter(([k]) => k.startsWith('relevance_last.'));
      expect(want.length).toBeGreaterThan(0);
      expect([...got.keys()].filter((k) => k.startsWith('relevance.')).sort()).toEqual(want.map(([k]) => k.replace('relevance_last.', 'relevance.')).sort());
      for (const [k, w] of want) {
        const g = got.get(k.replace('relevance_last.', 'relevance.'))!;
        expect(g.shape).toEqual(w.shape);
        const scale = Math.max(...Array.from(w.data as Float32Array, Math.abs));
        expect(maxAbsDiff(g.data, w.data) / scale, k).toBeLessThanOrEqual(1e-4);
      }
    });
  }

  it('a target that does not fit the output is a usage error, found before any GPU is asked for', () => {
    const name = 'post-relu-seqfirst';
    const inputs = writeInputs(`${name}.relevance-bad.in.safetensors`, fixtureInputs(name));
    const cases = [
      ['--relevance', '0,0', /^attnscope: --relevance 0,0: 2 entries for an output of 3 dims \[5, 2, 24\]$/],
      ['--relevance', 'x,0,0', /^attnscope: --relevance x,0,0: 'x' is not an integer$/],
      ['--relevance', '9,0,0', /^attnscope: --relevance 9,0,0: target dim 0: 9 is out of range for size 5$/],
      ['--relevance', '-1,0,0', /argument is ambiguous \(a value starting with a dash goes as --relevance=-1,…\)$/],
    ] as const;
    for (const [flag, target, msg] of cases) {
      const out = outPath();
      expectFailure(attnscope(['run', join(fixtures, `${name}.model.safetensors`), '--inputs', inputs, '--out', out, flag, target], { env: noGpuEnv() }), msg, { usage: true });
      expectNoOutput(out);
    }
  });
});

describe('attnscope info', () => {
  it('prints the config and every module by its PyTorch path', () => {
    const r = attnscope(['info', join(fixtures, 'post-relu-seqfirst.model.safetensors')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(JSON.parse(out[0])).toMatchObject({ kind: 'transformer', d_model: 24, nhead: 3, num_encoder_layers: 2, num_decoder_layers: 2 });
    const paths = out.slice(1).map((l) => l.split(/\s+/)[0]);
    for (const p of ['encoder', 'encoder.layers.0.self_attn', 'encoder.layers.1.linear2', 'encoder.norm', 'decoder.layers.1.multihead_attn.out_proj', 'decoder.layers.1.norm3']) {
      expect(paths).toContain(p);
    }
    expect(out).toContain('encoder.layers.0.self_attn  MultiheadAttention');
    expect(out).toContain('decoder.layers.1.multihead_attn.out_proj  Linear');
  });

  it('names a seq2seq model\'s modules under transformer.', () => {
    const r = attnscope(['info', join(fixtures, 'seq2seq-sinusoidal.model.safetensors')]);
    expect(r.status).toBe(0);
    const paths = lines(r.stdout).slice(1).map((l) => l.split(/\s+/)[0]);
    expect(paths).toEqual(expect.arrayContaining(['transformer.encoder.layers.0.self_attn', 'transformer.decoder.layers.1.multihead_attn', 'generator']));
  });
});

describe('attnscope errors: exit 1, one line on stderr, no output file', () => {
  const model = (name: string) => join(fixtures, `${name}.model.safetensors`);

  it('a missing model file', () => {
    const inputs = writeInputs('missing.in.safetensors', fixtureInputs('post-relu-seqfirst'));
    const out = outPath();
    const missing = join(work, 'no-such-model.safetensors');
    expectFailure(attnscope(['run', missing, '--inputs', inputs, '--out', out]), /^attnscope: cannot read model file .*no-such-model\.safetensors: ENOENT$/);
    expectNoOutput(out);
    expectFailure(attnscope(['info', missing]), /^attnscope: cannot read model file .*no-such-model\.safetensors: ENOENT$/);
  });

  it('a missing inputs file', () => {
    const out = outPath();
    expectFailure(attnscope(['run', model('post-relu-seqfirst'), '--inputs', join(work, 'no-such-inputs.safetensors'), '--out', out]), /cannot read inputs file .*no-such-inputs\.safetensors: ENOENT$/);
    expectNoOutput(out);
  });

  it('a corrupt (truncated) model file', () => {
    const bytes = readFileSync(model('post-relu-seqfirst'));
    const inputs = writeInputs('corrupt.in.safetensors', fixtureInputs('post-relu-seqfirst'));
    // Cut inside the header, then inside the data section.
    for (const [file, keep] of [['cut-header.safetensors', 3000], ['cut-data.safetensors', bytes.length - 1000]] as const) {
      const path = join(work, file);
      writeFileSync(path, bytes.subarray(0, keep));
      const out = outPath();
      const message = new RegExp(`^attnscope: .*${file.replace('.', '\\.')}: .*\\(truncated\\?\\)$`);
      expectFailure(attnscope(['run', path, '--inputs', inputs, '--out', out]), message);
      expectNoOutput(out);
      expectFailure(attnscope(['info', path]), message);
    }
  });

  it('a model file, an input, a pattern or a flag that does not fit the model is reported before any GPU adapter is requested', () => {
    const path = join(work, 'cut-header-2.safetensors');
    writeFileSync(path, readFileSync(model('post-relu-seqfirst')).subarray(0, 3000));
    const inputs = writeInputs('nogpu.in.safetensors', fixtureInputs('post-relu-seqfirst'));
    const wide = writeInputs('nogpu-wide.in.safetensors', fixtureInputs('post-relu-seqfirst').map((t) => (t.name === 'src' ? { ...t, shape: [7, 2, 23], data: Array.from(t.data).slice(0, 7 * 2 * 23) } : t)));
    const m = model('post-relu-seqfirst');
    expectFailureBeforeGpu(['info', join(work, 'no-such-model.safetensors')], /cannot read model file/);
    expectFailureBeforeGpu(['info', path], /\(truncated\?\)$/);
    expectFailureBeforeGpu(['run', path, '--inputs', inputs], /\(truncated\?\)$/);
    expectFailureBeforeGpu(['run', m, '--inputs', wide], /^attnscope: input src: shape \[7, 2, 23\], expected \[L, B, E\] with E = 24$/);
    expectFailureBeforeGpu(['run', m, '--inputs', inputs, '--capture', 'encoder.nope'], /^attnscope: no module 'encoder.nope' in this model/);
    expectFailureBeforeGpu(['run', m, '--inputs', inputs, '--capture', '**.self_attn', '--heads', '0,3'], /^attnscope: --heads: encoder.layers.0.self_attn has 3 heads; there is no head 3$/, { usage: true });
    expectFailureBeforeGpu(['run', m, '--inputs', inputs, '--capture', 'encoder.layers.0', '--average-heads'], /^attnscope: --average-heads applies to attention modules; --capture matched encoder.layers.0 \(a TransformerEncoderLayer\)$/, { usage: true });
    expectFailureBeforeGpu(['run', m, '--inputs', inputs, '--relevance', '0,0'], /^attnscope: --relevance 0,0: 2 entries/, { usage: true });
    expectFailureBeforeGpu(['run', m, '--inputs', inputs, '--kernels', 'attention=fast'], /^attnscope: --kernels attention=fast: 'attention=fast' is not one of attention=fused\|steps, /, { usage: true });
  });

  it('an inputs file with a tensor that is not a forward argument', () => {
    const inputs = writeInputs('bogus.in.safetensors', [...fixtureInputs('post-relu-seqfirst'), { name: 'bogus', dtype: 'F32', shape: [2], data: [1, 2] }]);
    const out = outPath();
    expectFailure(attnscope(['run', model('post-relu-seqfirst'), '--inputs', inputs, '--out', out]), /^attnscope: .*bogus\.in\.safetensors: tensor 'bogus' is not a forward argument \(expected some of src, tgt, /);
    expectNoOutput(out);
  });

  it('an input of the wrong shape', () => {
    // post-relu-seqfirst: src is [S, B, E] = [7, 2, 24]; give it E = 23.
    const tensors = fixtureInputs('post-relu-seqfirst').map((t) => (t.name === 'src' ? { ...t, shape: [7, 2, 23], data: Array.from(t.data).slice(0, 7 * 2 * 23) } : t));
    const inputs = writeInputs('shape.in.safetensors', tensors);
    const out = outPath();
    expectFailure(attnscope(['run', model('post-relu-seqfirst'), '--inputs', inputs, '--out', out]), /^attnscope: input src: shape \[7, 2, 23\], expected \[L, B, E\] with E = 24$/);
    expectNoOutput(out);
  });

  it('a token id outside the vocabulary (seq2seq)', () => {
    const tensors = fixtureInputs('seq2seq-sinusoidal').map((t) => {
      if (t.name !== 'src') return t;
      const data = Array.from(t.data);
      data[4] = 1000;
      return { ...t, data };
    });
    const inputs = writeInputs('vocab.in.safetensors', tensors);
    const out = outPath();
    expectFailure(attnscope(['run', model('seq2seq-sinusoidal'), '--inputs', inputs, '--out', out]), /^attnscope: input src: token id 1000 at index 4 is outside the vocabulary \[0, \d+\)$/);
    expectNoOutput(out);
  });

  it('usage errors: exit 2, one line ending in a hint to --help', () => {
    expectFailure(attnscope([]), /^attnscope: no command given$/, { usage: true });
    expectFailure(attnscope(['frobnicate', model('post-relu-seqfirst')]), /^attnscope: unknown command 'frobnicate' \(commands: run, generate, fill-mask, info\b/, { usage: true });
    expectFailure(attnscope(['run', model('post-relu-seqfirst')]), /^attnscope: run needs --inputs IN\.safetensors \(or --text TEXT with a checkpoint directory\)$/, { usage: true });
    expectFailure(attnscope(['info']), /^attnscope: info needs a MODEL\.safetensors path or a MODEL_DIR$/, { usage: true });
    expectFailure(attnscope(['generate']), /^attnscope: generate needs a MODEL_DIR$/, { usage: true });
    expectFailure(attnscope(['info', model('post-relu-seqfirst'), 'extra']), /^attnscope: unexpected arguments: extra$/, { usage: true });
    const out = outPath();
    expectFailure(attnscope(['run', model('post-relu-seqfirst'), '--inputs', 'x', '--repeat', '0', '--out', out]), /^attnscope: --repeat 0: expected a positive integer$/, { usage: true });
    expectNoOutput(out);
  });

  it('an unknown command without a model path is still an unknown command', () => {
    expectFailure(attnscope(['frobnicate']), /^attnscope: unknown command 'frobnicate' \(commands: run, generate, fill-mask, info\b/, { usage: true });
  });

  it('an unknown option', () => {
    expectFailure(attnscope(['info', model('post-relu-seqfirst'), '--frob']), /^attnscope: Unknown option '--frob'$/, { usage: true });
  });

  it('--help prints the usage on stdout and exits 0; COMMAND --help only that command\'s', () => {
    const r = attnscope(['--help']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)[0]).toBe('usage:');
    for (const c of ['run', 'generate', 'fill-mask', 'info']) expect(r.stdout).toContain(`  attnscope ${c} `);
    const run = attnscope(['run', '--help']);
    expect(run.status).toBe(0);
    expect(lines(run.stdout)[1]).toMatch(/^ {2}attnscope run MODEL \(--inputs IN\.safetensors \| --text TEXT\) \[--out OUT\.safetensors\]/);
    expect(run.stdout).not.toContain('attnscope generate ');
  });

  it('--version prints the package\'s version', () => {
    const r = attnscope(['--version']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${(JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });

  it('--debug adds the stack', () => {
    const r = attnscope(['info', join(work, 'no-such-model.safetensors'), '--debug']);
    expect(r.status).toBe(1);
    const err = lines(r.stderr);
    expect(err[0]).toMatch(/^attnscope: cannot read model file .*: ENOENT$/);
    expect(err[1]).toMatch(/^Error: cannot read model file/);
    expect(err.slice(2).length).toBeGreaterThan(0);
    expect(err.slice(2).every((l) => /^\s+at /.test(l))).toBe(true);
  });
});

describe('attnscope conventions: --json, info without a GPU, Dawn kept quiet, progress, --heads/--queries/--kernels', () => {
  const name = 'post-relu-seqfirst';
  const m = () => join(fixtures, `${name}.model.safetensors`);

  it('run --json prints one object: the output shape, times, plan, what was written', () => {
    const inputs = writeInputs(`${name}.json.in.safetensors`, fixtureInputs(name));
    const out = outPath();
    const r = attnscope(['run', m(), '--inputs', inputs, '--out', out, '--json', '--rollout', '--repeat', '2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toHaveLength(1);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ model: m(), kind: 'transformer', output: { shape: [5, 2, 24] }, out: { path: out, tensors: ['output', 'rollout.encoder', 'rollout.decoder'] }, rollout: [{ stream: 'encoder', layers: 2 }, { stream: 'decoder', layers: 2 }] });
    expect(j.forward_ms).toMatchObject({ runs: 2 });
    expect((j.plan as { submitsPerForward: number }).submitsPerForward).toBe(1);
    expect(readSafetensors(readFileSync(out), out).tensors.get('output')!.shape).toEqual([5, 2, 24]);
  });

  it('info --json lists config, modules, attention and inputs, and opens no GPU', () => {
    const r = attnscope(['info', m(), '--json', '--debug'], { env: noGpuEnv() });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { config: object; modules: { path: string; kind: string }[]; attention: { path: string; heads: number }[]; inputs: string[] };
    expect(j.config).toMatchObject({ kind: 'transformer', nhead: 3 });
    expect(j.modules).toContainEqual({ path: 'encoder.layers.0.self_attn', kind: 'MultiheadAttention' });
    expect(j.attention.map((a) => a.path)).toContain('decoder.layers.1.multihead_attn');
    expect(j.inputs).toContain('src_key_padding_mask');
  });

  it('Dawn\'s adapter probing stays off the terminal unless --debug', () => {
    // No XDG_RUNTIME_DIR and no pinned ICD: where there is no GPU, Dawn prints the loader's complaints and lavapipe's.
    const raw: NodeJS.ProcessEnv = { ...process.env };
    delete raw.XDG_RUNTIME_DIR;
    delete raw.VK_ICD_FILENAMES;
    const inputs = writeInputs(`${name}.noise.in.safetensors`, fixtureInputs(name));
    const quiet = attnscope(['run', m(), '--inputs', inputs], { env: raw });
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toMatch(/^transformer on /);
    const debug = attnscope(['run', m(), '--inputs', inputs, '--debug'], { env: raw });
    expect(debug.status).toBe(0);
    const noise = lines(debug.stderr).filter((l) => DAWN_NOISE.test(l));
    console.log(`--debug shows ${noise.length} lines of adapter probing here${noise.length ? `, e.g. ${noise[0]}` : ' (a machine with a GPU: nothing to hide)'}`);
    // A failure in the GPU process is still one line.
    expectFailure(attnscope(['run', m(), '--inputs', inputs, '--relevance=0,0,99'], { env: raw }), /out of range for size 24$/, { usage: true });
  });

  it('progress: a status line on stderr, erased before results and errors; --quiet silences it', () => {
    const inputs = writeInputs(`${name}.progress.in.safetensors`, fixtureInputs(name));
    const r = attnscope(['run', m(), '--inputs', inputs, '--progress']);
    expect(r.status).toBe(0);
    const ERASE = '\r\x1b[K';
    expect(r.stderr.startsWith(`${ERASE}attnscope: reading ${m()}… (`)).toBe(true);
    expect(r.stderr).toContain('attnscope: opening the GPU…');
    expect(r.stderr).toContain('attnscope: compiling and running the forward…');
    expect(r.stderr.endsWith(ERASE)).toBe(true);
    const failed = attnscope(['run', join(work, 'no-such.safetensors'), '--inputs', inputs, '--progress']);
    expect(failed.status).toBe(1);
    // What a terminal shows once the carriage returns and erasures have done their work: the one error line.
    expect(failed.stderr.split(ERASE).at(-1)).toMatch(/^attnscope: cannot read model file .*: ENOENT\n$/);
    const quiet = attnscope(['run', m(), '--inputs', inputs, '--progress', '--quiet']);
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe('');
  });

  it('--heads and --queries cut the captured weights to those heads and query rows', () => {
    const inputs = writeInputs(`${name}.heads.in.safetensors`, fixtureInputs(name));
    const [full, cut] = [outPath(), outPath()];
    const at = 'encoder.layers.0.self_attn';
    expect(attnscope(['run', m(), '--inputs', inputs, '--out', full, '--capture', at]).status).toBe(0);
    const r = attnscope(['run', m(), '--inputs', inputs, '--out', cut, '--capture', at, '--heads', '0,2', '--queries', '1:4']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const w = readSafetensors(readFileSync(full), full).tensors.get(`${at}.weights`)!;
    const c = readSafetensors(readFileSync(cut), cut).tensors.get(`${at}.weights`)!;
    const [B, H, L, S] = w.shape;
    expect([B, H, L, S]).toEqual([2, 3, 7, 7]);
    expect(c.shape).toEqual([B, 2, 3, S]);
    const want: number[] = [];
    for (let b = 0; b < B; b++) for (const h of [0, 2]) for (let q = 1; q < 4; q++) for (let k = 0; k < S; k++) want.push(w.data[((b * H + h) * L + q) * S + k]);
    expect(maxAbsDiff(c.data, want)).toBe(0);
  });

  it('--kernels picks the attention and matmul kernels; the outputs agree', () => {
    const inputs = writeInputs(`${name}.kernels.in.safetensors`, fixtureInputs(name));
    const runWith = (k: string) => {
      const out = outPath();
      const r = attnscope(['run', m(), '--inputs', inputs, '--out', out, '--json', '--kernels', k]);
      expect(r.status, r.stderr).toBe(0);
      return { kernels: (JSON.parse(r.stdout) as { kernels: Record<string, string> }).kernels, output: readOutput(out) };
    };
    const a = runWith('attention=fused,matmul=tiled');
    const b = runWith('attention=steps,matmul=direct,rows=wide');
    expect(a.kernels).toMatchObject({ attention: 'fused', matmul: 'tiled' });
    expect(b.kernels).toEqual({ attention: 'steps', matmul: 'direct', rows: 'wide' });
    const want = readIo(name).get('output')!;
    expect(maxAbsDiff(a.output.data, want.data)).toBeLessThanOrEqual(PARITY_ATOL);
    expect(maxAbsDiff(b.output.data, want.data)).toBeLessThanOrEqual(PARITY_ATOL);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Acceptance: a newly seeded model exported by tools/export_torch.py from any config in the matrix matches PyTorch
// through the CLI.


describe('models freshly exported by tools/export_torch.py', () => {
  it.skipIf(noTorch !== undefined)(
    `every config of the matrix, seed 7, matches PyTorch through the CLI${noTorch ? ` (skipped: ${noTorch})` : ''}`,
    async () => {
      const py = async (args: string[]): Promise<string> => {
        const r = await spawnAsync(PYTHON, ['tools/export_torch.py', ...args], { cwd: repo, env });
        if (r.status !== 0) throw new Error(`export_torch.py ${args.join(' ')}: status ${r.status}\n${r.stderr}`);
        return r.stdout;
      };
      const configs = lines(await py(['--list'])).map((l) => l.split(/\s+/)[0]);
      expect(configs.length).toBeGreaterThanOrEqual(20);
      const file = (name: string, k: string) => join(work, `export-${name}.${k}.safetensors`);
      // Every export in one Python process (importing torch takes seconds): export_torch.main with the arguments the
      // command line would give it.
      const exportAll = [
        'import sys; sys.path.insert(0, "tools"); import export_torch as ex',
        'for name, m, i, e in zip(*[iter(sys.argv[1:])] * 4):',
        '    if ex.main(["--config", name, "--seed", "7", "--out", m, "--inputs", i, "--expected", e]) != 0: sys.exit(f"{name}: export failed")',
      ].join('\n');
      const exported = await spawnAsync(PYTHON, ['-c', exportAll, ...configs.flatMap((c) => [c, file(c, 'model'), file(c, 'in'), file(c, 'expected')])], { cwd: repo, env, timeout: 200_000 });
      expect(exported.status, exported.stderr).toBe(0);
      /** Runs one exported config through the CLI; returns the max abs error against PyTorch. */
      const check = async (name: string): Promise<number> => {
        const [m, i, e, o] = ['model', 'in', 'expected', 'out'].map((k) => file(name, k));
        const inputs = [...readSafetensors(readFileSync(i), i).tensors.keys()];
        expect(inputs.filter((k) => !(INPUT_NAMES as readonly string[]).includes(k)), `${name}: --inputs holds only forward arguments`).toEqual([]);
        const r = await spawnAsync(process.execPath, [cliJs, 'run', m, '--inputs', i, '--out', o], { cwd: work, env });
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        expect(r.stderr, name).toBe('');
        expect(r.stdout, name).toMatch(/ 1 submit per forward/);
        const want = readSafetensors(readFileSync(e), e).tensors.get('output')!;
        const got = readOutput(o);
        expect(got.shape, name).toEqual(want.shape);
        return maxAbsDiff(got.data, want.data);
      };
      // One per core (at most 4): each a CLI process (on SwiftShader, mostly pipeline compiles).
      const errors = new Map<string, number>();
      const queue = [...configs];
      const worker = async () => {
        for (let name = queue.shift(); name !== undefined; name = queue.shift()) errors.set(name, await check(name));
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(4, availableParallelism())) }, worker));
      console.log(`export_torch.py --seed 7 -> attnscope run, max |cli - torch|:\n${configs.map((c) => `  ${c.padEnd(30)} ${errors.get(c)!.toExponential(2)}`).join('\n')}`);
      for (const c of configs) expect(errors.get(c), `${c}: max |cli - torch|`).toBeLessThanOrEqual(PARITY_ATOL);
    },
    300_000,
  );
});

describe('tools/export_torch.py --module --state-dict: a user\'s own checkpoint', () => {
  it.skipIf(noTorch !== undefined)(`exports it; the CLI's output matches PyTorch's; a checkpoint that does not fit is one line${noTorch ? ` (skipped: ${noTorch})` : ''}`, async () => {
    const dir = join(work, 'user-model');
    mkdirSync(join(dir, 'mypkg'), { recursive: true });
    writeFileSync(join(dir, 'mypkg', '__init__.py'), '');
    writeFileSync(
      join(dir, 'mypkg', 'models.py'),
      'import torch.nn as nn\n\ndef build():\n    return nn.Transformer(d_model=16, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=40, dropout=0.0, norm_first=True)\n',
    );
    // "Training": a seeded state dict saved as users save one (nested, DataParallel's prefix), then PyTorch's output.
    const py = [
      'import sys, torch; sys.path[:0] = [".", sys.argv[1]]',
      'from export_torch import save_tensors; from mypkg.models import build',
      'torch.manual_seed(3); m = build().eval()',
      'torch.save({"state_dict": {"module." + k: v for k, v in m.state_dict().items()}}, "ckpt.pt")',
      'bad = m.state_dict(); bad.pop("decoder.layers.0.norm2.bias"); torch.save(bad, "bad.pt")',
      'src = torch.randn(6, 2, 16); tgt = torch.randn(5, 2, 16); mask = torch.nn.Transformer.generate_square_subsequent_mask(5)',
      'with torch.no_grad(): out = m(src, tgt, tgt_mask=mask)',
      'save_tensors("in.safetensors", {"src": src, "tgt": tgt, "tgt_mask": mask}); save_tensors("expected.safetensors", {"output": out})',
    ].join('\n');
    const made = await spawnAsync(PYTHON, ['-c', py, join(repo, 'tools')], { cwd: dir, env });
    expect(made.status, made.stderr).toBe(0);
    const exporter = (args: string[]) => spawnAsync(PYTHON, [join(repo, 'tools', 'export_torch.py'), '--module', 'mypkg.models:build', ...args], { cwd: dir, env });
    const ok = await exporter(['--state-dict', 'ckpt.pt', '--out', 'model.safetensors']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('mypkg.models:build: transformer -> model.safetensors\n');
    const out = outPath();
    const r = attnscope(['run', join(dir, 'model.safetensors'), '--inputs', join(dir, 'in.safetensors'), '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const want = readSafetensors(readFileSync(join(dir, 'expected.safetensors')), 'expected').tensors.get('output')!;
    const got = readOutput(out);
    expect(got.shape).toEqual([5, 2, 16]);
    expect(maxAbsDiff(got.data, want.data)).toBeLessThanOrEqual(PARITY_ATOL);
    const bad = await exporter(['--state-dict', 'bad.pt', '--out', 'bad.safetensors']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe("export_torch.py: --state-dict bad.pt does not fit mypkg.models:build: missing ['decoder.layers.0.norm2.bias'], unexpected []\n");
    expect(existsSync(join(dir, 'bad.safetensors'))).toBe(false);
  }, 180_000);
});

describe('attnscope run --rollout', () => {
  for (const [name, streams] of [['post-relu-seqfirst', ['decoder', 'encoder']], ['lm-learned-causal', ['lm']]] as const) {
    it(`${name}: rollout.${streams.join(', rollout.')} equal an f64 rollout of the captured self-attention weights`, () => {
      const inputs = writeInputs(`${name}.rollout.in.safetensors`, fixtureInputs(name));
      const out = outPath();
      const r = attnscope(['run', join(fixtures, `${name}.model.safetensors`), '--inputs', inputs, '--out', out, '--rollout', '--capture', '**.self_attn']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^rollout of .*\(2 layers\)/m);
      const got = readSafetensors(readFileSync(out), out).tensors;
      expect([...got.keys()].filter((k) => k.startsWith('rollout.')).sort()).toEqual(streams.map((s) => `rollout.${s}`));
      for (const s of streams) {
        const stack = s === 'lm' ? 'encoder' : s;
        const weights = [...got.keys()].filter((k) => k.startsWith(`${stack}.layers.`) && k.endsWith('.self_attn.weights')).sort().map((k) => got.get(k) as CapturedTensor);
        expect(weights).toHaveLength(2);
        const [B, , L] = weights[0].shape;
        const g = got.get(`rollout.${s}`)!;
        expect(g.shape).toEqual([B, L, L]);
        const want = Array.from({ length: B }, (_, b) => rolloutF64(weights, b).flat()).flat();
        const err = maxAbsDiff(g.data, want);
        expect(err, `rollout.${s}: max |cli - f64| = ${err}`).toBeLessThanOrEqual(1e-6);
      }
    });
  }
});

describe('attnscope run --topk / --entropy / --downsample', () => {
  it('writes the summaries of the captured attention modules instead of their weights, equal to the references on the weights', () => {
    const name = 'lm-learned-causal';
    const model = join(fixtures, `${name}.model.safetensors`);
    const inputs = writeInputs(`${name}.summary.in.safetensors`, fixtureInputs(name));
    const [full, sum] = [outPath(), outPath()];
    expect(attnscope(['run', model, '--inputs', inputs, '--out', full, '--capture', '**.self_attn']).status).toBe(0);
    const r = attnscope(['run', model, '--inputs', inputs, '--out', sum, '--capture', '**.self_attn', '--topk', '3', '--entropy', '--downsample', '4']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const w = readSafetensors(readFileSync(full), full).tensors;
    const got = readSafetensors(readFileSync(sum), sum).tensors;
    for (const p of ['encoder.layers.0.self_attn', 'encoder.layers.1.self_attn']) {
      expect(got.has(`${p}.weights`)).toBe(false);
      const weights = w.get(`${p}.weights`)!;
      const [B, H, L, S] = weights.shape;
      const d = { B, H, L, S };
      const probs = Float32Array.from(weights.data as Float32Array);
      const topk = attnTopkRef(probs, d, 3);
      const ds = attnDownsampleRef(probs, d, 4);
      for (const [n, want, tol] of [['topk.values', topk.values, 1e-6], ['topk.indices', topk.indices, 0], ['entropy', attnEntropyRef(probs, d), 1e-5], ['downsample.max', ds.max, 0], ['downsample.mean', ds.mean, 0]] as const) {
        const g = got.get(`${p}.${n}`);
        expect(g, `${sum} lacks ${p}.${n}`).toBeDefined();
        expect(maxAbsDiff(g!.data, want), `${p}.${n}`).toBeLessThanOrEqual(tol);
      }
    }
    const bad = attnscope(['run', model, '--inputs', inputs, '--topk', '3']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--topk needs --capture/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Hugging Face checkpoint directories (test/fixtures/hf, docs/hf-reference.md): token ids or text in; logits,
// attentions, continuations and mask guesses out.

describe('attnscope on Hugging Face checkpoint directories', () => {
  const hf = (name: string) => join(fixtures, 'hf', name);
  const hfIo = (name: string) => readSafetensors(readFileSync(join(hf(name), 'io.safetensors')), `${name}/io.safetensors`).tensors;
  /** The case's forward arguments (its index.json inputs) from its io.safetensors, as an inputs file. */
  const hfInputs = (name: string, inputs: readonly string[]): string =>
    writeInputs(`${name}.hf.in.safetensors`, inputs.map((n) => hfIo(name).get(n)!));
  /** A copy of a fixture checkpoint to break. */
  const copy = (name: string, as: string): string => {
    const dir = join(work, as);
    cpSync(hf(name), dir, { recursive: true });
    return dir;
  };
  const logits = (out: string): TensorEntry => readSafetensors(readFileSync(out), out).tensors.get('output')!;
  /** `run NAME --text TEXT`'s logits [1, L, V]: L, and the row of position p. */
  const textLogits = (name: string, text: string): { L: number; row: (p: number) => number[] } => {
    const out = outPath();
    expect(attnscope(['run', hf(name), '--text', text, '--out', out]).status).toBe(0);
    const { data, shape } = logits(out);
    const V = shape[2];
    return { L: shape[1], row: (p) => Array.from(data.subarray(p * V, (p + 1) * V)) };
  };
  const tokenizer = async (name: string) => (await loadTokenizer(directoryFiles(hf(name))))!;
  const tokenIds = (name: string, text: string) => (JSON.parse(readFileSync(join(hf(name), 'tokenizer_expect.json'), 'utf8')) as { text: string; ids: number[] }[]).find((e) => e.text === text)!.ids;

  const cases = [
    { name: 'gpt2_lm', inputs: ['input_ids'], capture: 'transformer.h.*.attn' },
    { name: 'bert_mlm', inputs: ['input_ids', 'attention_mask', 'token_type_ids'], capture: 'bert.encoder.layer.*.attention.self' },
    // A Llama folder (#14): grouped-query attention, F16 weights kept packed on the GPU.
    { name: 'llama_lm_f16', inputs: ['input_ids'], capture: 'model.layers.*.self_attn' },
  ];
  for (const c of cases) {
    it(`run ${c.name} --inputs (${c.inputs.join(', ')}): logits and every layer's attention match the HF reference`, () => {
      const out = outPath();
      const r = attnscope(['run', hf(c.name), '--inputs', hfInputs(c.name, c.inputs), '--out', out, '--capture', c.capture]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/\b\d+ dispatches, 1 submit per forward\b/);
      const got = readSafetensors(readFileSync(out), out).tensors;
      const io = hfIo(c.name);
      const weights = [...io.keys()].filter((k) => k.endsWith('.weights'));
      expect(weights).toHaveLength(2);
      for (const t of ['output', ...weights]) {
        expect(got.get(t)?.shape, `${t} in ${[...got.keys()].join(', ')}`).toEqual(io.get(t)!.shape);
        expect(maxAbsDiff(got.get(t)!.data, io.get(t)!.data), t).toBeLessThanOrEqual(t === 'output' ? 1e-4 : 1e-5);
      }
    });
  }

  it('run --text: prints the tokens; the logits equal run --inputs of the tokenizer\'s ids', () => {
    const text = 'the cat sat on the mat.';
    const ids = tokenIds('gpt2_lm', text);
    const [a, b] = [outPath(), outPath()];
    const r = attnscope(['run', hf('gpt2_lm'), '--text', text, '--out', a]);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)[0]).toBe('tokens: ["the","Ġcat","Ġsat","Ġon","Ġthe","Ġmat","."]');
    expect(attnscope(['run', hf('gpt2_lm'), '--inputs', writeInputs('text-ids.in.safetensors', [{ name: 'input_ids', dtype: 'I32', shape: [1, ids.length], data: ids }]), '--out', b]).status).toBe(0);
    expect(logits(a).shape).toEqual([1, ids.length, 298]);
    expect(maxAbsDiff(logits(a).data, logits(b).data)).toBe(0);
  });

  it('generate: the first token is the argmax of the prompt\'s last logits; N tokens print one line', async () => {
    const prompt = 'the cat sat on the mat.';
    const { L, row } = textLogits('gpt2_lm', prompt);
    const last = row(L - 1);
    const next = last.indexOf(Math.max(...last));
    const tok = await tokenizer('gpt2_lm');
    const one = attnscope(['generate', hf('gpt2_lm'), '--text', prompt, '--max-new-tokens', '1']);
    expect(one.stderr).toBe('');
    expect(one.status).toBe(0);
    expect(one.stdout).toBe(`${tok.decode([next], { skipSpecial: true })}\n`);
    const six = attnscope(['generate', hf('gpt2_lm'), '--text', prompt, '--max-new-tokens', '6']);
    expect(six.status).toBe(0);
    expect(six.stdout.startsWith(one.stdout.slice(0, -1))).toBe(true);
    expect(lines(six.stdout)).toHaveLength(1);
  });

  it('generate --temperature --top-k --seed: a seed repeats its draw; top-k 1 is greedy', () => {
    const gen = (...flags: string[]) => {
      const r = attnscope(['generate', hf('gpt2_lm'), '--text', 'the cat', '--max-new-tokens', '8', ...flags]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      return r.stdout;
    };
    const greedy = gen();
    const seven = gen('--temperature', '2', '--seed', '7');
    expect(gen('--temperature', '2', '--seed', '7')).toBe(seven);
    expect(seven).not.toBe(greedy);
    expect(gen('--temperature', '2', '--top-k', '1', '--seed', '7')).toBe(greedy);
    expectFailure(attnscope(['generate', hf('gpt2_lm'), '--text', 'x', '--max-new-tokens', '2', '--temperature', 'hot']), /^attnscope: --temperature hot: expected a number$/, { usage: true });
    expectFailure(attnscope(['generate', hf('gpt2_lm'), '--text', 'x', '--max-new-tokens', '2', '--temperature=-1']), /^attnscope: generate: temperature -1 must be a finite number >= 0/);
  });

  it('fill-mask: the top-k tokens at each mask with the softmax of the MLM logits there', async () => {
    const text = 'the [MASK] sat on the [MASK].';
    const { row: logitsAt } = textLogits('bert_mlm', text);
    const tok = await tokenizer('bert_mlm');
    const masks = tok.encode(text).ids.flatMap((id, i) => (id === tok.special.mask!.id ? [i] : []));
    expect(masks).toEqual([2, 6]);
    const want = masks.flatMap((p) => {
      const row = logitsAt(p);
      const max = Math.max(...row);
      const sum = row.reduce((s, x) => s + Math.exp(x - max), 0);
      const top = [...row.keys()].sort((x, y) => row[y] - row[x]).slice(0, 3);
      return [`[MASK] at token ${p}:`, ...top.map((id) => [tok.token(id), (Math.exp(row[id] - max) / sum).toFixed(4)])];
    });
    const r = attnscope(['fill-mask', hf('bert_mlm'), '--text', text, '--top-k', '3']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(lines(r.stdout).map((l) => (l.startsWith('  ') ? l.trim().split(/\s+/) : l))).toEqual(want);
  });

  it('info prints the config and the modules by their HF paths', () => {
    const r = attnscope(['info', hf('bert_mlm')]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(lines(r.stdout)[0])).toMatchObject({ kind: 'bert', head: 'mlm', vocab_size: 88 });
    expect(lines(r.stdout).slice(1).map((l) => l.split(/\s+/)[0])).toEqual(expect.arrayContaining(['bert.encoder.layer.1.attention.self', 'cls.predictions']));
  });

  it('a broken checkpoint is one line naming the file, field or tensor, before any GPU is asked for', () => {
    const inputs = hfInputs('gpt2_lm', ['input_ids']);
    const noConfig = copy('gpt2_lm', 'ckpt-no-config');
    rmSync(join(noConfig, 'config.json'));
    const badJson = copy('gpt2_lm', 'ckpt-bad-json');
    writeFileSync(join(badJson, 'config.json'), '{"model_type": "gpt2",');
    const unknown = copy('gpt2_lm', 'ckpt-unknown');
    writeFileSync(join(unknown, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(hf('gpt2_lm'), 'config.json'), 'utf8')), model_type: 'xlnet' }));
    const lacking = copy('gpt2_lm', 'ckpt-lacking');
    const weights = readSafetensors(readFileSync(join(lacking, 'model.safetensors')), 'model').tensors;
    writeFileSync(join(lacking, 'model.safetensors'), writeSafetensors([...weights.values()].filter((t) => t.name !== 'transformer.h.1.mlp.c_fc.weight')));
    const cases = [
      [noConfig, /ckpt-no-config: no config\.json \(not a Hugging Face checkpoint directory\?\)$/],
      [badJson, /ckpt-bad-json\/config\.json: not valid JSON/],
      [unknown, /ckpt-unknown\/config\.json: config\.json field "model_type": "xlnet" is not a supported family \(supported: gpt2, /],
      [lacking, /ckpt-lacking: gpt2 checkpoint lacks tensor "transformer\.h\.1\.mlp\.c_fc\.weight" \[30, 120\]$/],
    ] as const;
    for (const [dir, message] of cases) {
      const out = outPath();
      expectFailureBeforeGpu(['run', dir, '--inputs', inputs, '--out', out], message);
      expectNoOutput(out);
    }
    const bogus = writeInputs('hf-bogus.in.safetensors', [{ name: 'src', dtype: 'F32', shape: [1], data: [0] }]);
    expectFailureBeforeGpu(['run', hf('gpt2_lm'), '--inputs', bogus], /hf-bogus\.in\.safetensors: tensor 'src' is not a forward argument \(expected some of input_ids, attention_mask, position_ids\)$/);
    expectFailureBeforeGpu(['run', hf('gpt2_base'), '--text', 'the cat'], /gpt2_base: no tokenizer\.json, which --text needs \(give token ids with --inputs IN\.safetensors instead\)$/);
    expectFailureBeforeGpu(['generate', join(fixtures, 'post-relu-seqfirst.model.safetensors'), '--text', 'x', '--max-new-tokens', '2'], /^attnscope: generate needs a checkpoint directory with tokenizer\.json; .* is an attnscope model file$/, { usage: true });
  });

  it('what a model or its tokenizer cannot do is one line; nothing is written', () => {
    const ids = hfIo('gpt2_lm').get('input_ids')!;
    const outside = writeInputs('hf-vocab.in.safetensors', [{ name: 'input_ids', dtype: 'I64', shape: ids.shape, data: Array.from(ids.data, (v, i) => (i === 3 ? 298 : v)) }]);
    const out = outPath();
    expectFailure(attnscope(['run', hf('gpt2_lm'), '--inputs', outside, '--out', out]), /^attnscope: input input_ids: token id 298 at index 3 is outside the vocabulary \[0, 298\)$/);
    expectNoOutput(out);
    expectFailure(attnscope(['fill-mask', hf('gpt2_lm'), '--text', 'the [MASK]']), /^attnscope: fill-mask: the tokenizer has no mask token/);
    expectFailure(attnscope(['fill-mask', hf('bert_mlm'), '--text', 'the cat sat']), /^attnscope: fill-mask: the text has no \[MASK\]$/);
    expectFailure(attnscope(['generate', hf('bert_mlm'), '--text', 'the cat', '--max-new-tokens', '2']), /^attnscope: generate: a bert model has no vocabulary to generate from/);
    expectFailure(attnscope(['generate', hf('gpt2_lm'), '--text', 'the cat']), /^attnscope: generate needs --max-new-tokens N$/, { usage: true });
  });
});
