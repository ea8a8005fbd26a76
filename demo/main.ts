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
import { type Confidence } from './confidence.ts';
import { ConfidenceView, crossNote, RelevanceControls, RunCancel, StaleNote, wording } from './flow-ui.ts';
import type { RelevanceJob } from './relevance.ts';
import { PageTasks } from './tasks.ts';
import { TokenizeError } from './tokenize.ts';
import './style.css';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let ctx: GpuContext | undefined;
let current: Opened | undefined;
let explorer: Explorer | undefined;
let causal: CausalPanel | undefined;
let relevanceUi: RelevanceControls | undefined;
let staleNote: StaleNote | undefined;
let runCancel: RunCancel | undefined;
let confidenceView: ConfidenceView | undefined;
/** The results on the page: the input and model they belong to, and the analysis (none for a long text's overview). */
let shown: { text: string; opened: Opened; analysis?: Analysis } | undefined;
/** The text of the run in progress. */
let runningText: string | undefined;
let runs = 0;
let state = 'loading';
/** performance.now() when the last run's maps were on screen, and when their first frame had been painted. */
let mapsAt: number | undefined;
let mapsPaintedAt: number | undefined;
/** Open requests so far, and the latest of them whose model has loaded: an older load finishing later gives way. */
let opens = 0;
let newestLoaded = 0;
/** What each waiting model swap opens, for the queue line. */
const opening = new Map<number, string>();

const job = (): RelevanceJob | undefined => shown?.analysis?.relevanceJob;

const tasks = new PageTasks(job, () => updateStale());

declare global {
  interface Window {
    /** For tests and the console: the state of the page and its last analysis as plain arrays. */
    __attnscope?: {
      /**
       * 'running' while a task runs or relevance rows are computed (maps may be on screen: see mapsAt), then 'ready';
       * 'cancelled' after a run was stopped (its results, and those it was replacing, are gone).
       */
      state: string;
      runs: number;
      model?: string;
      kind?: string;
      error?: string;
      /** The results on screen are not for the input in the box (or a run of another input is in progress). */
      stale: boolean;
      /** The running task and the waiting ones ('run', 'open', 'profile', 'causal'). */
      tasks: string[];
      /** performance.now() when the last run's maps were shown, and after their first frame was painted. */
      mapsAt?: number;
      mapsPaintedAt?: number;
      /** The relevance rows of the results shown: state, rows computed of all. */
      relevance?: { state: string; done: number; rows: number; computed: number[] };
      snapshot(): unknown;
      /** The next-token probabilities of the results shown, per position. */
      confidence(): Confidence | undefined;
      readback(): { data: number; frames: number };
    };
  }
}

function publish(): void {
  const j = job();
  window.__attnscope = {
    state,
    runs,
    model: current?.label,
    kind: current?.model.config.kind,
    error: $('error').hidden ? undefined : $('error').textContent ?? undefined,
    stale: document.getElementById('stale-note')?.hidden === false,
    tasks: tasks.keys,
    mapsAt,
    mapsPaintedAt,
    relevance: j && { state: j.state, done: j.done, rows: j.rows, computed: Array.from(j.relevance.computed) },
    snapshot: () => explorer?.snapshot(),
    confidence: () => shown?.analysis?.confidence,
    readback: readbackBytes,
  };
}

function setState(s: string): void {
  state = s;
  document.body.dataset.state = s;
  publish();
}

