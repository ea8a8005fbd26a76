// The model picker: the built-in model, a hub id (downloaded with a progress bar, kept in this browser's Cache API
// for next time), or files handed to the page (files, a folder, or a drop anywhere). Each choice becomes a loader
// that the page runs when it is free to swap models.
import { cacheStorageCache, fileListFiles, type FolderFile, type GpuContext, hubFiles, type HubProgress } from '../src/index.ts';
import { openBuiltIn, openCheckpoint, openModelFile, type Opened } from './model-source.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** Asks the page to open a model: `what` names it in messages, `load` reads it and puts it on the GPU. */
export type OpenRequest = (what: string, load: () => Promise<Opened>) => void;

/** The hub's address: ?hub=URL (the e2e suite serves a checkpoint from 127.0.0.1), else huggingface.co. */
const HUB_URL = new URLSearchParams(location.search).get('hub') ?? undefined;

const size = (n: number) => (n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`);

/**
 * One .safetensors file is an attnscope model file; anything else (several files, a folder, a lone config.json or
 * .bin) is read as a Hugging Face checkpoint, whose loader says what is missing or refused. `set` names a set of
 * loose files (a folder is named by itself).
 */
function filesLoader(ctx: GpuContext, items: readonly (File | FolderFile)[], set: string): { what: string; load: () => Promise<Opened> } {
  const one = items.length === 1 ? items[0] : undefined;
  if (one instanceof File && !one.webkitRelativePath && one.name.endsWith('.safetensors')) return { what: one.name, load: () => openModelFile(ctx, one) };
  const path = (f: File | FolderFile) => (f instanceof File ? f.webkitRelativePath || f.name : f.path);
  const folder = items.length && path(items[0]).includes('/') ? path(items[0]).split('/')[0] : undefined;
  return { what: folder ?? set, load: () => openCheckpoint(ctx, fileListFiles(items, folder ? undefined : set)) };
}

/** A hub checkpoint, the progress bar following each file's download; afterwards one line of what came from where. */
async function openHub(ctx: GpuContext, id: string): Promise<Opened> {
  const box = $('download');
  const bar = $<HTMLProgressElement>('download-bar');
  const line = $('download-text');
  const seen = new Map<string, HubProgress>();
  const onProgress = (p: HubProgress) => {
    seen.set(p.file, p);
    bar.value = p.total ? p.loaded / p.total : 1;
    line.textContent = `${id} · ${p.file}: ${size(p.loaded)} of ${size(p.total)}${p.cached ? ' (from this browser’s cache)' : ''}`;
  };
  box.hidden = false;
  bar.hidden = false;
  bar.value = 0;
  line.textContent = `${id}: listing the repo…`;
  try {
    // the Cache API exists in secure contexts only (https, localhost); elsewhere every load downloads
    const cache = globalThis.caches ? cacheStorageCache() : undefined;
    const opened = await openCheckpoint(ctx, hubFiles(id, { hubUrl: HUB_URL, onProgress, cache }));
    const got = [...seen.values()];
    const fetched = got.filter((p) => !p.cached);
    const cached = got.length - fetched.length;
    bar.hidden = true;
    line.textContent = `${id}: ${got.length} files, ${size(fetched.reduce((s, p) => s + p.total, 0))} downloaded${cached ? `, ${cached} from this browser’s cache` : ''}`;
    return opened;
  } catch (e) {
    box.hidden = true;
    throw e;
  }
}

// A dropped folder arrives as a directory entry: its files are read with their paths (two levels, enough to say
// where a nested checkpoint's config.json is).
const entries = (d: FileSystemDirectoryEntry) =>
  new Promise<FileSystemEntry[]>((resolve, reject) => {
    const reader = d.createReader();
    const all: FileSystemEntry[] = [];
    const next = () => reader.readEntries((batch) => (batch.length ? (all.push(...batch), next()) : resolve(all)), reject);
    next();
  });

async function walk(e: FileSystemEntry, depth = 0): Promise<FolderFile[]> {
  if (e.isFile) return [{ path: e.fullPath.replace(/^\//, ''), file: await new Promise<File>((ok, fail) => (e as FileSystemFileEntry).file(ok, fail)) }];
  if (depth > 1) return [];
  return (await Promise.all((await entries(e as FileSystemDirectoryEntry)).map((c) => walk(c, depth + 1)))).flat();
}

/** The dropped files, or the files of dropped folders with their paths (entries must be taken before any await). */
function dropLoader(ctx: GpuContext, dt: DataTransfer): { what: string; load: () => Promise<Opened> } {
  const dropped = Array.from(dt.items, (i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (!dropped.some((e) => e.isDirectory)) return filesLoader(ctx, Array.from(dt.files), 'the dropped files');
  // the folder's files are read inside the loader, so a drop during a run is queued like any other open
  const what = dropped.length === 1 ? dropped[0].name : `${dropped.length} dropped items`;
  return { what, load: async () => filesLoader(ctx, (await Promise.all(dropped.map((e) => walk(e)))).flat(), what).load() };
}

export function wirePicker(ctx: GpuContext, open: OpenRequest): void {
  if (HUB_URL) $('hub-where').textContent = `from ${HUB_URL}`;
  $('pick-builtin').addEventListener('click', () => open('the built-in model', () => openBuiltIn(ctx)));
  $('hub-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const id = $<HTMLInputElement>('hub-id').value.trim();
    if (id) open(id, () => openHub(ctx, id));
  });
  for (const input of [$<HTMLInputElement>('model-file'), $<HTMLInputElement>('model-folder')]) {
    input.addEventListener('change', () => {
      const files = Array.from(input.files ?? []);
      input.value = '';
      if (files.length) {
        const { what, load } = filesLoader(ctx, files, 'the chosen files');
        open(what, load);
      }
    });
  }
  // drag and drop anywhere on the page
  let depth = 0;
  window.addEventListener('dragenter', (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    depth++;
    document.body.classList.add('dragging');
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove('dragging');
  });
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    document.body.classList.remove('dragging');
    if (!e.dataTransfer?.items.length) return;
    const { what, load } = dropLoader(ctx, e.dataTransfer);
    open(what, load);
  });
}
