#!/usr/bin/env node
// The `attnscope` command: run a model file or a Hugging Face checkpoint on WebGPU (Dawn in Node) and write its
// outputs; with the checkpoint's tokenizer, run text, generate text and fill masks.
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { byStream } from './analysis/attention_modules.ts';
import { rollout } from './analysis/rollout.ts';
import { createNodeContext } from './gpu/node.ts';
import type { HookRecord } from './hooks/registry.ts';
import type { GpuContext } from './gpu/context.ts';
import { type ModelInputs } from './model/inputs.ts';
import { type ModelFile, readModelFile } from './model/config.ts';
import { type CheckpointFiles, readCheckpoint } from './model/hf/checkpoint.ts';
import { directoryFiles } from './model/hf/dir.ts';
import { fillMask, generateText, textInputs } from './model/hf/text.ts';
import { type HfTokenizer, loadTokenizer } from './model/hf/tokenizer.ts';
import { HF_KINDS, kindOf } from './model/kinds/index.ts';
import { Model } from './model/model.ts';
import type { BackwardTarget } from './model/target.ts';
import { formatProfile } from './model/profile.ts';
import { readSafetensors, writeSafetensors } from './model/safetensors.ts';

const USAGE = `usage:
  attnscope run MODEL.safetensors --inputs IN.safetensors [--out OUT.safetensors]
                [--capture PATTERN]... [--average-heads] [--relevance TARGET] [--rollout] [--repeat N] [--profile FILE.json] [--debug]
  attnscope run MODEL_DIR (--inputs IN.safetensors | --text TEXT) [the same options]
  attnscope generate MODEL_DIR --text PROMPT --max-new-tokens N [--temperature T] [--top-k K] [--seed S]
  attnscope fill-mask MODEL_DIR --text TEXT [--top-k K]
  attnscope info MODEL.safetensors | MODEL_DIR

MODEL.safetensors is an attnscope model file; MODEL_DIR a Hugging Face checkpoint directory (config.json and
model.safetensors or its shards; tokenizer.json for --text) of a supported family (${Object.keys(HF_KINDS).join(', ')}).
run     runs one forward pass. IN holds the forward's arguments by name: for a model file src, tgt, memory and
        their masks (float activations, int token ids, masks as F32 = added or U8/BOOL = true blocks); for a
        checkpoint input_ids (I64/I32 [B, L]) and attention_mask (1 keep, 0 padding), token_type_ids or
        position_ids where the family takes them. --text TEXT tokenizes TEXT with the checkpoint's tokenizer
        instead (a batch of one) and prints the tokens.
        OUT receives 'output' (logits, or the last hidden state of a base model). --repeat N runs N forwards and
        reports the median time.
        --capture PATTERN (repeatable; a module path or glob such as 'encoder.layers.*.self_attn')
        also writes each matched module's inputs and outputs as '<path>.input' ('.input.1', …) and
        '<path>.output'; attention modules add '<path>.weights' [B, H, L, S] ([B, L, S] with --average-heads).
        --relevance TARGET backpropagates a scalar of the output on the GPU and writes the relevance maps
        (gradient-weighted attention rolled out across layers, Chefer et al. 2021) as 'relevance.source'
        [B, S, S], 'relevance.target' [B, T, T] and 'relevance.cross' [B, T, S] (those the model has), and the
        gradients of float inputs as '<input>.grad'. TARGET names output elements, one entry per dim of the
        output: an index, FROM:TO, or ':' (all), negative from the end; the target is their sum.
        E.g. --relevance=-1,0,7 is logit 7 at the last position of batch 0 (seq-first [T, B, V]).
        --rollout writes the attention rollout (Abnar & Zuidema 2020: head means mixed half and half with the
        identity, rows renormalised, multiplied up through the layers) of each self-attention stack as
        'rollout.encoder', 'rollout.decoder' or 'rollout.lm' (a causal lm's) [B, L, L], those the model has.
        --profile FILE.json times every dispatch with GPU timestamps (median of --repeat runs, default 5),
        prints the top kernels and modules, and writes the full report to FILE.json.
generate  prints the continuation of PROMPT, at most N tokens (fewer when the model's eos comes): greedy, or with
        --temperature T > 0 each token drawn from softmax(logits / T) over the K largest logits (default all),
        seeded by S (default random) as Hugging Face samples.
fill-mask prints, for each mask token in TEXT ([MASK], <mask>: the tokenizer's), the K most probable tokens
        (default 5) with their probabilities (softmax over the masked-LM head's logits).
info    prints the model's config and its modules, named as PyTorch names them.`;

