// The large heatmap: one attention map with token labels on both axes (query rows, key columns), a colour bar, and
// hover reporting (row token, column token, value read back from the GPU). The cells are drawn by the GPU
// (demo/gpu/map-renderer.ts) from the map's tiles; the wheel zooms around the pointer, a drag pans, a double click
// shows the whole map again; with the focus, arrow keys move a cell cursor (its value goes to the readout), + / −
// zoom around it, 0 shows the whole map, Enter picks its row. Zoomed out, a long map shows its downsampled grid; zoomed in, an exact window of the
// visible rows is captured on demand (demo/gpu/lod.ts).
import { hitTile, type Hit, type MapSource, Viewport } from '../gpu/lod.ts';
import { MapRenderer, type Tile } from '../gpu/map-renderer.ts';
import { CellReader } from '../gpu/readback.ts';
import { formatValue, LUT } from './colors.ts';
import { gridMove } from './grid-cursor.ts';
import { columnLabels, FONT, FONT_SMALL, sizeCanvas, UI_FONT } from './raster.ts';

export interface HeatmapData {
  source: MapSource;
  rows: string[];
  cols: string[];
  rowAxis: string;
  colAxis: string;
  /** What the map is, for its text alternative: 'Self-attention, layer 2, head 5'. */
  title: string;
  /** The colour bar's top label when it is not the tile's max (a scale per row: "each row's max"). */
  legendTop?: string;
}

export interface HoverCell {
  row: number;
  col: number;
  value: number;
  /** Where the value stands for a block of the downsampled grid (its block max): the block's rows and columns. */
  block?: { rows: [number, number]; cols: [number, number] };
}

/** Cells at least this many CSS pixels wide get token labels. */
const LABEL_CELL = 9;
/** Room for turned column labels when they only appear zoomed in. */
const ZOOM_LABEL_ROOM = 100;
/** Index ticks: the smallest of these steps whose labels do not crowd (1, 2, 5, 10, 20, 50, …). */
const tickStep = (cell: number, minPx: number) => {
  for (let k = 1; ; k *= 10) for (const m of [1, 2, 5]) if (m * k * cell >= minPx) return m * k;
};

export class HeatmapView {
  readonly canvas = document.createElement('canvas');
  private readonly renderer: MapRenderer;
  private readonly reader: CellReader;
  private data?: HeatmapData;
  private view?: Viewport;
  private geom = { x0: 0, y0: 0, w: 0, h: 0, rowLabelW: 0 };
  private windowTile?: Tile;
  private hover?: Hit;
  private drag?: { x: number; y: number };
  private pending?: ReturnType<typeof setTimeout>;
  private fetching?: [number, number];
  private scheduled = false;
  /** Exact windows asked for since the map was set. */
  private fetches = 0;

