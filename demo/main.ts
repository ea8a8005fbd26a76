// attnscope attention explorer: loads a model into WebGPU, generates, captures every attention map on the GPU
// and shows them. Nothing leaves the page: models are read from disk or from this site, never uploaded.
import { GpuContext } from '../src/index.ts';
import { type Analysis, analyse } from './analysis.ts';
import { CausalPanel } from './causal.ts';
import { Explorer } from './explorer.ts';
import { analyseLong, type LongAnalysis } from './gpu/long-maps.ts';
import { meterReadback, readbackBytes } from './gpu/readback.ts';
import { exportCaptures, exportPng } from './export.ts';
import { type DemoInfo, openBuiltIn, type Opened } from './model-source.ts';
import { wirePicker } from './picker.ts';
import { runProfile } from './profile-panel.ts';
import { TokenizeError } from './tokenize.ts';
import './style.css';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let ctx: GpuContext | undefined;
let current: Opened | undefined;
/** The run in progress: a model opened meanwhile waits for it, so no model is disposed under a run. */
let running: Promise<void> | undefined;
/** Counts open requests: a load that finishes after a later request was made gives way to it. */
let opens = 0;
let runs = 0;
let explorer: Explorer | undefined;
let causal: CausalPanel | undefined;

declare global {
  interface Window {
    /** For tests and the console: the state of the page and its last analysis as plain arrays. */
    __attnscope?: { state: string; runs: number; model?: string; kind?: string; error?: string; snapshot(): unknown; readback(): { data: number; frames: number } };
  }
}

function setState(state: string): void {
  document.body.dataset.state = state;
  window.__attnscope = {
    state,
    runs,
    model: current?.label,
    kind: current?.model.config.kind,
    error: $('error').hidden ? undefined : $('error').textContent ?? undefined,
    snapshot: () => explorer?.snapshot(),
    readback: readbackBytes,
  };
}

function showError(msg: string | undefined): void {
  const box = $('error');
  box.hidden = !msg;
  $('error-text').textContent = msg ?? '';
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Takes every result off the page: they belong to an input or a model that is no longer the one shown. */
function clearResults(): void {
  explorer?.clear();
  causal?.clear();
  $('results').hidden = true;
  for (const id of ['output', 'output-raw', 'fills', 'verdict', 'timing', 'notes']) $(id).textContent = '';
  $('profile-report').replaceChildren();
}

function renderExamples(info?: DemoInfo): void {
  const host = $('examples');
  host.replaceChildren();
  host.hidden = !info?.examples?.length;
  for (const ex of info?.examples ?? []) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'chip';
    b.textContent = ex.input;
    b.title = `expected ${ex.expected}`;
    b.addEventListener('click', () => {
      $<HTMLInputElement>('text').value = ex.input;
      void run();
    });
    host.append(b);
  }
}

/** Shows a newly opened model (the previous one is disposed) with a first input for it. */
function useModel(o: Opened): void {
  const old = current;
  current = o;
  old?.model.dispose();
  clearResults();
  const c = o.model.config;
  const text = o.text;
  const tokens = c.kind === 'seq2seq' || !!text;
  $('model-name').textContent = o.label;
  $('model-summary').textContent = o.summary;
  $('task').textContent = o.info?.task
    ? `${o.info.task}${o.info.test?.exact_match !== undefined ? ` Held-out exact match: ${(100 * o.info.test.exact_match).toFixed(1)}% of ${o.info.test.size}.` : ''}`
    : '';
  $('notice').hidden = !o.notice;
  $('notice').textContent = o.notice ?? '';
  const input = $<HTMLInputElement>('text');
  input.disabled = !tokens;
  input.value = o.info?.examples?.[0]?.input ?? text?.example ?? '';
  input.placeholder = tokens ? 'type an input' : `a ${c.kind} model takes embeddings, not text`;
  $('length-label').hidden = tokens;
  $('tokens-label').hidden = c.kind !== 'seq2seq' && !text?.generates;
  $<HTMLInputElement>('max-tokens').value = String(c.kind === 'seq2seq' ? Math.min(c.max_len, o.info?.tokenisation?.max_tgt_tokens ?? 24) : Math.min(16, Math.max(1, (text?.maxLen ?? 17) - 16)));
  $('kind-hint').textContent =
    c.kind === 'seq2seq'
      ? 'Each character is a token; the source ends with ⟨eos⟩. Greedy decoding, then one full forward on ⟨bos⟩ + the output for the maps.'
      : (text?.hint ?? `A bare ${c.kind} stack has no vocabulary: it runs on seeded random embeddings, so only the attention machinery is on show.`);
  renderExamples(o.info);
}

/** A masked lm's candidates per mask: '[MASK] 3 → sat 41% · ran 12% …'. */
function renderFills(fills: Analysis['fills']): void {
  $('fills').textContent = fills
    .map((f) => `position ${f.position}: ${f.guesses.map((g) => `${JSON.stringify(g.token)} ${(100 * g.prob).toFixed(1)}%`).join(' · ')}`)
    .join('  |  ');
}

