// Generation step by step: for each generated token (a row), the head-mean attention it paid to each key
// (source characters for seq2seq) in one layer, drawn as a strip of bars, tallest = where it looked. Hover a bar, or
// focus the view and move a cursor with the arrow keys, for its value.
import type { Step } from '../analysis.ts';
import { cssColor } from './colors.ts';
import { type Cell, GridCursor, markCell } from './grid-cursor.ts';
import { columnLabels, FONT, FONT_SMALL, sizeCanvas, UI_FONT } from './raster.ts';

export class StepsView {
  readonly canvas = document.createElement('canvas');
  private geom = { labelW: 0, y0: 0, cw: 0, rh: 0 };
  private readonly cursor: GridCursor;
  /** Steps are streaming in (a generation runs). */
  private live = false;

  constructor(
    private readonly host: HTMLElement,
    onHover: (text: string) => void,
  ) {
    this.canvas.className = 'steps-view';
    host.append(this.canvas);
    this.cursor = new GridCursor(this.canvas, 'generation steps', onHover);
  }

  /** What bar (t, j) says. */
  private describe(steps: readonly Step[], keys: readonly string[], layer: number, t: number, j: number): string {
    const st = steps[t];
    const v = st.byLayer[layer]?.[j];
    return `step ${t} → ${JSON.stringify(st.label)}: key ${j} ${JSON.stringify(keys[j])} gets ${v === undefined ? 'nothing' : v.toFixed(4)}`;
  }

  /**
   * Draws the steps; `live` while a generation streams them in. A focused view says nothing new per streamed step
   * unless the bar under its cursor changed (GridCursor.set), and once, politely, that generation finished.
   */
  set(steps: readonly Step[], keys: readonly string[], layer: number, live = false): void {
    const finished = this.live && !live;
    this.setLive(live);
    this.cursor.set(
      {
        rows: steps.length,
        cols: () => keys.length,
        hit: (x, y) => {
          const { labelW, y0, cw, rh } = this.geom;
          const t = Math.floor((y - y0) / rh);
          const j = Math.floor((x - labelW) / cw);
          return t >= 0 && t < steps.length && j >= 0 && j < keys.length ? { row: t, col: j } : undefined;
        },
        describe: (c) => this.describe(steps, keys, layer, c.row, c.col),
        draw: (mark) => this.draw(steps, keys, layer, mark),
      },
      `Generation steps: for each of ${steps.length} generated tokens, its attention over ${keys.length} keys as bars, the tallest outlined. Arrow keys move over the bars and read their values.`,
    );
    if (finished) this.cursor.announce(`Generation finished: ${steps.length} steps.`);
  }

  /** The analysis is gone (a run stopped, or another replaced it): no generation streams here any more. */
  clear(): void {
    this.setLive(false);
  }

  /** aria-busy tells assistive technology that the bars are still coming in. */
  private setLive(live: boolean): void {
    this.live = live;
    this.canvas.setAttribute('aria-busy', String(live));
  }

  private draw(steps: readonly Step[], keys: readonly string[], layer: number, mark: Cell | undefined): void {
    const S = keys.length;
    const avail = Math.max(320, this.host.clientWidth - 8);
    const labelW = 84;
    const cw = Math.max(3, Math.min(30, Math.floor((avail - labelW - 10) / Math.max(1, S))));
    const rh = cw >= 14 ? 30 : 18;
    const probe = this.canvas.getContext('2d')!;
    probe.font = cw >= 12 ? FONT : FONT_SMALL;
    const keyLabels = columnLabels(probe, keys, cw);
    const y0 = 30 + (cw >= 8 ? Math.max(0, keyLabels.height - 18) : 0);
    const w = labelW + S * cw + 10;
    this.geom = { labelW, y0, cw, rh };
    Object.assign(this.canvas.dataset, { x0: String(labelW), y0: String(y0), cell: String(cw), rowH: String(rh) });
    const h = y0 + steps.length * rh + 6;
    const ctx = sizeCanvas(this.canvas, w, h);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    ctx.font = cw >= 12 ? FONT : FONT_SMALL;
    ctx.textBaseline = 'middle';
    if (cw >= 8) keyLabels.draw(labelW, y0 - 12, () => '#1d2733');
    ctx.font = UI_FONT;
    ctx.textAlign = 'left';
    ctx.fillStyle = '#56606b';
    ctx.fillText('step → token', 4, y0 - 12);
    // one scale for every step, so a diffuse step shows low bars and a sharp one a single tall bar
    let top = 0;
    for (const st of steps) for (const v of st.byLayer[layer] ?? []) top = Math.max(top, v);
    steps.forEach((st, t) => {
      const row = st.byLayer[layer] ?? new Float32Array(S);
      let mx = 0;
      let arg = 0;
      for (let j = 0; j < S; j++) {
        if (row[j] > mx) {
          mx = row[j];
          arg = j;
        }
      }
      const y = y0 + t * rh;
      ctx.fillStyle = t % 2 ? '#f7f9fb' : '#fff';
      ctx.fillRect(0, y, w, rh);
      ctx.font = FONT;
      ctx.textAlign = 'left';
      ctx.fillStyle = '#8994a0';
      ctx.fillText(String(t).padStart(2, ' '), 4, y + rh / 2);
      ctx.fillStyle = '#1d2733';
      ctx.fillText(`→ ${st.label}`, 30, y + rh / 2, labelW - 34);
      for (let j = 0; j < Math.min(S, row.length); j++) {
        const v = row[j];
        const f = top > 0 ? v / top : 0;
        const bh = Math.max(v > 0 ? 1 : 0, Math.round((rh - 6) * f));
        ctx.fillStyle = cssColor(0.25 + 0.75 * f, 1);
        ctx.fillRect(labelW + j * cw + 1, y + rh - 3 - bh, Math.max(1, cw - 2), bh);
      }
      if (mx > 0) {
        ctx.strokeStyle = '#d9480f';
        ctx.lineWidth = 1.5;
        ctx.strokeRect(labelW + arg * cw + 0.5, y + 2.5, cw - 1, rh - 5);
      }
    });
    this.canvas.dataset.steps = String(steps.length);
    if (mark) markCell(ctx, labelW + mark.col * cw, y0 + mark.row * rh + 2, cw, rh - 4);
  }
}
