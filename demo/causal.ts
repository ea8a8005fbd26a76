// The causal analysis card: integrated gradients, the logit lens, head importance and activation patching of the
// analysed input, each computed by the library as batched forwards on the GPU and drawn on a canvas (PNG export),
// each canvas read cell by cell with the pointer or the keyboard into its own live readout (views/grid-cursor.ts).
// The target is the model's top prediction at the last output position (a masked lm's first mask); integrated
// gradients explain another position's prediction when one of its tokens is picked in the attribution text.
import { attribute, headImportance, isCausalLm, logitLens, patchingSweep, type ModelInputs } from '../src/index.ts';
import type { Analysis } from './analysis.ts';
import { exportPng } from './export.ts';
import type { Opened } from './model-source.ts';
import { tokenLabel } from './tokenize.ts';
import { gridContent } from './views/causal-grid.ts';
import { tokenTextContent } from './views/causal-text.ts';
import { GridCursor } from './views/grid-cursor.ts';
import { lensContent } from './views/lens-table.ts';

type Kind = 'attribution' | 'lens' | 'heads' | 'patch';
const TITLES: Record<Kind, string> = { attribution: 'Integrated gradients', lens: 'Logit lens', heads: 'Head importance', patch: 'Activation patching' };
const IG_STEPS = 16;
/** Top tokens the logit lens readout names per cell. */
const LENS_TOP = 3;
const HINTS: Record<Kind, string> = {
  attribution: 'Hover a token, or focus the text and use the arrow keys: its score. Click or Enter on a token of the outlined one’s input explains the prediction at its position.',
  lens: 'Hover a cell, or focus the table and use the arrow keys: its top tokens and the rank of the target.',
  heads: 'Hover a cell, or focus the grid and use the arrow keys: its value.',
  patch: 'Hover a cell, or focus the grid and use the arrow keys: its value.',
};

interface Target {
  position: number;
  index: number;
  label: string;
  /** Output positions. */
  positions: number;
}

/** What the card runs on: the model and the analysed input. */
interface Subject {
  opened: Opened;
  analysis: Analysis;
}

