// The text view: the tokens as running text, each on the colour of its value in one row of a map — how much the
// chosen token attends to it, or how relevant it is for the chosen token's prediction (BertViz's neuron view, read
// as text). Thousands of tokens scroll smoothly: positions are laid out once, and only the lines in view are in the
// DOM. The box takes the focus and its tokens are cells of one row for a GridCursor: the arrow keys move a marked
// cursor over them, and the token under the cursor or the pointer is read out; clicking it, or Enter / Space, chooses
// it as the query where the tokens are the map's rows.
import { cssColor, inkOn } from './colors.ts';
import { type Cell, GridCursor } from './grid-cursor.ts';
import { FONT } from './raster.ts';

export interface TextData {
  /** The tokens shown, in order (the map's keys). */
  labels: readonly string[];
  /** One value per token, and the top of the colour scale. */
  values: ArrayLike<number>;
  max: number;
  /** The token whose row is shown, when it is one of `labels` (self-attention); outlined. */
  chosen?: number;
  /** What token i's readout says. */
  describe(i: number): string;
  /** Chooses token i as the query; none when the tokens are not the map's rows (they are only read then). */
  choose?(i: number): void;
  /** For a screen reader: what the view shows and which keys work. */
  label: string;
}

const LINE = 22;
const PAD = 3;
/** Lines drawn above and below the visible ones. */
const MARGIN = 6;

export class TextView {
  readonly element = document.createElement('div');
  private readonly inner = document.createElement('div');
  private data?: TextData;
  /** Left edge, width and line of every token for the current width. */
  private x = new Float32Array(0);
  private w = new Float32Array(0);
  private line = new Int32Array(0);
  private laidOutFor = -1;
  private scheduled = false;
  private readonly cursor: GridCursor<HTMLDivElement>;
  /** The token marked (the cursor's or the pointer's), kept for redraws on scroll. */
  private mark?: number;

  /** `onReadout`: the readout's text for a token, or '' when none is read. */
  constructor(host: HTMLElement, onReadout: (text: string) => void) {
    this.element.className = 'text-view';
    this.inner.className = 'text-view-inner';
    this.element.append(this.inner);
    host.append(this.element);
    this.element.addEventListener('scroll', () => this.schedule());
    this.cursor = new GridCursor(this.element, 'text', onReadout);
  }

  set(d: TextData): void {
    const relayout = d.labels !== this.data?.labels;
    this.data = d;
    if (relayout) this.laidOutFor = -1;
    this.layout();
    if (d.chosen !== undefined) this.reveal(d.chosen);
    this.draw();
    this.cursor.set(
      {
        rows: 1,
        cols: () => d.labels.length,
        hit: (x, y) => this.hit(x, y),
        describe: (c) => d.describe(c.col),
        draw: (mark) => this.markToken(mark?.col),
        pick: d.choose && ((c: Cell) => d.choose!(c.col)),
        moved: (c) => this.reveal(c.col),
      },
      d.label,
    );
  }

  /** Moves the mark to token i (none: no mark) on the spans in the DOM; a redraw on scroll keeps it. */
  private markToken(i: number | undefined): void {
    this.mark = i;
    this.inner.querySelector('.tok.cursor')?.classList.remove('cursor');
    if (i !== undefined) this.inner.querySelector(`[data-i="${i}"]`)?.classList.add('cursor');
  }

  /** The token at (x, y) in CSS pixels from the box's top left corner, if any. */
  private hit(x: number, y: number): Cell | undefined {
    const box = this.element.getBoundingClientRect();
    const inner = this.inner.getBoundingClientRect();
    const px = x + box.left - inner.left;
    const line = Math.floor((y + box.top - inner.top) / LINE);
    if (px < 0 || line < 0) return undefined;
    for (let i = this.firstOnLine(line); i < this.line.length && this.line[i] === line; i++) if (px >= this.x[i] && px < this.x[i] + this.w[i]) return { row: 0, col: i };
    return undefined;
  }

  /** Scrolls token i into view (centred) if it is not. */
  private reveal(i: number): void {
    const top = this.line[i] * LINE;
    const h = this.element.clientHeight;
    if (top < this.element.scrollTop || top + LINE > this.element.scrollTop + h) this.element.scrollTop = Math.max(0, top - h / 2);
  }

  private layout(): void {
    const width = Math.max(200, this.element.clientWidth - 16);
    if (this.laidOutFor === width) return;
    const labels = this.data!.labels;
    const probe = document.createElement('canvas').getContext('2d')!;
    probe.font = FONT;
    const n = labels.length;
    this.x = new Float32Array(n);
    this.w = new Float32Array(n);
    this.line = new Int32Array(n);
    const widths = new Map<string, number>();
    let x = 0;
    let line = 0;
    for (let i = 0; i < n; i++) {
      const s = labels[i];
      let tw = widths.get(s);
      if (tw === undefined) {
        tw = Math.ceil(probe.measureText(s).width) + 2 * PAD;
        widths.set(s, tw);
      }
      if (x + tw > width && x > 0) {
        x = 0;
        line++;
      }
      this.x[i] = x;
      this.w[i] = tw;
      this.line[i] = line;
      x += tw;
      if (s === '⏎' || s === '\n') {
        x = 0;
        line++;
      }
    }
    this.inner.style.height = `${(n ? this.line[n - 1] + 1 : 0) * LINE}px`;
    this.laidOutFor = width;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  /** First token on line `l` or later (lines never decrease along the tokens). */
  private firstOnLine(l: number): number {
    let lo = 0;
    let hi = this.line.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.line[mid] < l) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private draw(): void {
    const d = this.data;
    if (!d) return;
    this.layout();
    const top = this.element.scrollTop;
    const first = this.firstOnLine(Math.floor(top / LINE) - MARGIN);
    const end = this.firstOnLine(Math.ceil((top + this.element.clientHeight) / LINE) + MARGIN);
    const spans: HTMLElement[] = [];
    for (let i = first; i < end; i++) {
      const v = d.values[i] ?? 0;
      const s = document.createElement('span');
      s.className = `tok${i === d.chosen ? ' chosen' : ''}${i === this.mark ? ' cursor' : ''}${d.choose ? ' choosable' : ''}`;
      s.dataset.i = String(i);
      s.textContent = d.labels[i];
      s.style.left = `${this.x[i]}px`;
      s.style.top = `${this.line[i] * LINE}px`;
      s.style.width = `${this.w[i]}px`;
      s.style.background = cssColor(v, d.max);
      s.style.color = inkOn(v, d.max);
      spans.push(s);
    }
    this.inner.replaceChildren(...spans);
    Object.assign(this.element.dataset, { tokens: String(d.labels.length), drawn: String(end - first), first: String(first), chosen: String(d.chosen ?? '') });
  }
}
