// The model view: a layers x heads grid of small heatmaps for one kind of attention, plus each layer's head mean
// and (self-attention) rollout. Clicking a cell selects it for the large view.
import type { HeadChoice, Matrix } from '../attention.ts';
import { blit, rasterize, sizeCanvas, UI_FONT } from './raster.ts';

export interface GridCell {
  layer: number;
  choice: HeadChoice;
  matrix: Matrix;
}

export interface GridData {
  layers: number;
  /** Column choices in order: heads, then 'mean', then 'rollout' where available. */
  columns: HeadChoice[];
  cells: GridCell[];
  /** Colour scale top: per cell maximum when undefined. */
  max?: number;
}

const columnTitle = (c: HeadChoice) => (typeof c === 'number' ? `head ${c}` : c === 'mean' ? 'mean' : 'rollout');

export class ModelView {
  readonly canvas = document.createElement('canvas');
  private data?: GridData;
  private rasters: HTMLCanvasElement[] = [];
  private geom = { x0: 0, y0: 0, size: 0, gap: 0, pitchY: 0, bw: 0, bh: 0 };
  private selected?: { layer: number; choice: HeadChoice };
  private hover?: number;

  constructor(
    private readonly host: HTMLElement,
    private readonly onSelect: (layer: number, choice: HeadChoice) => void,
  ) {
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
        this.draw();
      }
    });
    this.canvas.addEventListener('mouseleave', () => {
      this.hover = undefined;
      this.draw();
    });
  }

  set(d: GridData, selected?: { layer: number; choice: HeadChoice }): void {
    this.data = d;
    this.selected = selected;
    this.rasters = d.cells.map((c) => {
      let mx = d.max ?? 0;
      if (d.max === undefined) for (const v of c.matrix.data) mx = Math.max(mx, v);
      return rasterize(c.matrix, mx);
    });
    this.draw();
  }

  select(s: { layer: number; choice: HeadChoice }): void {
    this.selected = s;
    this.draw();
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

  draw(): void {
    const d = this.data;
    if (!d) return;
    const avail = Math.max(300, this.host.clientWidth - 8);
    const x0 = 62;
    const y0 = 26;
    const gap = 10;
    const m0 = d.cells[0]?.matrix;
    const aspect = m0 ? m0.rows / m0.cols : 1;
    const size = Math.max(36, Math.min(132, Math.floor((avail - x0) / d.columns.length) - gap));
    // each map keeps its shape inside a size x size box (never thinner than a third of it)
    const bw = aspect > 1 ? Math.max(size / 3, size / aspect) : size;
    const bh = aspect > 1 ? size : Math.max(size / 3, size * aspect);
    const pitchY = Math.round(bh) + gap;
    this.geom = { x0, y0, size, gap, pitchY, bw, bh };
    Object.assign(this.canvas.dataset, { x0: String(x0), y0: String(y0), size: String(size), gap: String(gap), pitchY: String(pitchY), columns: d.columns.join(',') });
    const w = x0 + d.columns.length * (size + gap);
    const h = y0 + d.layers * pitchY + 4;
    const ctx = sizeCanvas(this.canvas, w, h);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    ctx.font = UI_FONT;
    ctx.fillStyle = '#56606b';
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
      const col = d.columns.indexOf(c.choice);
      const x = x0 + col * (size + gap) + (size - bw) / 2;
      const y = y0 + c.layer * pitchY;
      blit(ctx, this.rasters[i], x, y, bw, bh);
      const sel = this.selected && this.selected.layer === c.layer && this.selected.choice === c.choice;
      ctx.lineWidth = sel ? 3 : 1;
      ctx.strokeStyle = sel ? '#d9480f' : i === this.hover ? '#1c5d99' : '#d5dbe2';
      ctx.strokeRect(x - (sel ? 1.5 : 0.5), y - (sel ? 1.5 : 0.5), bw + (sel ? 3 : 1), bh + (sel ? 3 : 1));
    });
  }
}
