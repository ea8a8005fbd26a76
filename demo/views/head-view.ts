// The head view: token-to-token lines for one layer (queries on the left, keys on the right), one colour per
// head, line opacity = attention weight. Hovering a token (or the keyboard: arrows, with the focus) isolates its
// lines and reads its strongest links; heads are toggled by checkboxes. Past ONE_QUERY_FROM tokens every line at once is
// a tangle: the view shows one query's lines at a time (the last, until another is chosen).
import type { AttnMap } from '../attention.ts';
import { headColor } from './colors.ts';
import { FONT, FONT_SMALL, sizeCanvas } from './raster.ts';

export interface HeadViewData {
  map: AttnMap;
  rows: string[];
  cols: string[];
}

/** Weights below this are not drawn (a row sums to 1, so at most 1/MIN lines per query and head). */
const MIN_WEIGHT = 0.02;
const ALPHA_BUCKETS = 12;
/** From this many tokens on, one query's lines at a time. */
const ONE_QUERY_FROM = 32;

export class HeadView {
  readonly canvas = document.createElement('canvas');
  readonly toggles = document.createElement('div');
  private data?: HeadViewData;
  private enabled: boolean[] = [];
  private focus?: { side: 'q' | 'k'; index: number };
  private geom = { xl: 0, xr: 0, y0: 0, rowH: 0 };

