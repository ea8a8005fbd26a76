/**
 * A checkpoint on the Hugging Face hub as `CheckpointFiles`, through @huggingface/hub (the repo's tree API for the
 * listing; `resolve` downloads, which follow the hub's redirects and Xet storage). Browser-safe: a cache is injected
 * (`FileCache`: the Cache API here, a folder from attnscope/node), never imported.
 *
 * Cached files are keyed by the content hash the listing gives (the LFS sha256, else the git blob id): a second load
 * costs one listing request and no download, and a file changed on the hub is fetched anew whatever the revision.
 */
import { downloadFile, HubApiError, listFiles } from '@huggingface/hub';
import { ModelFileError, quote } from '../errors.ts';
import type { CheckpointFiles } from './checkpoint.ts';

/** A file's download so far; a file served from the cache reports once, loaded = total, with cached set. */
export interface HubProgress {
  file: string;
  loaded: number;
  total: number;
  cached?: boolean;
}

/** Downloaded files by key (`<repo id>/<content hash>/<file name>`, '/'-separated, no '..'). */
export interface FileCache {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
}

export interface HubOptions {
  /** Branch, tag or commit; default 'main'. */
  revision?: string;
  /** The hub's address; default https://huggingface.co (tests serve 127.0.0.1). */
  hubUrl?: string;
  onProgress?: (p: HubProgress) => void;
  cache?: FileCache;
}

/** A top-level file of the repo and the content hash its cache key holds. */
interface Listed {
  size: number;
  hash?: string;
}

// The hub's repo id rule: an optional owner and a name of letters, digits, '-', '_', '.' ('--' and '..' reserved).
const REPO_ID = /^(?:[\w.-]+\/)?[\w.-]+$/;

/** The files of model repo `id` at `revision`, downloaded when read (with progress), kept in `cache` if given. */
export function hubFiles(id: string, opts: HubOptions = {}): CheckpointFiles {
  const revision = opts.revision ?? 'main';
  const label = revision === 'main' ? id : `${id}@${revision}`;
  if (!REPO_ID.test(id) || id.includes('--') || id.includes('..')) throw new ModelFileError(`${quote(id)} is not a hub model id (owner/name)`, 'missing', id);
  const at = { repo: id, revision, ...(opts.hubUrl ? { hubUrl: opts.hubUrl } : {}) };
  const hub = opts.hubUrl ?? 'https://huggingface.co';
  /** Names what went wrong talking to the hub: a missing repo, revision or file, an HTTP status, or no connection. */
  const failure = (what: string, e: unknown): Error => {
    if (e instanceof HubApiError) {
      if (e.statusCode === 404 || e.statusCode === 401) return new ModelFileError(`${label}: ${what}: not found on ${hub} (HTTP ${e.statusCode}: ${e.message})`, 'missing', label);
      return new Error(`${label}: ${what}: HTTP ${e.statusCode} from ${hub} (${e.message})`, { cause: e });
    }
    const cause = (e as Error).cause instanceof Error ? ` (${((e as Error).cause as Error).message})` : '';
    return new Error(`${label}: ${what}: cannot reach ${hub}: ${(e as Error).message}${cause}`, { cause: e });
  };

  let listing: Promise<Map<string, Listed>> | undefined;
  const list = (): Promise<Map<string, Listed>> =>
    (listing ??= (async () => {
      const files = new Map<string, Listed>();
      try {
        for await (const e of listFiles(at)) if (e.type === 'file') files.set(e.path, { size: e.lfs?.size ?? e.size, hash: e.lfs?.oid ?? e.oid });
      } catch (e) {
        listing = undefined; // a later call may try again
        throw failure('listing the repo', e);
      }
      return files;
    })());

  const download = async (name: string, total: number): Promise<Uint8Array> => {
    const report = (loaded: number) => opts.onProgress?.({ file: name, loaded, total });
    let blob: Blob | null;
    try {
      blob = await downloadFile({ ...at, path: name });
    } catch (e) {
      throw failure(`downloading ${name}`, e);
    }
    if (!blob) throw new ModelFileError(`${label}: no file ${quote(name)} at revision ${revision}`, 'missing', `${label}/${name}`);
    // Chunks land in one buffer of the listed size: a large safetensors file is held once, not twice.
    const out = new Uint8Array(total);
    let loaded = 0;
    report(0);
    try {
      const reader = blob.stream().getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        if (loaded + r.value.length > total) throw new Error(`more than the listed ${total} bytes`);
        out.set(r.value, loaded);
        loaded += r.value.length;
        report(loaded);
      }
    } catch (e) {
      throw failure(`downloading ${name}`, e);
    }
    if (loaded !== total) throw new Error(`${label}/${name}: the download ended after ${loaded} of ${total} bytes`);
    return out;
  };

  return {
    label,
    list: async () => [...(await list()).keys()],
    async read(name) {
      const entry = (await list()).get(name);
      if (!entry) throw new ModelFileError(`${label}: no file ${quote(name)} at revision ${revision}`, 'missing', `${label}/${name}`);
      const key = entry.hash && opts.cache ? `${id}/${entry.hash}/${name}` : undefined;
      const hit = key && (await opts.cache!.get(key));
      if (hit) {
        opts.onProgress?.({ file: name, loaded: hit.length, total: hit.length, cached: true });
        return hit;
      }
      const bytes = await download(name, entry.size);
      // A cache that cannot take the file (the page's storage quota) costs the next load a download, not this one.
      if (key) await opts.cache!.put(key, bytes).catch(() => undefined);
      return bytes;
    },
  };
}

/**
 * The page's cache: the Cache API (`caches`, secure contexts only), one cache named `name`; `storage` is injectable
 * for tests. Keys become URLs on a reserved host, since the Cache API keys requests by URL.
 */
export function cacheStorageCache(name = 'attnscope-hub', storage: CacheStorage = globalThis.caches): FileCache {
  const url = (key: string) => new URL(key, 'https://attnscope.invalid/hub/').href;
  return {
    async get(key) {
      const r = await (await storage.open(name)).match(url(key));
      return r ? new Uint8Array(await r.arrayBuffer()) : undefined;
    },
    async put(key, bytes) {
      await (await storage.open(name)).put(url(key), new Response(bytes as Uint8Array<ArrayBuffer>));
    },
  };
}
