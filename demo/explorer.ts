// The views of one analysis: kind tabs, model view grid, large heatmap, head view, generation steps. Holds the
// selection (kind, layer, head / mean / rollout), the colour scale, the page's keyboard wiring (kind tabs, zoom
// buttons, readouts) and what the page exposes to tests (window.__attnscope).
import type { Analysis, Step } from './analysis.ts';
import { type AttnKind, type AttnMap, type HeadChoice, headMatrix, KIND_TITLES, type Matrix, maxOf, meanMatrix, rollout } from './attention.ts';
import type { LongAnalysis } from './gpu/long-maps.ts';
import type { MapSource } from './gpu/lod.ts';
import { type GpuValues, type Tile, uploadValues } from './gpu/map-renderer.ts';
import { formatValue } from './views/colors.ts';
import { HeadView } from './views/head-view.ts';
import { HeatmapView, type HoverCell } from './views/heatmap.ts';
import { ModelView } from './views/model-view.ts';
import { StepsView } from './views/steps-view.ts';
import { TextView } from './views/text-view.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** Longest sequence the rollout is computed for. */
const MAX_ROLLOUT = 1024;

const KIND_ORDER: AttnKind[] = ['cross', 'enc', 'dec', 'self'];
const choiceTitle = (c: HeadChoice) => (typeof c === 'number' ? `head ${c}` : c === 'mean' ? 'mean over heads' : 'rollout');

const TEXT_HINT = 'Hover a token, or focus the text and use the arrow keys: its value. Click, Enter or Space chooses a query token.';

/** The text view's readout of token i, with value v in the row of `query` (none: the tokens are not the map's rows). */
function tokenReadout(i: number, label: string, v: number, query?: number): string {
  const what = query === undefined ? '' : i === query ? ' (the query)' : '; Enter chooses it as the query';
  return `token ${i} ${JSON.stringify(label)}: ${v.toFixed(4)}${what}`;
}

/** The text view's label for a screen reader: what it shows, which keys work, and whether a token chooses the query. */
function textLabel(n: number, choosable: boolean): string {
  const choose = choosable
    ? 'Enter or Space chooses the token as the query.'
    : "These tokens are the map's keys, not its rows: the query is chosen among the rows above, or with the query field.";
  return `Text view: ${n} tokens, each on the colour of its value in the query's row. Left and Right arrows move between tokens (Shift: ten), Home and End to the first and last, reading each value. ${choose}`;
}

/**
 * The colour scale of the maps: 0 to each map's max; 0 to its max leaving out the first query and the first key (a
 * causal map's first row is a lone 1.0, and many models park attention on the first token); each row 0 to its own
 * max; or 0 to 1.
 */
type Scale = 'max' | 'first' | 'row' | 'one';

/** Max of m over rows 1… and columns 1… (the whole map when it has one row or column). */
function maxWithoutFirst(m: Matrix): number {
  if (m.rows < 2 || m.cols < 2) return maxOf(m);
  let mx = 0;
  for (let i = 1; i < m.rows; i++) for (let j = 1; j < m.cols; j++) mx = Math.max(mx, m.data[i * m.cols + j]);
  return mx;
}

/** Each row divided by its max (rows of zeros stay zero). */
function rowScaled(m: Matrix): Matrix {
  const out = new Float32Array(m.data.length);
  for (let i = 0; i < m.rows; i++) {
    let mx = 0;
    for (let j = 0; j < m.cols; j++) mx = Math.max(mx, m.data[i * m.cols + j]);
    if (mx > 0) for (let j = 0; j < m.cols; j++) out[i * m.cols + j] = m.data[i * m.cols + j] / mx;
  }
  return { rows: m.rows, cols: m.cols, data: out };
}

export interface Selection {
  kind: AttnKind;
  layer: number;
  choice: HeadChoice;
}

