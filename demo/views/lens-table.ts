// The logit lens as a table: a row per residual stream (the embeddings, then each layer's output), a column per
// position; each cell the top token there and its probability, shaded by that probability.
import { cssColor, inkOn } from './colors.ts';
import { gridFrame } from './causal-grid.ts';
import { FONT, FONT_SMALL, sizeCanvas } from './raster.ts';

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
  const rowH = 30;
  const { ctx, left, top } = gridFrame(canvas, d.title, d.streams, d.positions, cell, rowH);
  ctx.textAlign = 'center';
  d.streams.forEach((_, i) => {
    d.positions.forEach((_, j) => {
      const k = i * d.positions.length + j;
      const x = left + j * cell;
      const y = top + i * rowH;
      ctx.fillStyle = cssColor(d.prob[k], 1);
      ctx.fillRect(x, y, cell - 1, rowH - 1);
      ctx.fillStyle = inkOn(d.prob[k], 1);
      ctx.font = FONT;
      ctx.fillText(d.top[k], x + cell / 2, y + 10, cell - 4);
      ctx.font = FONT_SMALL;
      ctx.fillText(`${(100 * d.prob[k]).toFixed(0)}%`, x + cell / 2, y + 22);
    });
  });
}
