#!/usr/bin/env node
// The `attnscope` command: run a model file on WebGPU (Dawn in Node) and write its outputs.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createNodeContext } from './gpu/node.ts';
import type { HookRecord } from './hooks/registry.ts';
import { INPUT_NAMES, type ModelInputs } from './model/inputs.ts';
import { readModelFile } from './model/config.ts';
import { Model } from './model/model.ts';
import { formatProfile } from './model/profile.ts';
import { readSafetensors, writeSafetensors } from './model/safetensors.ts';

const USAGE = `usage:
  attnscope run MODEL.safetensors --inputs IN.safetensors [--out OUT.safetensors]
                [--capture PATTERN]... [--average-heads] [--repeat N] [--profile FILE.json] [--debug]
  attnscope info MODEL.safetensors

run     runs one forward pass. IN holds the forward's arguments by name: ${INPUT_NAMES.join(', ')}
        (float activations, int token ids, masks as F32 = added or U8/BOOL = true blocks).
        OUT receives 'output'. --repeat N runs N forwards and reports the median time.
        --capture PATTERN (repeatable; a module path or glob such as 'encoder.layers.*.self_attn')
        also writes each matched module's inputs and outputs as '<path>.input' ('.input.1', …) and
        '<path>.output'; attention modules add '<path>.weights' [B, H, L, S] ([B, L, S] with --average-heads).
        --profile FILE.json times every dispatch with GPU timestamps (median of --repeat runs, default 5),
        prints the top kernels and modules, and writes the full report to FILE.json.
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

interface RunOptions {
  inputs?: string;
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

async function run(modelPath: string, opts: RunOptions): Promise<void> {
  if (!opts.inputs) throw new UsageError('run needs --inputs IN.safetensors');
  const repeat = opts.repeat === undefined ? 1 : Number(opts.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new UsageError(`--repeat ${opts.repeat}: expected a positive integer`);
  // Files are read and validated before a GPU is asked for: a bad file fails fast and quietly.
  const file = readModelFile(readFile(modelPath, 'model file'), modelPath);
  const io = readSafetensors(readFile(opts.inputs, 'inputs file'), opts.inputs);
  const inputs: ModelInputs = {};
  for (const [name, t] of io.tensors) {
    if (!(INPUT_NAMES as readonly string[]).includes(name)) throw new Error(`${opts.inputs}: tensor '${name}' is not a forward argument (expected some of ${INPUT_NAMES.join(', ')})`);
    inputs[name as keyof ModelInputs] = t;
  }
  const ctx = await createNodeContext({ who: modelPath });
  try {
    const model = Model.fromFile(ctx, file);
    if (opts['average-heads'] && !opts.capture?.length) throw new UsageError('--average-heads needs --capture');
    const paths = [...new Set((opts.capture ?? []).flatMap((p) => model.modulesMatching(p)))];
    if (paths.includes('')) throw new UsageError('--capture: the root module is the output itself; capture its children');
    const modules = model.namedModules();
    for (const p of paths) {
      const attention = modules.get(p)!.kind === 'MultiheadAttention';
      model.setForwardHook(p, p, undefined, attention ? { averageHeads: opts['average-heads'] } : {});
    }
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
      result = await model.forward(inputs);
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
    if (opts.out) {
      const captured = Object.values(model.hooks).flatMap((r) => captureTensors(r, modules.get(r.module)!.kind === 'MultiheadAttention'));
      const tensors = [{ name: 'output', shape, data: output }, ...captured].map((t) => ({ ...t, dtype: 'F32' as const }));
      writeAtomically(opts.out, writeSafetensors(tensors, { producer: 'attnscope' }));
      console.log(`wrote ${opts.out} (${tensors.length} tensor${tensors.length === 1 ? '' : 's'}${captured.length ? `: output and ${captured.length} captures` : ''})`);
    }
    model.dispose();
  } finally {
    ctx.dispose();
  }
}

async function info(modelPath: string): Promise<void> {
  const file = readModelFile(readFile(modelPath, 'model file'), modelPath);
  const ctx = await createNodeContext({ who: modelPath });
  try {
    const model = Model.fromFile(ctx, file);
    console.log(JSON.stringify({ ...model.config, src_vocab: undefined, tgt_vocab: undefined, vocab: undefined }));
    for (const [path, m] of model.namedModules()) console.log(`${path || '(root)'}  ${m.kind}`);
    model.dispose();
  } finally {
    ctx.dispose();
  }
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        inputs: { type: 'string' },
        out: { type: 'string' },
        repeat: { type: 'string' },
        capture: { type: 'string', multiple: true },
        'average-heads': { type: 'boolean' },
        profile: { type: 'string' },
        debug: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    // Node's message goes on to explain '--' for positionals; the first sentence is the point.
    throw new UsageError((e as Error).message.split(/\.\s/)[0].replace(/\.$/, ''), { cause: e });
  }
  const { values, positionals } = parsed;
  const [command, modelPath, ...rest] = positionals;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!command) throw new UsageError('no command given');
  if (command !== 'run' && command !== 'info') throw new UsageError(`unknown command '${command}'`);
  if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  if (!modelPath) throw new UsageError(`${command} needs a MODEL.safetensors path`);
  if (command === 'run') await run(modelPath, values);
  else await info(modelPath);
}

const argv = process.argv.slice(2);
main(argv).catch((e: unknown) => {
  const err = e instanceof Error ? e : new Error(String(e));
  console.error(`attnscope: ${err.message}`);
  if (err instanceof UsageError) console.error(USAGE);
  if (argv.includes('--debug') && err.stack) console.error(err.stack);
  process.exitCode = 1;
});