export class Explorer {
  private a?: Analysis;
  /** A text too long for whole maps: its overviews and rows on the GPU (demo/gpu/long-maps.ts). */
  private long?: LongAnalysis;
  private sel?: Selection;
  private rollouts = new Map<AttnKind, Matrix[]>();
  private readonly modelView: ModelView;
  private readonly large: HeatmapView;
  private readonly heads: HeadView;
  private readonly steps: StepsView;
  private readonly relevance: HeatmapView;
  private readonly text: TextView;
  /** Where the map's rows are not its keys (cross-attention, relevance over the source): the rows, to choose from. */
  private readonly textRows: TextView;
  /** The text view's query: the row of the map (or of relevance) it colours the text by. */
  private query = 0;
  private largeMatrix?: { matrix: Matrix; rows: string[]; cols: string[] };
  /** The analysis's matrices on the GPU, by kind/layer/choice: uploaded once, drawn by every view. */
  private readonly onGpu = new Map<string, GpuValues>();
  /** The user picked a colour scale: it is kept; until then each kind gets its default (causal: each row its own). */
  private scaleChosen = false;

  constructor(private readonly device: GPUDevice) {
    this.modelView = new ModelView(
      $('model-view-host'),
      device,
      (layer, choice) => this.select({ ...this.sel!, layer, choice }),
      (c) => this.reportCell(c),
    );
    this.large = new HeatmapView(
      $('large-host'),
      device,
      (c) => this.hover(c),
      (row) => this.choose(row),
    );
    this.heads = new HeadView($('head-host'), (t) => ($('head-info').textContent = t || 'Hover a token, or focus the view and use the arrow keys: its lines alone.'));
    this.steps = new StepsView($('steps-host'), (t) => ($('step-info').textContent = t || 'Hover a bar, or focus the view and use the arrow keys: its value.'));
    this.relevance = new HeatmapView($('relevance-host'), device, (c) => this.hoverRelevance(c));
    const textReadout = (t: string) => {
      const info = $('text-info');
      info.textContent = t || TEXT_HINT;
      info.classList.toggle('active', !!t);
    };
    this.text = new TextView($('text-host'), textReadout);
    this.textRows = new TextView($('text-rows-host'), textReadout);
    this.wireTabs();
    $('zoom-in').addEventListener('click', () => this.large.zoomBy(2));
    $('zoom-out').addEventListener('click', () => this.large.zoomBy(0.5));
    $('zoom-fit').addEventListener('click', () => this.large.reset());
    $('text-colour').addEventListener('change', () => this.renderText());
    $('text-query').addEventListener('change', () => this.choose(Number(($('text-query') as HTMLInputElement).value)));
    $('scale').addEventListener('change', () => {
      this.scaleChosen = true;
      this.render();
    });
    $('row-labels').addEventListener('change', () => this.render());
    $('head-layer').addEventListener('change', () => this.renderHeads());
    $('step-layer').addEventListener('change', () => this.renderSteps());
    let t: ReturnType<typeof setTimeout> | undefined;
    window.addEventListener('resize', () => {
      clearTimeout(t);
      t = setTimeout(() => this.render(), 150);
    });
  }

  /** The kind tabs (WAI-ARIA tabs): click or arrow keys (Home / End) among the visible ones select a kind. */
  private wireTabs(): void {
    for (const k of KIND_ORDER) $(`kind-${k}`).addEventListener('click', () => this.setKind(k));
    $('kind-tabs').addEventListener('keydown', (e) => {
      const tabs = KIND_ORDER.filter((k) => !$(`kind-${k}`).hidden);
      const at = tabs.indexOf((e.target as HTMLElement).id.replace('kind-', '') as AttnKind);
      if (at < 0) return;
      const to = ({ ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 } as Record<string, number>)[e.key];
      if (to === undefined) return;
      e.preventDefault();
      const k = tabs[(to + tabs.length) % tabs.length];
      this.setKind(k);
      $(`kind-${k}`).focus();
    });
  }

  /** Marks the selected kind's tab (the only one in the tab order) and labels the panel by it. */
  private markTabs(kind: AttnKind): void {
    for (const k of KIND_ORDER) {
      const tab = $(`kind-${k}`);
      tab.setAttribute('aria-selected', String(k === kind));
      tab.tabIndex = k === kind ? 0 : -1;
    }
    $('kind-panel').setAttribute('aria-labelledby', `kind-${kind}`);
  }

  get modelCanvas(): HTMLCanvasElement {
    return this.modelView.canvas;
  }

  get headCanvas(): HTMLCanvasElement {
    return this.heads.canvas;
  }

