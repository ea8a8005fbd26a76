// The large heatmap: one attention map with token labels on both axes (query rows, key columns), a colour bar, and
// hover reporting (row token, column token, value read back from the GPU). The cells are drawn by the GPU
// (demo/gpu/map-renderer.ts) from the map's tiles; the wheel zooms around the pointer, a drag pans, a double click
// shows the whole map again. Zoomed out, a long map shows its downsampled grid; zoomed in, an exact window of the
// visible rows is captured on demand (demo/gpu/lod.ts).
import { hitTile, type Hit, type MapSource, Viewport } from '../gpu/lod.ts';
import { MapRenderer, type Tile } from '../gpu/map-renderer.ts';
import { CellReader } from '../gpu/readback.ts';
import { LUT } from './colors.ts';
import { columnLabels, FONT, FONT_SMALL, sizeCanvas, UI_FONT } from './raster.ts';

export interface HeatmapData {
  source: MapSource;
  rows: string[];
  cols: string[];
  rowAxis: string;
  colAxis: string;
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
  ) {
    this.renderer = new MapRenderer(device);
    this.reader = new CellReader(device);
    this.canvas.className = 'heatmap';
    host.append(this.canvas);
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
    this.layout();
    this.render();
  }

  /** Frames the GPU has drawn for this view. */
  get frames(): number {
    return this.renderer.frames;
  }

  private reset(): void {
    if (!this.view) return;
    this.layout();
    this.render();
  }

  private dropWindow(): void {
    this.windowTile?.values.buffer.destroy();
    this.windowTile = undefined;
    this.fetching = undefined;
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
    this.view = new Viewport(rows, cols, fit, cols * fit, rows * fit);
    this.geom = { x0, y0, w: x0 + cols * fit + 70, h: y0 + rows * fit + 12, rowLabelW };
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
    const d = this.data!;
    const v = this.view!;
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
    ctx.fillText(`${d.colAxis}${span(vis.c0, vis.c1, v.cols)} →`, x0, 16);
    ctx.save();
    ctx.translate(12, y0);
    ctx.rotate(Math.PI / 2);
    ctx.fillText(`${d.rowAxis}${span(vis.r0, vis.r1, v.rows)} →`, 0, 0);
    ctx.restore();
    if (cell >= LABEL_CELL) this.labels(ctx, vis, cx, cy, rowLabelW);
    this.colorBar(ctx, x0 + pw + 22, y0, Math.max(60, Math.min(ph, 260)), d.source.overview.max);
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

  private colorBar(ctx: CanvasRenderingContext2D, x: number, y: number, h: number, max: number): void {
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
    ctx.fillText(max.toFixed(2), x + 16, y + 4);
    ctx.fillText('0', x + 16, y + h - 4);
  }
}