function showError(msg: string | undefined): void {
  const box = $('error');
  box.hidden = !msg;
  $('error-text').textContent = msg ?? '';
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** What the queue line says about the waiting tasks. */
function queueLine(): string {
  const waiting = tasks.keys.slice(tasks.busy ? 1 : 0);
  const what = waiting.map((k) => (k === 'run' ? 'a run of the text in the box' : k.startsWith('open:') ? `opening ${opening.get(Number(k.slice(5))) ?? 'a model'}` : k));
  return what.length ? `queued: ${what.join(', then ')} (after the task in progress)` : '';
}

/**
 * Results are stale when the box holds another input than theirs, or a run of another input is in progress: then they
 * are dimmed, the verdict is hidden and a note names the input they belong to. While a run streams its output, the
 * output row is the new run's, and only the views below stay marked.
 */
function updateStale(): void {
  if (!staleNote) return;
  const box = $<HTMLInputElement>('text').value;
  let msg: string | undefined;
  let dim: string[] = [];
  if (shown && runningText !== undefined && runningText !== shown.text) {
    msg = `Running “${runningText}”: the maps below are still those of “${shown.text}”.`;
    dim = ['results'];
  } else if (shown && shown.text !== box) {
    msg = `The results below are for “${shown.text}”, not for the text in the box${tasks.queued ? '' : ': run it to update them'}.`;
    dim = ['output-row', 'results', 'confidence'];
  }
  staleNote.set(msg, dim, queueLine());
  runCancel?.show(/^(run|open:)/.test(tasks.busy ? tasks.keys[0] : ''));
  $('verdict').hidden = !!msg;
  publish();
}

/** A pending redraw of the relevance view: rows arriving quickly are drawn together, at most every REDRAW_MS. */
let redraw: ReturnType<typeof setTimeout> | undefined;
const REDRAW_MS = 250;

/** The relevance job of the results shown changed: a row arrived, it stopped, finished or failed. */
function onRelevance(): void {
  const j = job();
  if (!j) return;
  if (j.busy) {
    redraw ??= setTimeout(() => {
      redraw = undefined;
      explorer?.relevanceChanged();
    }, REDRAW_MS);
  } else {
    // stopped, finished or failed: what is drawn is what the rows are, before the page says it is ready
    clearTimeout(redraw);
    redraw = undefined;
    explorer?.relevanceChanged();
  }
  relevanceUi?.update(j);
  // a job waiting for the maps' first paint counts as running: the page is ready when its rows are in or stopped
  const working = j.busy || (j.state === 'waiting' && j.pending > 0);
  if (!tasks.busy && (state === 'running' || state === 'ready')) setState(working ? 'running' : 'ready');
  else publish();
}

/** Takes every result off the page: they belong to an input or a model that is no longer the one shown. */
function clearResults(): void {
  void job()?.dispose();
  shown = undefined;
  explorer?.clear();
  causal?.clear();
  confidenceView?.clear();
  relevanceUi?.update(undefined);
  $('results').hidden = true;
  for (const id of ['output', 'output-raw', 'fills', 'verdict', 'timing', 'notes']) $(id).textContent = '';
  $('profile-report').replaceChildren();
  updateStale();
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
      // the box shows the example at once; its run waits for the task in progress (and the results say whose they are)
      $<HTMLInputElement>('text').value = ex.input;
      requestRun();
    });
    host.append(b);
  }
}

/** A first input for a seq2seq model without examples: a date if its source vocabulary spells one, else its letters. */
function seq2seqExample(vocab: readonly string[]): string {
  const date = ['3rd of March 1998', '3 March 1998', '1998-03-03'].find((w) => [...w].every((ch) => vocab.includes(ch)));
  return date ?? vocab.filter((t) => [...t].length === 1 && !/\s/.test(t)).slice(0, 8).join('');
}

/** Shows a newly opened model (the previous one is disposed) with a first input for it. */
async function useModel(o: Opened): Promise<void> {
  const old = current;
  const oldJob = job();
  clearResults();
  await oldJob?.dispose(); // no backward of the old model may be in flight when it is disposed
  current = o;
  old?.model.dispose();
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
  input.value = o.info?.examples?.[0]?.input ?? text?.example ?? (c.kind === 'seq2seq' ? seq2seqExample(c.src_vocab) : '');
  input.placeholder = tokens ? 'type an input' : `a ${c.kind} model takes embeddings, not text`;
  $('length-label').hidden = tokens;
  $('tokens-label').hidden = c.kind !== 'seq2seq' && !text?.generates;
  $<HTMLInputElement>('max-tokens').value = String(c.kind === 'seq2seq' ? Math.min(c.max_len, o.info?.tokenisation?.max_tgt_tokens ?? 24) : Math.min(16, Math.max(1, (text?.maxLen ?? 17) - 16)));
  $('kind-hint').textContent =
    c.kind === 'seq2seq'
      ? `Each character is a token${c.eos_id !== null ? '; the source ends with ⟨eos⟩' : ''}. Greedy decoding, then one full forward on ⟨bos⟩ + the output for the maps.`
      : (text?.hint ?? `A bare ${c.kind} stack has no vocabulary: it runs on seeded random embeddings, so only the attention machinery is on show.`);
  crossNote(o.info?.task);
  renderExamples(o.info);
  updateStale();
}

/** A masked lm's candidates per mask: '[MASK] 3 → sat 41% · ran 12% …'. */
function renderFills(fills: Analysis['fills']): void {
  $('fills').textContent = fills
    .map((f) => `position ${f.position}: ${f.guesses.map((g) => `${JSON.stringify(g.token)} ${(100 * g.prob).toFixed(1)}%`).join(' · ')}`)
    .join('  |  ');
}

/** Runs the text in the box when the page is free; a run asked for while one waits replaces it (it reads the box then). */
function requestRun(): void {
  updateStale();
  void tasks.request('run', runCurrent);
}

/** A task on the results shown (profile, causal analysis): only when nothing else runs or waits. */
function exclusive(task: (o: Opened) => Promise<void>): Promise<void> {
  return tasks.whenIdle('analysis', () => (current ? task(current) : Promise.resolve()));
}

