#!/usr/bin/env node
// The `attnscope` command line: this dispatcher parses the command line, runs one command, and turns every failure
// into one stderr line (exit 1; usage errors exit 2 with a hint). Commands and flag groups live one per file here.
//
// Adding to the CLI:
// - a command: write src/cli/NAME.ts exporting a `Command` (command.ts: name, synopsis, help, options, gpu, run)
//   and add it to COMMANDS below (one line). Check flags with args.ts (UsageError for a usage mistake) and read the
//   model with source.ts (readSource checks it without a GPU; withModel opens the GPU), so a bad input fails before
//   a GPU is asked for. Print results with cli.print, progress with cli.progress.step.
// - a group of `run` flags: write src/cli/NAME.ts exporting a `RunFlags` (run.ts: options, synopsis, help, and
//   check / captureOptions / setup as needed) and add it to RUN_FLAGS below (one line).
// Every behaviour gets a test in test/cli.test.ts, which runs the built CLI as a user would.
import { parseArgs } from 'node:util';
import { version } from '../../package.json';
import { analyzeCommand } from './analyze.ts';
import { UsageError } from './args.ts';
import { capture } from './capture.ts';
import { inChild, runInChild, stderrIsTTY, writeStderr } from './child.ts';
import type { Cli, Command, Options, Values } from './command.ts';
import { fillMask } from './fill_mask.ts';
import { generate } from './generate.ts';
import { info } from './info.ts';
import { Progress } from './progress.ts';
import { relevance } from './relevance.ts';
import { rollout } from './rollout.ts';
import { runCommand, type RunFlags } from './run.ts';
import { summary } from './summary.ts';

const RUN_FLAGS: readonly RunFlags[] = [
  capture,
  relevance,
  rollout,
  summary,
];

const COMMANDS: readonly Command[] = [
  runCommand(RUN_FLAGS),
  generate,
  fillMask,
  info,
  analyzeCommand,
];

/** Flags every command takes. */
const GLOBAL: Options = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  debug: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  progress: { type: 'boolean' },
};

const wrap = (text: string, indent: string) => text.split('\n').map((l) => indent + l).join('\n');

function usage(only?: Command): string {
  const shown = only ? [only] : COMMANDS;
  return [
    'usage:',
    ...shown.map((c) => `  attnscope ${c.name} ${c.synopsis}`),
    '  attnscope --version | --help | COMMAND --help',
    '',
    ...shown.map((c) => `${c.name}: ${c.help.split('\n')[0]}\n${wrap(c.help.split('\n').slice(1).join('\n'), '  ')}`),
    '',
    'Every command: --debug (stack traces, Dawn\'s own messages), --quiet (no progress line), --progress (a progress',
    'line even when stderr is not a terminal). MODEL is an attnscope model file (.safetensors) or a Hugging Face',
    'checkpoint directory (config.json, model.safetensors or its shards; tokenizer.json for --text).',
    'Exit status: 0 done, 1 failed (one line on stderr), 2 usage error.',
  ].join('\n');
}

/** The command named by the first argument that is not a flag (every global flag is a boolean). */
function commandOf(argv: readonly string[]): Command | undefined {
  const name = argv.find((a) => !a.startsWith('-'));
  if (name === undefined) return undefined;
  const c = COMMANDS.find((x) => x.name === name);
  if (!c) throw new UsageError(`unknown command '${name}' (commands: ${COMMANDS.map((x) => x.name).join(', ')})`);
  return c;
}

function parse(argv: string[], command: Command | undefined): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options: { ...GLOBAL, ...command?.options } });
  } catch (e) {
    // Node's message goes on to explain '--' for positionals; the first sentence is the point, plus how to pass a
    // value that starts with a dash (a negative index).
    const msg = (e as Error).message;
    const dash = /use '(--[\w-]+)=-XYZ'/.exec(msg);
    throw new UsageError(msg.split(/\.\s/)[0].replace(/\.$/, '') + (dash ? ` (a value starting with a dash goes as ${dash[1]}=-1,…)` : ''), command?.name, { cause: e });
  }
}

async function main(argv: string[], cli: Cli): Promise<number> {
  const command = commandOf(argv);
  const { values, positionals } = parse(argv, command);
  if (values.version) {
    cli.print(version);
    return 0;
  }
  if (values.help) {
    cli.print(usage(command));
    return 0;
  }
  if (!command) throw new UsageError('no command given');
  const [, modelPath, ...rest] = positionals;
  if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`, command.name);
  if (!modelPath) throw new UsageError(`${command.name} needs a ${command.name === 'run' || command.name === 'info' ? 'MODEL.safetensors path or a ' : ''}MODEL_DIR`, command.name);
  if (command.gpu && !cli.debug && !inChild()) return runInChild(argv);
  await command.run(modelPath, values, cli);
  return 0;
}

const argv = process.argv.slice(2);
const debug = argv.includes('--debug');
const quiet = argv.includes('--quiet') || argv.includes('-q');
const progress = new Progress(!quiet && (stderrIsTTY() || argv.includes('--progress')) ? writeStderr : undefined);
const cli: Cli = {
  debug,
  progress,
  print(line: string) {
    progress.clear();
    process.stdout.write(`${line}\n`);
  },
};
// A reader that stops early (| head) is no failure.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(0);
});
main(argv, cli).then(
  (status) => {
    progress.clear();
    process.exitCode = status;
  },
  (e: unknown) => {
    progress.clear();
    const err = e instanceof Error ? e : new Error(String(e));
    const usageError = err instanceof UsageError;
    const hint = usageError ? ` (see attnscope ${err.command ? `${err.command} ` : ''}--help)` : '';
    writeStderr(`attnscope: ${err.message.split('\n')[0]}${hint}\n`);
    if (debug && err.stack) writeStderr(`${err.stack}\n`);
    process.exitCode = usageError ? 2 : 1;
  },
);
