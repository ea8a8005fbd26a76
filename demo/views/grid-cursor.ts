// Keyboard and pointer reading of a view whose content is cells in rows (the generation steps, the causal card's
// grids, logit-lens table and attribution text, the text view's tokens): the view's element (a canvas, or the text
// view's box) takes the focus, arrow keys move a cell cursor drawn on it, and the cell under the cursor or the pointer
// is read into an aria-live readout; click, Enter or Space picks a cell where the view has an action for it.

export interface Cell {
  row: number;
  col: number;
}

/**
 * The move a key asks for in a grid of `rows` x `cols` cells, as [rows, columns]: arrows one cell (ten with Shift),
 * Page Up / Down ten rows, Home / End to the row's first / last cell (with Ctrl: the first / last row).
 */
export function gridMove(e: KeyboardEvent, rows: number, cols: number): [number, number] | undefined {
  const n = e.shiftKey ? 10 : 1;
  const moves: Record<string, [number, number]> = {
    ArrowUp: [-n, 0],
    ArrowDown: [n, 0],
    ArrowLeft: [0, -n],
    ArrowRight: [0, n],
    PageUp: [-10, 0],
    PageDown: [10, 0],
    Home: e.ctrlKey ? [-rows, 0] : [0, -cols],
    End: e.ctrlKey ? [rows, 0] : [0, cols],
  };
  return moves[e.key];
}

/** The cursor's mark: a dashed outline over a white one (seen on any colour), just outside the cell's box (CSS px). */
export function markCell(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): void {
  ctx.save();
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 4;
  ctx.strokeRect(x - 1, y - 1, w + 2, h + 2);
  ctx.setLineDash([3, 2]);
  ctx.strokeStyle = '#1c5d99';
  ctx.lineWidth = 2;
  ctx.strokeRect(x - 1, y - 1, w + 2, h + 2);
  ctx.restore();
}

/** What a view tells its cursor: its cells, how to find and name one, how to draw itself with one marked. */
export interface GridContent {
  rows: number;
  /** Cells in row `row` (rows may differ: an attribution's inputs have their own lengths). */
  cols(row: number): number;
  /** The cell under point (x, y) in CSS pixels from the element's top left corner, if any. */
  hit(x: number, y: number): Cell | undefined;
  /** The readout of a cell. */
  describe(c: Cell): string;
  /** Draws the view with `mark` outlined (none: no mark). */
  draw(mark: Cell | undefined): void;
  /** Click or Enter on a cell; none: cells are only read. */
  pick?(c: Cell): void;
  /** The cursor went to a cell by key or focus, before it is drawn (a view that scrolls brings the cell into view). */
  moved?(c: Cell): void;
}

/** `E`: the element that takes the focus (a canvas unless said). */
export class GridCursor<E extends HTMLElement = HTMLCanvasElement> {
  private content?: GridContent;
  private cursor: Cell = { row: 0, col: 0 };
  private hover?: Cell;
  /** The readout's last text: a redraw with the same text under the cursor (a streamed step) says nothing again. */
  private said = '';

  /**
   * `onReadout`: the readout's text for a cell, or '' when no cell is read (the pointer left, the focus went): the
   * page shows its hint then.
   */
  constructor(
    readonly element: E,
    roleDescription: string,
    private readonly onReadout: (text: string) => void,
  ) {
    element.tabIndex = 0;
    element.setAttribute('role', 'application');
    element.setAttribute('aria-roledescription', roleDescription);
    element.addEventListener('focus', () => this.moveBy(0, 0));
    element.addEventListener('blur', () => {
      this.redraw();
      if (!this.hover) this.read('');
    });
    element.addEventListener('keydown', (e) => this.key(e));
    element.addEventListener('mousemove', (e) => {
      const r = element.getBoundingClientRect();
      this.setHover(this.content?.hit(e.clientX - r.left, e.clientY - r.top));
    });
    element.addEventListener('mouseleave', () => this.setHover(undefined));
    element.addEventListener('click', (e) => {
      const r = element.getBoundingClientRect();
      const c = this.content?.hit(e.clientX - r.left, e.clientY - r.top);
      if (!c || !this.content) return;
      // the cursor goes to the cell clicked (the click focused the view, which read the cursor's old cell)
      this.moveBy(c.row - this.cursor.row, c.col - this.cursor.col);
      this.content.pick?.(c);
    });
  }

  /**
   * New content, labelled `label` for a screen reader (say what it shows and which keys work): drawn, the cursor kept
   * where it was when that cell still exists. With the focus here the readout follows the cell under the cursor, and
   * speaks only when its text changed: new content is not a user's action, and a view redrawn per streamed token
   * would otherwise say the same cell again and again.
   */
  set(content: GridContent, label: string): void {
    this.content = content;
    this.hover = undefined;
    this.cursor = this.clamp(this.cursor.row, this.cursor.col);
    this.element.setAttribute('aria-label', label);
    this.redraw();
    if (this.focused) {
      const text = this.empty ? '' : content.describe(this.cursor);
      if (text !== this.said) this.read(text);
    }
  }

  /** Reads `news` (an event to hear of, e.g. that generation finished) and the cell under the cursor, if focused. */
  announce(news: string): void {
    if (!this.focused || !this.content || this.empty) return;
    const text = this.content.describe(this.cursor);
    this.onReadout(`${news} ${text}`);
    this.said = text; // the cell's own text: a redraw of the same cell after this stays quiet
  }

  /** Nothing to show (the view is about to be hidden or redrawn by others). */
  clear(): void {
    this.content = undefined;
    this.hover = undefined;
    delete this.element.dataset.cursor;
  }

  /** No cell to be on (no rows, or the cursor's row has none). */
  private get empty(): boolean {
    return !this.content || this.cursor.row < 0 || this.cursor.col < 0;
  }

  private get focused(): boolean {
    return document.activeElement === this.element;
  }

  private clamp(row: number, col: number): Cell {
    const c = this.content!;
    const r = Math.min(c.rows - 1, Math.max(0, row));
    return { row: r, col: Math.min(c.cols(r) - 1, Math.max(0, col)) };
  }

  private key(e: KeyboardEvent): void {
    const c = this.content;
    if (!c) return;
    const move = gridMove(e, c.rows, c.cols(this.cursor.row));
    if (move) this.moveBy(...move);
    else if ((e.key === 'Enter' || e.key === ' ') && c.pick && !this.empty) c.pick(this.cursor);
    else return;
    e.preventDefault();
  }

  private moveBy(dr: number, dc: number): void {
    if (!this.content) return;
    this.cursor = this.clamp(this.cursor.row + dr, this.cursor.col + dc);
    if (this.empty) return;
    this.hover = undefined;
    this.content.moved?.(this.cursor);
    this.redraw();
    this.read(this.content.describe(this.cursor));
  }

  private setHover(h: Cell | undefined): void {
    if (!this.content || (h?.row === this.hover?.row && h?.col === this.hover?.col)) return;
    this.hover = h;
    this.redraw();
    this.read(h ? this.content.describe(h) : this.focused ? this.content.describe(this.cursor) : '');
  }

  private read(text: string): void {
    this.said = text;
    this.onReadout(text);
  }

  /** Draws the content with the hovered cell marked, else the cursor while the element has the focus. */
  private redraw(): void {
    const c = this.content;
    if (!c) return;
    const mark = this.hover ?? (this.focused && !this.empty ? this.cursor : undefined);
    c.draw(mark);
    this.element.dataset.cursor = `${this.cursor.row},${this.cursor.col}`;
  }
}
