// The explorer's views at a real model's size (issue 20): a 12-layer x 16-head character lm and a bidirectional
// 2 x 16 one, seeded (tools/make_view_models.ts), opened through the file input. Head colours pairwise distinct as
// drawn on the model view's canvas; the whole 12 x 16 grid (mean and rollout too) inside a 1280 px viewport with no
// horizontal scroll (at 640 px it wraps into bands); causal maps scaled without their first token by default; wording for a bidirectional encoder;
// the large view's zoom with labels; the text view's tokens choose the query only where they are the map's rows.
import { expect, type Page, test } from '@playwright/test';
import { join } from 'node:path';
import { collectErrors, data, num, snapshot } from './page.ts';
import { ENC, LM, OUT, viewModels, waitForMaps } from './views-helpers.ts';

async function open(page: Page, file: string, label: string): Promise<void> {
  const before = await page.evaluate(() => window.__attnscope?.runs ?? 0);
  await page.locator('#model-file').setInputFiles(file);
  await waitForMaps(page, before, label);
}

/** RGB of the model view's canvas at CSS point (x, y) (device pixels read back from the 2D canvas). */
async function pixels(page: Page, points: [number, number][]): Promise<number[][]> {
  return page.locator('#model-view-host canvas').evaluate((c: HTMLCanvasElement, pts) => {
    const k = c.width / c.clientWidth;
    const ctx = c.getContext('2d')!;
    return pts.map(([x, y]) => [...ctx.getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data.slice(0, 3)]);
  }, points);
}

/** Mean darkness (255 - mean RGB) of the model view's map at layer `layer`, column `col` (sampled on a grid). */
async function darkness(page: Page, layer: number, col: number): Promise<number> {
  const mv = page.locator('#model-view-host canvas');
  const [x0, y0, size, gap, pitchY] = await Promise.all(['x0', 'y0', 'size', 'gap', 'pitch-y'].map((k) => data(mv, k)));
  const pts: [number, number][] = [];
  for (let i = 1; i < 8; i++) for (let j = 1; j < 8; j++) pts.push([x0 + col * (size + gap) + (j * size) / 8, y0 + layer * pitchY + (i * size) / 8]);
  const px = await pixels(page, pts);
  return px.reduce((s, p) => s + 255 - (p[0] + p[1] + p[2]) / 3, 0) / px.length;
}