class UsageError extends Error {}

function readFile(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** Writes next to the destination, then renames: a failed run never leaves a partial file. */
function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** What MODEL names: an attnscope file, or a checkpoint directory (with its files, for the tokenizer). */
interface Source {
  file: ModelFile;
  checkpoint?: CheckpointFiles;
}

/** Reads and fully checks the model before any GPU is asked for: a bad file fails fast and quietly. */
async function readSource(path: string): Promise<Source> {
  let dir = false;
  try {
    dir = statSync(path).isDirectory();
  } catch {
    // Not there: reading it as a model file says so.
  }
  if (!dir) return { file: readModelFile(readFile(path, 'model file'), path) };
  const checkpoint = directoryFiles(path);
  return { file: await readCheckpoint(checkpoint), checkpoint };
}

/** The checkpoint's tokenizer, which `what` needs. */
async function tokenizerOf(src: Source, path: string, what: string): Promise<HfTokenizer> {
  if (!src.checkpoint) throw new UsageError(`${what} needs a checkpoint directory with tokenizer.json; ${path} is an attnscope model file`);
  const tok = await loadTokenizer(src.checkpoint);
  if (!tok) throw new Error(`${path}: no tokenizer.json, which ${what} needs${what === '--text' ? ' (give token ids with --inputs IN.safetensors instead)' : ''}`);
  return tok;
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} ${value}: expected a positive integer`);
  return n;
}

/** A number flag, or undefined when absent; its range is the library's to check (it names the option). */
function numberFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || Number.isNaN(n)) throw new UsageError(`${flag} ${value}: expected a number`);
  return n;
}

/** The GPU opened for `src`'s model, which `body` uses; both are released after. */
async function withModel<T>(src: Source, label: string, body: (model: Model, ctx: GpuContext) => Promise<T>): Promise<T> {
  const ctx = await createNodeContext({ who: label });
  try {
    const model = Model.fromFile(ctx, src.file);
    try {
      return await body(model, ctx);
    } finally {
      model.dispose();
    }
  } finally {
    ctx.dispose();
  }
}

/** The forward's inputs: IN's tensors (each one the model takes) or TEXT tokenized, the tokens printed. */
async function runInputs(src: Source, modelPath: string, opts: RunOptions): Promise<ModelInputs> {
  const accepted = kindOf(src.file.config).inputs;
  if (opts.text !== undefined) {
    const { inputs, encoded } = textInputs(await tokenizerOf(src, modelPath, '--text'), accepted, opts.text);
    console.log(`tokens: ${JSON.stringify(encoded.tokens)}`);
    return inputs;
  }
  const io = readSafetensors(readFile(opts.inputs!, 'inputs file'), opts.inputs);
  const inputs: ModelInputs = {};
  for (const [name, t] of io.tensors) {
    if (!accepted.includes(name)) throw new Error(`${opts.inputs}: tensor '${name}' is not a forward argument (expected some of ${accepted.join(', ')})`);
    inputs[name] = t;
  }
  return inputs;
}

interface RunOptions {
  inputs?: string;
  text?: string;
  relevance?: string;
  rollout?: boolean;
  out?: string;
  repeat?: string;
  capture?: string[];
  'average-heads'?: boolean;
  profile?: string;
}

/** A hook record's tensors under the CLI's names: '<path>.input[.i]', '<path>.output[.i]', '<path>.weights'. */
function captureTensors(rec: HookRecord, attention: boolean): { name: string; shape: number[]; data: Float32Array }[] {
  const named = (field: string, i: number) => `${rec.module}.${attention && field === 'output' && i === 1 ? 'weights' : i === 0 ? field : `${field}.${i}`}`;
  return [
    ...rec.input.map((t, i) => ({ name: named('input', i), ...t })),
    ...(rec.output ?? []).map((t, i) => ({ name: named('output', i), ...t })),
  ];
}

/** '-1,0,2:5' -> a backward target over an output of `shape`: an index when every entry is one, else a slice. */
function parseTarget(spec: string, shape: readonly number[]): BackwardTarget {
  const parts = spec.split(',').map((p) => p.trim());
  if (parts.length !== shape.length) throw new UsageError(`--relevance ${spec}: ${parts.length} entries for an output of ${shape.length} dims [${shape.join(', ')}]`);
  const int = (s: string, dflt: number): number => {
    if (s === '') return dflt;
    if (!/^-?\d+$/.test(s)) throw new UsageError(`--relevance ${spec}: '${s}' is not an integer`);
    return Number(s);
  };
  const dims = parts.map((p, k): number | [number, number] => {
    if (!p.includes(':')) return int(p, NaN);
    const [a, b, ...more] = p.split(':');
    if (more.length) throw new UsageError(`--relevance ${spec}: '${p}' is not FROM:TO`);
    return [int(a, 0), int(b, shape[k])];
  });
  return dims.every((d) => typeof d === 'number') ? { index: dims as number[] } : { slice: dims };
}

async function run(modelPath: string, opts: RunOptions): Promise<void> {
  if (opts.inputs === undefined && opts.text === undefined) throw new UsageError('run needs --inputs IN.safetensors (or --text TEXT with a checkpoint directory)');
  if (opts.inputs !== undefined && opts.text !== undefined) throw new UsageError('run takes --inputs or --text, not both');
  const repeat = opts.repeat === undefined ? 1 : positiveInt('--repeat', opts.repeat);
  const src = await readSource(modelPath);
  const inputs = await runInputs(src, modelPath, opts);
  await withModel(src, modelPath, async (model, ctx) => {
    if (opts['average-heads'] && !opts.capture?.length) throw new UsageError('--average-heads needs --capture');
    const paths = [...new Set((opts.capture ?? []).flatMap((p) => model.modulesMatching(p)))];
    if (paths.includes('')) throw new UsageError('--capture: the root module is the output itself; capture its children');
    const attention = new Set(model.attentionModules().map((m) => m.path));
    for (const p of paths) {
      model.setForwardHook(p, p, undefined, attention.has(p) ? { averageHeads: opts['average-heads'] } : {});
    }
    // Rollout reads every self-attention's full weights: hooks of its own, whatever --capture asked for.
    const stacks = opts.rollout ? [...byStream(model.attentionModules())].filter(([s]) => s !== 'cross') : [];
    for (const [, ms] of stacks) for (const m of ms) model.setForwardHook(`rollout ${m.path}`, m.path);
    if (opts.profile) {
      const report = await model.profile(inputs, { runs: opts.repeat === undefined ? 5 : repeat });
      console.log(formatProfile(report));
      writeAtomically(opts.profile, new TextEncoder().encode(JSON.stringify({ date: new Date().toISOString(), model: modelPath, ...report }, null, 2)));
      console.log(`wrote ${opts.profile}`);
    }
    const times: number[] = [];
    let result;
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      result = await model.forward(inputs, { grad: opts.relevance !== undefined });
      times.push(performance.now() - t0);
    }
    const { output, shape } = result!;
    const s = model.planStats!;
    const sorted = [...times].sort((a, b) => a - b);
    const first = times[0];
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(
      `${model.config.kind} on ${ctx.adapterName}: output [${shape.join(', ')}]; first forward ${first.toFixed(1)} ms` +
        (repeat > 1 ? `, median of ${repeat} ${median.toFixed(1)} ms` : '') +
        `; ${s.dispatches} dispatches, ${s.submitsPerForward} submit per forward; activations ${s.slotBytes} B in ${s.slots} buffers ` +
        `(largest live set ${s.peakLiveBytes} B, unshared ${s.unsharedBytes} B); weights ${model.weightBytes} B`,
    );
    const explained: { name: string; shape: number[]; data: Float32Array }[] = [];
    if (opts.relevance !== undefined) {
      const r = await model.backward(parseTarget(opts.relevance, shape));
      const maps = model.relevanceMaps(r);
      explained.push(...Object.entries(maps).map(([k, t]) => ({ name: `relevance.${k}`, ...t! })));
      explained.push(...Object.entries(r.inputs).map(([k, t]) => ({ name: `${k}.grad`, ...t })));
      const s = model.planStats!.backward!;
      console.log(`relevance of ${opts.relevance} (value ${r.value.toPrecision(6)}): ${Object.keys(maps).join(', ')}; backward ${s.dispatches} dispatches, ${s.submits} submit`);
    }
    for (const [s, ms] of stacks) explained.push({ name: `rollout.${s}`, ...rollout(ms.map((m) => model.hooks[`rollout ${m.path}`].output![1])).at(-1)! });
    if (stacks.length) console.log(`rollout of ${stacks.map(([s, ms]) => `${s} (${ms.length} layers)`).join(', ')}`);
    if (opts.out) {
      const captured = paths.flatMap((p) => captureTensors(model.hooks[p], attention.has(p)));
      const tensors = [{ name: 'output', shape, data: output }, ...captured, ...explained].map((t) => ({ ...t, dtype: 'F32' as const }));
      writeAtomically(opts.out, writeSafetensors(tensors, { producer: 'attnscope' }));
      const extra = [captured.length ? `${captured.length} captures` : '', explained.length ? `${explained.length} analysis tensors` : ''].filter(Boolean);
      console.log(`wrote ${opts.out} (${tensors.length} tensor${tensors.length === 1 ? '' : 's'}${extra.length ? `: output and ${extra.join(' and ')}` : ''})`);
    }
  });
}

interface TextOptions {
  text?: string;
  'max-new-tokens'?: string;
  'top-k'?: string;
  temperature?: string;
  seed?: string;
}

/** The checkpoint, its tokenizer and --text, which generate and fill-mask need before the GPU is opened. */
async function textCommand(command: string, modelPath: string, opts: TextOptions): Promise<{ src: Source; tok: HfTokenizer; text: string }> {
  if (opts.text === undefined) throw new UsageError(`${command} needs --text TEXT`);
  const src = await readSource(modelPath);
  return { src, tok: await tokenizerOf(src, modelPath, command), text: opts.text };
}

async function generateCmd(modelPath: string, opts: TextOptions): Promise<void> {
  if (opts['max-new-tokens'] === undefined) throw new UsageError('generate needs --max-new-tokens N');
  const sampling = {
    maxNewTokens: positiveInt('--max-new-tokens', opts['max-new-tokens']),
    temperature: numberFlag('--temperature', opts.temperature),
    topK: opts['top-k'] === undefined ? undefined : positiveInt('--top-k', opts['top-k']),
    seed: numberFlag('--seed', opts.seed),
  };
  const { src, tok, text } = await textCommand('generate', modelPath, opts);
  await withModel(src, modelPath, async (model) => console.log((await generateText(model, tok, text, sampling)).text));
}

async function fillMaskCmd(modelPath: string, opts: TextOptions): Promise<void> {
  const k = opts['top-k'] === undefined ? 5 : positiveInt('--top-k', opts['top-k']);
  const { src, tok, text } = await textCommand('fill-mask', modelPath, opts);
  await withModel(src, modelPath, async (model) => {
    for (const { position, guesses } of await fillMask(model, tok, text, k)) {
      console.log(`${tok.special.mask!.token} at token ${position}:`);
      const width = Math.max(...guesses.map((g) => g.token.length));
      for (const g of guesses) console.log(`  ${g.token.padEnd(width)}  ${g.prob.toFixed(4)}`);
    }
  });
}

async function info(modelPath: string): Promise<void> {
  await withModel(await readSource(modelPath), modelPath, async (model) => {
    console.log(JSON.stringify({ ...model.config, src_vocab: undefined, tgt_vocab: undefined, vocab: undefined }));
    for (const [path, m] of model.namedModules()) console.log(`${path || '(root)'}  ${m.kind}`);
  });
}

const COMMANDS: Readonly<Record<string, (modelPath: string, values: RunOptions & TextOptions) => Promise<void>>> = {
  run,
  generate: generateCmd,
  'fill-mask': fillMaskCmd,
  info,
};

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        inputs: { type: 'string' },
        text: { type: 'string' },
        'max-new-tokens': { type: 'string' },
        'top-k': { type: 'string' },
        temperature: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        repeat: { type: 'string' },
        capture: { type: 'string', multiple: true },
        'average-heads': { type: 'boolean' },
        profile: { type: 'string' },
        relevance: { type: 'string' },
        rollout: { type: 'boolean' },
        debug: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    // Node's message goes on to explain '--' for positionals; the first sentence is the point, plus how to pass
    // a value that starts with a dash (a negative index).
    const msg = (e as Error).message;
    const dash = /use '(--[\w-]+)=-XYZ'/.exec(msg);
    throw new UsageError(msg.split(/\.\s/)[0].replace(/\.$/, '') + (dash ? ` (a value starting with a dash goes as ${dash[1]}=-1,…)` : ''), { cause: e });
  }
  const { values, positionals } = parsed;
  const [command, modelPath, ...rest] = positionals;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!command) throw new UsageError('no command given');
  if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command '${command}'`);
  if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  if (!modelPath) throw new UsageError(`${command} needs a ${command === 'run' || command === 'info' ? 'MODEL.safetensors path or a ' : ''}MODEL_DIR`);
  await COMMANDS[command](modelPath, values);
}

const argv = process.argv.slice(2);
main(argv).catch((e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  console.error(`attnscope: ${err.message}`);
  if (err instanceof UsageError) console.error(USAGE);
  if (argv.includes('--debug') && err.stack) console.error(err.stack);
  process.exitCode = 1;
});
