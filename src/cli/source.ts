// The model a command names (an attnscope file or a checkpoint directory), read and checked before any GPU is
// asked for; files in and out; the GPU model opened for a command's body.
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { KernelChoice } from '../gpu/context.ts';
import { createNodeContext } from '../gpu/node.ts';
import { type ModelFile, readModelFile } from '../model/config.ts';
import { type CheckpointFiles, readCheckpoint } from '../model/hf/checkpoint.ts';
import { directoryFiles } from '../model/hf/dir.ts';
import { type HfTokenizer, loadTokenizer } from '../model/hf/tokenizer.ts';
import { Model } from '../model/model.ts';
import { ModelOutline } from '../model/outline.ts';
import { UsageError } from './args.ts';
import type { Progress } from './progress.ts';

export function readFile(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** Writes next to the destination, then renames: a failed run never leaves a partial file. */
export function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** What MODEL names: an attnscope file or a checkpoint directory (with its files, for the tokenizer), outlined. */
export interface Source {
  path: string;
  file: ModelFile;
  outline: ModelOutline;
  checkpoint?: CheckpointFiles;
}

/** Reads and fully checks the model (config, every tensor's name and shape) without a GPU. */
export async function readSource(path: string, progress: Progress): Promise<Source> {
  let dir = false;
  try {
    dir = statSync(path).isDirectory();
  } catch {
    // Not there: reading it as a model file says so.
  }
  progress.step(`reading ${path}`);
  if (!dir) {
    const file = readModelFile(readFile(path, 'model file'), path);
    return { path, file, outline: new ModelOutline(file.config) };
  }
  const checkpoint = directoryFiles(path);
  const file = await readCheckpoint(checkpoint);
  return { path, file, outline: new ModelOutline(file.config), checkpoint };
}

/** The checkpoint's tokenizer, which `what` needs. */
export async function tokenizerOf(src: Source, what: string, command: string): Promise<HfTokenizer> {
  if (!src.checkpoint) throw new UsageError(`${what} needs a checkpoint directory with tokenizer.json; ${src.path} is an attnscope model file`, command);
  const tok = await loadTokenizer(src.checkpoint);
  if (!tok) throw new Error(`${src.path}: no tokenizer.json, which ${what} needs${what === '--text' ? ' (give token ids with --inputs IN.safetensors instead)' : ''}`);
  return tok;
}

/** The GPU (Dawn) opened for `src`'s model, its weights uploaded; both released after `body`. */
export async function withModel<T>(src: Source, opts: { kernels?: Partial<KernelChoice>; progress: Progress }, body: (model: Model) => Promise<T>): Promise<T> {
  opts.progress.step('opening the GPU');
  const ctx = await createNodeContext({ who: src.path, kernels: opts.kernels });
  try {
    opts.progress.step(`uploading ${src.path}`);
    const model = Model.fromFile(ctx, src.file);
    try {
      return await body(model);
    } finally {
      model.dispose();
    }
  } finally {
    ctx.dispose();
  }
}
