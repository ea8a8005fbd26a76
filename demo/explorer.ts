// The views of one analysis: kind tabs, model view grid, large heatmap, head view, generation steps. Holds the
// selection (kind, layer, head / mean / rollout) and what the page exposes to tests (window.__attnscope).
import type { Analysis, Step } from './analysis.ts';
import { type AttnKind, type AttnMap, type HeadChoice, headMatrix, KIND_TITLES, type Matrix, maxOf, meanMatrix, rollout } from './attention.ts';
import { HeadView } from './views/head-view.ts';
import { HeatmapView, type HoverCell } from './views/heatmap.ts';
import { ModelView } from './views/model-view.ts';
import { StepsView } from './views/steps-view.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** Longest sequence the rollout is computed for. */
const MAX_ROLLOUT = 1024;

const KIND_ORDER: AttnKind[] = ['cross', 'enc', 'dec', 'self'];
const choiceTitle = (c: HeadChoice) => (typeof c === 'number' ? `head ${c}` : c === 'mean' ? 'mean over heads' : 'rollout');

export interface Selection {
  kind: AttnKind;
  layer: number;
  choice: HeadChoice;
}

export class Explorer {
  private a?: Analysis;
  private sel?: Selection;
  private rollouts = new Map<AttnKind, Matrix[]>();
  private readonly modelView: ModelView;
  private readonly large: HeatmapView;
  private readonly heads: HeadView;
  private readonly steps: StepsView;
  private readonly relevance: HeatmapView;
  private largeMatrix?: { matrix: Matrix; rows: string[]; cols: string[] };

  constructor() {
    this.modelView = new ModelView($('model-view-host'), (layer, choice) => this.select({ ...this.sel!, layer, choice }));
    this.large = new HeatmapView($('large-host'), (c) => this.hover(c));
    this.heads = new HeadView($('head-host'), (t) => ($('head-info').textContent = t || 'Hover a token to isolate its lines.'));
    this.steps = new StepsView($('steps-host'), (t) => ($('step-info').textContent = t || 'Hover a bar for its value.'));
    this.relevance = new HeatmapView($('relevance-host'), (c) => this.hoverRelevance(c));
    for (const k of KIND_ORDER) {
      $(`kind-${k}`).addEventListener('click', () => this.setKind(k));
    }
    for (const id of ['scale', 'row-labels']) $(id).addEventListener('change', () => this.render());
    $('head-layer').addEventListener('change', () => this.renderHeads());
    $('step-layer').addEventListener('change', () => this.renderSteps());
    let t: ReturnType<typeof setTimeout> | undefined;
    window.addEventListener('resize', () => {
      clearTimeout(t);
      t = setTimeout(() => this.render(), 150);
    });
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
    this.largeMatrix = undefined;
    this.rollouts.clear();
  }