export class CausalPanel {
  readonly section: HTMLElement;
  private subject?: Subject;
  private readonly cursors = new Map<Kind, GridCursor>();
  private readonly status: HTMLElement;
  private readonly corruptAt: HTMLInputElement;

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
        textContent: `What matters for the prediction at the last position: integrated gradients (${IG_STEPS} steps, zero baseline) of its logit to the inputs, the logit lens per layer, the change in its probability when each head is ablated, and the logit difference when each layer output at each position is patched from a run with one token changed. Every variant is a row of one batched forward. Integrated gradients explain another position’s prediction when a token of the outlined one’s input is clicked, or chosen with the arrow keys and Enter.`,
      }),
      buttons,
      this.status,
    );
    const corrupt = el('label', { textContent: 'patch from the input with token ' });
    this.corruptAt = el('input', { id: 'causal-corrupt', type: 'number', min: '0', value: '0' }) as HTMLInputElement;
    corrupt.append(this.corruptAt, document.createTextNode(' replaced'));
    for (const kind of Object.keys(TITLES) as Kind[]) {
      const b = el('button', { id: `causal-${kind}`, type: 'button', textContent: TITLES[kind] }) as HTMLButtonElement;
      b.addEventListener('click', () => void this.exclusive(() => this.run(kind)));
      buttons.append(b);
      const canvas = el('canvas', { id: `causal-${kind}-canvas` }) as HTMLCanvasElement;
      const png = el('button', { id: `export-causal-${kind}`, type: 'button', className: 'link', textContent: 'PNG', title: `download the ${TITLES[kind].toLowerCase()} view as PNG` });
      png.addEventListener('click', () => void exportPng(canvas, `attnscope-${kind}.png`).catch((e) => this.fail(String(e))));
      const info = el('p', { id: `causal-${kind}-info`, className: 'hover-info', textContent: HINTS[kind] });
      info.setAttribute('aria-live', 'polite');
      const figure = el('figure', { id: `causal-${kind}-figure`, hidden: true });
      figure.append(el('figcaption', { textContent: TITLES[kind] }), png, info, canvas);
      this.cursors.set(
        kind,
        new GridCursor(canvas, TITLES[kind].toLowerCase(), (text) => {
          info.textContent = text || HINTS[kind];
          info.classList.toggle('active', !!text);
        }),
      );
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
    for (const [kind, cursor] of this.cursors) {
      cursor.clear();
      this.section.querySelector<HTMLElement>(`#causal-${kind}-figure`)!.hidden = true;
      this.section.querySelector<HTMLElement>(`#causal-${kind}-info`)!.textContent = HINTS[kind];
    }
    this.status.textContent = '';
    delete this.section.dataset.done;
  }

  /** Runs one analysis; `position`: the output position whose top prediction is the target (default: see target()). */
  private async run(kind: Kind, position?: number): Promise<void> {
    const s = this.subject;
    if (!s) return;
    const { model } = s.opened;
    this.status.textContent = `${TITLES[kind]}: running on the GPU…`;
    const t0 = performance.now();
    try {
      const { output, shape } = await model.forward(s.analysis.inputs);
      const target = this.target(s, output, shape, model.batchFirst, position);
      const what = await this.draw(kind, s, target);
      this.section.querySelector<HTMLElement>(`#causal-${kind}-figure`)!.hidden = false;
      this.status.textContent = `${TITLES[kind]}: ${what} (${(performance.now() - t0).toFixed(0)} ms)`;
      this.section.dataset.done = `${this.section.dataset.done ?? ''} ${kind}`.trim();
    } catch (e) {
      this.status.textContent = '';
      this.fail(`${TITLES[kind]}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** `position` (by default the last output position; a masked lm: its first mask) and the top output there. */
  private target(s: Subject, output: Float32Array, shape: number[], bf: boolean, at?: number): Target {
    const [L, V] = [bf ? shape[1] : shape[0], shape[2]];
    const position = at ?? s.analysis.fills[0]?.position ?? L - 1;
    const B = bf ? shape[0] : shape[1];
    const off = (bf ? position : position * B) * V;
    let index = 0;
    for (let v = 1; v < V; v++) if (output[off + v] > output[off + index]) index = v;
    return { position, index, label: this.outLabel(s, index), positions: L };
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

  /** The input whose positions are the output's: a seq2seq's tgt, else the (first) input of the output's length. */
  private outputInput(names: readonly { name: string; positions: number }[], L: number): string | undefined {
    return names.find((a) => a.name === 'tgt')?.name ?? names.find((a) => a.positions === L)?.name;
  }

  /** Computes one analysis and hands its view to the kind's cursor; returns what the status line says. */
  private async draw(kind: Kind, s: Subject, t: Target): Promise<string> {
    const model = s.opened.model;
    const inputs = s.analysis.inputs;
    const cursor = this.cursors.get(kind)!;
    const canvas = cursor.element;
    const metric = { prob: t.index, position: t.position };
    const about = `${JSON.stringify(t.label)} at position ${t.position}`;
    if (kind === 'attribution') {
      const r = await attribute(model, inputs, { method: 'ig', target: t, steps: IG_STEPS });
      const out = this.outputInput(r.inputs, t.positions);
      const rows = r.inputs.map((a) => ({ name: a.name, tokens: this.labels(s, a.name, a.positions), scores: a.tokens, target: a.name === out ? t.position : undefined }));
      const title = `Integrated gradients of the logit of ${about}`;
      const pick = out === undefined ? undefined : (p: number) => void this.exclusive(() => this.run('attribution', p));
      cursor.set(
        tokenTextContent(canvas, { title, rows, pick }),
        `${title}: ${rows.map((row) => `${row.name}, ${row.tokens.length} tokens`).join('; ')}, each coloured by its attribution (red raises the logit, blue lowers it). Arrow keys move over the tokens and read their scores${out ? `; Enter on a token of ${out} explains the prediction at its position` : ''}.`,
      );
      canvas.dataset.position = String(t.position);
      return `completeness error ${r.completeness!.error.toExponential(1)} of ${r.completeness!.expected.toFixed(3)}`;
    }
    if (kind === 'lens') {
      const r = await logitLens(model, inputs, { topK: LENS_TOP, target: t.index });
      const k = r.k;
      const cells = r.streams.length * r.positions;
      const top = Array.from({ length: cells }, (_, c) => {
        const probs = softmax(r.logits.subarray(c * r.vocab, (c + 1) * r.vocab));
        return Array.from(r.topIds.subarray(c * k, (c + 1) * k), (id) => ({ token: this.outLabel(s, id), prob: probs[id] }));
      });
      const title = 'Logit lens: the top token and its probability per layer and position';
      cursor.set(
        lensContent(canvas, { streams: r.streams, positions: this.labels(s, Object.keys(inputs)[0], r.positions), top, target: t.label, ranks: r.ranks!, title }),
        `${title}: ${r.streams.length} streams (the embeddings, then each layer's output) x ${r.positions} positions. Arrow keys move over the cells and read their top ${k} tokens and the rank of the model's prediction ${JSON.stringify(t.label)}.`,
      );
      return `${r.streams.length} streams x ${r.positions} positions`;
    }
    if (kind === 'heads') {
      const r = await headImportance(model, inputs, metric, { ablation: 'zero' });
      const title = `Change in P(${about}) with the head zeroed`;
      const d = { rows: r.modules, cols: Array.from({ length: r.heads }, (_, h) => `h${h}`), values: r.importance, title, rowAxis: 'layer', colAxis: 'head', valueName: 'change in P' };
      cursor.set(gridContent(canvas, d), `${title}: ${r.modules.length} layers x ${r.heads} heads. Arrow keys move over the cells and read their values.`);
      return `${r.modules.length * r.heads} heads in ${r.forwards} forwards`;
    }
    const corrupted = corrupt(inputs, Number(this.corruptAt.value));
    const layers = [...new Set(model.attentionModules().map((m) => m.path.slice(0, m.path.lastIndexOf('.'))))];
    const r = await patchingSweep(model, { clean: inputs, corrupted, sites: layers, metric });
    const title = `P(${about}) with one layer output patched from the corrupted run (clean ${r.clean.toFixed(3)}, corrupted ${r.corrupted.toFixed(3)})`;
    const positions = Array.from({ length: r.columns }, (_, p) => String(p));
    // positions name their tokens where every layer reads the same sequence (not a seq2seq's source and target)
    const tokenInputs = Object.keys(corrupted).filter((n) => !n.endsWith('mask'));
    const colTokens = tokenInputs.length === 1 ? this.labels(s, tokenInputs[0], r.columns) : undefined;
    const d = { rows: r.modules, cols: positions, values: r.values, title, rowAxis: 'layer', colAxis: 'position', valueName: 'P', colTokens };
    cursor.set(gridContent(canvas, d), `${title}: ${r.modules.length} layers x ${r.columns} positions. Arrow keys move over the cells and read their values.`);
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

/** Softmax of one row of logits. */
function softmax(x: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  const out = x.map((v) => Math.exp(v - max));
  for (const v of out) sum += v;
  return out.map((v) => v / sum);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> & Record<string, unknown>): HTMLElementTagNameMap[K] {
  return Object.assign(document.createElement(tag), props);
}
