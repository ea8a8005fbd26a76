// The model view: a layers x heads grid of small heatmaps for one kind of attention, plus each layer's head mean
// and (self-attention) rollout, drawn by the GPU from each map's overview tile. Clicking a cell selects it for the
// large view.
import type { HeadChoice } from '../attention.ts';
import { MapRenderer, type Tile } from '../gpu/map-renderer.ts';
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

const columnTitle = (c: HeadChoice) => (typeof c === 'number' ? `head ${c}` : c === 'mean' ? 'mean' : 'rollout');

export class ModelView {
  readonly canvas = document.createElement('canvas');
  private readonly renderer: MapRenderer;
  private data?: GridData;
  private geom = { x0: 0, y0: 0, size: 0, gap: 0, pitchY: 0, bw: 0, bh: 0, w: 0, h: 0 };
  private selected?: { layer: number; choice: HeadChoice };
  private hover?: number;

  constructor(
    private readonly host: HTMLElement,
    device: GPUDevice,
    private readonly onSelect: (layer: number, choice: HeadChoice) => void,
  ) {
    this.renderer = new MapRenderer(device);
    this.canvas.className = 'model-view';
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
      }
    });
    this.canvas.addEventListener('mouseleave', () => {
      this.hover = undefined;
      this.paint();
    });
  }

  set(d: GridData, selected?: { layer: number; choice: HeadChoice }): void {
    this.data = d;
    this.selected = selected;
    this.draw();
  }

  select(s: { layer: number; choice: HeadChoice }): void {
    this.selected = s;
    this.paint();
  }

  private indexAt(e: MouseEvent): number | undefined {
    const d = this.data;
    if (!d) return undefined;
    const r = this.canvas.getBoundingClientRect();
    const { x0, y0, size, gap, pitchY, bh } = this.geom;
    const x = e.clientX - r.left - x0;
    const y = e.clientY - r.top - y0;
    const col = Math.floor(x / (size + gap));
    const row = Math.floor(y / pitchY);
    if (col < 0 || row < 0 || col >= d.columns.length || row >= d.layers) return undefined;
    if (x - col * (size + gap) > size || y - row * pitchY > bh) return undefined;
    const i = d.cells.findIndex((c) => c.layer === row && c.choice === d.columns[col]);
    return i < 0 ? undefined : i;
  }

  private box(c: GridCell): { x: number; y: number } {
    const { x0, y0, size, gap, pitchY, bw } = this.geom;
    return { x: x0 + this.data!.columns.indexOf(c.choice) * (size + gap) + (size - bw) / 2, y: y0 + c.layer * pitchY };
  }

  /** Lays the grid out and draws every map on the GPU; then paints labels and borders over them. */
  draw(): void {
    const d = this.data;
    if (!d) return;
    const avail = Math.max(300, this.host.clientWidth - 8);
    const x0 = 62;
    const y0 = 26;
    const gap = 10;
    const m0 = d.cells[0];
    const aspect = m0 ? m0.rows / m0.cols : 1;
    const size = Math.max(36, Math.min(132, Math.floor((avail - x0) / d.columns.length) - gap));
    // each map keeps its shape inside a size x size box (never thinner than a third of it)
    const bw = aspect > 1 ? Math.max(size / 3, size / aspect) : size;
    const bh = aspect > 1 ? size : Math.max(size / 3, size * aspect);
    const pitchY = Math.round(bh) + gap;
    const w = x0 + d.columns.length * (size + gap);
    const h = y0 + d.layers * pitchY + 4;
    this.geom = { x0, y0, size, gap, pitchY, bw, bh, w, h };
    Object.assign(this.canvas.dataset, { x0: String(x0), y0: String(y0), size: String(size), gap: String(gap), pitchY: String(pitchY), columns: d.columns.join(',') });
    const draws = d.cells.map((c) => {
      const { x, y } = this.box(c);
      return { tile: c.tile, at: { x, y, w: bw, h: bh, col0: 0, row0: 0, cellW: bw / c.cols, cellH: bh / c.rows } };
    });
    void this.renderer.render(w, h, Math.min(2, window.devicePixelRatio || 1), draws).then((drawn) => drawn && this.paint());
  }

  private paint(): void {
    const d = this.data;
    if (!d || !this.renderer.frames) return;
    const { x0, y0, size, gap, pitchY, bw, bh, w, h } = this.geom;
    const ctx = sizeCanvas(this.canvas, w, h);
    ctx.drawImage(this.renderer.frame, 0, 0, w, h);
    this.canvas.dataset.frames = String(this.renderer.frames);
    ctx.font = UI_FONT;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'center';
    d.columns.forEach((c, j) => {
      ctx.fillStyle = typeof c === 'number' ? '#56606b' : '#1c5d99';
      ctx.fillText(columnTitle(c), x0 + j * (size + gap) + size / 2, 12, size);
    });
    ctx.textAlign = 'right';
    ctx.fillStyle = '#56606b';
    for (let l = 0; l < d.layers; l++) ctx.fillText(`layer ${l}`, x0 - 10, y0 + l * pitchY + bh / 2);
    d.cells.forEach((c, i) => {
      const { x, y } = this.box(c);
      const sel = this.selected && this.selected.layer === c.layer && this.selected.choice === c.choice;
      ctx.lineWidth = sel ? 3 : 1;
      ctx.strokeStyle = sel ? '#d9480f' : i === this.hover ? '#1c5d99' : '#d5dbe2';
      ctx.strokeRect(x - (sel ? 1.5 : 0.5), y - (sel ? 1.5 : 0.5), bw + (sel ? 3 : 1), bh + (sel ? 3 : 1));
    });
  }
}