  /** A new analysis: keep the selection where it still exists, else pick the sharpest layer of the first kind. */
  show(a: Analysis): void {
    const prev = this.sel;
    this.a = a;
    this.rollouts.clear();
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
    this.renderHeads();
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

  /** Axis labels of a kind; decoder queries by the token they predict when that option is on. */
  private axes(kind: AttnKind): { rows: string[]; cols: string[]; rowAxis: string; colAxis: string } {
    const ax = this.a!.axes[kind]!;
    const predicted = ($('row-labels') as HTMLSelectElement).value === 'predicted' && ax.rowsPredicted;
    const rows = predicted ? ax.rowsPredicted! : ax.rows;
    const keyAxis = kind === 'cross' ? 'keys: source tokens' : 'keys';
    return { rows, cols: ax.cols, rowAxis: predicted ? 'queries, labelled by the token they predict' : 'queries', colAxis: keyAxis };
  }

  render(): void {
    const a = this.a;
    const s = this.sel;
    if (!a || !s) return;
    for (const k of KIND_ORDER) $(`kind-${k}`).setAttribute('aria-pressed', String(k === s.kind));
    $('row-labels-wrap').hidden = !a.axes[s.kind]?.rowsPredicted;
    const maps = this.layers(s.kind);
    const H = maps[0]?.heads ?? 0;
    const columns: HeadChoice[] = [...Array.from({ length: H }, (_, h) => h), 'mean'];
    if (this.hasRollout(s.kind)) columns.push('rollout');
    const cells = maps.flatMap((_m, l) => columns.map((c) => ({ layer: l, choice: c, matrix: this.matrix({ kind: s.kind, layer: l, choice: c }) })));
    const oneScale = ($('scale') as HTMLSelectElement).value === 'one';
    this.modelView.set({ layers: maps.length, columns, cells, max: oneScale ? 1 : undefined }, s);
    $('model-view-title').textContent = `${KIND_TITLES[s.kind]}: ${maps.length} layers × ${H} heads`;
    $('rollout-note').hidden = s.kind === 'cross';
    $('rollout-skipped').hidden = this.hasRollout(s.kind) || s.kind === 'cross';
    $('cross-note').hidden = s.kind !== 'cross';
    this.renderLarge();
    this.renderHeads();
    this.renderSteps();
    this.renderRelevance();
  }

  /** Rows: output positions labelled by the token they predict; columns: the input tokens of the map. */
  private relevanceAxes(): { rows: string[]; cols: string[] } {
    const a = this.a!;
    const ax = a.relevance.map === 'cross' ? a.axes.cross! : (a.axes.self ?? a.axes.enc)!;
    const rows = ax.rowsPredicted?.some((p) => p !== '') ? ax.rows.map((r, i) => `${r}→${ax.rowsPredicted![i] ?? ''}`) : ax.rows;
    return { rows, cols: ax.cols };
  }

  private renderRelevance(): void {
    const r = this.a!.relevance;
    const { rows, cols } = this.relevanceAxes();
    const colAxis = r.map === 'cross' ? 'source tokens' : 'input tokens';
    this.relevance.set({ matrix: r.matrix, rows, cols, max: Math.max(1e-6, maxOf(r.matrix)), rowAxis: 'output positions (input→prediction)', colAxis });
    $('relevance-title').textContent = `Relevance of each ${colAxis.slice(0, -1)} for each prediction · ${r.matrix.rows} backwards in ${r.ms.toFixed(0)} ms`;
    $('relevance-target').textContent = r.target;
    this.relevance.canvas.dataset.map = r.map;
    this.hoverRelevance(undefined);
  }

  private hoverRelevance(c: HoverCell | undefined): void {
    const info = $('relevance-info');
    if (!c || !this.a) {
      info.textContent = 'Hover a cell: its row is an output position, its column an input token; the colour is its relevance.';
      info.classList.remove('active');
      return;
    }
    const { rows, cols } = this.relevanceAxes();
    info.textContent = `position ${c.row} ${JSON.stringify(rows[c.row])} ← token ${c.col} ${JSON.stringify(cols[c.col])}: relevance ${c.value.toFixed(4)}`;
    info.classList.add('active');
  }

  private renderLarge(): void {
    const s = this.sel!;
    const m = this.matrix(s);
    const { rows, cols, rowAxis, colAxis } = this.axes(s.kind);
    const oneScale = ($('scale') as HTMLSelectElement).value === 'one';
    this.largeMatrix = { matrix: m, rows, cols };
    this.large.set({ matrix: m, rows, cols, max: oneScale ? 1 : Math.max(1e-6, maxOf(m)), rowAxis, colAxis });
    $('large-title').textContent = `${KIND_TITLES[s.kind]} · layer ${s.layer} · ${choiceTitle(s.choice)}`;
    const c = this.large.canvas;
    c.dataset.kind = s.kind;
    c.dataset.layer = String(s.layer);
    c.dataset.choice = String(s.choice);
    c.dataset.module = this.layers(s.kind)[s.layer].path;
    this.hover(undefined);
  }

  private hover(c: HoverCell | undefined): void {
    const info = $('hover-info');
    const s = this.sel;
    const lm = this.largeMatrix;
    if (!c || !s || !lm) {
      info.textContent = 'Hover a cell: its row is a query, its column a key; the colour is the attention weight.';
      info.classList.remove('active');
      return;
    }
    const ax = this.a!.axes[s.kind]!;
    const pred = ax.rowsPredicted?.[c.row];
    const q = `query ${c.row} ${JSON.stringify(ax.rows[c.row])}${pred !== undefined && pred !== '' ? ` (predicts ${JSON.stringify(pred)})` : ''}`;
    info.textContent = `${q} → key ${c.col} ${JSON.stringify(ax.cols[c.col])}: ${c.value.toFixed(4)}`;
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
    this.steps.set(steps, keys, Number(select.value) || 0);
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
      inputs: Object.fromEntries(Object.entries(a.inputs).map(([k, t]) => [k, { dtype: t!.dtype, shape: t!.shape, data: arr(t!.data) }])),
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
