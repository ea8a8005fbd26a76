// The causal analysis card: integrated gradients, the logit lens, head importance and activation patching of the
// analysed input, each computed by the library as batched forwards on the GPU and drawn on a canvas (PNG export).
// The target is the model's top prediction at the last output position (a masked lm's first mask).
import { attribute, headImportance, isCausalLm, logitLens, patchingSweep, type ModelInputs } from '../src/index.ts';
import type { Analysis } from './analysis.ts';
import { exportPng } from './export.ts';
import type { Opened } from './model-source.ts';
import { tokenLabel } from './tokenize.ts';
import { drawGrid } from './views/causal-grid.ts';
import { drawTokenText } from './views/causal-text.ts';
import { drawLensTable } from './views/lens-table.ts';

type Kind = 'attribution' | 'lens' | 'heads' | 'patch';
const TITLES: Record<Kind, string> = { attribution: 'Integrated gradients', lens: 'Logit lens', heads: 'Head importance', patch: 'Activation patching' };
const IG_STEPS = 16;

/** What the card runs on: the model and the analysed input. */
interface Subject {
  opened: Opened;
  analysis: Analysis;
}

export class CausalPanel {
  readonly section: HTMLElement;
  private subject?: Subject;
  private readonly canvases = new Map<Kind, HTMLCanvasElement>();
  private readonly status: HTMLElement;

  constructor(
    host: HTMLElement,
    /** Runs a task when no other task of the page runs (the page's `exclusive`). */
    private readonly exclusive: (task: () => Promise<void>) => Promise<void>,
    private readonly fail: (message: string) => void,
  ) {
    this.section = el('section', { id: 'causal-card', className: 'card' });
    const buttons = el('div', { className: 'causal-controls' });
    this.status = el('p', { id: 'causal-status', className: 'hint' });
    this.section.append(
      el('h2', { textContent: 'Causal analysis' }),
      el('p', {
        className: 'hint',
        textContent: `What matters for the prediction at the last position: integrated gradients (${IG_STEPS} steps, zero baseline) of its logit to the inputs, the logit lens per layer, the change in its probability when each head is ablated, and the logit difference when each layer output at each position is patched from a run with one token changed. Every variant is a row of one batched forward.`,
      }),
      buttons,
      this.status,
    );
    const corrupt = el('label', { textContent: 'patch from the input with token ' });
    const pos = el('input', { id: 'causal-corrupt', type: 'number', min: '0', value: '0' }) as HTMLInputElement;
    corrupt.append(pos, document.createTextNode(' replaced'));
    for (const kind of Object.keys(TITLES) as Kind[]) {
      const b = el('button', { id: `causal-${kind}`, type: 'button', textContent: TITLES[kind] }) as HTMLButtonElement;
      b.addEventListener('click', () => void this.exclusive(() => this.run(kind, Number(pos.value))));
      buttons.append(b);
      const canvas = el('canvas', { id: `causal-${kind}-canvas` }) as HTMLCanvasElement;
      const png = el('button', { id: `export-causal-${kind}`, type: 'button', className: 'link', textContent: 'PNG', title: `download the ${TITLES[kind].toLowerCase()} view as PNG` });
      png.addEventListener('click', () => void exportPng(canvas, `attnscope-${kind}.png`).catch((e) => this.fail(String(e))));
      const figure = el('figure', { id: `causal-${kind}-figure`, hidden: true });
      figure.append(el('figcaption', { textContent: TITLES[kind] }), png, canvas);
      this.canvases.set(kind, canvas);
      this.section.append(figure);
    }
    buttons.append(corrupt);
    host.append(this.section);
  }

  /** The analysed input the card now works on; earlier figures go. */
  show(opened: Opened, analysis: Analysis): void {
    this.subject = { opened, analysis };
    this.clear();
    const lm = isCausalLm(opened.model);
    const lens = this.section.querySelector<HTMLButtonElement>('#causal-lens')!;
    lens.disabled = !lm;
    lens.title = lm ? '' : 'the logit lens needs a causal language model (an lm, GPT-2, Llama or Qwen2)';
  }

  clear(): void {
    for (const kind of this.canvases.keys()) this.section.querySelector<HTMLElement>(`#causal-${kind}-figure`)!.hidden = true;
    this.status.textContent = '';
    delete this.section.dataset.done;
  }

