// Generation step by step: for each generated token (a row), the head-mean attention it paid to each key
// (source characters for seq2seq) in one layer, drawn as a strip of bars, tallest = where it looked. Hover a bar, or
// focus the view and move a cursor with the arrow keys, for its value.
import type { Step } from '../analysis.ts';
import { cssColor } from './colors.ts';
import { columnLabels, FONT, FONT_SMALL, sizeCanvas, UI_FONT } from './raster.ts';

export class StepsView {
  readonly canvas = document.createElement('canvas');
  private geom = { labelW: 0, y0: 0, cw: 0, rh: 0 };
  private current?: { steps: readonly Step[]; keys: readonly string[]; layer: number };
  /** The keyboard cursor: a step and a key. */
  private cursor = { t: 0, j: 0 };

  constructor(
    private readonly host: HTMLElement,
    private readonly onHover: (text: string) => void,
  ) {
    this.canvas.className = 'steps-view';
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'application');
    this.canvas.setAttribute('aria-roledescription', 'generation steps');
    host.append(this.canvas);
    this.canvas.addEventListener('mousemove', (e) => {
      const r = this.canvas.getBoundingClientRect();
      const { labelW, y0, cw, rh } = this.geom;
      this.onHover(this.describe(Math.floor((e.clientY - r.top - y0) / rh), Math.floor((e.clientX - r.left - labelW) / cw)));
    });
    this.canvas.addEventListener('mouseleave', () => this.onHover(''));
    this.canvas.addEventListener('focus', () => this.moveCursor(0, 0));
    this.canvas.addEventListener('blur', () => this.redraw());
    this.canvas.addEventListener('keydown', (e) => {
      const d = ({ ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] } as Record<string, [number, number]>)[e.key];
      if (!d) return;
      e.preventDefault();
      this.moveCursor(...d);
    });
  }

  /** What bar (t, j) says, or '' off the bars. */
  private describe(t: number, j: number): string {
    const c = this.current;
    const st = c?.steps[t];
    const v = st?.byLayer[c!.layer]?.[j];
    return st && v !== undefined && j >= 0 && j < c!.keys.length ? `step ${t} → ${JSON.stringify(st.label)}: key ${j} ${JSON.stringify(c!.keys[j])} gets ${v.toFixed(4)}` : '';
  }

  private moveCursor(dt: number, dj: number): void {
    const c = this.current;
    if (!c || !c.steps.length) return;
    this.cursor = { t: Math.min(c.steps.length - 1, Math.max(0, this.cursor.t + dt)), j: Math.min(c.keys.length - 1, Math.max(0, this.cursor.j + dj)) };
    this.redraw();
    this.onHover(this.describe(this.cursor.t, this.cursor.j));
  }

  private redraw(): void {
    const c = this.current;
    if (c) this.set(c.steps, c.keys, c.layer);
  }

  set(steps: readonly Step[], keys: readonly string[], layer: number): void {
    this.current = { steps, keys, layer };
    this.canvas.setAttribute(
      'aria-label',
      `Generation steps: for each of ${steps.length} generated tokens, its attention over ${keys.length} keys as bars, the tallest outlined. Arrow keys move over the bars and read their values.`,
    );
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
    if (document.activeElement === this.canvas && steps.length) {
      const { t, j } = this.cursor;
      ctx.setLineDash([3, 2]);
      ctx.strokeStyle = '#1c5d99';
      ctx.lineWidth = 2;
      ctx.strokeRect(labelW + j * cw - 1, y0 + t * rh + 1, cw + 2, rh - 2);
      ctx.setLineDash([]);
    }
  }
}