  get stepsCanvas(): HTMLCanvasElement {
    return this.steps.canvas;
  }

  get largeCanvas(): HTMLCanvasElement {
    return this.large.canvas;
  }

  get relevanceCanvas(): HTMLCanvasElement {
    return this.relevance.canvas;
  }

  get selection(): Selection | undefined {
    return this.sel;
  }

  get analysis(): Analysis | undefined {
    return this.a;
  }

  /** Forgets the analysis (the page hides the views): nothing of it is shown or exported any more. */
  clear(): void {
    this.a = undefined;
    this.dropLong();
    this.largeMatrix = undefined;
    this.rollouts.clear();
    this.steps.clear();
    this.dropGpu();
  }

  private dropLong(): void {
    if (this.long) for (const view of [this.large, this.modelView]) view.forget(); // before its buffers go
    this.long?.maps.dispose();
    this.long = undefined;
    for (const id of ['head-card', 'steps-card', 'relevance-card']) $(id).hidden = false;
  }

  /**
   * A long text: model view, large view and text view from the overview forward; exact windows and other queries are
   * captured when asked for. Head view, steps and relevance need whole maps and stay hidden.
   */
  showLong(l: LongAnalysis): void {
    this.clear();
    this.long = l;
    for (const k of KIND_ORDER) $(`kind-${k}`).hidden = k !== 'self';
    for (const id of ['head-card', 'steps-card', 'relevance-card']) $(id).hidden = true;
    this.sel = { kind: 'self', layer: 0, choice: 'mean' };
    this.query = l.maps.query;
    ($('text-colour') as HTMLSelectElement).value = 'attention';
    this.render();
  }

  private renderLong(l: LongAnalysis): void {
    const s = this.sel!;
    this.markTabs('self');
    $('row-labels-wrap').hidden = true;
    $('scale-wrap').hidden = true; // a long text's tiles are the GPU's summaries, scaled as they come
    const H = l.maps.layers[0].info.heads;
    const columns: HeadChoice[] = [...Array.from({ length: H }, (_, h) => h), 'mean'];
    const cells = l.maps.layers.flatMap((layer, li) => columns.map((c) => ({ layer: li, choice: c, rows: l.maps.L, cols: l.maps.L, tile: layer.overview.get(c)! })));
    this.modelView.set({ layers: l.maps.layers.length, columns, cells }, s);
    $('model-view-title').textContent = `Self-attention: ${l.maps.layers.length} layers × ${H} heads · ${l.maps.L} tokens (block max of each head, block mean of the head mean)`;
    $('rollout-note').hidden = true;
    $('cross-note').hidden = true;
    this.renderLarge();
    this.renderText();
  }

  /** Destroys the uploaded matrices; the views that draw them forget them first (a frame may be queued behind another). */
  private dropGpu(): void {
    for (const view of [this.large, this.relevance, this.modelView]) view.forget();
    for (const v of this.onGpu.values()) v.buffer.destroy();
    this.onGpu.clear();
  }

  /** A matrix of the analysis as an exact tile over the whole map, uploaded on first use. */
  private tile(key: string, m: Matrix, max: number): Tile {
    let values = this.onGpu.get(key);
    if (!values) {
      values = uploadValues(this.device, m.data, key);
      this.onGpu.set(key, values);
    }
    return { values, offset: 0, stride: m.cols, rows: m.rows, cols: m.cols, r0: 0, r1: m.rows, c0: 0, c1: m.cols, max };
  }

  private source(key: string, m: Matrix, max: number): MapSource {
    return { rows: m.rows, cols: m.cols, overview: this.tile(key, m, max) };
  }

