// The run flow's controls, made here rather than in index.html: the run's Cancel, the relevance rows' progress (n/N
// rows, Cancel, Continue, a row on demand), the note that says when the results on screen are not for the input in
// the box, and the model's confidence (top-k next tokens per step or position, with the entropy).
import { type Confidence, confidenceHint, pct, type Wording } from './confidence.ts';
import type { RelevanceJob } from './relevance.ts';
import './flow.css';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

type Props<K extends keyof HTMLElementTagNameMap> = Partial<Omit<HTMLElementTagNameMap[K], 'dataset' | 'style'>>;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props<K> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

export interface RelevanceActions {
  cancel(): void;
  resume(): void;
  request(position: number): void;
  all(): void;
}

/** The progress line of the relevance card: '5/24 rows', a bar, Cancel / Continue, and one row or all on demand. */
export class RelevanceControls {
  private readonly box: HTMLElement;
  private readonly bar = el('progress', { id: 'relevance-bar', max: 1, value: 0 });
  private readonly status = el('span', { id: 'relevance-status' });
  private readonly cancel = el('button', { id: 'relevance-cancel', type: 'button', className: 'button secondary', textContent: 'Cancel' });
  private readonly resume = el('button', { id: 'relevance-continue', type: 'button', className: 'button secondary', textContent: 'Continue' });
  private readonly position = el('input', { id: 'relevance-position', type: 'number', min: '0', value: '0' });
  private readonly compute = el('button', { id: 'relevance-compute', type: 'button', className: 'button secondary', textContent: 'Compute row' });
  private readonly all = el('button', { id: 'relevance-all', type: 'button', className: 'button secondary', textContent: 'All rows' });

  constructor(card: HTMLElement, actions: RelevanceActions) {
    const pick = el('label', { className: 'small-field' }, 'row ', this.position);
    this.box = el('div', { id: 'relevance-progress', className: 'flow-progress' }, this.bar, this.status, this.cancel, this.resume, pick, this.compute, this.all);
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    this.position.setAttribute('aria-label', 'output position to explain');
    card.querySelector('.card-head')!.after(this.box);
    this.cancel.addEventListener('click', () => actions.cancel());
    this.resume.addEventListener('click', () => actions.resume());
    this.compute.addEventListener('click', () => actions.request(Number(this.position.value)));
    this.position.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') actions.request(Number(this.position.value));
    });
    this.all.addEventListener('click', () => actions.all());
    this.update(undefined);
  }

  /** Shows the job's progress (or nothing without one). */
  update(job: RelevanceJob | undefined): void {
    this.box.hidden = !job;
    if (!job) return;
    const { done, rows, state } = job;
    this.bar.value = rows ? done / rows : 1;
    this.status.textContent = job.relevance.summary;
    this.box.dataset.state = state;
    this.box.dataset.done = String(done);
    this.box.dataset.rows = String(rows);
    this.cancel.hidden = state !== 'running' && state !== 'waiting' && state !== 'suspended';
    this.resume.hidden = state !== 'stopped' && state !== 'failed';
    const missing = done < rows;
    this.compute.hidden = this.position.parentElement!.hidden = !missing;
    this.all.hidden = !missing || state === 'running';
    this.position.max = String(rows - 1);
  }
}

/** Cancel beside Run: shown while a run is in progress (also a model swap's first run); it stops between two steps. */
export class RunCancel {
  private readonly button = el('button', { id: 'run-cancel', type: 'button', className: 'button secondary', textContent: 'Cancel', hidden: true });

  constructor(cancel: () => void) {
    this.button.title = 'stop the run in progress (generation stops after the step in flight)';
    $('run').after(this.button);
    this.button.addEventListener('click', cancel);
  }

  show(on: boolean): void {
    if (!on && document.activeElement === this.button) $('run').focus(); // the focus stays by the input, not lost
    this.button.hidden = !on;
  }
}

/** Marks results stale: dimmed, the verdict hidden, and a note saying which input they belong to; and the queue. */
export class StaleNote {
  private readonly note = el('p', { id: 'stale-note', className: 'stale-note', hidden: true });
  private readonly queue = el('span', { id: 'queue-status', className: 'muted small' });

  constructor() {
    this.note.setAttribute('role', 'status');
    this.queue.setAttribute('role', 'status');
    $('output-row').before(this.note);
    $('run').after(this.queue);
  }

  /** `message`: why the results are stale (none: they are current); `dim`: ids of the parts that are stale. */
  set(message: string | undefined, dim: readonly string[], queued: string): void {
    this.note.hidden = !message;
    this.note.textContent = message ?? '';
    for (const id of ['output-row', 'results', 'confidence']) $(id)?.classList.toggle('stale', !!message && dim.includes(id));
    this.queue.textContent = queued;
  }
}

