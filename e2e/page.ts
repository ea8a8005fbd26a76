// What the demo's specs share: the page's snapshot (window.__attnscope), waiting for a run, console errors, cells
// of a canvas by its data-* geometry, and array comparison.
import type { Locator, Page } from '@playwright/test';

export interface Tensor {
  dtype?: string;
  shape: number[];
  data: (number | string)[];
}

/** Explorer.snapshot(): non-finite values arrive as strings. */
export interface Snapshot {
  text: string;
  output?: string;
  generatedIds: number[];
  inputs: Record<string, Tensor>;
  captures: Record<string, Tensor>;
  large: { kind: string; layer: number; choice: number | 'mean' | 'rollout'; module: string; rows: number; cols: number; data: (number | string)[] };
  steps: { token: number; label: string; byLayer: (number | string)[][] }[];
  relevance: { map: 'cross' | 'source'; targets: { index?: number[] }[]; rows: number; cols: number; data: (number | string)[] };
}

/** The port of the built demo's static server (ATTNSCOPE_DEMO_PORT: two checkouts' suites at once). */
export const DEMO_PORT = Number(process.env.ATTNSCOPE_DEMO_PORT ?? 5174);

/**
 * The demo as `npm run build:demo` built it, served from a sub-path by a plain static server (playwright.config.ts):
 * what a user hosting the site gets, not the dev server.
 */
export const BUILT_DEMO = `http://127.0.0.1:${DEMO_PORT}/apps/attnscope/demo/`;

export const num = (v: number | string) => (typeof v === 'number' ? v : Number(v));

export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

export async function snapshot(page: Page): Promise<Snapshot> {
  return (await page.evaluate(() => window.__attnscope!.snapshot())) as Snapshot;
}

export async function runs(page: Page): Promise<number> {
  return page.evaluate(() => window.__attnscope?.runs ?? 0);
}

/** Waits until an analysis after the `after`-th has finished (on the model labelled `model`, if given) and the page is ready. */
export async function waitForRun(page: Page, after: number, model?: string): Promise<void> {
  await page.waitForFunction(([n, m]) => window.__attnscope?.state === 'ready' && window.__attnscope.runs > (n as number) && (!m || window.__attnscope.model === m), [after, model] as const, {
    timeout: 200_000,
  });
}

export async function data(l: Locator, key: string): Promise<number> {
  return Number(await l.getAttribute(`data-${key}`));
}

/** Moves the mouse over cell (row, col) of a heatmap canvas (its data-x0, -y0, -cell). */
export async function hoverCell(page: Page, canvas: Locator, row: number, col: number): Promise<void> {
  const box = (await canvas.boundingBox())!;
  const x0 = await data(canvas, 'x0');
  const y0 = await data(canvas, 'y0');
  const cell = await data(canvas, 'cell');
  await page.mouse.move(box.x + x0 + (col + 0.5) * cell, box.y + y0 + (row + 0.5) * cell);
}

/** Max |a - b| over two equal-length arrays; throws on a length mismatch. */
export function maxDiff(a: ArrayLike<number | string>, b: ArrayLike<number>, what: string): number {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} values vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(num(a[i]) - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
