// Level of detail for one map view: the viewport (zoom and pan over an L x S map), which tiles cover it (the
// whole-map overview — exact for short maps, the library's downsampled grid for long ones — and, zoomed in, an exact
// window captured for the visible rows), and which value lies under a point (hit testing).
import { isExact, type Placement, type Tile } from './map-renderer.ts';

/** Exact cells of map rows [from, to): a windowed capture re-run on demand (at most `rows` rows a call). */
export interface WindowSource {
  rows: number;
  fetch(from: number, to: number): Promise<Tile>;
}

/** What a map view draws from: its size, the overview tile, and for long maps where exact windows come from. */
export interface MapSource {
  rows: number;
  cols: number;
  overview: Tile;
  window?: WindowSource;
}

/** The cells a point falls in: the map cell, and the tile cell that holds its value (a block of the overview). */
export interface Hit {
  row: number;
  col: number;
  tile: Tile;
  /** Index of the value in tile.values. */
  index: number;
  /** Map rows and columns the value stands for: one cell when exact, a block otherwise. */
  rows: [number, number];
  cols: [number, number];
}

const MAX_ZOOM_CELL = 48; // CSS pixels a cell may grow to

/** Grid cell of map position m in a grid of n cells over [lo, hi) (map.wgsl's block()), and the block's edges. */
export function blockOf(m: number, lo: number, hi: number, n: number): { i: number; from: number; to: number } {
  const len = hi - lo;
  const i = Math.min(Math.floor(((m - lo + 1) * n - 1) / len), n - 1);
  const from = lo + Math.floor((i * len) / n);
  return { i, from, to: Math.max(lo + Math.floor(((i + 1) * len) / n), from + 1) };
}

export class Viewport {
  zoom = 1;
  /** Map (col, row) at the plot's top-left corner. */
  col0 = 0;
  row0 = 0;

  /** An L x S map in a w x h CSS-pixel plot, `fit` pixels a cell at zoom 1 (the whole map in view). */
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly fit: number,
    readonly w: number,
    readonly h: number,
  ) {}

  get cell(): number {
    return this.fit * this.zoom;
  }

  get maxZoom(): number {
    return Math.max(1, MAX_ZOOM_CELL / this.fit);
  }

  /** Visible map cells: [r0, r1) x [c0, c1). */
  visible(): { r0: number; r1: number; c0: number; c1: number } {
    const c = this.cell;
    return {
      r0: Math.max(0, Math.floor(this.row0)),
      r1: Math.min(this.rows, Math.ceil(this.row0 + this.h / c)),
      c0: Math.max(0, Math.floor(this.col0)),
      c1: Math.min(this.cols, Math.ceil(this.col0 + this.w / c)),
    };
  }

  /** Zooms by `factor` keeping the map point under plot position (px, py) in place. */
  zoomAt(px: number, py: number, factor: number): void {
    const c = this.cell;
    const mx = this.col0 + px / c;
    const my = this.row0 + py / c;
    this.zoom = Math.min(this.maxZoom, Math.max(1, this.zoom * factor));
    this.col0 = mx - px / this.cell;
    this.row0 = my - py / this.cell;
    this.clamp();
  }

  /** Moves the view by (dx, dy) CSS pixels (a drag: the map follows the pointer). */
  pan(dx: number, dy: number): void {
    this.col0 -= dx / this.cell;
    this.row0 -= dy / this.cell;
    this.clamp();
  }

  /** Shows map rows from `row` on (and columns from `col`) at the current zoom. */
  scrollTo(row: number, col: number): void {
    this.row0 = row;
    this.col0 = col;
    this.clamp();
  }

  private clamp(): void {
    const c = this.cell;
    this.col0 = Math.min(Math.max(0, this.col0), Math.max(0, this.cols - this.w / c));
    this.row0 = Math.min(Math.max(0, this.row0), Math.max(0, this.rows - this.h / c));
  }

  /** The map cell under plot position (px, py), if any. */
  cellAt(px: number, py: number): { row: number; col: number } | undefined {
    if (px < 0 || py < 0 || px >= this.w || py >= this.h) return undefined;
    const col = Math.floor(this.col0 + px / this.cell);
    const row = Math.floor(this.row0 + py / this.cell);
    return row < this.rows && col < this.cols ? { row, col } : undefined;
  }

  /** Where the map's tiles go in the plot (at plot offset x0, y0). */
  placement(x0: number, y0: number): Placement {
    const c = this.cell;
    return { x: x0, y: y0, w: Math.min(this.w, this.cols * c), h: Math.min(this.h, this.rows * c), col0: this.col0, row0: this.row0, cellW: c, cellH: c };
  }

  /**
   * Rows an exact window should cover (centred on the view), or undefined when the overview's blocks are below a
   * pixel or a window would fill less than half the view.
   */
  wantsWindow(s: MapSource): [number, number] | undefined {
    if (!s.window || isExact(s.overview)) return undefined;
    const blockPx = this.cell * (s.rows / s.overview.rows);
    if (blockPx <= 1.5) return undefined;
    const { r0, r1 } = this.visible();
    const n = Math.min(s.window.rows, s.rows);
    if (n < (r1 - r0) / 2) return undefined; // a window that would fill under half the view waits for more zoom
    const from = Math.max(0, Math.min(r0 + Math.floor((r1 - r0 - n) / 2), s.rows - n));
    return [from, from + n];
  }
}

/** The tile cell holding the value of map cell (row, col): the exact window's where it covers it, else the overview's. */
export function hitTile(row: number, col: number, tiles: readonly Tile[]): Hit | undefined {
  for (let k = tiles.length - 1; k >= 0; k--) {
    const t = tiles[k];
    if (row < t.r0 || row >= t.r1 || col < t.c0 || col >= t.c1) continue;
    const br = blockOf(row, t.r0, t.r1, t.rows);
    const bc = blockOf(col, t.c0, t.c1, t.cols);
    return { row, col, tile: t, index: t.offset + br.i * t.stride + bc.i, rows: [br.from, br.to], cols: [bc.from, bc.to] };
  }
  return undefined;
}
