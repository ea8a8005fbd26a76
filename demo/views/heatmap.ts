// The large heatmap: one attention matrix with token labels on both axes (query rows, key columns),
// a colour bar, and hover reporting (row token, column token, value).
import type { Matrix } from '../attention.ts';
import { LUT } from './colors.ts';
import { blit, columnLabels, FONT, FONT_SMALL, rasterize, sizeCanvas, UI_FONT } from './raster.ts';

export interface HeatmapData {
  matrix: Matrix;
  rows: string[];
  cols: string[];
  /** Value at the top of the colour scale. */
  max: number;
  rowAxis: string;
  colAxis: string;
}

export interface HoverCell {
  row: number;
  col: number;
  value: number;
}

interface Layout {
  x0: number;
  y0: number;
  cell: number;
  w: number;
  h: number;
}

export class HeatmapView {
  readonly canvas = document.createElement('canvas');
  private data?: HeatmapData;
  private raster?: HTMLCanvasElement;
  private layout?: Layout;
  private hover?: HoverCell;

  constructor(
    private readonly host: HTMLElement,
    private readonly onHover: (cell: HoverCell | undefined) => void,
  ) {
    this.canvas.className = 'heatmap';
    host.append(this.canvas);
    this.canvas.addEventListener('mousemove', (e) => this.move(e));
    this.canvas.addEventListener('mouseleave', () => this.setHover(undefined));
  }

  set(d: HeatmapData): void {
    this.data = d;
    this.raster = rasterize(d.matrix, d.max);
    this.hover = undefined;
    this.draw();
  }

  /** The cell under a point in CSS pixels of the canvas, if any. */
  cellAt(x: number, y: number): { row: number; col: number } | undefined {
    const l = this.layout;
    const d = this.data;
    if (!l || !d) return undefined;
    const col = Math.floor((x - l.x0) / l.cell);
    const row = Math.floor((y - l.y0) / l.cell);
    if (row < 0 || col < 0 || row >= d.matrix.rows || col >= d.matrix.cols) return undefined;
    return { row, col };
  }

  private move(e: MouseEvent): void {
    const r = this.canvas.getBoundingClientRect();
    const c = this.cellAt(e.clientX - r.left, e.clientY - r.top);
    this.setHover(c && { ...c, value: this.data!.matrix.data[c.row * this.data!.matrix.cols + c.col] });
  }

  private setHover(h: HoverCell | undefined): void {
    if (h?.row === this.hover?.row && h?.col === this.hover?.col) return;
    this.hover = h;
    this.draw();
    this.onHover(h);
  }

  draw(): void {
    const d = this.data;
    if (!d) return;
    const { rows, cols } = d.matrix;
    const probe = this.canvas.getContext('2d')!;
    probe.font = FONT;
    const textW = (labels: string[]) => labels.reduce((m, s) => Math.max(m, probe.measureText(s).width), 0);
    const avail = Math.max(240, this.host.clientWidth - 24);
    const rowLabelW = Math.min(90, textW(d.rows)) + 34;
    const cell = Math.max(1, Math.min(34, Math.floor((avail - rowLabelW - 70) / cols), Math.floor(640 / rows)));
    const showLabels = cell >= 9;
    probe.font = cell >= 12 ? FONT : FONT_SMALL;
    const colLabels = columnLabels(probe, d.cols, cell);
    const x0 = rowLabelW;
    const y0 = 34 + (showLabels ? Math.max(18, colLabels.height) : 4);
    const w = x0 + cols * cell + 70;
    const h = y0 + rows * cell + 12;
    this.layout = { x0, y0, cell, w, h };
    Object.assign(this.canvas.dataset, { x0: String(x0), y0: String(y0), cell: String(cell), rows: String(rows), cols: String(cols) });
    const ctx = sizeCanvas(this.canvas, w, h);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    blit(ctx, this.raster!, x0, y0, cols * cell, rows * cell);
    if (cell >= 14) {
      // thin gaps between cells read better than a solid block
      ctx.strokeStyle = 'rgba(255,255,255,0.9)';
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let i = 1; i < rows; i++) {
        ctx.moveTo(x0, y0 + i * cell + 0.5);
        ctx.lineTo(x0 + cols * cell, y0 + i * cell + 0.5);
      }
      for (let j = 1; j < cols; j++) {
        ctx.moveTo(x0 + j * cell + 0.5, y0);
        ctx.lineTo(x0 + j * cell + 0.5, y0 + rows * cell);
      }
      ctx.stroke();
    }
    ctx.strokeStyle = '#c8d0da';
    ctx.strokeRect(x0 - 0.5, y0 - 0.5, cols * cell + 1, rows * cell + 1);
    // axis captions
    ctx.fillStyle = '#56606b';
    ctx.font = UI_FONT;
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    ctx.fillText(`${d.colAxis} →`, x0, 16);
    ctx.save();
    ctx.translate(12, y0);
    ctx.rotate(Math.PI / 2);
    ctx.fillText(`${d.rowAxis} →`, 0, 0);
    ctx.restore();
    const hv = this.hover;
    if (showLabels) {
      ctx.font = cell >= 12 ? FONT : FONT_SMALL;
      ctx.textBaseline = 'middle';
      ctx.textAlign = 'right';
      for (let i = 0; i < rows; i++) {
        ctx.fillStyle = hv?.row === i ? '#d9480f' : '#1d2733';
        ctx.fillText(d.rows[i], x0 - 6, y0 + (i + 0.5) * cell, rowLabelW - 30);
      }
      colLabels.draw(x0, y0 - 10, (j) => (hv?.col === j ? '#d9480f' : '#1d2733'));
    }
    if (hv) {
      ctx.strokeStyle = 'rgba(217,72,15,0.55)';
      ctx.lineWidth = 1;
      ctx.strokeRect(x0 + 0.5, y0 + hv.row * cell + 0.5, cols * cell - 1, cell - 1);
      ctx.strokeRect(x0 + hv.col * cell + 0.5, y0 + 0.5, cell - 1, rows * cell - 1);
      ctx.strokeStyle = '#d9480f';
      ctx.lineWidth = 2;
      ctx.strokeRect(x0 + hv.col * cell, y0 + hv.row * cell, cell, cell);
    }
    this.colorBar(ctx, x0 + cols * cell + 22, y0, Math.max(60, Math.min(rows * cell, 260)), d.max);
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
