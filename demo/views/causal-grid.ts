// A labelled grid of signed values on a canvas: activation patching (layer x position) and head importance
// (layer x head). Diverging colours (blue below zero, red above, white at zero), the value in each cell; a cell is
// read by the pointer or the keyboard (grid-cursor.ts).
import { type Cell, type GridContent, markCell } from './grid-cursor.ts';
import { columnLabels, FONT, FONT_SMALL, sizeCanvas, UI_FONT } from './raster.ts';

export interface GridData {
  rows: readonly string[];
  cols: readonly string[];
  /** [rows, cols]; NaN cells (a module with fewer positions) are left blank. */
  values: Float32Array;
  /** Shown above the grid. */
  title: string;
  /** What the rows, the columns and the values are, for the readout: 'layer', 'position', 'P("1") patched'. */
  rowAxis: string;
  colAxis: string;
  valueName: string;
  /** A column's token, named in the readout after its label (positions of a text). */
  colTokens?: readonly string[];
}

/** Where a table's cells lie on the canvas: cell (i, j) at (left + j·cellW, top + i·rowH). */
export interface TableGeometry {
  left: number;
  top: number;
  cellW: number;
  rowH: number;
  rows: number;
  cols: number;
}

/** Records a table's geometry on its canvas (data-x0, -y0, -cell, -row-h: for tests) and returns it. */
export function placed(canvas: HTMLCanvasElement, g: TableGeometry): TableGeometry {
  Object.assign(canvas.dataset, { x0: String(g.left), y0: String(g.top), cell: String(g.cellW), rowH: String(g.rowH) });
  return g;
}

/** The cell of a table under canvas point (x, y). */
export function tableHit(g: TableGeometry, x: number, y: number): Cell | undefined {
  const row = Math.floor((y - g.top) / g.rowH);
  const col = Math.floor((x - g.left) / g.cellW);
  return row >= 0 && row < g.rows && col >= 0 && col < g.cols ? { row, col } : undefined;
}

/** The grid as a cursor's content: drawn with a cell marked, a cell read as its row, column and value. */
export function gridContent(canvas: HTMLCanvasElement, d: GridData): GridContent {
  let g: TableGeometry | undefined;
  return {
    rows: d.rows.length,
    cols: () => d.cols.length,
    hit: (x, y) => g && tableHit(g, x, y),
    describe: ({ row, col }) => {
      const v = d.values[row * d.cols.length + col];
      const token = d.colTokens?.[col];
      return `${d.rowAxis} ${d.rows[row]}, ${d.colAxis} ${d.cols[col]}${token !== undefined ? ` ${JSON.stringify(token)}` : ''}: ${Number.isFinite(v) ? `${d.valueName} ${v.toFixed(4)}` : 'no value'}`;
    },
    draw: (mark) => {
      g = drawGrid(canvas, d, mark);
    },
  };
}

/** Blue (-1) through white (0) to red (+1). */
export function diverging(v: number, max: number): string {
  if (!Number.isFinite(v) || !(max > 0)) return '#fff';
  const t = Math.max(-1, Math.min(1, v / max));
  const [r, g, b] = t >= 0 ? [255, 255 - 175 * t, 255 - 185 * t] : [255 + 205 * t, 255 + 125 * t, 255];
  return `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`;
}

/**
 * A white canvas sized for a table of `rows` x `cols` cells of cellW x rowH under a title, row labels left and column
 * labels on top drawn; returns its context and where the cells start.
 */
export function gridFrame(canvas: HTMLCanvasElement, title: string, rows: readonly string[], cols: readonly string[], cellW: number, rowH: number): { ctx: CanvasRenderingContext2D; left: number; top: number } {
  const probe = sizeCanvas(canvas, 1, 1);
  probe.font = FONT;
  const left = Math.ceil(Math.max(...rows.map((r) => probe.measureText(r).width))) + 12;
  const top = 24 + Math.max(16, columnLabels(probe, cols, cellW).height);
  const ctx = sizeCanvas(canvas, left + cellW * cols.length + 8, top + rowH * rows.length + 8);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = UI_FONT;
  ctx.fillStyle = '#123';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.fillText(title, 4, 4);
  ctx.font = FONT;
  columnLabels(ctx, cols, cellW).draw(left, top - 8, () => '#345');
  rows.forEach((label, i) => {
    ctx.fillStyle = '#345';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ctx.fillText(label, left - 6, top + (i + 0.5) * rowH);
  });
  return { ctx, left, top };
}

/** Draws the grid, `mark` outlined; returns where its cells are. */
export function drawGrid(canvas: HTMLCanvasElement, d: GridData, mark?: Cell): TableGeometry {
  const cell = Math.max(22, Math.min(48, Math.floor(640 / Math.max(1, d.cols.length))));
  const { ctx, left, top } = gridFrame(canvas, d.title, d.rows, d.cols, cell, cell);
  let max = 0;
  for (const v of d.values) if (Number.isFinite(v)) max = Math.max(max, Math.abs(v));
  ctx.textBaseline = 'middle';
  d.rows.forEach((_, i) => {
    d.cols.forEach((_, j) => {
      const v = d.values[i * d.cols.length + j];
      const x = left + j * cell;
      const y = top + i * cell;
      ctx.fillStyle = diverging(v, max);
      ctx.fillRect(x, y, cell - 1, cell - 1);
      if (!Number.isFinite(v)) return;
      ctx.font = FONT_SMALL;
      ctx.fillStyle = Math.abs(v) > 0.6 * max ? '#fff' : '#123';
      ctx.textAlign = 'center';
      ctx.fillText(Math.abs(v) >= 100 ? v.toExponential(0) : v.toFixed(cell >= 40 ? 2 : 1), x + cell / 2, y + cell / 2);
    });
  });
  if (mark) markCell(ctx, left + mark.col * cell, top + mark.row * cell, cell - 1, cell - 1);
  return placed(canvas, { left, top, cellW: cell, rowH: cell, rows: d.rows.length, cols: d.cols.length });
}
