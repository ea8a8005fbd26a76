// Where model bytes come from: the bundled demo model (demo/models/, trained by tools/train_demo.py), the random
// test fixture while that is absent, or a file the user picks or drops. Everything stays in the page.

/** demo/models/dates.json as tools/train_demo.py writes it (the fields the page uses). */
export interface DemoInfo {
  task?: string;
  examples?: { input: string; expected: string; model_output?: string }[];
  test?: { exact_match?: number; size?: number };
  tokenisation?: { max_tgt_tokens?: number };
}

export interface ModelSource {
  label: string;
  bytes: Uint8Array;
  info?: DemoInfo;
  /** Shown above the page: e.g. that the demo model is missing and a fixture stands in. */
  notice?: string;
  builtIn: boolean;
}

// Globs, not fetch('/demo/models/...'): an absent file is an empty match instead of a 404 in the console, and a
// production build bundles whatever is there.
const demoModels = import.meta.glob('./models/dates.safetensors', { query: '?url', import: 'default', eager: true }) as Record<string, string>;
const demoInfo = import.meta.glob('./models/dates.json', { import: 'default', eager: true }) as Record<string, DemoInfo>;
const fixture = import.meta.glob('../test/fixtures/seq2seq-sinusoidal.model.safetensors', { query: '?url', import: 'default', eager: true }) as Record<string, string>;

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  if ((r.headers.get('content-type') ?? '').includes('text/html')) throw new Error(`${url}: the server sent a web page, not a model file`);
  return new Uint8Array(await r.arrayBuffer());
}

export async function defaultModel(): Promise<ModelSource> {
  const url = Object.values(demoModels)[0];
  if (url) {
    return { label: 'dates.safetensors', bytes: await fetchBytes(url), info: Object.values(demoInfo)[0], builtIn: true };
  }
  const fx = Object.values(fixture)[0];
  if (!fx) throw new Error('no demo model: demo/models/dates.safetensors is absent (train it with /usr/bin/python3 tools/train_demo.py)');
  return {
    label: 'seq2seq-sinusoidal (random weights)',
    bytes: await fetchBytes(fx),
    builtIn: true,
    notice:
      'The demo model demo/models/dates.safetensors is not there yet (tools/train_demo.py trains it), so a small test model with random weights stands in: its attention shows the machinery, not meaning.',
  };
}

export async function fileModel(file: File): Promise<ModelSource> {
  return { label: file.name, bytes: new Uint8Array(await file.arrayBuffer()), builtIn: false };
}

export const hasDemoModel = (): boolean => Object.keys(demoModels).length > 0;