  constructor(
    private readonly host: HTMLElement,
    private readonly onFocus: (text: string) => void,
  ) {
    this.toggles.className = 'head-toggles';
    this.canvas.className = 'head-view';
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'application');
    this.canvas.setAttribute('aria-roledescription', 'head view');
    host.append(this.toggles, this.canvas);
    this.canvas.addEventListener('mousemove', (e) => this.move(e));
    this.canvas.addEventListener('mouseleave', () => this.setFocus(undefined));
    this.canvas.addEventListener('focus', () => this.setFocus(this.focus ?? this.shown() ?? { side: 'q', index: 0 }));
    this.canvas.addEventListener('blur', () => this.setFocus(undefined));
    this.canvas.addEventListener('keydown', (e) => this.key(e));
  }

  set(d: HeadViewData): void {
    const H = d.map.heads;
    if (this.enabled.length !== H) this.enabled = new Array<boolean>(H).fill(true);
    this.data = d;
    this.focus = undefined;
    this.renderToggles();
    this.draw();
    this.report();
    this.canvas.setAttribute(
      'aria-label',
      `Head view: lines from ${d.rows.length} queries to ${d.cols.length} keys, one colour per head (${H} heads), stronger attention drawn more opaque. Arrow keys choose a token and read its strongest links.`,
    );
  }

  private renderToggles(): void {
    const H = this.data!.map.heads;
    this.toggles.replaceChildren();
    for (let h = 0; h < H; h++) {
      const label = document.createElement('label');
      label.className = 'head-toggle';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = this.enabled[h];
      box.dataset.head = String(h);
      box.addEventListener('change', () => {
        this.enabled[h] = box.checked;
        this.draw();
      });
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = headColor(h, H);
      label.append(box, sw, document.createTextNode(`head ${h}`));
      this.toggles.append(label);
    }
    const all = document.createElement('button');
    all.type = 'button';
    all.className = 'link';
    all.textContent = 'all';
    all.addEventListener('click', () => this.setAll(true));
    const none = document.createElement('button');
    none.type = 'button';
    none.className = 'link';
    none.textContent = 'none';
    none.addEventListener('click', () => this.setAll(false));
    this.toggles.append(all, none);
  }

  private setAll(on: boolean): void {
    this.enabled.fill(on);
    this.toggles.querySelectorAll('input').forEach((b) => (b.checked = on));
    this.draw();
  }

  private move(e: MouseEvent): void {
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const { xl, xr, y0, rowH } = this.geom;
    const i = Math.floor((y - y0) / rowH);
    const d = this.data;
    if (!d) return;
    if (x < xl + 30 && i >= 0 && i < d.rows.length) this.setFocus({ side: 'q', index: i });
    else if (x > xr - 30 && i >= 0 && i < d.cols.length) this.setFocus({ side: 'k', index: i });
    else this.setFocus(undefined);
  }

  /** Up / Down: the next token; Left / Right: the query or the key side; Home / End: the first / last token. */
  private key(e: KeyboardEvent): void {
    const d = this.data;
    if (!d) return;
    const f = this.focus ?? { side: 'q' as const, index: 0 };
    const n = f.side === 'q' ? d.rows.length : d.cols.length;
    const to: Record<string, { side: 'q' | 'k'; index: number }> = {
      ArrowUp: { ...f, index: Math.max(0, f.index - 1) },
      ArrowDown: { ...f, index: Math.min(n - 1, f.index + 1) },
      ArrowLeft: { side: 'q', index: Math.min(f.index, d.rows.length - 1) },
      ArrowRight: { side: 'k', index: Math.min(f.index, d.cols.length - 1) },
      Home: { ...f, index: 0 },
      End: { ...f, index: n - 1 },
    };
    if (!to[e.key]) return;
    e.preventDefault();
    this.setFocus(to[e.key]);
  }

  /** The query whose lines alone are drawn when nothing is focused and the sequence is long. */
  private shown(): { side: 'q' | 'k'; index: number } | undefined {
    const d = this.data;
    return d && Math.max(d.rows.length, d.cols.length) >= ONE_QUERY_FROM ? { side: 'q', index: d.rows.length - 1 } : undefined;
  }

  /** The strongest links of a token: weight averaged over the enabled heads, top three. */
  private strongest(f: { side: 'q' | 'k'; index: number }): string {
    const d = this.data!;
    const [, H, L, S] = d.map.shape;
    const on = this.enabled.flatMap((b, h) => (b ? [h] : []));
    if (!on.length) return 'no head enabled';
    const n = f.side === 'q' ? S : L;
    const mean = Array.from({ length: n }, (_, t) => {
      let sum = 0;
      for (const h of on) sum += d.map.data[h * L * S + (f.side === 'q' ? f.index * S + t : t * S + f.index)];
      return { t, v: sum / on.length };
    });
    mean.sort((a, b) => b.v - a.v);
    const names = f.side === 'q' ? d.cols : d.rows;
    return `strongest${on.length < H ? ` (${on.length} of ${H} heads)` : ''} ${mean
      .slice(0, 3)
      .map(({ t, v }) => `${t} ${JSON.stringify(names[t])} ${v.toFixed(4)}`)
      .join(', ')}`;
  }

  private setFocus(f: { side: 'q' | 'k'; index: number } | undefined): void {
    if (f?.side === this.focus?.side && f?.index === this.focus?.index) return;
    this.focus = f;
    this.draw();
    this.report();
  }

  /** The readout: the focused token's strongest links, or what is drawn without one. */
  private report(): void {
    const d = this.data;
    const f = this.focus;
    if (!d) return;
    this.canvas.dataset.focus = f ? `${f.side}${f.index}` : '';
    this.onFocus(
      f
        ? f.side === 'q'
          ? `query ${f.index} ${JSON.stringify(d.rows[f.index])}: the keys it attends to; ${this.strongest(f)}`
          : `key ${f.index} ${JSON.stringify(d.cols[f.index])}: the queries attending to it; ${this.strongest(f)}`
        : this.shown()
          ? `${Math.max(d.rows.length, d.cols.length)} tokens: the lines of the last query only; hover or arrow keys for another`
          : '',
    );
  }

  draw(): void {
    const d = this.data;
    if (!d) return;
    const [, H, L, S] = d.map.shape;
    const n = Math.max(L, S);
    const rowH = Math.max(3, Math.min(20, Math.floor(1400 / n)));
    const labelW = 92;
    const w = Math.max(360, Math.min(560, this.host.clientWidth - 8));
    const xl = labelW;
    const xr = w - labelW;
    const y0 = 26;
    const h = y0 + n * rowH + 10;
    this.geom = { xl, xr, y0, rowH };
    Object.assign(this.canvas.dataset, { xl: String(xl), xr: String(xr), y0: String(y0), rowH: String(rowH) });
    const ctx = sizeCanvas(this.canvas, w, h);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#56606b';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    ctx.fillText('queries', xl - 8, 10);
    ctx.textAlign = 'left';
    ctx.fillText('keys', xr + 8, 10);
    const f = this.focus ?? this.shown();
    // lines, batched per head and opacity bucket so a long sequence is a few hundred strokes, not one per line
    let drawn = 0;
    ctx.lineWidth = rowH >= 10 ? 1.6 : 1;
    for (let hd = 0; hd < H; hd++) {
      if (!this.enabled[hd]) continue;
      const paths = Array.from({ length: ALPHA_BUCKETS }, () => new Path2D());
      const used = new Array<boolean>(ALPHA_BUCKETS).fill(false);
      const base = hd * L * S;
      for (let i = 0; i < L; i++) {
        if (f?.side === 'q' && f.index !== i) continue;
        for (let j = 0; j < S; j++) {
          if (f?.side === 'k' && f.index !== j) continue;
          const v = d.map.data[base + i * S + j];
          if (v < MIN_WEIGHT) continue;
          const b = Math.min(ALPHA_BUCKETS - 1, Math.floor(v * ALPHA_BUCKETS));
          paths[b].moveTo(xl, y0 + (i + 0.5) * rowH);
          paths[b].lineTo(xr, y0 + (j + 0.5) * rowH);
          used[b] = true;
          drawn++;
        }
      }
      ctx.strokeStyle = headColor(hd, H);
      for (let b = 0; b < ALPHA_BUCKETS; b++) {
        if (!used[b]) continue;
        ctx.globalAlpha = Math.min(1, ((b + 0.5) / ALPHA_BUCKETS) * (f ? 1 : 0.85));
        ctx.stroke(paths[b]);
      }
    }
    ctx.globalAlpha = 1;
    this.canvas.dataset.lines = String(drawn);
    this.canvas.dataset.heads = this.enabled.flatMap((on, i) => (on ? [i] : [])).join(',');
    // tokens
    if (rowH >= 8) {
      ctx.font = rowH >= 13 ? FONT : FONT_SMALL;
      const label = (s: string, x: number, y: number, align: CanvasTextAlign, hot: boolean) => {
        ctx.textAlign = align;
        if (hot) {
          const tw = ctx.measureText(s).width + 8;
          ctx.fillStyle = '#fde7d9';
          ctx.fillRect(align === 'right' ? x - tw + 4 : x - 4, y - rowH / 2 + 1, tw, rowH - 2);
        }
        ctx.fillStyle = hot ? '#d9480f' : '#1d2733';
        ctx.fillText(s, x, y, labelW - 12);
      };
      for (let i = 0; i < L; i++) label(d.rows[i], xl - 8, y0 + (i + 0.5) * rowH, 'right', f?.side === 'q' && f.index === i);
      for (let j = 0; j < S; j++) label(d.cols[j], xr + 8, y0 + (j + 0.5) * rowH, 'left', f?.side === 'k' && f.index === j);
    } else {
      ctx.fillStyle = '#d5dbe2';
      ctx.fillRect(xl - 4, y0, 3, L * rowH);
      ctx.fillRect(xr + 1, y0, 3, S * rowH);
    }
  }
}
