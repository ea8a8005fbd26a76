// The model view: a layers x heads grid of small heatmaps for one kind of attention, plus each layer's head mean
// and (self-attention) rollout, drawn by the GPU from each map's overview tile. Clicking a cell selects it for the
// large view; with the focus, arrow keys move a cursor over the maps and Enter selects.
import type { HeadChoice } from '../attention.ts';
import { MapRenderer, type Tile } from '../gpu/map-renderer.ts';
import { headColor } from './colors.ts';
import { sizeCanvas, UI_FONT } from './raster.ts';

export interface GridCell {
  layer: number;
  choice: HeadChoice;
  /** The whole map: exact, or a downsampled grid; its max is the top of its colour scale. */
  tile: Tile;
  /** Map size (rows x cols) the tile covers. */
  rows: number;
  cols: number;
}

export interface GridData {
  layers: number;
  /** Column choices in order: heads, then 'mean', then 'rollout' where available. */
  columns: HeadChoice[];
  cells: GridCell[];
}

const columnTitle = (c: HeadChoice, wide: boolean) => (typeof c === 'number' ? (wide ? `head ${c}` : String(c)) : c === 'mean' ? 'mean' : wide ? 'rollout' : 'roll.');

/** Preferred map size (CSS px) when the page has room: the panel asks for this much width (520 px at least). */
const PREFERRED = 64;
/** Below this the grid wraps into bands of columns rather than shrink further. */
const MIN_SIZE = 28;

/** Where a cell's keyboard cursor or hover reports to: its layer and column, or nothing. */
export type CursorListener = (cell: { layer: number; choice: HeadChoice } | undefined) => void;

export class ModelView {
  readonly canvas = document.createElement('canvas');
  private readonly renderer: MapRenderer;
  private data?: GridData;
  private geom = { x0: 0, y0: 0, size: 0, gap: 0, pitchY: 0, bw: 0, bh: 0, w: 0, h: 0, perBand: 1, bandH: 0 };
  private selected?: { layer: number; choice: HeadChoice };
  private hover?: number;
  /** The keyboard cursor: a layer and a column index. */
  private cursor = { layer: 0, col: 0 };

