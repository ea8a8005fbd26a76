// attnscope attention explorer: loads a model into WebGPU, generates, captures every attention map on the GPU
// and shows them. Nothing leaves the page: models are read from disk or from this site, never uploaded.
import { GpuContext, isHfConfig, Model, type ModelConfig } from '../src/index.ts';
import { analyse } from './analysis.ts';
import { Explorer } from './explorer.ts';
import { exportCaptures, exportPng } from './export.ts';
import { defaultModel, type DemoInfo, fileModel, type ModelSource } from './model-source.ts';
import { runProfile } from './profile-panel.ts';
import { inputVocab, outputVocab, sampleText, TokenizeError, tokenLabel } from './tokenize.ts';
import './style.css';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

interface Loaded {
  model: Model;
  source: ModelSource;
}

let ctx: GpuContext | undefined;
let current: Loaded | undefined;
let busy = false;
let runs = 0;
let explorer: Explorer | undefined;

declare global {
  interface Window {
    /** For tests and the console: the state of the page and its last analysis as plain arrays. */
    __attnscope?: { state: string; runs: number; model?: string; kind?: string; error?: string; snapshot(): unknown };
  }
}

function setState(state: string): void {
  document.body.dataset.state = state;
  window.__attnscope = {
    state,
    runs,
    model: current?.source.label,
    kind: current?.model.config.kind,
    error: $('error').hidden ? undefined : $('error').textContent ?? undefined,
    snapshot: () => explorer?.snapshot(),
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

function describe(c: ModelConfig, bytes: number): string {
  if (c.kind === 'gpt2') return `gpt2 (${c.head === 'lm' ? 'GPT2LMHeadModel' : 'GPT2Model'}) · ${c.n_layer} layers · n_embd ${c.n_embd} · ${c.n_head} heads · vocab ${c.vocab_size} · ${(bytes / 1024).toFixed(0)} KiB`;
  if (isHfConfig(c)) return `${c.kind} (${c.head}) · ${(bytes / 1024).toFixed(0)} KiB`;
  const layers = [c.num_encoder_layers ? `${c.num_encoder_layers} encoder` : '', c.num_decoder_layers ? `${c.num_decoder_layers} decoder` : ''].filter(Boolean).join(' + ');
  const vocab = c.kind === 'seq2seq' ? `, vocab ${c.src_vocab.length} → ${c.tgt_vocab.length}` : c.kind === 'lm' ? `, vocab ${c.vocab.length}${c.causal ? ', causal' : ''}` : '';
  return `${c.kind} · ${layers} layers · d_model ${c.d_model} · ${c.nhead} heads · ${c.norm_first ? 'pre' : 'post'}-norm ${c.activation}${vocab} · ${(bytes / 1024).toFixed(0)} KiB`;
}

/** A sensible first input for a model: the demo's first example, or a few characters of its vocabulary. */
function exampleFor(c: ModelConfig, info?: DemoInfo): string {
  if (info?.examples?.length) return info.examples[0].input;
  const vocab = inputVocab(c);
  if (!vocab) return '';
  for (const w of ['hotdogpasta', 'hello world', 'the cat sat on the mat']) if ([...w].every((ch) => vocab.includes(ch))) return w;
  return sampleText(vocab);
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

function useModel(source: ModelSource): void {
  const model = Model.load(ctx!, source.bytes, source.label); // throws ModelFileError with a one-line message
  const old = current;
  current = { model, source };
  old?.model.dispose();
  const c = model.config;
  $('model-name').textContent = source.label;
  $('model-summary').textContent = describe(c, source.bytes.length);
  $('task').textContent = source.info?.task
    ? `${source.info.task}${source.info.test?.exact_match !== undefined ? ` Held-out exact match: ${(100 * source.info.test.exact_match).toFixed(1)}% of ${source.info.test.size}.` : ''}`
    : '';
  $('notice').hidden = !source.notice;
  $('notice').textContent = source.notice ?? '';
  const tokens = c.kind === 'seq2seq' || c.kind === 'lm';
  $<HTMLInputElement>('text').disabled = !tokens;
  $<HTMLInputElement>('text').value = exampleFor(c, source.info);
  $<HTMLInputElement>('text').placeholder = tokens ? 'type an input' : `a ${c.kind} model takes embeddings, not text`;
  $('length-label').hidden = tokens;
  $('tokens-label').hidden = !tokens || (c.kind === 'lm' && !c.causal);
  $<HTMLInputElement>('max-tokens').value = String(c.kind === 'seq2seq' ? Math.min(c.max_len, source.info?.tokenisation?.max_tgt_tokens ?? 24) : 16);
  $('kind-hint').textContent =
    c.kind === 'seq2seq'
      ? 'Each character is a token; the source ends with ⟨eos⟩. Greedy decoding, then one full forward on ⟨bos⟩ + the output for the maps.'
      : c.kind === 'lm'
        ? c.causal
          ? 'A causal language model: it continues the prompt greedily; the maps are its self-attention over prompt + continuation.'
          : 'A bidirectional encoder LM: it cannot generate; the maps are its self-attention over the input.'
        : `A bare ${c.kind} stack has no vocabulary: it runs on seeded random embeddings, so only the attention machinery is on show.`;
  renderExamples(source.info);
  $('output').textContent = '';
  $('verdict').textContent = '';
}

async function run(): Promise<void> {
  if (busy || !current) return;
  const { model, source } = current;
  const c = model.config;
  const text = $<HTMLInputElement>('text').value;
  $('input-error').hidden = true;
  busy = true;
  $<HTMLButtonElement>('run').disabled = true;
  $<HTMLButtonElement>('profile').disabled = true;
  setState('running');
  $('timing').textContent = 'running on the GPU…';
  try {
    const a = await analyse(model, {
      text,
      maxNewTokens: Math.max(1, Number($<HTMLInputElement>('max-tokens').value) || 16),
      length: Math.max(1, Math.min(4096, Number($<HTMLInputElement>('length').value) || 12)),
    });
    showError(undefined);
    runs++;
    // Specials (a random model may emit only those) are shown as tokens rather than as an empty string.
    const raw = a.generatedIds.map((i) => tokenLabel(outputVocab(c)?.[i] ?? '?')).join('');
    $('output').textContent = a.output || (raw ? '' : '—');
    $('output-raw').textContent = a.output ? '' : raw ? `(${raw})` : '';
    $('output-row').hidden = a.output === undefined;
    const ex = source.info?.examples?.find((e) => e.input === text);
    $('verdict').className = ex ? (ex.expected === a.output ? 'ok' : 'bad') : '';
    $('verdict').textContent = ex ? (ex.expected === a.output ? '✓ matches the expected answer' : `✗ expected ${ex.expected}`) : '';
    $('timing').textContent = [a.timings.generateMs !== undefined ? `generate ${a.timings.generateMs.toFixed(0)} ms` : '', `forward with ${a.maps.length} captures ${a.timings.forwardMs.toFixed(0)} ms`, `relevance ${a.timings.relevanceMs.toFixed(0)} ms`].filter(Boolean).join(' · ');
    $('notes').textContent = a.notes.join(' ');
    $('profile-report').replaceChildren(); // a report belongs to the input it was made for
    $('results').hidden = false;
    explorer!.show(a);
    setState('ready');
  } catch (e) {
    $('timing').textContent = '';
    if (e instanceof TokenizeError) {
      $('input-error').hidden = false;
      $('input-error').textContent = e.message;
      const input = $<HTMLInputElement>('text');
      const at = [...text].slice(0, e.at).join('').length;
      input.focus();
      input.setSelectionRange(at, at + ([...text][e.at]?.length ?? 0));
    } else showError(`${c.kind} model ${source.label}: ${message(e)}`);
    setState(e instanceof TokenizeError ? 'input-error' : 'error');
  } finally {
    busy = false;
    $<HTMLButtonElement>('run').disabled = false;
    $<HTMLButtonElement>('profile').disabled = false;
  }
}

async function openFile(file: File): Promise<void> {
  if (busy) {
    showError(`${file.name}: the model is busy with a run; open the file again when it has finished.`);
    return;
  }
  try {
    const src = await fileModel(file);
    useModel(src);
    showError(undefined);
  } catch (e) {
    // the previous model stays loaded and usable
    const msg = message(e);
    showError(msg.startsWith(file.name) ? `Could not open ${msg}` : `Could not open ${file.name}: ${msg}`);
    setState('error');
    return;
  }
  await run();
}

function wireInputs(): void {
  $('run-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });
  $<HTMLInputElement>('model-file').addEventListener('change', (e) => {
    const input = e.target as HTMLInputElement;
    const f = input.files?.[0];
    input.value = '';
    if (f) void openFile(f);
  });
  $('error-close').addEventListener('click', () => {
    showError(undefined);
    setState(document.body.dataset.state === 'error' ? 'ready' : (document.body.dataset.state ?? 'ready'));
  });
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
    const f = e.dataTransfer?.files?.[0];
    if (f) void openFile(f);
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
      const base = current.source.label.replace(/\.safetensors$/, '').replace(/[^\w.-]+/g, '_');
      exportCaptures(a.maps, a.inputs, { model: current.source.label, text: a.text, output: a.output ?? '' }, `${base}-attention.safetensors`);
    } catch (e) {
      showError(message(e));
    }
  });
  $('profile').addEventListener('click', async () => {
    const a = explorer?.analysis;
    if (busy || !current || !a) return;
    busy = true;
    $<HTMLButtonElement>('profile').disabled = true;
    $<HTMLButtonElement>('run').disabled = true;
    $('profile-report').textContent = 'profiling: 1 warm-up, 3 timed and 3 per-dispatch timed forwards…';
    try {
      await runProfile(current.model, a.inputs, $('profile-report'));
      $('profile-report').dataset.done = String(Number($('profile-report').dataset.done ?? 0) + 1);
    } catch (e) {
      $('profile-report').textContent = '';
      showError(`profile: ${message(e)}`);
    } finally {
      busy = false;
      $<HTMLButtonElement>('profile').disabled = false;
      $<HTMLButtonElement>('run').disabled = false;
    }
  });
}

async function main(): Promise<void> {
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
  explorer = new Explorer();
  wireInputs();
  try {
    useModel(await defaultModel());
  } catch (e) {
    showError(`The default model could not be loaded: ${message(e)}. Open a .safetensors model file instead.`);
    setState('error');
    return;
  }
  await run();
}

main().catch((e) => {
  showError(`attnscope: ${message(e)}`);
  setState('error');
});
