// Attributions as token-coloured text (what Inseq and Captum's visualiser show): each input's tokens in a row of
// boxes, coloured by their score (red: pushes the target up, blue: down), the score below each token. The token whose
// prediction is explained is outlined; a token of that input is read (pointer or keyboard, grid-cursor.ts) and
// picked (click, Enter) to explain the prediction at its position instead.
import { diverging } from './causal-grid.ts';
import { type Cell, type GridContent, markCell } from './grid-cursor.ts';
import { FONT, FONT_SMALL, sizeCanvas, UI_FONT } from './raster.ts';

export interface TokenScores {
  /** The attributed input ('src', 'input_ids'). */
  name: string;
  tokens: readonly string[];
  scores: Float32Array;
  /** The input whose positions are the output's: the position whose prediction is explained. */
  target?: number;
}

export interface TokenText {
  title: string;
  rows: readonly TokenScores[];
  /** A token of the row with a target was picked: explain the prediction at its position. */
  pick?: (position: number) => void;
}

/** Where each token's box is, per row. */
type Boxes = { x: number; y: number; w: number }[][];
const BOX_H = 24;

/** The text as a cursor's content: a token read as its input, position and score; one of the target's row picked. */
export function tokenTextContent(canvas: HTMLCanvasElement, d: TokenText): GridContent {
  let boxes: Boxes = [];
  const pick = d.pick;
  return {
    rows: d.rows.length,
    cols: (row) => d.rows[row].tokens.length,
    hit: (x, y) => {
      for (const [row, line] of boxes.entries()) {
        const col = line.findIndex((b) => x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + BOX_H);
        if (col >= 0) return { row, col };
      }
      return undefined;
    },
    describe: ({ row, col }) => {
      const r = d.rows[row];
      const what = `${r.name} token ${col} ${JSON.stringify(r.tokens[col])}: attribution ${r.scores[col].toFixed(4)}`;
      if (r.target === undefined || !pick) return what;
      return `${what}; ${col === r.target ? 'its prediction is the one explained' : 'Enter or click explains the prediction at this position'}`;
    },
    draw: (mark) => {
      boxes = drawTokenText(canvas, d, mark);
    },
    pick:
      pick &&
      ((c: Cell) => {
        const target = d.rows[c.row].target;
        if (target !== undefined && c.col !== target) pick(c.col);
      }),
  };
}

/** Draws the text, the explained token outlined and `mark` marked; returns where the boxes are. */
export function drawTokenText(canvas: HTMLCanvasElement, d: TokenText, mark?: Cell): Boxes {
  const { rows } = d;
  const probe = sizeCanvas(canvas, 1, 1);
  probe.font = FONT;
  const widths = rows.map((r) => r.tokens.map((t) => Math.max(34, Math.ceil(probe.measureText(t).width) + 12)));
  const width = Math.min(960, Math.max(320, ...widths.map((w) => w.reduce((a, b) => a + b + 3, 90))));
  // Lay each row's tokens into lines of at most `width`.
  const lines = rows.map((r, i) => {
    const out: { x: number; line: number }[] = [];
    let x = 90;
    let line = 0;
    r.tokens.forEach((_, j) => {
      if (x + widths[i][j] > width && x > 90) {
        x = 90;
        line++;
      }
      out.push({ x, line });
      x += widths[i][j] + 3;
    });
    return { at: out, count: line + 1 };
  });
  const LINE = 40;
  const height = 28 + lines.reduce((s, l) => s + l.count * LINE + 8, 0);
  const ctx = sizeCanvas(canvas, width, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.font = UI_FONT;
  ctx.fillStyle = '#123';
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(d.title, 4, 4);
  const boxes: Boxes = [];
  let y = 28;
  rows.forEach((r, i) => {
    let max = 0;
    for (const v of r.scores) max = Math.max(max, Math.abs(v));
    ctx.font = FONT;
    ctx.fillStyle = '#345';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillText(r.name, 4, y + 12);
    boxes.push(
      r.tokens.map((t, j) => {
        const { x, line } = lines[i].at[j];
        const top = y + line * LINE;
        const w = widths[i][j];
        const v = r.scores[j];
        ctx.fillStyle = diverging(v, max);
        ctx.fillRect(x, top, w, BOX_H);
        const target = j === r.target;
        ctx.strokeStyle = target ? '#123' : '#ccd';
        ctx.lineWidth = target ? 2 : 1;
        ctx.strokeRect(x + 0.5, top + 0.5, w - 1, BOX_H - 1);
        ctx.lineWidth = 1;
        ctx.font = FONT;
        ctx.fillStyle = Math.abs(v) > 0.6 * max ? '#fff' : '#123';
        ctx.textAlign = 'center';
        ctx.fillText(t, x + w / 2, top + 12);
        ctx.font = FONT_SMALL;
        ctx.fillStyle = '#567';
        ctx.fillText(v.toFixed(2), x + w / 2, top + 32);
        return { x, y: top, w };
      }),
    );
    y += lines[i].count * LINE + 8;
  });
  if (mark) {
    const b = boxes[mark.row][mark.col];
    markCell(ctx, b.x, b.y, b.w, BOX_H);
  }
  return boxes;
}
