// A checkpoint directory on disk (Node only: exported from attnscope/node).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckpointFiles } from './checkpoint.ts';

export function directoryFiles(dir: string): CheckpointFiles {
  return {
    label: dir,
    async list() {
      try {
        return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
      } catch (e) {
        throw new Error(`cannot read checkpoint directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
      }
    },
    read: (name) => readFile(join(dir, name)),
  };
}
