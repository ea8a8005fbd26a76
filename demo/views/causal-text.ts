// Attributions as token-coloured text (what Inseq and Captum's visualiser show): each input's tokens in a row of
// boxes, coloured by their score (red: pushes the target up, blue: down), the score below each token.
import { diverging } from './causal-grid.ts';
import { FONT, FONT_SMALL, sizeCanvas, UI_FONT } from './raster.ts';

export interface TokenScores {
  /** The attributed input ('src', 'input_ids'). */
  name: string;
  tokens: readonly string[];
  scores: Float32Array;
}

export function drawTokenText(canvas: HTMLCanvasElement, title: string, rows: readonly TokenScores[]): void {
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
  ctx.fillText(title, 4, 4);
  let y = 28;
  rows.forEach((r, i) => {
    let max = 0;
    for (const v of r.scores) max = Math.max(max, Math.abs(v));
    ctx.font = FONT;
    ctx.fillStyle = '#345';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillText(r.name, 4, y + 12);
    r.tokens.forEach((t, j) => {
      const { x, line } = lines[i].at[j];
      const top = y + line * LINE;
      const v = r.scores[j];
      ctx.fillStyle = diverging(v, max);
      ctx.fillRect(x, top, widths[i][j], 24);
      ctx.strokeStyle = '#ccd';
      ctx.strokeRect(x + 0.5, top + 0.5, widths[i][j] - 1, 23);
      ctx.font = FONT;
      ctx.fillStyle = Math.abs(v) > 0.6 * max ? '#fff' : '#123';
      ctx.textAlign = 'center';
      ctx.fillText(t, x + widths[i][j] / 2, top + 12);
      ctx.font = FONT_SMALL;
      ctx.fillStyle = '#567';
      ctx.fillText(v.toFixed(2), x + widths[i][j] / 2, top + 32);
    });
    y += lines[i].count * LINE + 8;
  });
}