/** Runs `task` on the current model unless a task is in progress (then the call is that task). */
function exclusive(task: (o: Opened) => Promise<void>): Promise<void> {
  if (running || !current) return running ?? Promise.resolve();
  running = task(current).finally(() => (running = undefined));
  return running;
}

const run = () => exclusive(analyseCurrent);

async function analyseCurrent({ model, label, info, text: reader }: Opened): Promise<void> {
  const c = model.config;
  const text = $<HTMLInputElement>('text').value;
  $('input-error').hidden = true;
  $<HTMLButtonElement>('run').disabled = true;
  $<HTMLButtonElement>('profile').disabled = true;
  setState('running');
  $('timing').textContent = 'running on the GPU…';
  try {
    const ids = c.kind === 'lm' ? reader?.encode(text) : undefined;
    const long = ids && (await analyseLong(model, ctx!.device, text, ids, reader!.inputs(ids), reader!.label));
    if (long) {
      showLong(long);
      return;
    }
    const a = await analyse(model, reader, {
      text,
      maxNewTokens: Math.max(1, Number($<HTMLInputElement>('max-tokens').value) || 16),
      length: Math.max(1, Math.min(4096, Number($<HTMLInputElement>('length').value) || 12)),
      // Streaming: each token appears as it is generated, its attention in the steps view.
      onToken: ({ steps, keys, text: sofar }) => {
        $('output').textContent = sofar;
        $('output-row').hidden = false;
        $('timing').textContent = `generating… ${steps.length} token${steps.length === 1 ? '' : 's'}`;
        explorer!.streamSteps(steps, keys);
      },
    });
    showError(undefined);
    runs++;
    // The tokens are shown too where the text hides them: specials only (a random model may emit just those), or
    // bytes that are no valid UTF-8 on their own (byte-level BPE).
    const raw = a.steps.map((st) => st.label).join(' ');
    const hidden = !a.output || a.output.includes('\uFFFD');
    $('output').textContent = a.output || (raw ? '' : '—');
    $('output-raw').textContent = hidden && raw ? `(${raw})` : '';
    $('output-row').hidden = a.output === undefined;
    renderFills(a.fills);
    const ex = info?.examples?.find((e) => e.input === text);
    $('verdict').className = ex ? (ex.expected === a.output ? 'ok' : 'bad') : '';
    $('verdict').textContent = ex ? (ex.expected === a.output ? '✓ matches the expected answer' : `✗ expected ${ex.expected}`) : '';
    $('timing').textContent = [a.timings.generateMs !== undefined ? `generate ${a.timings.generateMs.toFixed(0)} ms` : '', `forward with ${a.maps.length} captures ${a.timings.forwardMs.toFixed(0)} ms`, `relevance ${a.timings.relevanceMs.toFixed(0)} ms`].filter(Boolean).join(' · ');
    $('notes').textContent = a.notes.join(' ');
    $('profile-report').replaceChildren(); // a report belongs to the input it was made for
    $('results').hidden = false;
    explorer!.show(a);
    causal!.show(current!, a);
    setState('ready');
  } catch (e) {
    clearResults(); // what is on screen belongs to an earlier input
    if (e instanceof TokenizeError) {
      $('input-error').hidden = false;
      $('input-error').textContent = e.message;
      const input = $<HTMLInputElement>('text');
      const at = [...text].slice(0, e.at).join('').length;
      input.focus();
      input.setSelectionRange(at, at + ([...text][e.at]?.length ?? 0));
    } else showError(`${c.kind} model ${label}: ${message(e)}`);
    setState(e instanceof TokenizeError ? 'input-error' : 'error');
  } finally {
    $<HTMLButtonElement>('run').disabled = false;
    $<HTMLButtonElement>('profile').disabled = false;
  }
}

/**
 * Opens a model and runs its first input. Loading (a download, a read, the upload) may overlap a run; the swap waits
 * for the run to end. A failed open leaves the previous model and its results as they were; an open overtaken by a
 * later one is dropped.
 */
async function open(what: string, load: () => Promise<Opened>): Promise<void> {
  const n = ++opens;
  $('model-status').textContent = `opening ${what}…`;
  let o: Opened;
  try {
    o = await load();
  } catch (e) {
    if (n === opens) $('model-status').textContent = '';
    const msg = message(e);
    showError(msg.startsWith(what) ? `Could not open ${msg}` : `Could not open ${what}: ${msg}`);
    setState('error');
    return;
  }
  while (running) await running;
  if (n !== opens) {
    o.model.dispose();
    return;
  }
  $('model-status').textContent = '';
  showError(undefined);
  useModel(o);
  await run();
}