/** Where a position's prediction sits, in the words of the model's kind. */
export function wording(kind: 'seq2seq' | 'generated' | 'mask' | 'position'): Wording {
  switch (kind) {
    case 'seq2seq':
      return { unit: 'output token', where: (p) => `step ${p}` };
    case 'generated':
      return { unit: 'generated token', where: (p, i) => `generated token ${i} (position ${p})` };
    case 'mask':
      return { unit: 'mask', where: (p) => `the mask at position ${p}` };
    default:
      return { unit: 'position', where: (p) => `position ${p}` };
  }
}

/** The confidence line under the output and, opened on demand, a table of every position's top tokens. */
export class ConfidenceView {
  private readonly box = el('div', { id: 'confidence', className: 'confidence', hidden: true });
  private readonly hint = el('p', { id: 'confidence-hint' });
  private readonly details = el('details', { id: 'confidence-details' });
  private readonly summary = el('summary');
  private readonly table = el('table', { id: 'confidence-table', className: 'mono small' });
  private shown?: { c: Confidence; inputs: string[] };

  constructor() {
    this.details.append(this.summary, this.table);
    this.box.append(this.hint, this.details);
    $('output-row').after(this.box);
    // the table is built when first opened: a long text has hundreds of positions
    this.details.addEventListener('toggle', () => this.renderTable());
  }

  clear(): void {
    this.shown = undefined;
    this.box.hidden = true;
    this.table.replaceChildren();
    this.details.open = false;
  }

  /**
   * `inputs[p]`: the token at position p (what the prediction follows); `w` names positions in the model's words;
   * `all`: the table lists every position (an lm), else only the output positions (a seq2seq's steps).
   */
  show(c: Confidence, inputs: string[], w: Wording, all: boolean): void {
    this.shown = { c, inputs };
    const h = confidenceHint(c, w);
    this.box.hidden = false;
    this.hint.textContent = h?.text ?? 'Nothing was generated or filled, so there is no output to be sure of; the table lists each position’s next-token guesses.';
    this.hint.className = `confidence-${h?.level ?? 'none'}`;
    this.box.dataset.level = h?.level ?? 'none';
    this.box.dataset.all = String(all);
    this.summary.textContent = all ? `Top ${c.positions[0]?.top.length ?? 0} next tokens at each of ${c.positions.length} positions, with entropy` : `Top ${c.positions[0]?.top.length ?? 0} next tokens at each step, with entropy`;
    this.table.replaceChildren();
    if (this.details.open) this.renderTable();
  }

  private renderTable(): void {
    const s = this.shown;
    if (!s || !this.details.open || this.table.rows.length) return;
    const { c, inputs } = s;
    const all = this.box.dataset.all === 'true';
    const out = new Set(c.outputs);
    const ceiling = Math.log(c.vocab);
    const head = el('tr', {}, el('th', { textContent: all ? 'position' : 'step' }), el('th', { textContent: 'after' }), el('th', { textContent: 'top next tokens' }), el('th', { textContent: `entropy (of ${ceiling.toFixed(2)})` }));
    const rows = c.positions
      .filter((p) => all || out.has(p.position))
      .map((p) => {
        const tr = el(
          'tr',
          { className: out.has(p.position) ? 'output-position' : '' },
          el('td', { textContent: String(p.position) }),
          el('td', { textContent: inputs[p.position] ?? '' }),
          el('td', { textContent: p.top.map((g) => `${JSON.stringify(g.token)} ${pct(g.prob)}`).join(' · ') }),
          el('td', { textContent: p.entropy.toFixed(3) }),
        );
        tr.dataset.position = String(p.position);
        return tr;
      });
    this.table.append(el('thead', {}, head), el('tbody', {}, ...rows));
  }
}

/**
 * The cross-attention note, in terms of the model at hand: only a model trained for the task (the built-in dates
 * model) is said to line digits up with the characters they come from.
 */
export function crossNote(trainedTask: string | undefined): void {
  const note = $('cross-note');
  const what = trainedTask
    ? 'This model was trained for the task above, so with the rows labelled by the token each position predicts, output characters line up with the source characters they come from.'
    : 'In a model trained on a task such as translation or normalisation, each output token tends to attend to the source tokens it comes from; this page does not know what this model was trained on, so whether its maps line up says how much it has learned, not what it should do.';
  note.replaceChildren(el('strong', { textContent: 'Cross-attention' }), `: each decoder position (row) reads the encoded source (columns). ${what}`);
}