  private async run(kind: Kind, corruptAt: number): Promise<void> {
    const s = this.subject;
    if (!s) return;
    const { model } = s.opened;
    this.status.textContent = `${TITLES[kind]}: running on the GPU…`;
    const t0 = performance.now();
    try {
      const { output, shape } = await model.forward(s.analysis.inputs);
      const target = this.target(s, output, shape, model.batchFirst);
      const canvas = this.canvases.get(kind)!;
      const what = await this.draw(kind, s, target, corruptAt, canvas);
      this.section.querySelector<HTMLElement>(`#causal-${kind}-figure`)!.hidden = false;
      this.status.textContent = `${TITLES[kind]}: ${what} (${(performance.now() - t0).toFixed(0)} ms)`;
      this.section.dataset.done = `${this.section.dataset.done ?? ''} ${kind}`.trim();
    } catch (e) {
      this.status.textContent = '';
      this.fail(`${TITLES[kind]}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** The last output position (a masked lm: its first mask) and the top output there. */
  private target(s: Subject, output: Float32Array, shape: number[], bf: boolean): { position: number; index: number; label: string } {
    const [L, V] = [bf ? shape[1] : shape[0], shape[2]];
    const position = s.analysis.fills[0]?.position ?? L - 1;
    const B = bf ? shape[0] : shape[1];
    const off = (bf ? position : position * B) * V;
    let index = 0;
    for (let v = 1; v < V; v++) if (output[off + v] > output[off + index]) index = v;
    return { position, index, label: this.outLabel(s, index) };
  }

  private outLabel(s: Subject, id: number): string {
    const c = s.opened.model.config;
    if (s.opened.text) return s.opened.text.label(id);
    return c.kind === 'seq2seq' ? tokenLabel(c.tgt_vocab[id] ?? '?') : String(id);
  }

  /** Token labels of an input, from the analysis's axes (positions where it has none). */
  private labels(s: Subject, name: string, n: number): string[] {
    const ax = s.analysis.axes;
    const got = name === 'tgt' ? ax.dec?.cols : (ax.self ?? ax.enc)?.cols;
    return got?.length === n ? got : Array.from({ length: n }, (_, i) => String(i));
  }

  private async draw(kind: Kind, s: Subject, t: { position: number; index: number; label: string }, corruptAt: number, canvas: HTMLCanvasElement): Promise<string> {
    const model = s.opened.model;
    const inputs = s.analysis.inputs;
    const metric = { prob: t.index, position: t.position };
    const about = `${JSON.stringify(t.label)} at position ${t.position}`;
    if (kind === 'attribution') {
      const r = await attribute(model, inputs, { method: 'ig', target: t, steps: IG_STEPS });
      drawTokenText(canvas, `Integrated gradients of the logit of ${about}`, r.inputs.map((a) => ({ name: a.name, tokens: this.labels(s, a.name, a.positions), scores: a.tokens })));
      return `completeness error ${r.completeness!.error.toExponential(1)} of ${r.completeness!.expected.toFixed(3)}`;
    }
    if (kind === 'lens') {
      const r = await logitLens(model, inputs, { topK: 1 });
      const top = [...r.topIds].map((id) => this.outLabel(s, id));
      const prob = Float32Array.from({ length: r.streams.length * r.positions }, (_, k) => softmaxAt(r.logits, k, r.vocab, r.topIds[k]));
      drawLensTable(canvas, { streams: r.streams, positions: this.labels(s, Object.keys(inputs)[0], r.positions), top, prob, title: 'Logit lens: the top token and its probability per layer and position' });
      return `${r.streams.length} streams x ${r.positions} positions`;
    }
    if (kind === 'heads') {
      const r = await headImportance(model, inputs, metric, { ablation: 'zero' });
      drawGrid(canvas, { rows: r.modules, cols: Array.from({ length: r.heads }, (_, h) => `h${h}`), values: r.importance, title: `Change in P(${about}) with the head zeroed` });
      return `${r.modules.length * r.heads} heads in ${r.forwards} forwards`;
    }
    const corrupted = corrupt(inputs, corruptAt);
    const layers = [...new Set(model.attentionModules().map((m) => m.path.slice(0, m.path.lastIndexOf('.'))))];
    const r = await patchingSweep(model, { clean: inputs, corrupted, sites: layers, metric });
    drawGrid(canvas, { rows: r.modules, cols: Array.from({ length: r.columns }, (_, p) => String(p)), values: r.values, title: `P(${about}) with one layer output patched from the corrupted run (clean ${r.clean.toFixed(3)}, corrupted ${r.corrupted.toFixed(3)})` });
    return `${r.modules.length} layers x ${r.columns} positions in ${r.forwards} forwards`;
  }
}

/** The inputs with token `at` of the first token input replaced by the id before it (id 0 by id 1). */
export function corrupt(inputs: ModelInputs, at: number): ModelInputs {
  const name = Object.keys(inputs).find((n) => inputs[n] && !(inputs[n]!.data instanceof Float32Array) && !n.endsWith('mask'));
  if (!name) throw new Error('patching needs token inputs to corrupt');
  const t = inputs[name]!;
  if (!Number.isInteger(at) || at < 0 || at >= t.data.length) throw new Error(`there is no token ${at} to replace (${t.data.length} tokens)`);
  const data = Int32Array.from(t.data as ArrayLike<number>);
  data[at] = data[at] === 0 ? 1 : data[at] - 1;
  return { ...inputs, [name]: { dtype: 'I32', shape: t.shape, data } };
}

function softmaxAt(logits: Float32Array, row: number, V: number, id: number): number {
  const x = logits.subarray(row * V, (row + 1) * V);
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  for (const v of x) sum += Math.exp(v - max);
  return Math.exp(x[id] - max) / sum;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> & Record<string, unknown>): HTMLElementTagNameMap[K] {
  return Object.assign(document.createElement(tag), props);
}