  /** A new analysis: keep the selection where it still exists, else pick the sharpest layer of the first kind. */
  show(a: Analysis): void {
    const prev = this.sel;
    if (this.long) this.dropLong(); // a long text shown before: its GPU maps go, its hidden cards come back
    this.a = a;
    this.rollouts.clear();
    this.dropGpu();
    this.query = Number.MAX_SAFE_INTEGER; // the last query of whatever map is shown
    const kinds = this.kinds();
    for (const k of KIND_ORDER) $(`kind-${k}`).hidden = !kinds.includes(k);
    if (prev && kinds.includes(prev.kind) && prev.layer < this.layers(prev.kind).length) this.sel = prev;
    else this.sel = { kind: kinds[0], layer: this.sharpestLayer(kinds[0]), choice: 'mean' };
    this.fillLayerSelect($('head-layer') as HTMLSelectElement, this.layers(this.sel.kind).length, this.sel.layer);
    const stepLayers = a.steps[0]?.byLayer.length ?? 0;
    this.fillLayerSelect($('step-layer') as HTMLSelectElement, stepLayers, this.sharpestStepLayer());
    $('steps-card').hidden = a.steps.length === 0;
    this.render();
  }

  private kinds(): AttnKind[] {
    const present = new Set(this.a?.maps.map((m) => m.kind));
    return KIND_ORDER.filter((k) => present.has(k));
  }

  private layers(kind: AttnKind): AttnMap[] {
    return (this.a?.maps ?? []).filter((m) => m.kind === kind).sort((x, y) => x.layer - y.layer);
  }

  /** The layer whose head-mean rows are most peaked (mean of row maxima): where an alignment shows best. */
  private sharpestLayer(kind: AttnKind): number {
    let best = 0;
    let bestScore = -1;
    this.layers(kind).forEach((m, l) => {
      const mm = meanMatrix(m);
      let s = 0;
      for (let i = 0; i < mm.rows; i++) {
        let mx = 0;
        for (let j = 0; j < mm.cols; j++) mx = Math.max(mx, mm.data[i * mm.cols + j]);
        s += mx;
      }
      if (s > bestScore) {
        bestScore = s;
        best = l;
      }
    });
    return best;
  }

  private sharpestStepLayer(): number {
    const steps = this.a?.steps ?? [];
    const n = steps[0]?.byLayer.length ?? 0;
    let best = Math.max(0, n - 1);
    let bestScore = -1;
    for (let l = 0; l < n; l++) {
      const s = steps.reduce((acc, st) => acc + st.byLayer[l].reduce((m, v) => Math.max(m, v), 0), 0);
      if (s > bestScore) {
        bestScore = s;
        best = l;
      }
    }
    return best;
  }

  private fillLayerSelect(sel: HTMLSelectElement, n: number, value: number): void {
    sel.replaceChildren(...Array.from({ length: n }, (_, l) => new Option(`layer ${l}`, String(l))));
    sel.value = String(Math.min(value, Math.max(0, n - 1)));
  }

  setKind(kind: AttnKind): void {
    if (this.long) return; // a long text shows self-attention only
    if (!this.a || !this.sel) return;
    const n = this.layers(kind).length;
    const choice = this.sel.choice === 'rollout' && !this.hasRollout(kind) ? 'mean' : this.sel.choice;
    this.sel = { kind, layer: kind === this.sel.kind ? this.sel.layer : this.sharpestLayer(kind), choice };
    if (this.sel.layer >= n) this.sel.layer = n - 1;
    this.fillLayerSelect($('head-layer') as HTMLSelectElement, n, this.sel.layer);
    this.render();
  }

  select(s: Selection): void {
    this.sel = s;
    this.modelView.select(s);
    ($('head-layer') as HTMLSelectElement).value = String(s.layer);
    this.renderLarge();
    if (!this.long) this.renderHeads();
    this.renderText();
  }

  /** Rollout is for self-attention; it costs O(n³) per layer in JS, so very long sequences go without. */
  private hasRollout(kind: AttnKind): boolean {
    const m = this.layers(kind)[0];
    return kind !== 'cross' && !!m && m.shape[2] <= MAX_ROLLOUT;
  }

  private rolloutOf(kind: AttnKind): Matrix[] {
    let r = this.rollouts.get(kind);
    if (!r) {
      r = rollout(this.layers(kind));
      this.rollouts.set(kind, r);
    }
    return r;
  }

  matrix(s: Selection): Matrix {
    const m = this.layers(s.kind)[s.layer];
    if (s.choice === 'mean') return meanMatrix(m);
    if (s.choice === 'rollout') return this.rolloutOf(s.kind)[s.layer];
    return headMatrix(m, s.choice);
  }