  constructor(
    private readonly host: HTMLElement,
    device: GPUDevice,
    private readonly onHover: (cell: HoverCell | undefined) => void,
    /** Enter on a cell: its row (the text view takes it as its query). */
    private readonly onPick?: (row: number) => void,
  ) {
    this.renderer = new MapRenderer(device);
    this.reader = new CellReader(device);
    this.canvas.className = 'heatmap';
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'application');
    this.canvas.setAttribute('aria-roledescription', 'attention map');
    host.append(this.canvas);
    this.canvas.addEventListener('keydown', (e) => this.key(e));
    this.canvas.addEventListener('focus', () => this.moveCursor(0, 0));
    this.canvas.addEventListener('blur', () => this.setHover(undefined));
    this.canvas.addEventListener('mousemove', (e) => this.move(e));
    this.canvas.addEventListener('mouseleave', () => this.setHover(undefined));
    this.canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      this.drag = { x: e.clientX, y: e.clientY };
      this.canvas.setPointerCapture(e.pointerId);
    });
    this.canvas.addEventListener('pointerup', () => (this.drag = undefined));
    this.canvas.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    this.canvas.addEventListener('dblclick', () => this.reset());
  }

  /** Shows a new map: the whole of it, the previous window dropped. */
  set(d: HeatmapData): void {
    this.data = d;
    this.dropWindow();
    this.fetches = 0;
    this.hover = undefined;
    this.cursor = undefined;
    this.canvas.setAttribute(
      'aria-label',
      `${d.title}: ${d.source.rows} rows, ${d.rowAxis}, × ${d.source.cols} columns, ${d.colAxis}; colour scale 0 – ${d.legendTop ?? formatValue(d.source.overview.max)}. Arrow keys move a cell cursor and read its value, plus and minus zoom, 0 shows the whole map.`,
    );
    this.layout();
    this.render();
  }

  /**
   * Lets go of the map (its buffers are about to be destroyed): a frame still queued for it is superseded by an empty
   * one, and nothing reads from it until the next set().
   */
  forget(): void {
    this.data = undefined;
    this.view = undefined;
    this.hover = undefined;
    this.cursor = undefined;
    this.dropWindow();
    clearTimeout(this.pending);
    void this.renderer.render(1, 1, 1, []);
  }

  /** Frames the GPU has drawn for this view. */
  get frames(): number {
    return this.renderer.frames;
  }

  /** The whole map in view again (double click, the 0 key, the page's "whole map" button). */
  reset(): void {
    if (!this.view) return;
    this.layout();
    this.render();
  }

  private dropWindow(): void {
    this.windowTile?.values.buffer.destroy();
    this.windowTile = undefined;
    this.fetching = undefined;
  }

  /** Zooms by `factor` around the keyboard cursor (or the middle of the view). */
  zoomBy(factor: number): void {
    const v = this.view;
    if (!v) return;
    const c = this.cursor ?? { row: v.row0 + v.h / v.cell / 2, col: v.col0 + v.w / v.cell / 2 };
    v.zoomAt((c.col + 0.5 - v.col0) * v.cell, (c.row + 0.5 - v.row0) * v.cell, factor);
    this.render();
  }

  /** The keyboard cursor: a map cell, kept in view. */
  private cursor?: { row: number; col: number };

  private key(e: KeyboardEvent): void {
    const v = this.view;
    if (!v) return;
    const move = gridMove(e, v.rows, v.cols);
    if (move) this.moveCursor(...move);
    else if (e.key === '+' || e.key === '=') this.zoomBy(2);
    else if (e.key === '-' || e.key === '_') this.zoomBy(0.5);
    else if (e.key === '0') this.reset();
    else if (e.key === 'Enter' && this.cursor) this.onPick?.(this.cursor.row);
    else return;
    e.preventDefault();
  }

  /** Moves the cursor by (dr, dc) cells, scrolls the view to keep it in sight, and reports its value. */
  private moveCursor(dr: number, dc: number): void {
    const v = this.view;
    if (!v || !this.data) return;
    const c = this.cursor ?? (this.hover ? { row: this.hover.row, col: this.hover.col } : { row: 0, col: 0 });
    const row = Math.min(v.rows - 1, Math.max(0, c.row + dr));
    const col = Math.min(v.cols - 1, Math.max(0, c.col + dc));
    this.cursor = { row, col };
    const vis = v.visible();
    const inView = row >= Math.ceil(v.row0) && row < vis.r1 - (vis.r1 < v.rows ? 1 : 0) && col >= Math.ceil(v.col0) && col < vis.c1 - (vis.c1 < v.cols ? 1 : 0);
    if (!inView) {
      const rowsShown = v.h / v.cell;
      const colsShown = v.w / v.cell;
      v.scrollTo(row < v.row0 ? row : row >= v.row0 + rowsShown - 1 ? row - rowsShown + 2 : v.row0, col < v.col0 ? col : col >= v.col0 + colsShown - 1 ? col - colsShown + 2 : v.col0);
      this.render();
    }
    this.canvas.dataset.cursor = `${row},${col}`;
    this.hover = undefined; // report even when the mouse last stood on the same cell
    this.setHover(hitTile(row, col, this.tiles()));
  }

  /** Geometry at zoom 1: label room, the cell size that fits the whole map, the plot. */
  private layout(): void {
    const d = this.data!;
    const { rows, cols } = d.source;
    const probe = this.canvas.getContext('2d')!;
    probe.font = FONT;
    let widest = 0;
    for (const s of d.rows) widest = Math.max(widest, probe.measureText(s).width);
    const avail = Math.max(240, this.host.clientWidth - 24);
    const rowLabelW = Math.min(90, widest) + 34;
    const fitted = Math.max(0.01, Math.min(34, (avail - rowLabelW - 70) / cols, 640 / rows));
    const fit = fitted >= 1 ? Math.floor(fitted) : fitted;
    let head = ZOOM_LABEL_ROOM;
    if (fit >= LABEL_CELL) {
      probe.font = fit >= 12 ? FONT : FONT_SMALL;
      head = Math.max(18, columnLabels(probe, d.cols, fit).height);
    }
    const x0 = rowLabelW;
    const y0 = 34 + head;
    probe.font = UI_FONT;
    const axisLen = probe.measureText(`${d.rowAxis} →`).width;
    this.view = new Viewport(rows, cols, fit, cols * fit, rows * fit);
    // tall enough for the turned row-axis title and the colour bar's labels
    this.geom = { x0, y0, w: x0 + cols * fit + 84, h: y0 + Math.max(rows * fit, axisLen + 6, 60) + 12, rowLabelW };
  }

  private scheduleRender(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.render();
    });
  }

  private tiles(): Tile[] {
    const s = this.data!.source;
    return this.windowTile ? [s.overview, this.windowTile] : [s.overview];
  }

  /** Draws the cells on the GPU, then the labels over them; asks for an exact window when the view wants one. */
  render(): void {
    const v = this.view;
    if (!v || !this.data) return;
    const at = v.placement(0, 0);
    this.describe();
    void this.renderer.render(v.w, v.h, Math.min(2, window.devicePixelRatio || 1), this.tiles().map((tile) => ({ tile, at }))).then((drawn) => drawn && this.paint());
    this.planWindow();
  }

  /** The geometry tests and benches read: map cell (0, 0) at (x0, y0), cell size, zoom, frames, the exact window. */
  private describe(): void {
    const v = this.view!;
    Object.assign(this.canvas.dataset, {
      x0: String(this.geom.x0 - v.col0 * v.cell),
      y0: String(this.geom.y0 - v.row0 * v.cell),
      cell: String(v.cell),
      rows: String(v.rows),
      cols: String(v.cols),
      zoom: String(v.zoom),
      frames: String(this.renderer.frames),
      window: this.windowTile ? `${this.windowTile.r0}-${this.windowTile.r1}` : '',
      fetches: String(this.fetches),
    });
  }

  /** Composites the last GPU frame with axes, labels, hover marks and the colour bar. */
  private paint(): void {
    const d = this.data;
    const v = this.view;
    if (!d || !v) return;
    const { x0, y0, w, h, rowLabelW } = this.geom;
    const cell = v.cell;
    const vis = v.visible();
    this.describe();
    const ctx = sizeCanvas(this.canvas, w, h);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    ctx.drawImage(this.renderer.frame, x0, y0, v.w, v.h);
    const pw = Math.min(v.w, v.cols * cell);
    const ph = Math.min(v.h, v.rows * cell);
    const cx = (j: number) => x0 + (j - v.col0) * cell;
    const cy = (i: number) => y0 + (i - v.row0) * cell;
    ctx.save();
    ctx.beginPath();
    ctx.rect(x0, y0, pw, ph);
    ctx.clip();
    if (cell >= 14) {
      // thin gaps between cells read better than a solid block
      ctx.strokeStyle = 'rgba(255,255,255,0.9)';
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let i = vis.r0 + 1; i < vis.r1; i++) {
        ctx.moveTo(x0, Math.round(cy(i)) + 0.5);
        ctx.lineTo(x0 + pw, Math.round(cy(i)) + 0.5);
      }
      for (let j = vis.c0 + 1; j < vis.c1; j++) {
        ctx.moveTo(Math.round(cx(j)) + 0.5, y0);
        ctx.lineTo(Math.round(cx(j)) + 0.5, y0 + ph);
      }
      ctx.stroke();
    }
    const hv = this.hover;
    if (hv) {
      const [r0, r1] = hv.rows;
      const [c0, c1] = hv.cols;
      ctx.strokeStyle = 'rgba(217,72,15,0.55)';
      ctx.lineWidth = 1;
      ctx.strokeRect(x0 + 0.5, cy(r0) + 0.5, pw - 1, (r1 - r0) * cell - 1);
      ctx.strokeRect(cx(c0) + 0.5, y0 + 0.5, (c1 - c0) * cell - 1, ph - 1);
      ctx.strokeStyle = '#d9480f';
      ctx.lineWidth = 2;
      ctx.strokeRect(cx(c0), cy(r0), Math.max(2, (c1 - c0) * cell), Math.max(2, (r1 - r0) * cell));
    }
    ctx.restore();
    ctx.strokeStyle = '#c8d0da';
    ctx.strokeRect(x0 - 0.5, y0 - 0.5, pw + 1, ph + 1);
    ctx.fillStyle = '#56606b';
    ctx.font = UI_FONT;
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    const span = (a: number, b: number, n: number) => (a === 0 && b === n ? '' : ` (${a}–${b - 1} of ${n})`);
    ctx.fillText(`${d.colAxis}${span(vis.c0, vis.c1, v.cols)} →`, x0, 16, w - x0 - 4);
    ctx.save();
    ctx.translate(12, y0);
    ctx.rotate(Math.PI / 2);
    ctx.fillText(`${d.rowAxis}${span(vis.r0, vis.r1, v.rows)} →`, 0, 0, h - y0 - 4);
    ctx.restore();
    if (cell >= LABEL_CELL) this.labels(ctx, vis, cx, cy, rowLabelW);
    else this.ticks(ctx, vis, cx, cy);
    this.canvas.dataset.labels = cell >= LABEL_CELL ? 'tokens' : 'indices';
    this.colorBar(ctx, x0 + pw + 22, y0, Math.max(60, Math.min(ph, 260)), d.legendTop ?? formatValue(d.source.overview.max));
  }

  /** Cells too small for token labels: row and column indices every few cells. */
  private ticks(ctx: CanvasRenderingContext2D, vis: ReturnType<Viewport['visible']>, cx: (j: number) => number, cy: (i: number) => number): void {
    const cell = this.view!.cell;
    const { x0, y0 } = this.geom;
    ctx.font = FONT_SMALL;
    ctx.fillStyle = '#56606b';
    ctx.strokeStyle = '#8994a0';
    ctx.lineWidth = 1;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    const rs = tickStep(cell, 16);
    ctx.beginPath();
    for (let i = Math.ceil(vis.r0 / rs) * rs; i < vis.r1; i += rs) {
      const y = Math.round(cy(i + 0.5)) + 0.5;
      ctx.fillText(String(i), x0 - 7, y);
      ctx.moveTo(x0 - 4, y);
      ctx.lineTo(x0, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    const cs = tickStep(cell, 34);
    for (let j = Math.ceil(vis.c0 / cs) * cs; j < vis.c1; j += cs) {
      const x = Math.round(cx(j + 0.5)) + 0.5;
      ctx.fillText(String(j), x, y0 - 6);
      ctx.moveTo(x, y0 - 4);
      ctx.lineTo(x, y0);
    }
    ctx.stroke();
  }

  /** Token labels of the visible rows and columns. */
  private labels(ctx: CanvasRenderingContext2D, vis: ReturnType<Viewport['visible']>, cx: (j: number) => number, cy: (i: number) => number, rowLabelW: number): void {
    const d = this.data!;
    const cell = this.view!.cell;
    const hv = this.hover;
    ctx.font = cell >= 12 ? FONT : FONT_SMALL;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (let i = vis.r0; i < vis.r1; i++) {
      ctx.fillStyle = hv && i >= hv.rows[0] && i < hv.rows[1] ? '#d9480f' : '#1d2733';
      ctx.fillText(d.rows[i], this.geom.x0 - 6, cy(i + 0.5), rowLabelW - 30);
    }
    const labels = columnLabels(ctx, d.cols.slice(vis.c0, vis.c1), cell);
    ctx.save();
    ctx.beginPath();
    ctx.rect(this.geom.x0, 0, this.view!.w, this.geom.y0);
    ctx.clip();
    labels.draw(cx(vis.c0), this.geom.y0 - 10, (j) => (hv && vis.c0 + j >= hv.cols[0] && vis.c0 + j < hv.cols[1] ? '#d9480f' : '#1d2733'));
    ctx.restore();
  }

  /** After the view settles: capture the exact window it wants, unless it is shown or on its way. */
  private planWindow(): void {
    clearTimeout(this.pending);
    const s = this.data?.source;
    const want = s && this.view!.wantsWindow(s);
    if (!s?.window || !want) return;
    const w = this.windowTile;
    if ((w && w.r0 <= want[0] && w.r1 >= want[1]) || (this.fetching && this.fetching[0] === want[0] && this.fetching[1] === want[1])) return;
    this.pending = setTimeout(() => {
      this.fetching = want;
      this.fetches++;
      this.describe();
      void s.window!.fetch(want[0], want[1]).then(
        (tile) => {
          if (this.data?.source !== s || this.fetching !== want) {
            tile.values.buffer.destroy(); // the view moved on to another map or window
            return;
          }
          this.windowTile?.values.buffer.destroy();
          this.windowTile = tile;
          this.fetching = undefined;
          this.render();
        },
        (e: unknown) => {
          this.fetching = undefined;
          this.canvas.dataset.windowError = e instanceof Error ? e.message : String(e);
        },
      );
    }, 150);
  }

  private plotPoint(e: MouseEvent): { px: number; py: number } {
    const r = this.canvas.getBoundingClientRect();
    return { px: e.clientX - r.left - this.geom.x0, py: e.clientY - r.top - this.geom.y0 };
  }

  private wheel(e: WheelEvent): void {
    if (!this.view) return;
    e.preventDefault();
    const { px, py } = this.plotPoint(e);
    this.view.zoomAt(px, py, Math.exp(-e.deltaY / 300));
    this.scheduleRender();
  }

  /** Zooms by `factor` around plot point (px, py) in CSS pixels (the wheel's action, for tests and benches). */
  zoomAt(px: number, py: number, factor: number): void {
    this.view?.zoomAt(px, py, factor);
    this.render();
  }

  private move(e: MouseEvent): void {
    if (this.drag && e.buttons & 1) {
      this.view?.pan(e.clientX - this.drag.x, e.clientY - this.drag.y);
      this.drag = { x: e.clientX, y: e.clientY };
      this.scheduleRender();
      return;
    }
    const { px, py } = this.plotPoint(e);
    const c = this.view?.cellAt(px, py);
    if (c) this.cursor = c;
    this.setHover(c && hitTile(c.row, c.col, this.tiles()));
  }

  private setHover(h: Hit | undefined): void {
    const same = h && this.hover && h.tile === this.hover.tile && h.index === this.hover.index && h.row === this.hover.row && h.col === this.hover.col;
    if (same || (!h && !this.hover)) return;
    this.hover = h;
    if (this.renderer.frames) this.paint();
    if (!h) {
      this.onHover(undefined);
      return;
    }
    const exact = h.rows[1] - h.rows[0] === 1 && h.cols[1] - h.cols[0] === 1;
    void this.reader.read(h.tile.values, h.index).then((value) => {
      if (this.hover === h) this.onHover({ row: h.row, col: h.col, value, ...(exact ? {} : { block: { rows: h.rows, cols: h.cols } }) });
    });
  }

  private colorBar(ctx: CanvasRenderingContext2D, x: number, y: number, h: number, top: string): void {
    for (let i = 0; i < h; i++) {
      const k = Math.round((1 - i / (h - 1)) * 255) * 4;
      ctx.fillStyle = `rgb(${LUT[k]},${LUT[k + 1]},${LUT[k + 2]})`;
      ctx.fillRect(x, y + i, 12, 1);
    }
    ctx.strokeStyle = '#c8d0da';
    ctx.strokeRect(x - 0.5, y - 0.5, 13, h + 1);
    ctx.fillStyle = '#56606b';
    ctx.font = FONT_SMALL;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillText(top, x + 16, y + 4, 44);
    ctx.fillText('0', x + 16, y + h - 4);
  }
}