function wireInputs(): void {
  $('run-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });
  $('error-close').addEventListener('click', () => {
    showError(undefined);
    setState(document.body.dataset.state === 'error' ? 'ready' : (document.body.dataset.state ?? 'ready'));
  });
  $('export-large').addEventListener('click', () => {
    const s = explorer?.selection;
    if (s) void exportPng(explorer!.largeCanvas, `attnscope-${s.kind}-layer${s.layer}-${s.choice}.png`).catch((e) => showError(message(e)));
  });
  $('export-model').addEventListener('click', () => {
    const s = explorer?.selection;
    if (s) void exportPng(explorer!.modelCanvas, `attnscope-${s.kind}-model-view.png`).catch((e) => showError(message(e)));
  });
  $('export-head').addEventListener('click', () => {
    const s = explorer?.selection;
    if (s) void exportPng(explorer!.headCanvas, `attnscope-${s.kind}-head-view.png`).catch((e) => showError(message(e)));
  });
  $('export-relevance').addEventListener('click', () => {
    if (explorer?.analysis) void exportPng(explorer.relevanceCanvas, 'attnscope-relevance.png').catch((e) => showError(message(e)));
  });
  $('export-steps').addEventListener('click', () => {
    if (explorer) void exportPng(explorer.stepsCanvas, 'attnscope-generation-steps.png').catch((e) => showError(message(e)));
  });
  $('export-tensors').addEventListener('click', () => {
    const a = explorer?.analysis;
    if (!a || !current) return;
    try {
      const base = current.label.replace(/\.safetensors$/, '').replace(/[^\w.-]+/g, '_');
      exportCaptures(a.maps, a.inputs, { model: current.label, text: a.text, output: a.output ?? '' }, `${base}-attention.safetensors`);
    } catch (e) {
      showError(message(e));
    }
  });
  $('profile').addEventListener('click', () => {
    const a = explorer?.analysis;
    if (a) void exclusive((o) => profile(o, a));
  });
}

/** A text too long for whole maps: overviews on the GPU, exact windows on demand; no generation or relevance. */
function showLong(l: LongAnalysis): void {
  showError(undefined);
  runs++;
  $('output-row').hidden = true;
  $('verdict').textContent = '';
  $('timing').textContent = `overview forward (downsampled maps and one query's rows of ${l.maps.layers.length} attention modules) ${l.forwardMs.toFixed(0)} ms`;
  $('notes').textContent = `${l.labels.length} tokens: too long to bring whole attention maps back, so the maps stay on the GPU: each head's block maxima, exact cells for the rows in view when zoomed in (a capture of those rows), and the chosen token's rows for the text view. No generation, relevance, head view or profile for a text this long.`;
  $('profile-report').replaceChildren();
  $<HTMLButtonElement>('profile').disabled = true;
  $('results').hidden = false;
  explorer!.showLong(l);
  setState('ready');
}

async function profile({ model }: Opened, a: Analysis): Promise<void> {
  $<HTMLButtonElement>('profile').disabled = true;
  $<HTMLButtonElement>('run').disabled = true;
  $('profile-report').textContent = 'profiling: 1 warm-up, 3 timed and 3 per-dispatch timed forwards…';
  try {
    await runProfile(model, a.inputs, $('profile-report'));
    $('profile-report').dataset.done = String(Number($('profile-report').dataset.done ?? 0) + 1);
  } catch (e) {
    $('profile-report').textContent = '';
    showError(`profile: ${message(e)}`);
  } finally {
    $<HTMLButtonElement>('profile').disabled = false;
    $<HTMLButtonElement>('run').disabled = false;
  }
}

async function main(): Promise<void> {
  meterReadback();
  setState('loading');
  if (!('gpu' in navigator) || !navigator.gpu) {
    $('gpu-missing').hidden = false;
    $('app').hidden = true;
    $('adapter').textContent = 'no WebGPU';
    setState('no-webgpu');
    return;
  }
  try {
    ctx = await GpuContext.create(navigator.gpu, { who: 'attnscope demo' });
  } catch (e) {
    $('gpu-missing').hidden = false;
    $('gpu-missing-reason').textContent = `navigator.gpu exists, but no device could be created: ${message(e)}`;
    $('app').hidden = true;
    $('adapter').textContent = 'no WebGPU device';
    setState('no-webgpu');
    return;
  }
  $('adapter').textContent = `WebGPU adapter: ${ctx.adapterName}${ctx.features.has('timestamp-query') ? ' · timestamp-query' : ''}`;
  explorer = new Explorer(ctx.device);
  causal = new CausalPanel($('results'), (task) => exclusive(task), showError);
  wireInputs();
  wirePicker(ctx, (what, load) => void open(what, load));
  const c = ctx;
  await open('the built-in model', () => openBuiltIn(c));
}

main().catch((e) => {
  showError(`attnscope: ${message(e)}`);
  setState('error');
});