  /**
   * Axis labels of a kind, worded for what its queries see: every token (a bidirectional encoder), the keys up to
   * their own position (causal), or the source (cross-attention). Queries are labelled by the token they predict
   * only where the model predicts one there (generation) and that option is on.
   */
  private axes(kind: AttnKind): { rows: string[]; cols: string[]; rowAxis: string; colAxis: string } {
    const ax = this.a!.axes[kind]!;
    const predicted = ($('row-labels') as HTMLSelectElement).value === 'predicted' && ax.rowsPredicted;
    const rows = predicted ? ax.rowsPredicted! : ax.rows;
    const causal = this.layers(kind)[0]?.causal;
    const queries = kind === 'cross' ? 'queries: decoder positions' : causal ? 'queries (each sees keys up to itself)' : 'queries (each sees every token)';
    const rowAxis = predicted ? `${queries.replace(/ \(.*\)$/, '')}, labelled by the token they predict` : queries;
    return { rows, cols: ax.cols, rowAxis, colAxis: kind === 'cross' ? 'keys: source tokens' : 'keys' };
  }

  /**
   * The colour scale in use: the user's choice, else the kind's default. Causal maps default to a scale per row: their
   * first row is a lone 1.0 and each later row spreads over one more key, so on one scale for the map the late rows
   * (and whole thumbnails) fade to white.
   */
  private scale(kind: AttnKind): Scale {
    const select = $('scale') as HTMLSelectElement;
    if (!this.scaleChosen) select.value = this.layers(kind)[0]?.causal ? 'row' : 'max';
    return select.value as Scale;
  }

  /** Matrix m drawn under `scale`: its tile (a per-row scale draws a row-normalised copy) and the colour bar's top. */
  private scaled(key: string, m: Matrix, scale: Scale): { tile: Tile; legendTop?: string } {
    if (scale === 'row') return { tile: this.tile(`${key}/row`, rowScaled(m), 1), legendTop: 'row max' };
    const max = scale === 'one' ? 1 : scale === 'first' ? maxWithoutFirst(m) : maxOf(m);
    return { tile: this.tile(key, m, Math.max(1e-6, max)) };
  }

  /** The model view's keyboard cursor or hover: which map it is on, and how to show it. */
  private reportCell(c: { layer: number; choice: HeadChoice } | undefined): void {
    const info = $('model-info');
    const s = this.sel;
    if (!c || !s) {
      info.textContent = 'Hover a map or use the arrow keys; click or Enter enlarges it.';
      info.classList.remove('active');
      return;
    }
    const peak = this.long ? undefined : maxOf(this.matrix({ kind: s.kind, layer: c.layer, choice: c.choice }));
    info.textContent = `layer ${c.layer}, ${choiceTitle(c.choice)}${peak === undefined ? '' : `: largest weight ${formatValue(peak)}`}${c.layer === s.layer && c.choice === s.choice ? ' (enlarged)' : ''}`;
    info.classList.add('active');
  }

  render(): void {
    const a = this.a;
    const s = this.sel;
    if (this.long && s) return this.renderLong(this.long);
    if (!a || !s) return;
    this.markTabs(s.kind);
    $('row-labels-wrap').hidden = !a.axes[s.kind]?.rowsPredicted;
    $('scale-wrap').hidden = false;
    const scale = this.scale(s.kind);
    const maps = this.layers(s.kind);
    const H = maps[0]?.heads ?? 0;
    const columns: HeadChoice[] = [...Array.from({ length: H }, (_, h) => h), 'mean'];
    if (this.hasRollout(s.kind)) columns.push('rollout');
    const cells = maps.flatMap((_m, l) =>
      columns.map((c) => {
        const m = this.matrix({ kind: s.kind, layer: l, choice: c });
        return { layer: l, choice: c, rows: m.rows, cols: m.cols, tile: this.scaled(`${s.kind}/${l}/${c}`, m, scale).tile };
      }),
    );
    this.modelView.set({ layers: maps.length, columns, cells }, s);
    $('model-view-title').textContent = `${KIND_TITLES[s.kind]}: ${maps.length} layers × ${H} heads`;
    $('rollout-note').hidden = s.kind === 'cross';
    $('rollout-skipped').hidden = this.hasRollout(s.kind) || s.kind === 'cross';
    $('cross-note').hidden = s.kind !== 'cross';
    this.renderLarge();
    this.renderHeads();
    this.renderSteps();
    this.renderRelevance();
    this.renderText();
  }