test('12 layers x 16 heads: distinct head colours, the whole model view at 1280 px, causal colour scale, zoom', async ({ page }) => {
  test.setTimeout(240_000);
  viewModels();
  const errors = collectErrors(page);
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto('/');
  await waitForMaps(page, 0);

  // the text view on the dates model's cross-attention: its tokens are the source (the map's keys), not its rows, so
  // a click on one reads its value and leaves the query row alone; on the encoder's self-attention a click chooses
  const tv = page.locator('#text-host .text-view');
  await expect(page.locator('#kind-cross')).toHaveAttribute('aria-selected', 'true');
  const crossQuery = await tv.getAttribute('data-query');
  const crossTitle = await page.locator('#text-title').textContent();
  await tv.locator('span[data-i="1"]').click();
  await expect(page.locator('#text-info')).toHaveText(/^token 1 ".*": \d\.\d{4}$/);
  await expect(tv).toHaveAttribute('data-query', crossQuery!);
  await expect(page.locator('#text-title')).toHaveText(crossTitle!);
  // the map's rows (the output tokens) are shown above it, and one of them chooses the query
  const rowsView = page.locator('#text-rows-host .text-view');
  await expect(page.locator('#text-rows')).toBeVisible();
  const captures = (await snapshot(page)).captures;
  const crossShape = Object.entries(captures).find(([k]) => k.includes('multihead_attn'))![1] as { shape: number[] };
  await expect(rowsView.locator('span.tok')).toHaveCount(crossShape.shape.at(-2)!);
  await rowsView.locator('span[data-i="2"]').click();
  await expect(tv).toHaveAttribute('data-query', '2');
  await expect(rowsView.locator('.tok.chosen')).toHaveAttribute('data-i', '2');
  await expect(page.locator('#text-title')).toContainText('query 2 ');
  await expect(page.locator('#text-info')).toHaveText(/^row 2 ".*" \(the query\)$/);
  await page.locator('#text-rows').locator('xpath=..').screenshot({ path: join(OUT, 'text-view-cross.png') });
  await page.locator('#kind-enc').click();
  await expect(page.locator('#text-rows')).toBeHidden();
  await tv.locator('span[data-i="1"]').click();
  await expect(tv).toHaveAttribute('data-query', '1');
  await expect(tv.locator('.tok.chosen')).toHaveAttribute('data-i', '1');

  await open(page, LM, 'view-lm-12x16.safetensors');
  const mv = page.locator('#model-view-host canvas');
  const columns = [...Array.from({ length: 16 }, (_, h) => String(h)), 'mean', 'rollout'];
  await expect(mv).toHaveAttribute('data-columns', columns.join(','));
  await expect(mv).toHaveAttribute('data-frames', /[1-9]/);

  // every map of the grid inside the viewport, one band (no wrapping needed at 1280 px), no horizontal scroll
  await mv.scrollIntoViewIfNeeded();
  const box = (await mv.boundingBox())!;
  const [x0, size, gap, pitchY, perBand] = await Promise.all(['x0', 'size', 'gap', 'pitch-y', 'per-band'].map((k) => data(mv, k)));
  expect(perBand).toBe(18);
  const right = box.x + x0 + 18 * (size + gap) - gap;
  console.log(`model view at 1280 px: maps ${size} px, grid ${box.x.toFixed(0)}–${right.toFixed(0)} px, ${(12 * pitchY).toFixed(0)} px tall`);
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(right).toBeLessThanOrEqual(1280);
  expect(box.x + box.width).toBeLessThanOrEqual(1280);
  const scroll = await page.evaluate(() => ({ page: document.documentElement.scrollWidth - document.documentElement.clientWidth, host: ((h) => h.scrollWidth - h.clientWidth)(document.getElementById('model-view-host')!) }));
  expect(scroll).toEqual({ page: 0, host: 0 });
  expect(size).toBeGreaterThanOrEqual(28);

  // head colours: the strip under each head's title, read back from the canvas, pairwise distinct; the head view's
  // swatches carry the same colours
  const strips = await pixels(
    page,
    Array.from({ length: 16 }, (_, h) => [x0 + h * (size + gap) + size / 2, 23] as [number, number]),
  );
  let closest = Infinity;
  for (let i = 0; i < 16; i++) for (let j = i + 1; j < 16; j++) closest = Math.min(closest, Math.hypot(...strips[i].map((v, k) => v - strips[j][k])));
  console.log(`16 head colours on the canvas: closest pair ${closest.toFixed(1)} apart in RGB`);
  expect(closest).toBeGreaterThan(30);
  for (const p of strips) expect(Math.min(...p), `a strip is not white: ${p}`).toBeLessThan(235);
  const swatches = await page.locator('#head-host .swatch').evaluateAll((els) => els.map((e) => getComputedStyle(e).backgroundColor));
  expect(swatches).toHaveLength(16);
  swatches.forEach((css, h) => {
    const rgb = css.match(/\d+/g)!.slice(0, 3).map(Number);
    expect(Math.max(...rgb.map((v, k) => Math.abs(v - strips[h][k]))), `head ${h}: swatch ${css} vs strip ${strips[h]}`).toBeLessThanOrEqual(2);
  });

  // causal maps: by default each row on its own scale, so the thumbnails show every row; on the whole map's max (the
  // first row's 1.0) they are paler, and leaving the first token out of the max helps only a little here
  await expect(page.locator('#scale')).toHaveValue('row');
  // a causal lm's rows: the token each query predicts, or the input token, whose query sees the keys up to itself
  const large = page.locator('#large-host canvas');
  await expect(large).toHaveAttribute('aria-label', /queries, labelled by the token they predict/);
  await page.locator('#row-labels').selectOption('input');
  await expect(large).toHaveAttribute('aria-label', /queries \(each sees keys up to itself\)/);
  const dRow = await darkness(page, 11, 3);
  await page.locator('#scale').selectOption('max');
  await expect.poll(() => darkness(page, 11, 3)).toBeLessThan(dRow / 2);
  const dMax = await darkness(page, 11, 3);
  await page.locator('#scale').selectOption('first');
  await expect.poll(() => darkness(page, 11, 3)).toBeGreaterThan(dMax);
  console.log(`layer 11 head 3 darkness (255 - mean RGB): per row ${dRow.toFixed(1)}, on the map's max ${dMax.toFixed(1)}, first token left out ${(await darkness(page, 11, 3)).toFixed(1)}`);
  // a per-row scale draws normalised rows, but the readout is the map's own value
  await page.locator('#scale').selectOption('row');
  await large.focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  const snap = await snapshot(page);
  await expect(page.locator('#hover-info')).toContainText(`query 1 `);
  await expect(page.locator('#hover-info')).toContainText(`key 1 `);
  await expect(page.locator('#hover-info')).toContainText(`: ${num(snap.large.data[1 * snap.large.cols + 1]).toFixed(4)}`);
  await page.locator('.maps-card').screenshot({ path: join(OUT, 'views-12x16.png') });
  await page.screenshot({ path: join(OUT, 'views-12x16-page.png'), fullPage: true });

  // 34 tokens (whole maps still come back at this size): the head view draws one query's lines, not a tangle; the
  // relevance legend reads a value, not 0.00
  const words = ['attention', 'maps', 'of', 'sixteen', 'heads', 'in', 'twelve', 'layers'];
  let text = '';
  for (let i = 0; text.length < 240; i++) text += words[(i * 5) % words.length] + ' ';
  const rerun = async (t: string) => {
    const runs = await page.evaluate(() => window.__attnscope!.runs);
    await page.locator('#max-tokens').fill('1');
    await page.locator('#text').fill(t);
    await page.locator('#text').press('Enter');
    await waitForMaps(page, runs);
  };
  await rerun(text.slice(0, 34));
  await expect(large).toHaveAttribute('data-rows', '34');
  await expect(page.locator('#head-info')).toContainText('34 tokens: the lines of the last query only');
  expect(await data(page.locator('#head-host canvas'), 'lines')).toBeLessThanOrEqual(16 * 50); // one query: ≤ 1/0.02 lines a head
  await expect(page.locator('#relevance-host canvas')).toHaveAttribute('aria-label', /colour scale 0 – (?!0\.00)[\d.e-]+\./);
  await page.locator('#head-card').screenshot({ path: join(OUT, 'views-34-head-view.png') });

  // 240 tokens (the maps stay on the GPU): cells of a pixel or two carry index ticks; zooming in (the + key, the zoom
  // button) brings token labels; "whole map" goes back
  await rerun(text.slice(0, 240));
  await expect(large).toHaveAttribute('data-rows', '240');
  await expect(large).toHaveAttribute('data-labels', 'indices');
  const cell0 = await data(large, 'cell');
  await large.focus();
  for (let k = 0; k < 8 && (await large.getAttribute('data-labels')) !== 'tokens'; k++) await page.keyboard.press('+');
  await expect(large).toHaveAttribute('data-labels', 'tokens');
  expect(await data(large, 'cell')).toBeGreaterThan(cell0);
  await page.locator('#zoom-in').click();
  await page.locator('#large-host').screenshot({ path: join(OUT, 'views-240-zoomed.png') });
  await page.locator('#zoom-fit').click();
  await expect(large).toHaveAttribute('data-zoom', '1');

  // a narrow window: the grid wraps into bands of columns instead of scrolling sideways
  await rerun(text.slice(0, 20));
  // whole maps again after the long text: rollout back, the head view shown
  await expect(mv).toHaveAttribute('data-columns', columns.join(','));
  await expect(page.locator('#head-card')).toBeVisible();
  await page.setViewportSize({ width: 640, height: 1000 });
  await expect.poll(() => data(mv, 'per-band')).toBeLessThan(18);
  // the canvas takes its new size when the GPU's frame is painted
  await expect.poll(async () => ((b) => b.x + b.width)((await mv.boundingBox())!)).toBeLessThanOrEqual(640);
  const bands = Math.ceil(18 / (await data(mv, 'per-band')));
  console.log(`model view at 640 px: ${await data(mv, 'per-band')} columns a band, ${bands} bands, ${await data(mv, 'size')} px maps`);
  await page.locator('#model-view-host').screenshot({ path: join(OUT, 'views-12x16-640px.png') });
  expect(await page.evaluate(() => ((h) => h.scrollWidth - h.clientWidth)(document.getElementById('model-view-host')!))).toBe(0);
  expect(errors).toEqual([]);
});

test('a bidirectional encoder: rows are queries that see every token, nothing "they predict"', async ({ page }) => {
  test.setTimeout(120_000);
  viewModels();
  const errors = collectErrors(page);
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto('/');
  await waitForMaps(page, 0);
  await open(page, ENC, 'view-enc-2x16.safetensors');
  await expect(page.locator('#kind-enc')).toBeVisible();
  await expect(page.locator('#kind-enc')).toHaveAttribute('aria-selected', 'true');
  await expect(page.locator('#row-labels-wrap')).toBeHidden();
  await expect(page.locator('#scale')).toHaveValue('max'); // not causal: the whole map's max
  const large = page.locator('#large-host canvas');
  await expect(large).toHaveAttribute('aria-label', /queries \(each sees every token\)|each sees every token/);
  expect(await large.getAttribute('aria-label')).not.toContain('predict');
  await expect(page.locator('#relevance-host canvas')).toHaveAttribute('aria-label', /^Relevance/);
  expect(errors).toEqual([]);
});
