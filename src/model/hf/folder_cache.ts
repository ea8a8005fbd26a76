// The hub's FileCache in Node: a folder (Node only: exported from attnscope/node, injected into hubFiles).
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FileCache } from './hub.ts';

/** $XDG_CACHE_HOME/attnscope/hub, else ~/.cache/attnscope/hub. */
export function defaultHubCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'attnscope', 'hub');
}

/** Files under `dir` at their keys' paths; written to a temporary name and renamed, so a cut download is never read. */
export function folderCache(dir = defaultHubCacheDir()): FileCache {
  const at = (key: string) => {
    if (key.split('/').some((p) => p === '' || p === '.' || p === '..')) throw new Error(`hub cache: ${JSON.stringify(key)} is not a relative key`);
    return join(dir, ...key.split('/'));
  };
  return {
    async get(key) {
      try {
        return await readFile(at(key));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    async put(key, bytes) {
      const path = at(key);
      const tmp = `${path}.tmp-${process.pid}`;
      await mkdir(dirname(path), { recursive: true });
      try {
        await writeFile(tmp, bytes);
        await rename(tmp, path);
      } catch (e) {
        await rm(tmp, { force: true });
        throw new Error(`hub cache: cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
      }
    },
  };
}