  /** The text view's map: the large view's, or relevance (output positions x input tokens), with its axes' labels. */
  private textMatrix(): { m: Matrix; labels: string[]; rows: string[]; what: string } {
    const a = this.a!;
    if (($('text-colour') as HTMLSelectElement).value === 'relevance') {
      const ax = this.relevanceAxes();
      return { m: a.relevance.matrix, labels: ax.cols, rows: ax.rows, what: 'relevance for the prediction at' };
    }
    const s = this.sel!;
    const ax = this.axes(s.kind);
    return { m: this.matrix(s), labels: ax.cols, rows: ax.rows, what: `${choiceTitle(s.choice)}, layer ${s.layer}: attention of` };
  }

  private choose(i: number): void {
    if (!Number.isInteger(i) || i < 0) return;
    const l = this.long;
    if (l) {
      if (i >= l.maps.L) return;
      this.text.element.dataset.loading = '1';
      void l.maps.setQuery(i).then(() => {
        if (this.long !== l) return;
        this.query = i;
        delete this.text.element.dataset.loading;
        this.renderText();
      });
      return;
    }
    this.query = i;
    this.renderText();
  }

  /** A long text's row of the chosen query, in the large view's layer and head (or head mean). */
  private renderLongText(l: LongAnalysis): void {
    const s = this.sel!;
    $('text-rows').hidden = true; // a long text's maps are self-attention: its tokens are the rows too
    const row = l.maps.row(s.layer, s.choice);
    let max = 1e-6;
    for (const v of row) max = Math.max(max, v);
    const q = l.maps.query;
    this.text.set({
      labels: l.labels,
      values: row,
      max,
      chosen: q,
      describe: (i) => tokenReadout(i, l.labels[i], row[i], q),
      choose: (i) => this.choose(i),
      label: textLabel(l.labels.length, true),
    });
    const input = $('text-query') as HTMLInputElement;
    input.max = String(l.maps.L - 1);
    input.value = String(q);
    $('text-title').textContent = `Text view · ${choiceTitle(s.choice)}, layer ${s.layer}: attention of query ${q} ${JSON.stringify(l.labels[q])}`;
    this.text.element.dataset.query = String(q);
  }

  private renderText(): void {
    if (this.long && this.sel) return this.renderLongText(this.long);
    if (!this.a || !this.sel) return;
    const { m, labels, rows, what } = this.textMatrix();
    const q = Math.min(this.query, m.rows - 1);
    this.query = q;
    const row = m.data.subarray(q * m.cols, (q + 1) * m.cols);
    let max = 1e-6;
    for (const v of row) max = Math.max(max, v);
    // the tokens shown are the map's keys; only where they are its rows too (self-attention) does one name a query
    const square = m.rows === m.cols;
    this.text.set({
      labels,
      values: row,
      max,
      chosen: square ? q : undefined,
      describe: (i) => tokenReadout(i, labels[i], row[i], square ? q : undefined),
      choose: square ? (i) => this.choose(i) : undefined,
      label: textLabel(labels.length, square),
    });
    $('text-rows').hidden = square;
    if (!square) {
      this.textRows.set({
        labels: rows,
        values: new Float32Array(rows.length),
        max: 1,
        chosen: q,
        describe: (i) => `row ${i} ${JSON.stringify(rows[i])}${i === q ? ' (the query)' : '; Enter chooses it as the query'}`,
        choose: (i) => this.choose(i),
        label: `The map's rows: ${rows.length} output tokens. Left and Right arrows move between them (Shift: ten), Home and End to the first and last; Enter or Space chooses one as the query.`,
      });
      this.textRows.element.dataset.query = String(q);
    }
    const input = $('text-query') as HTMLInputElement;
    input.max = String(m.rows - 1);
    input.value = String(q);
    $('text-title').textContent = `Text view · ${what} query ${q}${rows[q] !== undefined ? ` ${JSON.stringify(rows[q])}` : ''}`;
    this.text.element.dataset.query = String(q);
  }