/** The confidence line and table for the analysis, worded for the model's kind. */
function showConfidence(o: Opened, a: Analysis): void {
  const conf = a.confidence;
  if (!conf) return confidenceView!.clear();
  const c = o.model.config;
  const kind = c.kind === 'seq2seq' ? 'seq2seq' : a.steps.length ? 'generated' : a.fills.length ? 'mask' : 'position';
  const ax = a.axes.cross ?? a.axes.self ?? a.axes.enc ?? a.axes.dec;
  confidenceView!.show(conf, ax?.rows ?? [], wording(kind), kind !== 'seq2seq');
}

/** Runs the text in the box; `signal` stops it (a newer run or model, or Cancel): generation between two steps. */
async function runCurrent(signal: AbortSignal): Promise<void> {
  const o = current;
  if (!o) return;
  const { model, label, info, text: reader } = o;
  const c = model.config;
  const text = $<HTMLInputElement>('text').value;
  $('input-error').hidden = true;
  $<HTMLButtonElement>('profile').disabled = true;
  await job()?.dispose(); // the rows of results about to be replaced
  runningText = text;
  // the output row is the new run's from here; the views below stay until the new maps replace them, marked stale
  for (const id of ['output', 'output-raw', 'fills', 'verdict', 'notes']) $(id).textContent = '';
  confidenceView!.clear();
  setState('running');
  updateStale();
  $('timing').textContent = 'running on the GPU…';
  try {
    const ids = c.kind === 'lm' ? reader?.encode(text) : undefined;
    const long = ids && (await analyseLong(model, ctx!.device, text, ids, reader!.inputs(ids), reader!.label));
    signal.throwIfAborted();
    if (long) {
      showLong(o, text, long);
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
      // rows start once the maps' first frame is painted: maps first, and that paint is theirs, not relevance's
      relevance: { onChange: onRelevance, canRun: () => !tasks.busy && mapsPaintedAt !== undefined },
      signal,
    });
    showAnalysis(o, text, a);
  } catch (e) {
    runningText = undefined;
    clearResults(); // what is on screen belongs to an earlier input (and the steps view to the stopped run)
    if (signal.aborted) {
      $('output-row').hidden = false;
      $('timing').textContent = `cancelled: the run of “${text}” was stopped${signal.reason === 'replaced' ? ' for a newer request' : ''}`;
      setState('cancelled');
    } else if (e instanceof TokenizeError) {
      $('input-error').hidden = false;
      $('input-error').textContent = e.message;
      const input = $<HTMLInputElement>('text');
      const at = [...text].slice(0, e.at).join('').length;
      input.focus();
      input.setSelectionRange(at, at + ([...text][e.at]?.length ?? 0));
    } else showError(`${c.kind} model ${label}: ${message(e)}`);
    if (!signal.aborted) setState(e instanceof TokenizeError ? 'input-error' : 'error');
  } finally {
    runningText = undefined;
    $<HTMLButtonElement>('profile').disabled = !shown?.analysis;
    updateStale();
  }

  /** The maps of `a` on screen at once; its relevance rows follow when the page is free (tasks.ts resumes them). */
  function showAnalysis(o: Opened, text: string, a: Analysis): void {
    showError(undefined);
    runs++;
    runningText = undefined;
    shown = { text, opened: o, analysis: a };
    // The tokens are shown too where the text hides them: specials only (a random model may emit just those), or
    // bytes that are no valid UTF-8 on their own (byte-level BPE).
    const raw = a.steps.map((st) => st.label).join(' ');
    const hidden = !a.output || a.output.includes('\uFFFD');
    $('output').textContent = a.output || (raw ? '' : '—');
    $('output-raw').textContent = hidden && raw ? `(${raw})` : '';
    $('output-row').hidden = a.output === undefined;
    renderFills(a.fills);
    const ex = info?.examples?.find((e) => e.input === text);
    const verdict = $('verdict');
    verdict.className = ex ? (ex.expected === a.output ? 'ok' : 'bad') : '';
    verdict.textContent = ex ? (ex.expected === a.output ? '✓ matches the expected answer' : `✗ expected ${ex.expected}`) : '';
    verdict.dataset.for = text;
    $('timing').textContent = [a.timings.generateMs !== undefined ? `generate ${a.timings.generateMs.toFixed(0)} ms` : '', `forward with ${a.maps.length} captures ${a.timings.forwardMs.toFixed(0)} ms`].filter(Boolean).join(' · ');
    $('notes').textContent = a.notes.join(' ');
    $('profile-report').replaceChildren(); // a report belongs to the input it was made for
    $('results').hidden = false;
    explorer!.show(a);
    causal!.show(o, a);
    showConfidence(o, a);
    relevanceUi!.update(a.relevanceJob);
    updateStale();
    mapsAt = performance.now();
    mapsPaintedAt = undefined;
    requestAnimationFrame(() =>
      setTimeout(() => {
        if (job() !== a.relevanceJob) return;
        mapsPaintedAt = performance.now();
        publish();
        if (!tasks.busy) a.relevanceJob.resume();
      }),
    );
    // 'running' until the run's relevance rows are in, as before they came after the maps (relevance.state tells them apart)
    setState(a.relevanceJob.pending ? 'running' : 'ready');
  }
}

