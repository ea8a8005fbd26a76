// Checkpoints from the hub, never the internet: test/hub_server.ts serves fixture folders on 127.0.0.1 in the hub's
// URL layout and @huggingface/hub talks to it. Model.fromHub must equal the reference output, report progress,
// serve a second load from the cache (one listing request, no download), and name what is missing.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { folderCache } from '../src/model/hf/folder_cache.ts';
import { cacheStorageCache, type FileCache, hubFiles, type HubProgress } from '../src/model/hf/hub.ts';
import type { InputTensor } from '../src/model/inputs.ts';
import { Model } from '../src/model/model.ts';
import { readSafetensors } from '../src/model/safetensors.ts';
import { serveHub, type HubServer } from './hub_server.ts';
import { maxAbsDiff } from './parity.cases.ts';

const hf = fileURLToPath(new URL('./fixtures/hf/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'attnscope-hub-'));
const binOnly = join(scratch, 'bin-only');
let hub: HubServer;
let ctx: GpuContext | undefined;

beforeAll(async () => {
  // A repo as many older ones are: config.json and a pickle.
  mkdirSync(binOnly);
  copyFileSync(join(hf, 'gpt2_lm', 'config.json'), join(binOnly, 'config.json'));
  writeFileSync(join(binOnly, 'pytorch_model.bin'), new Uint8Array(64));
  hub = await serveHub({ 'tiny/gpt2': join(hf, 'gpt2_lm'), 'tiny/gpt2-sharded': join(hf, 'gpt2_lm_sharded'), 'old/bin-only': binOnly });
});
afterAll(async () => {
  ctx?.dispose();
  await hub?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const gpu = async (): Promise<GpuContext> => (ctx ??= await createNodeContext({ who: 'hub tests' }));
const opts = (more: object = {}) => ({ hubUrl: hub.url, ...more });
/** Requests made while `body` ran. */
async function counting(body: () => Promise<unknown>): Promise<string[]> {
  const from = hub.requests.length;
  await body();
  return hub.requests.slice(from);
}

describe('hubFiles', () => {
  it('lists the top-level files and downloads them byte for byte, with progress', async () => {
    const events: HubProgress[] = [];
    const files = hubFiles('tiny/gpt2-sharded', opts({ onProgress: (p: HubProgress) => events.push(p) }));
    expect(files.label).toBe('tiny/gpt2-sharded');
    expect((await files.list()).sort()).toEqual(['config.json', 'io.safetensors', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    const name = 'model-00001-of-00002.safetensors';
    const want = await readFile(join(hf, 'gpt2_lm_sharded', name));
    const requests = await counting(async () => expect(Buffer.from(await files.read(name)).equals(want)).toBe(true));
    // The listing is kept; a download is @huggingface/hub's range probe, then the file.
    expect(requests).toEqual([`GET /tiny/gpt2-sharded/resolve/main/${name}`, `GET /tiny/gpt2-sharded/resolve/main/${name}`]);
    expect(events[0]).toEqual({ file: name, loaded: 0, total: want.length });
    expect(events.at(-1)).toEqual({ file: name, loaded: want.length, total: want.length });
    expect(events.every((e, i) => i === 0 || e.loaded >= events[i - 1].loaded)).toBe(true);
  });

  it('a missing repo, revision or file is one error naming it', async () => {
    await expect(hubFiles('no-such/model', opts()).list()).rejects.toThrow(/^no-such\/model: listing the repo: not found on http:\/\/127\.0\.0\.1:\d+ \(HTTP 404: Repository not found/);
    await expect(hubFiles('tiny/gpt2', opts({ revision: 'v9' })).list()).rejects.toThrow(/^tiny\/gpt2@v9: listing the repo: not found .*Invalid rev id: v9/);
    await expect(hubFiles('tiny/gpt2', opts()).read('vocab.txt')).rejects.toThrow(/^tiny\/gpt2: no file "vocab\.txt" at revision main$/);
    expect(() => hubFiles('a b', opts())).toThrow(/^"a b" is not a hub model id \(owner\/name\)$/);
  });

  it('an unreachable hub is one error naming it', async () => {
    const down = await serveHub({});
    await down.close();
    await expect(hubFiles('tiny/gpt2', { hubUrl: down.url }).list()).rejects.toThrow(new RegExp(`^tiny/gpt2: listing the repo: cannot reach ${down.url}: fetch failed \\(.*ECONNREFUSED`));
  });
});

describe('Model.fromHub', () => {
  it('loads GPT-2 whose forward equals the reference; the second load comes from the cache', async () => {
    const io = readSafetensors(await readFile(join(hf, 'gpt2_lm', 'io.safetensors')), 'gpt2_lm/io.safetensors').tensors;
    const cache = folderCache(join(scratch, 'cache'));
    const run = async (events: HubProgress[]) => {
      const model = await Model.fromHub(await gpu(), 'tiny/gpt2', opts({ cache, onProgress: (p: HubProgress) => events.push(p) }));
      try {
        const { output, shape } = await model.forward({ input_ids: io.get('input_ids') as InputTensor });
        expect(shape).toEqual(io.get('output')!.shape);
        expect(maxAbsDiff(output, io.get('output')!.data)).toBeLessThanOrEqual(1e-4);
      } finally {
        model.dispose();
      }
    };
    const first: HubProgress[] = [];
    const fetched = await counting(() => run(first));
    expect(fetched).toEqual([
      'GET /api/models/tiny/gpt2/tree/main',
      ...['config.json', 'config.json', 'model.safetensors', 'model.safetensors'].map((f) => `GET /tiny/gpt2/resolve/main/${f}`),
    ]);
    expect(new Set(first.map((e) => e.file))).toEqual(new Set(['config.json', 'model.safetensors']));
    const again: HubProgress[] = [];
    expect(await counting(() => run(again))).toEqual(['GET /api/models/tiny/gpt2/tree/main']);
    expect(again.map((e) => [e.file, e.cached])).toEqual([
      ['config.json', true],
      ['model.safetensors', true],
    ]);
  });

  it('refuses a repo with only pytorch_model.bin, without downloading the pickle', async () => {
    const c = await gpu();
    const requests = await counting(() => expect(Model.fromHub(c, 'old/bin-only', opts())).rejects.toThrow(/^old\/bin-only: has only pytorch_model\.bin, a Python pickle/));
    expect(requests.filter((r) => r.endsWith('.bin'))).toEqual([]);
  });
});

describe('caches', () => {
  /** A CacheStorage over a Map, as much of the Cache API as cacheStorageCache uses. */
  function memoryCaches(): CacheStorage {
    const store = new Map<string, Map<string, Response>>();
    return {
      async open(name: string) {
        const c = store.get(name) ?? store.set(name, new Map()).get(name)!;
        return {
          match: async (url: string) => c.get(url)?.clone(),
          put: async (url: string, r: Response) => void c.set(url, r),
        } as unknown as Cache;
      },
    } as CacheStorage;
  }

  it('the Cache API cache serves a second load without a download', async () => {
    const cache = cacheStorageCache('attnscope-test', memoryCaches());
    const first = await counting(async () => await hubFiles('tiny/gpt2', opts({ cache })).read('tokenizer.json'));
    expect(first.filter((r) => r.includes('/resolve/'))).toHaveLength(2);
    const files = hubFiles('tiny/gpt2', opts({ cache }));
    let bytes: Uint8Array | undefined;
    expect(await counting(async () => (bytes = await files.read('tokenizer.json')))).toEqual(['GET /api/models/tiny/gpt2/tree/main']);
    expect(Buffer.from(bytes!).equals(await readFile(join(hf, 'gpt2_lm', 'tokenizer.json')))).toBe(true);
  });

  it('the folder cache refuses keys that leave its folder and misses quietly', async () => {
    const cache: FileCache = folderCache(join(scratch, 'cache2'));
    expect(await cache.get('a/b/c.json')).toBeUndefined();
    await expect(cache.put('a/../../x', new Uint8Array(1))).rejects.toThrow(/is not a relative key/);
  });
});