  /** Rows: output positions labelled by the token they predict; columns: the input tokens of the map. */
  private relevanceAxes(): { rows: string[]; cols: string[]; predicted: boolean } {
    const a = this.a!;
    const ax = a.relevance.map === 'cross' ? a.axes.cross! : (a.axes.self ?? a.axes.enc)!;
    const predicted = !!ax.rowsPredicted?.some((p) => p !== '');
    const rows = predicted ? ax.rows.map((r, i) => `${r}→${ax.rowsPredicted![i] ?? ''}`) : ax.rows;
    return { rows, cols: ax.cols, predicted };
  }

  private renderRelevance(): void {
    const r = this.a!.relevance;
    const { rows, cols, predicted } = this.relevanceAxes();
    const colAxis = r.map === 'cross' ? 'source tokens' : 'input tokens';
    const rowAxis = predicted ? 'output positions (input→prediction)' : 'output positions';
    this.relevance.set({ source: this.source('relevance', r.matrix, Math.max(1e-6, maxOf(r.matrix))), rows, cols, rowAxis, colAxis, title: 'Relevance of each input token for each output position' });
    $('relevance-title').textContent = `Relevance of each ${colAxis.slice(0, -1)} for each prediction · ${r.summary}`;
    $('relevance-target').textContent = r.target;
    this.relevance.canvas.dataset.map = r.map;
    this.hoverRelevance(undefined);
  }

  /** Relevance rows arrived after the maps (demo/relevance.ts computes them in the background): redraw what shows them. */
  relevanceChanged(): void {
    if (!this.a || this.long) return;
    this.relevance.forget();
    this.onGpu.get('relevance')?.buffer.destroy();
    this.onGpu.delete('relevance');
    this.renderRelevance();
    if (($('text-colour') as HTMLSelectElement).value === 'relevance') this.renderText();
  }

  private hoverRelevance(c: HoverCell | undefined): void {
    const info = $('relevance-info');
    if (!c || !this.a) {
      info.textContent = 'Hover a cell, or focus the map and use the arrow keys: row = output position, column = input token.';
      info.classList.remove('active');
      return;
    }
    const { rows, cols } = this.relevanceAxes();
    info.textContent = `position ${c.row} ${JSON.stringify(rows[c.row])} ← token ${c.col} ${JSON.stringify(cols[c.col])}: relevance ${c.value.toFixed(4)}`;
    info.classList.add('active');
  }

  private renderLarge(): void {
    const s = this.sel!;
    const l = this.long;
    let module: string;
    if (l) {
      const layer = l.maps.layers[s.layer];
      const L = l.maps.L;
      module = layer.info.path;
      const title = `Self-attention, layer ${s.layer}, ${choiceTitle(s.choice)}`;
      this.large.set({ source: { rows: L, cols: L, overview: layer.overview.get(s.choice)!, window: l.maps.window(s.layer, s.choice) }, rows: l.labels, cols: l.labels, rowAxis: 'queries', colAxis: 'keys', title });
    } else {
      const m = this.matrix(s);
      const { rows, cols, rowAxis, colAxis } = this.axes(s.kind);
      this.largeMatrix = { matrix: m, rows, cols };
      module = this.layers(s.kind)[s.layer].path;
      const { tile, legendTop } = this.scaled(`${s.kind}/${s.layer}/${s.choice}`, m, this.scale(s.kind));
      const title = `${KIND_TITLES[s.kind]}, layer ${s.layer}, ${choiceTitle(s.choice)}`;
      this.large.set({ source: { rows: m.rows, cols: m.cols, overview: tile }, rows, cols, rowAxis, colAxis, title, legendTop });
    }
    $('large-title').textContent = `${KIND_TITLES[s.kind]} · layer ${s.layer} · ${choiceTitle(s.choice)}`;
    const c = this.large.canvas;
    c.dataset.kind = s.kind;
    c.dataset.layer = String(s.layer);
    c.dataset.choice = String(s.choice);
    c.dataset.module = module;
    this.hover(undefined);
  }

