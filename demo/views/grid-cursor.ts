// Keyboard and pointer reading of a canvas whose content is cells in rows (the generation steps, the causal card's
// grids, logit-lens table and attribution text): the canvas takes the focus, arrow keys move a cell cursor drawn on
// it, and the cell under the cursor or the pointer is read into an aria-live readout; click or Enter picks a cell
// where the view has an action for it.

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
  /** The cell under canvas point (x, y) in CSS pixels, if any. */
  hit(x: number, y: number): Cell | undefined;
  /** The readout of a cell. */
  describe(c: Cell): string;
  /** Draws the view with `mark` outlined (none: no mark). */
  draw(mark: Cell | undefined): void;
  /** Click or Enter on a cell; none: cells are only read. */
  pick?(c: Cell): void;
}

export class GridCursor {
  private content?: GridContent;
  private cursor: Cell = { row: 0, col: 0 };
  private hover?: Cell;

  /**
   * `onReadout`: the readout's text for a cell, or '' when no cell is read (the pointer left, the focus went): the
   * page shows its hint then.
   */
  constructor(
    readonly canvas: HTMLCanvasElement,
    roleDescription: string,
    private readonly onReadout: (text: string) => void,
  ) {
    canvas.tabIndex = 0;
    canvas.setAttribute('role', 'application');
    canvas.setAttribute('aria-roledescription', roleDescription);
    canvas.addEventListener('focus', () => this.moveBy(0, 0));
    canvas.addEventListener('blur', () => {
      this.redraw();
      if (!this.hover) this.onReadout('');
    });
    canvas.addEventListener('keydown', (e) => this.key(e));
    canvas.addEventListener('mousemove', (e) => {
      const r = canvas.getBoundingClientRect();
      this.setHover(this.content?.hit(e.clientX - r.left, e.clientY - r.top));
    });
    canvas.addEventListener('mouseleave', () => this.setHover(undefined));
    canvas.addEventListener('click', (e) => {
      const r = canvas.getBoundingClientRect();
      const c = this.content?.hit(e.clientX - r.left, e.clientY - r.top);
      if (!c || !this.content?.pick) return;
      this.cursor = c;
      this.content.pick(c);
    });
  }

  /**
   * New content, labelled `label` for a screen reader (say what it shows and which keys work): drawn, the cursor kept
   * where it was when that cell still exists.
   */
  set(content: GridContent, label: string): void {
    this.content = content;
    this.hover = undefined;
    this.cursor = this.clamp(this.cursor.row, this.cursor.col);
    this.canvas.setAttribute('aria-label', label);
    this.redraw();
    if (this.focused) this.onReadout(this.empty ? '' : content.describe(this.cursor));
  }

  /** Nothing to show (the view is about to be hidden or redrawn by others). */
  clear(): void {
    this.content = undefined;
    this.hover = undefined;
    delete this.canvas.dataset.cursor;
  }

  /** No cell to be on (no rows, or the cursor's row has none). */
  private get empty(): boolean {
    return !this.content || this.cursor.row < 0 || this.cursor.col < 0;
  }

  private get focused(): boolean {
    return document.activeElement === this.canvas;
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
    this.redraw();
    this.onReadout(this.content.describe(this.cursor));
  }

  private setHover(h: Cell | undefined): void {
    if (!this.content || (h?.row === this.hover?.row && h?.col === this.hover?.col)) return;
    this.hover = h;
    this.redraw();
    this.onReadout(h ? this.content.describe(h) : this.focused ? this.content.describe(this.cursor) : '');
  }

  /** Draws the content with the hovered cell marked, else the cursor while the canvas has the focus. */
  private redraw(): void {
    const c = this.content;
    if (!c) return;
    const mark = this.hover ?? (this.focused && !this.empty ? this.cursor : undefined);
    c.draw(mark);
    this.canvas.dataset.cursor = `${this.cursor.row},${this.cursor.col}`;
  }
}
