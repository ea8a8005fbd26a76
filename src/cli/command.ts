// What a command and a flag group are to the dispatcher (main.ts), and what every command is handed.
import type { ParseArgsConfig } from 'node:util';
import type { Progress } from './progress.ts';

/** node:util parseArgs option declarations, by long name. */
export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed flag values by long name (strings, booleans, or lists for `multiple` options). */
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** What the dispatcher hands every command besides its flags. */
export interface Cli {
  /** --debug: stacks on failure, Dawn's messages left on stderr. */
  debug: boolean;
  /** Progress of long steps on stderr (silent with --quiet or when stderr is not a terminal). */
  progress: Progress;
  /** Prints a line of results on stdout (erasing the progress line first). */
  print(line: string): void;
}

/** A group of flags: their parseArgs declarations and their lines in the usage text. */
export interface FlagGroup {
  readonly options: Options;
  /** The flags as the synopsis shows them: '[--rollout]'. */
  readonly synopsis: string;
  /** What they do, one paragraph (indented by the usage text). */
  readonly help: string;
}

/** A subcommand: `attnscope NAME MODEL [flags]`. */
export interface Command extends FlagGroup {
  readonly name: string;
  /** Whether it opens a GPU (then Dawn's adapter probing is kept off the terminal unless --debug). */
  readonly gpu: boolean;
  run(modelPath: string, values: Values, cli: Cli): Promise<void>;
}