  private hover(c: HoverCell | undefined): void {
    const info = $('hover-info');
    const s = this.sel;
    if (!c || !s || !(this.largeMatrix || this.long)) {
      info.textContent = 'Hover a cell, or focus the map and use the arrow keys: row = query, column = key.';
      info.classList.remove('active');
      return;
    }
    if (this.long) {
      const t = this.long.labels;
      const b = c.block;
      info.textContent = b
        ? `queries ${b.rows[0]}–${b.rows[1] - 1} → keys ${b.cols[0]}–${b.cols[1] - 1}: ${s.choice === 'mean' ? 'block mean' : 'block max'} ${c.value.toFixed(4)} (zoom in for single cells)`
        : `query ${c.row} ${JSON.stringify(t[c.row])} → key ${c.col} ${JSON.stringify(t[c.col])}: ${c.value.toFixed(4)}`;
      info.classList.add('active');
      return;
    }
    const ax = this.a!.axes[s.kind]!;
    const pred = ax.rowsPredicted?.[c.row];
    const q = `query ${c.row} ${JSON.stringify(ax.rows[c.row])}${pred !== undefined && pred !== '' ? ` (predicts ${JSON.stringify(pred)})` : ''}`;
    // the value from the map itself: under a per-row scale the GPU holds the row-normalised copy
    const m = this.largeMatrix!.matrix;
    info.textContent = `${q} → key ${c.col} ${JSON.stringify(ax.cols[c.col])}: ${m.data[c.row * m.cols + c.col].toFixed(4)}`;
    info.classList.add('active');
  }

  renderHeads(): void {
    const s = this.sel;
    if (!s) return;
    const layer = Number(($('head-layer') as HTMLSelectElement).value) || 0;
    const m = this.layers(s.kind)[Math.min(layer, this.layers(s.kind).length - 1)];
    const { rows, cols } = this.axes(s.kind);
    this.heads.set({ map: m, rows, cols });
    $('head-title').textContent = `Head view: ${KIND_TITLES[s.kind].toLowerCase()}`;
  }

  /** Generation in progress: the steps so far (keys: prompt + tokens so far), before the analysis is whole. */
  streamSteps(steps: readonly Step[], keys: string[]): void {
    const select = $('step-layer') as HTMLSelectElement;
    const layers = steps[0]?.byLayer.length ?? 0;
    if (select.options.length !== layers) this.fillLayerSelect(select, layers, layers - 1);
    $('results').hidden = false;
    $('steps-card').hidden = false;
    this.steps.set(steps, keys, Number(select.value) || 0, true);
  }

  private renderSteps(): void {
    const a = this.a;
    if (!a || a.steps.length === 0) return;
    const layer = Number(($('step-layer') as HTMLSelectElement).value) || 0;
    this.steps.set(a.steps, a.stepKeys, layer);
  }

  /** What the page exposes for tests and for the console: plain arrays (window.__attnscope.snapshot()). */
  snapshot(): unknown {
    const a = this.a;
    if (!a) return undefined;
    const arr = (x: ArrayLike<number>) => Array.from(x, (v) => (Number.isFinite(v) ? v : v > 0 ? 'Infinity' : v < 0 ? '-Infinity' : 'NaN'));
    return {
      text: a.text,
      output: a.output,
      generatedIds: a.generatedIds,
      inputs: Object.fromEntries(Object.entries(a.inputs).map(([k, t]) => [k, { dtype: t!.dtype, shape: t!.shape, data: arr(t!.data as ArrayLike<number>) }])),
      captures: Object.fromEntries(a.maps.map((m) => [`${m.path}.weights`, { shape: m.shape, data: arr(m.data) }])),
      large: this.sel && this.largeMatrix && {
        ...this.sel,
        module: this.layers(this.sel.kind)[this.sel.layer].path,
        rows: this.largeMatrix.matrix.rows,
        cols: this.largeMatrix.matrix.cols,
        data: arr(this.largeMatrix.matrix.data),
      },
      steps: a.steps.map((st) => ({ token: st.token, label: st.label, byLayer: st.byLayer.map(arr) })),
      relevance: { map: a.relevance.map, targets: a.relevance.targets, rows: a.relevance.matrix.rows, cols: a.relevance.matrix.cols, data: arr(a.relevance.matrix.data) },
    };
  }
}
