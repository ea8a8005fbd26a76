// The logit lens as a table: a row per residual stream (the embeddings, then each layer's output), a column per
// position; each cell the top token there and its probability, shaded by that probability. A cell is read (pointer or
// keyboard, grid-cursor.ts) as its top tokens and the rank of the target, the model's final prediction.
import { cssColor, inkOn } from './colors.ts';
import { gridFrame, placed, type TableGeometry, tableHit } from './causal-grid.ts';
import { type Cell, type GridContent, markCell } from './grid-cursor.ts';
import { FONT, FONT_SMALL, sizeCanvas } from './raster.ts';

export interface LensTable {
  streams: readonly string[];
  positions: readonly string[];
  /** [streams, positions]: the top tokens, best first, with their probabilities (the first is drawn). */
  top: readonly (readonly { token: string; prob: number }[])[];
  /** The token whose rank the readout gives, and [streams, positions] its rank (0: the top token). */
  target: string;
  ranks: Uint32Array;
  title: string;
}

const pct = (p: number) => `${(100 * p).toFixed(p < 0.1 ? 1 : 0)}%`;

/** The table as a cursor's content. */
export function lensContent(canvas: HTMLCanvasElement, d: LensTable): GridContent {
  let g: TableGeometry | undefined;
  return {
    rows: d.streams.length,
    cols: () => d.positions.length,
    hit: (x, y) => g && tableHit(g, x, y),
    describe: ({ row, col }) => {
      const k = row * d.positions.length + col;
      const top = d.top[k].map((t) => `${JSON.stringify(t.token)} ${pct(t.prob)}`).join(', ');
      return `${d.streams[row]}, position ${col} ${JSON.stringify(d.positions[col])}: top ${top}; the target ${JSON.stringify(d.target)} ranks ${d.ranks[k] + 1}`;
    },
    draw: (mark) => {
      g = drawLensTable(canvas, d, mark);
    },
  };
}

/** Draws the table, `mark` outlined; returns where its cells are. */
export function drawLensTable(canvas: HTMLCanvasElement, d: LensTable, mark?: Cell): TableGeometry {
  const probe = sizeCanvas(canvas, 1, 1);
  probe.font = FONT;
  const cell = Math.max(44, Math.min(80, Math.ceil(Math.max(...d.top.map((t) => probe.measureText(t[0].token).width))) + 10));
  const rowH = 30;
  const { ctx, left, top } = gridFrame(canvas, d.title, d.streams, d.positions, cell, rowH);
  ctx.textAlign = 'center';
  d.streams.forEach((_, i) => {
    d.positions.forEach((_, j) => {
      const best = d.top[i * d.positions.length + j][0];
      const x = left + j * cell;
      const y = top + i * rowH;
      ctx.fillStyle = cssColor(best.prob, 1);
      ctx.fillRect(x, y, cell - 1, rowH - 1);
      ctx.fillStyle = inkOn(best.prob, 1);
      ctx.font = FONT;
      ctx.fillText(best.token, x + cell / 2, y + 10, cell - 4);
      ctx.font = FONT_SMALL;
      ctx.fillText(`${(100 * best.prob).toFixed(0)}%`, x + cell / 2, y + 22);
    });
  });
  if (mark) markCell(ctx, left + mark.col * cell, top + mark.row * rowH, cell - 1, rowH - 1);
  return placed(canvas, { left, top, cellW: cell, rowH, rows: d.streams.length, cols: d.positions.length });
}
