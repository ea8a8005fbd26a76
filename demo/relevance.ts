// The relevance view's data, computed after the maps are on screen: the library's relevance rows (one GPU backward
// per output position) of batch 0 of the analysis's forward, a few at a time in the background, each row drawn as it
// arrives; stoppable, and rows beyond the first AUTO_ROWS computed when someone asks for them.
import { type BackwardTarget, type ForwardResult, type Model, type ModelInputs, relevanceRows, type RelevanceRows } from '../src/index.ts';
import type { Matrix } from './attention.ts';

/** Rows computed without being asked: a long output's other rows wait until the user picks their position. */
export const AUTO_ROWS = 32;

export interface Relevance {
  /** Row i: how much each input token (column) matters for the prediction at output position i; zeros until computed. */
  matrix: Matrix;
  /** computed[i] is 1 once row i is in `matrix`. */
  computed: Uint8Array;
  /** Which map the rows come from: cross (decoder position × source token), source or target (position × token). */
  map: RelevanceRows['map'];
  /** What each row differentiates, for the page's explanation. */
  target: string;
  /** The backward target of each computed row (undefined where the row is not computed). */
  targets: (BackwardTarget | undefined)[];
  /** Time spent computing rows so far. */
  ms: number;
  /** One line for the view's title: how many rows were computed and how long they took (or how far it got). */
  summary: string;
}

export type RelevanceState = 'waiting' | 'running' | 'suspended' | 'stopped' | 'done' | 'partial' | 'failed';

/** The positions to explain first, then every other position, in order; the first `auto` of them are computed unasked. */
function autoPositions(rows: number, first: readonly number[], auto: number): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  for (const p of [...first, ...Array.from({ length: rows }, (_, i) => i)]) {
    if (p < 0 || p >= rows || seen.has(p)) continue;
    seen.add(p);
    out.push(p);
  }
  return out.slice(0, auto);
}

/**
 * The relevance rows of one analysis. The page starts it when nothing else uses the model, suspends it before any
 * other task on the model (which runs forwards of its own: the next rows run that analysis's forward again first),
 * and disposes it with the analysis. `onChange` is called after each row and each change of state.
 */
export class RelevanceJob {
  readonly relevance: Relevance;
  state: RelevanceState = 'waiting';
  error?: string;
  /** Positions asked for (Compute row, the text view's query), newest first: computed before the automatic ones. */
  private asked: number[] = [];
  /** The automatic positions (the first AUTO_ROWS, or every row after All rows) not computed yet, in order. */
  private auto: number[];
  /** The user cancelled: the automatic rows wait for Continue; rows asked for are still computed. */
  private autoStopped = false;
  private ctrl?: AbortController;
  private loop?: Promise<void>;
  /** The model ran another forward since `fwd`: run the analysis's forward again before the next backward. */
  private refresh = false;
  private disposed = false;
  /** Where the time of the row in flight counts from. */
  private since = 0;

  constructor(
    private readonly model: Model,
    private fwd: ForwardResult,
    private readonly inputs: ModelInputs,
    /** Models that predict tokens differentiate the argmax logit at each position; the others the output's sum. */
    private readonly tokens: boolean,
    dims: { map: RelevanceRows['map']; rows: number; cols: number },
    /** Positions to explain first (the generated ones); with the rest, the first AUTO_ROWS are computed unasked. */
    first: readonly number[],
    private readonly onChange: () => void,
    /** Whether the page lets the model run rows now (no other task on it); when not, rows wait for resume(). */
    private readonly canRun: () => boolean,
  ) {
    const { map, rows, cols } = dims;
    this.relevance = {
      matrix: { rows, cols, data: new Float32Array(rows * cols) },
      computed: new Uint8Array(rows),
      map,
      target: tokens ? 'the logit of the token predicted at that position' : 'the sum of the output vector at that position',
      targets: new Array<BackwardTarget | undefined>(rows).fill(undefined),
      ms: 0,
      summary: '',
    };
    this.auto = autoPositions(rows, first, AUTO_ROWS);
    this.describe();
  }

  /** Rows computed so far. */
  get done(): number {
    return this.relevance.computed.reduce((s, v) => s + v, 0);
  }

  get rows(): number {
    return this.relevance.matrix.rows;
  }

  /** Rows waiting to be computed, in order: those asked for, then the automatic ones unless they were cancelled. */
  private get queue(): number[] {
    return [...this.asked, ...(this.autoStopped ? [] : this.auto.filter((p) => !this.asked.includes(p)))];
  }

  /** Rows waiting to be computed. */
  get pending(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.state === 'running';
  }

  /** Starts (or continues) the rows waiting, if any. Returns at once. */
  resume(): void {
    if (this.disposed || this.state === 'running' || !this.queue.length) return;
    this.run();
  }

