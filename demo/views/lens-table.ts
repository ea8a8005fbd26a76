// The logit lens as a table: a row per residual stream (the embeddings, then each layer's output), a column per
// position; each cell the top token there and its probability, shaded by that probability.
import { cssColor, inkOn } from './colors.ts';
import { columnLabels, FONT, FONT_SMALL, sizeCanvas, UI_FONT } from './raster.ts';

export interface LensTable {
  streams: readonly string[];
  positions: readonly string[];
  /** [streams, positions]: the top token's label and its probability. */
  top: readonly string[];
  prob: Float32Array;
  title: string;
}

export function drawLensTable(canvas: HTMLCanvasElement, d: LensTable): void {
  const probe = sizeCanvas(canvas, 1, 1);
  probe.font = FONT;
  const cell = Math.max(44, Math.min(80, Math.ceil(Math.max(...d.top.map((t) => probe.measureText(t).width))) + 10));
  const left = Math.ceil(Math.max(...d.streams.map((s) => probe.measureText(s).width))) + 12;
  const cols = columnLabels(probe, d.positions, cell);
  const top = 24 + Math.max(16, cols.height);
  const rowH = 30;
  const ctx = sizeCanvas(canvas, left + cell * d.positions.length + 8, top + rowH * d.streams.length + 8);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = UI_FONT;
  ctx.fillStyle = '#123';
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(d.title, 4, 4);
  ctx.font = FONT;
  columnLabels(ctx, d.positions, cell).draw(left, top - 8, () => '#345');
  d.streams.forEach((s, i) => {
    ctx.font = FONT;
    ctx.fillStyle = '#345';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ctx.fillText(s, left - 6, top + (i + 0.5) * rowH);
    d.positions.forEach((_, j) => {
      const k = i * d.positions.length + j;
      const x = left + j * cell;
      const y = top + i * rowH;
      ctx.fillStyle = cssColor(d.prob[k], 1);
      ctx.fillRect(x, y, cell - 1, rowH - 1);
      ctx.fillStyle = inkOn(d.prob[k], 1);
      ctx.textAlign = 'center';
      ctx.font = FONT;
      ctx.fillText(d.top[k], x + cell / 2, y + 10, cell - 4);
      ctx.font = FONT_SMALL;
      ctx.fillText(`${(100 * d.prob[k]).toFixed(0)}%`, x + cell / 2, y + 22);
    });
  });
}