  constructor(
    private readonly host: HTMLElement,
    device: GPUDevice,
    private readonly onSelect: (layer: number, choice: HeadChoice) => void,
    private readonly onCursor: CursorListener,
  ) {
    this.renderer = new MapRenderer(device);
    this.canvas.className = 'model-view';
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'application');
    this.canvas.setAttribute('aria-roledescription', 'grid of attention maps');
    host.append(this.canvas);
    this.canvas.addEventListener('click', (e) => {
      const i = this.indexAt(e);
      if (i !== undefined) {
        const c = this.data!.cells[i];
        this.onSelect(c.layer, c.choice);
      }
    });
    this.canvas.addEventListener('mousemove', (e) => {
      const i = this.indexAt(e);
      this.canvas.style.cursor = i === undefined ? 'default' : 'pointer';
      if (i !== this.hover) {
        this.hover = i;
        this.paint();
        const c = i === undefined ? undefined : this.data!.cells[i];
        this.onCursor(c && { layer: c.layer, choice: c.choice });
      }
    });
    this.canvas.addEventListener('mouseleave', () => {
      this.hover = undefined;
      this.paint();
      this.onCursor(undefined);
    });
    this.canvas.addEventListener('focus', () => {
      const s = this.selected;
      if (s && this.data) this.cursor = { layer: s.layer, col: Math.max(0, this.data.columns.indexOf(s.choice)) };
      this.paint();
      this.report();
    });
    this.canvas.addEventListener('blur', () => this.paint());
    this.canvas.addEventListener('keydown', (e) => this.key(e));
  }

  set(d: GridData, selected?: { layer: number; choice: HeadChoice }): void {
    this.data = d;
    this.selected = selected;
    this.cursor = { layer: Math.min(this.cursor.layer, d.layers - 1), col: Math.min(this.cursor.col, d.columns.length - 1) };
    this.draw();
  }

  /** Lets go of the maps (their buffers are about to be destroyed): a frame still queued is superseded by an empty one. */
  forget(): void {
    this.data = undefined;
    void this.renderer.render(1, 1, 1, []);
  }

  select(s: { layer: number; choice: HeadChoice }): void {
    this.selected = s;
    this.paint();
  }

  /** Arrow keys move the cursor over layers and columns, Home / End to the first / last column, Enter picks. */
  private key(e: KeyboardEvent): void {
    const d = this.data;
    if (!d) return;
    const c = this.cursor;
    const moves: Record<string, () => void> = {
      ArrowLeft: () => (c.col = Math.max(0, c.col - 1)),
      ArrowRight: () => (c.col = Math.min(d.columns.length - 1, c.col + 1)),
      ArrowUp: () => (c.layer = Math.max(0, c.layer - 1)),
      ArrowDown: () => (c.layer = Math.min(d.layers - 1, c.layer + 1)),
      Home: () => (c.col = 0),
      End: () => (c.col = d.columns.length - 1),
      PageUp: () => (c.layer = 0),
      PageDown: () => (c.layer = d.layers - 1),
    };
    if (moves[e.key]) {
      moves[e.key]();
      this.paint();
      this.report();
    } else if (e.key === 'Enter' || e.key === ' ') {
      this.onSelect(c.layer, d.columns[c.col]);
    } else return;
    e.preventDefault();
  }

  private report(): void {
    const d = this.data;
    if (d) this.onCursor({ layer: this.cursor.layer, choice: d.columns[this.cursor.col] });
  }

  private indexAt(e: MouseEvent): number | undefined {
    const d = this.data;
    if (!d) return undefined;
    const r = this.canvas.getBoundingClientRect();
    const { x0, y0, size, gap, pitchY, bh, perBand, bandH } = this.geom;
    const band = Math.floor((e.clientY - r.top) / bandH);
    const x = e.clientX - r.left - x0;
    const y = e.clientY - r.top - band * bandH - y0;
    const jj = Math.floor(x / (size + gap));
    const row = Math.floor(y / pitchY);
    const col = band * perBand + jj;
    if (jj < 0 || jj >= perBand || row < 0 || col >= d.columns.length || row >= d.layers) return undefined;
    if (x - jj * (size + gap) > size || y - row * pitchY > bh) return undefined;
    const i = d.cells.findIndex((c) => c.layer === row && c.choice === d.columns[col]);
    return i < 0 ? undefined : i;
  }

  /** Top-left corner of the map box of layer `layer`, column index `j`. */
  private corner(layer: number, j: number): { x: number; y: number } {
    const { x0, y0, size, gap, pitchY, bw, perBand, bandH } = this.geom;
    const band = Math.floor(j / perBand);
    return { x: x0 + (j % perBand) * (size + gap) + (size - bw) / 2, y: band * bandH + y0 + layer * pitchY };
  }

  private box(c: GridCell): { x: number; y: number } {
    return this.corner(c.layer, this.data!.columns.indexOf(c.choice));
  }

  /**
   * Lays the grid out and draws every map on the GPU; then paints labels and borders over them. The panel asks for
   * room for every column at PREFERRED px (taking a row of its own when the page has it); maps shrink to fit its
   * width, and below MIN_SIZE the columns wrap into bands, each with its own titles.
   */
  draw(): void {
    const d = this.data;
    if (!d) return;
    const x0 = 62;
    const y0 = 32;
    const gap = 10;
    const n = d.columns.length;
    const panel = this.host.closest<HTMLElement>('.panel');
    if (panel) panel.style.flexBasis = `${Math.max(520, x0 + n * (PREFERRED + gap) + 8)}px`;
    const avail = Math.max(200, this.host.clientWidth - 8);
    const m0 = d.cells[0];
    const aspect = m0 ? m0.rows / m0.cols : 1;
    let size = Math.min(132, Math.floor((avail - x0) / n) - gap);
    let perBand = n;
    if (size < MIN_SIZE) {
      size = MIN_SIZE + 8;
      perBand = Math.max(1, Math.floor((avail - x0) / (size + gap)));
    }
    const bands = Math.ceil(n / perBand);
    // each map keeps its shape inside a size x size box (never thinner than a third of it)
    const bw = aspect > 1 ? Math.max(size / 3, size / aspect) : size;
    const bh = aspect > 1 ? size : Math.max(size / 3, size * aspect);
    const pitchY = Math.round(bh) + gap;
    const bandH = y0 + d.layers * pitchY + (bands > 1 ? 14 : 4);
    const w = x0 + perBand * (size + gap);
    const h = bands * bandH;
    this.geom = { x0, y0, size, gap, pitchY, bw, bh, w, h, perBand, bandH };
    // the CSS size now, so clicks land on the new layout before the GPU's frame is painted into it
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    Object.assign(this.canvas.dataset, { x0: String(x0), y0: String(y0), size: String(size), gap: String(gap), pitchY: String(pitchY), perBand: String(perBand), bandH: String(bandH), columns: d.columns.join(',') });
    const heads = d.columns.filter((c) => typeof c === 'number').length;
    const what = d.columns.filter((c) => typeof c !== 'number');
    this.canvas.setAttribute(
      'aria-label',
      `Model view: ${d.layers} layers × ${heads} heads${what.length ? ` plus ${what.join(' and ')}` : ''}, ${m0?.rows ?? 0} × ${m0?.cols ?? 0} each. Arrow keys move between maps, Enter shows one in the large view.`,
    );
    const draws = d.cells.map((c) => {
      const { x, y } = this.box(c);
      return { tile: c.tile, at: { x, y, w: bw, h: bh, col0: 0, row0: 0, cellW: bw / c.cols, cellH: bh / c.rows } };
    });
    void this.renderer.render(w, h, Math.min(2, window.devicePixelRatio || 1), draws).then((drawn) => drawn && this.paint());
  }

  private paint(): void {
    const d = this.data;
    if (!d || !this.renderer.frames) return;
    const { x0, size, gap, bw, bh, w, h, perBand, bandH } = this.geom;
    const ctx = sizeCanvas(this.canvas, w, h);
    ctx.drawImage(this.renderer.frame, 0, 0, w, h);
    this.canvas.dataset.frames = String(this.renderer.frames);
    ctx.font = UI_FONT;
    ctx.textBaseline = 'middle';
    const wide = size >= 50;
    const heads = d.columns.filter((c) => typeof c === 'number').length;
    d.columns.forEach((c, j) => {
      const band = Math.floor(j / perBand);
      const x = x0 + (j % perBand) * (size + gap);
      ctx.textAlign = 'center';
      ctx.fillStyle = typeof c === 'number' ? '#56606b' : '#1c5d99';
      ctx.fillText(columnTitle(c, wide), x + size / 2, band * bandH + 11, size);
      // the head's colour in the head view and its legend, so a column and its lines are found by colour
      if (typeof c === 'number') {
        ctx.fillStyle = headColor(c, heads);
        ctx.fillRect(x + 2, band * bandH + 21, size - 4, 5);
      }
    });
    ctx.textAlign = 'right';
    ctx.fillStyle = '#56606b';
    for (let band = 0; band * perBand < d.columns.length; band++) {
      for (let l = 0; l < d.layers; l++) ctx.fillText(`layer ${l}`, x0 - 10, this.corner(l, band * perBand).y + bh / 2);
    }
    d.cells.forEach((c, i) => {
      const { x, y } = this.box(c);
      const sel = this.selected && this.selected.layer === c.layer && this.selected.choice === c.choice;
      ctx.lineWidth = sel ? 3 : 1;
      ctx.strokeStyle = sel ? '#d9480f' : i === this.hover ? '#1c5d99' : '#d5dbe2';
      ctx.strokeRect(x - (sel ? 1.5 : 0.5), y - (sel ? 1.5 : 0.5), bw + (sel ? 3 : 1), bh + (sel ? 3 : 1));
    });
    if (document.activeElement === this.canvas) {
      const { x, y } = this.corner(this.cursor.layer, this.cursor.col);
      ctx.setLineDash([4, 3]);
      ctx.lineWidth = 2;
      ctx.strokeStyle = '#1c5d99';
      ctx.strokeRect(x - 4, y - 4, bw + 8, bh + 8);
      ctx.setLineDash([]);
    }
    this.canvas.dataset.cursor = `${this.cursor.layer},${d.columns[this.cursor.col]}`;
  }
}