  /** Continues the automatic rows after a cancel, or after a failure (the user's Continue). */
  continue(): void {
    if (this.disposed) return;
    this.autoStopped = false;
    if (this.state !== 'running') this.run();
  }

  /** Computes `position` next (also after a cancel: asking for a row is asking to compute it). */
  request(position: number): void {
    if (this.disposed || !Number.isInteger(position) || position < 0 || position >= this.rows || this.relevance.computed[position]) return;
    if (this.state === 'running' && this.asked[0] === position) return; // already next: nothing to reorder
    this.asked = [position, ...this.asked.filter((p) => p !== position)];
    if (this.state === 'running') this.ctrl?.abort('reorder');
    else this.run();
  }

  /** Every row not computed yet becomes automatic, and they run. */
  all(): void {
    if (this.disposed) return;
    this.auto = Array.from({ length: this.rows }, (_, p) => p).filter((p) => !this.relevance.computed[p]);
    this.autoStopped = false;
    if (this.state !== 'running') this.run();
  }

  /** The user's stop: the row in flight finishes on the GPU, no further row starts until Continue or a row is asked for. */
  async cancel(): Promise<void> {
    this.autoStopped = true;
    this.asked = [];
    await this.halt('stopped');
  }

  /** Another task needs the model: stop after the row in flight; resume() continues (with a fresh forward). */
  async suspend(): Promise<void> {
    this.refresh = true;
    if (this.state === 'running') await this.halt('suspended');
  }

  /** The analysis is gone: stop, and never call onChange again. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.ctrl?.abort('dispose');
    await this.loop;
  }

  private async halt(state: RelevanceState): Promise<void> {
    if (this.state === 'running') this.ctrl?.abort(state);
    await this.loop;
    if (this.disposed) return;
    if (this.state !== 'done' && this.state !== 'failed' && (this.queue.length || state === 'stopped')) this.state = state;
    this.describe();
    this.onChange();
  }

  private run(): void {
    if (!this.queue.length) return;
    if (!this.canRun()) {
      // Only a change of state is news: onChange redraws the text view, whose query asks for its row again, and an
      // unconditional onChange would make that a loop of mutation callbacks that never yields the main thread.
      const state = this.state === 'waiting' ? 'waiting' : 'suspended';
      if (state === this.state) return;
      this.state = state;
      this.describe();
      this.onChange();
      return;
    }
    this.state = 'running';
    this.describe();
    this.onChange();
    this.loop = this.work();
  }

  private async work(): Promise<void> {
    while (this.queue.length && !this.disposed) {
      const ctrl = new AbortController();
      this.ctrl = ctrl;
      this.since = performance.now();
      try {
        if (this.refresh) {
          // profile, causal analysis or generation ran forwards of their own: the backward needs this analysis's
          this.fwd = await this.model.forward(this.inputs, { grad: true });
          this.refresh = false;
        }
        await relevanceRows(this.model, this.fwd, this.tokens ? 'argmax' : 'sum', {
          positions: [...this.queue],
          signal: ctrl.signal,
          onRow: (r) => this.take(r.position, r.row, r.target),
        });
      } catch (e) {
        this.relevance.ms += performance.now() - this.since;
        if (ctrl.signal.aborted && ctrl.signal.reason === 'reorder') continue;
        if (!ctrl.signal.aborted) {
          this.state = 'failed';
          this.error = e instanceof Error ? e.message : String(e);
        }
        break;
      }
    }
    if (this.disposed) return;
    if (this.state === 'running') this.state = this.done === this.rows ? 'done' : this.queue.length || (this.autoStopped && this.auto.length) ? 'stopped' : 'partial';
    this.describe();
    this.onChange();
  }

  private take(position: number, row: Float32Array, target: BackwardTarget): void {
    if (this.disposed) return;
    const r = this.relevance;
    if (row.length !== r.matrix.cols) throw new Error(`relevance: row ${position} has ${row.length} columns, the map ${r.matrix.cols}`);
    r.matrix.data.set(row, position * r.matrix.cols);
    r.computed[position] = 1;
    r.targets[position] = target;
    this.asked = this.asked.filter((p) => p !== position);
    this.auto = this.auto.filter((p) => p !== position);
    const now = performance.now();
    r.ms += now - this.since;
    this.since = now;
    this.describe();
    this.onChange();
  }

  private describe(): void {
    const r = this.relevance;
    const n = this.done;
    const of = `${n}/${this.rows} rows`;
    const time = `${r.ms.toFixed(0)} ms`;
    r.summary = {
      waiting: `${of}, computing after the maps`,
      running: `computing: ${of}`,
      suspended: `${of}, paused while another task uses the model`,
      stopped: `stopped at ${of}`,
      done: `${n} backwards in ${time}`,
      partial: `${of} (${n} backwards in ${time}); the others on demand`,
      failed: `failed at ${of}: ${this.error ?? ''}`,
    }[this.state];
  }
}