/**
 * Opens a model and runs its first input. Loading (a download, a read, the upload) may overlap a run; the swap is a
 * task of its own, queued behind the run in progress, so a model opened while the page is busy is loaded, never
 * dropped. A failed open leaves the previous model and its results as they were; an open whose load finishes after a
 * later open's gives way to it.
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
    if (!tasks.busy && !job()?.busy) setState('error');
    else publish();
    return;
  }
  if (n < newestLoaded) {
    o.model.dispose();
    return;
  }
  newestLoaded = n;
  if (n === opens) $('model-status').textContent = tasks.busy ? `${what} is loaded; it opens when the task in progress ends` : '';
  opening.set(n, what);
  const loaded = o;
  await tasks.request(
    `open:${n}`,
    async (signal) => {
      opening.delete(n);
      if (n === opens) $('model-status').textContent = '';
      showError(undefined);
      await useModel(loaded);
      await runCurrent(signal);
    },
    {
      // a newer model replaces this one while it waits (and stops its first run), and a swap replaces runs of the old
      // model: a waiting one is dropped, a running one stops
      replaces: ['run', ...tasks.keys.filter((k) => k.startsWith('open:') && k !== `open:${n}`)],
      dropped: () => {
        opening.delete(n);
        loaded.model.dispose();
      },
    },
  );
}

function wireInputs(): void {
  $('run-form').addEventListener('submit', (e) => {
    e.preventDefault();
    requestRun();
  });
  $('text').addEventListener('input', () => updateStale());
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
function showLong(o: Opened, text: string, l: LongAnalysis): void {
  showError(undefined);
  runs++;
  runningText = undefined;
  shown = { text, opened: o };
  $('output-row').hidden = true;
  $('verdict').textContent = '';
  $('timing').textContent = `overview forward (downsampled maps and one query's rows of ${l.maps.layers.length} attention modules) ${l.forwardMs.toFixed(0)} ms`;
  $('notes').textContent = `${l.labels.length} tokens: too long to bring whole attention maps back, so the maps stay on the GPU: each head's block maxima, exact cells for the rows in view when zoomed in (a capture of those rows), and the chosen token's rows for the text view. No generation, relevance, head view or profile for a text this long.`;
  $('profile-report').replaceChildren();
  $<HTMLButtonElement>('profile').disabled = true;
  $('results').hidden = false;
  explorer!.showLong(l);
  updateStale();
  mapsAt = performance.now();
  setState('ready');
}

async function profile({ model }: Opened, a: Analysis): Promise<void> {
  $<HTMLButtonElement>('profile').disabled = true;
  $('profile-report').textContent = 'profiling: 1 warm-up, 3 timed and 3 per-dispatch timed forwards…';
  try {
    await runProfile(model, a.inputs, $('profile-report'));
    $('profile-report').dataset.done = String(Number($('profile-report').dataset.done ?? 0) + 1);
  } catch (e) {
    $('profile-report').textContent = '';
    showError(`profile: ${message(e)}`);
  } finally {
    $<HTMLButtonElement>('profile').disabled = false;
  }
}

/** The relevance card's controls, and rows on demand: the text view coloured by relevance asks for its query's row. */
function wireRelevance(): void {
  relevanceUi = new RelevanceControls($('relevance-card'), {
    cancel: () => void job()?.cancel(),
    resume: () => job()?.continue(),
    request: (p) => job()?.request(p),
    all: () => job()?.all(),
  });
  const host = $('text-host');
  const askForQuery = () => {
    if ($<HTMLSelectElement>('text-colour').value !== 'relevance') return;
    const view = host.querySelector<HTMLElement>('[data-query]');
    if (view) job()?.request(Number(view.dataset.query));
  };
  new MutationObserver(askForQuery).observe(host, { attributes: true, subtree: true, attributeFilter: ['data-query'] });
  $('text-colour').addEventListener('change', askForQuery);
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
  staleNote = new StaleNote();
  runCancel = new RunCancel(() => tasks.cancel());
  confidenceView = new ConfidenceView();
  wireRelevance();
  wireInputs();
  wirePicker(ctx, (what, load) => void open(what, load));
  const c = ctx;
  await open('the built-in model', () => openBuiltIn(c));
}

main().catch((e) => {
  showError(`attnscope: ${message(e)}`);
  setState('error');
});
