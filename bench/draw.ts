// Drawing attention on the GPU (issue #15), measured in headless Chromium (SwiftShader here):
//  1. one L x L map drawn the old way (CPU raster, bench/draw_cpu.ts) and by the demo's GPU renderer, side by side in
//     one page (bench/draw_page.ts): first paint and pan frame time at 8x zoom;
//  2. the demo's long-context flow (tools/make_long_model.ts: lm, 4 layers, d 128, 4 heads) at each length: first
//     paint after Run, bytes read back per interaction (data apart from frame pixels), pan frame time zoomed in,
//     the exact window's capture.
//     Each forward reads back its summaries alone (no logits, no module inputs / outputs).
// Run: npx vite-node bench/draw.ts [--lengths 512,8192] [--micro 512] [--pans 10] [--timeout-s 590] [--json FILE]
//     (--timeout-s: how long a forward may take; 8,192 tokens on a loaded SwiftShader take tens of minutes)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from '@playwright/test';
import playwrightConfig, { CHROMIUM } from '../playwright.config.ts';
import type { DrawTimes } from './draw_page.ts';
import { BenchArgs } from './args.ts';
import { log, RESULTS, ROOT, startServer } from './shared.ts';
import { median } from './stats.ts';

const args = new BenchArgs('npm run bench:draw -- [--lengths 512,8192] [--micro 512] [--pans 10] [--timeout-s 590] [--json FILE]', ['lengths', 'micro', 'pans', 'timeout-s', 'json']);
const LENGTHS = args.ints('lengths', '512,8192');
const MICRO = args.ints('micro', '512');
const PANS = args.int('pans', 10);
const TIMEOUT = args.int('timeout-s', 590) * 1000;
const MODEL = join(ROOT, 'test-output', 'long-lm.safetensors');

interface FlowResult {
  L: number;
  error?: string;
  firstPaintMs?: number;
  firstPaintBytes?: number;
  zoomToWindowMs?: number;
  zoomBytes?: number;
  window?: string;
  panFrameMs?: number[];
  panBytes?: number;
  panFrameBytes?: number;
  /** After first paint: model view frames and columns, text view tokens and query (all three views drawn). */
  views?: { modelFrames: number; modelColumns: string | null; textTokens: string | null; textQuery: string | null };
}

const readback = (page: Page) => page.evaluate(() => window.__attnscope!.readback());
const frames = async (page: Page, host: string) => Number(await page.locator(`${host} canvas`).getAttribute('data-frames'));

async function flow(page: Page, L: number): Promise<FlowResult> {
  const r: FlowResult = { L };
  await page.goto('/demo/');
  await page.waitForFunction(() => window.__attnscope?.state === 'ready', undefined, { timeout: TIMEOUT });
  await page.locator('#model-file').setInputFiles(MODEL);
  await page.waitForFunction(() => window.__attnscope?.state === 'ready' && window.__attnscope.model === 'long-lm.safetensors', undefined, { timeout: TIMEOUT });
  const text = Array.from({ length: L }, (_, i) => 'the quick brown fox jumps over a lazy dog. '[i % 43]).join('');
  const runs = await page.evaluate(() => window.__attnscope!.runs);
  const f0 = await frames(page, '#large-host');
  let rb = await readback(page);
  await page.locator('#text').fill(text);
  let t = Date.now();
  await page.locator('#text').press('Enter');
  await page.waitForFunction(([n]) => ['ready', 'error'].includes(window.__attnscope!.state) && (window.__attnscope!.runs > n || window.__attnscope!.state === 'error'), [runs], { timeout: TIMEOUT });
  if ((await page.evaluate(() => window.__attnscope!.state)) === 'error') return { ...r, error: (await page.locator('#error').textContent()) ?? 'error' };
  await page.waitForFunction(([n]) => Number(document.querySelector('#large-host canvas')!.getAttribute('data-frames')) > n, [f0], { timeout: TIMEOUT });
  r.firstPaintMs = Date.now() - t;
  r.firstPaintBytes = (await readback(page)).data - rb.data;
  const tv = page.locator('#text-host .text-view');
  r.views = { modelFrames: await frames(page, '#model-view-host'), modelColumns: await page.locator('#model-view-host canvas').getAttribute('data-columns'), textTokens: await tv.getAttribute('data-tokens'), textQuery: await tv.getAttribute('data-query') };
  // zoom in on the middle until an exact window is drawn
  const c = page.locator('#large-host canvas');
  const box = (await c.boundingBox())!;
  const x0 = Number(await c.getAttribute('data-x0'));
  const y0 = Number(await c.getAttribute('data-y0'));
  const cell = Number(await c.getAttribute('data-cell'));
  const mid = { x: box.x + x0 + (L / 2) * cell, y: box.y + y0 + (L / 2) * cell };
  rb = await readback(page);
  t = Date.now();
  await page.mouse.move(mid.x, mid.y);
  for (let k = 0; k < 40 && !(await c.getAttribute('data-window')); k++) {
    await page.mouse.wheel(0, -300);
    await page.waitForTimeout(300);
  }
  await page.waitForFunction(() => !!document.querySelector('#large-host canvas')!.getAttribute('data-window'), undefined, { timeout: TIMEOUT });
  r.zoomToWindowMs = Date.now() - t;
  r.window = (await c.getAttribute('data-window')) ?? undefined;
  r.zoomBytes = (await readback(page)).data - rb.data;
  // pan: drag in small steps, each step's frame timed (mouse event -> the frame on the canvas)
  rb = await readback(page);
  r.panFrameMs = [];
  await page.mouse.down();
  for (let k = 0; k < PANS; k++) {
    const n = await frames(page, '#large-host');
    t = performance.now();
    await page.mouse.move(mid.x + (k + 1) * 6, mid.y + (k % 2 ? 2 : -2));
    await page.waitForFunction(([m]) => Number(document.querySelector('#large-host canvas')!.getAttribute('data-frames')) > m, [n]);
    r.panFrameMs.push(performance.now() - t);
  }
  await page.mouse.up();
  const after = await readback(page);
  r.panBytes = after.data - rb.data;
  r.panFrameBytes = (after.frames - rb.frames) / PANS;
  return r;
}

const fmt = (x: number | undefined, d = 0) => (x === undefined ? '—' : x.toFixed(d));

async function main(): Promise<void> {
  if (!existsSync(MODEL)) execFileSync(join(ROOT, 'node_modules', '.bin', 'vite-node'), [join(ROOT, 'tools', 'make_long_model.ts'), MODEL], { cwd: ROOT, stdio: 'inherit' });
  const { server, url } = await startServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: playwrightConfig.use?.launchOptions?.args, headless: true });
  try {
    const page = await browser.newPage({ baseURL: url, viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => log(`  [page error] ${e.message}`));
    await page.goto('/demo/');
    const adapter = await page.evaluate(async () => {
      const i = (await navigator.gpu.requestAdapter())?.info;
      return i ? [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ') : 'no adapter';
    });
    const micro: DrawTimes[] = [];
    for (const L of MICRO) {
      log(`drawing ${L} x ${L}: CPU raster vs GPU renderer`);
      // the page imports the module through Vite; a string, so vite-node leaves the page's import() alone
      micro.push((await page.evaluate(`import('/bench/draw_page.ts').then((m) => m.drawBench(${L}, ${PANS}))`)) as DrawTimes);
    }
    const flows: FlowResult[] = [];
    for (const L of LENGTHS) {
      log(`demo flow at ${L} tokens`);
      try {
        flows.push(await flow(page, L));
      } catch (e) {
        flows.push({ L, error: e instanceof Error ? e.message.split('\n')[0] : String(e) });
      }
      log(`  ${JSON.stringify(flows.at(-1))}`);
    }
    console.log(`\nadapter: ${adapter}\n\nOne map, CPU raster (the demo before) vs GPU renderer, same page:`);
    console.log('| L | CPU first paint ms | GPU first paint ms | CPU pan frame ms (median) | GPU pan frame ms (median) |\n| --- | --- | --- | --- | --- |');
    for (const m of micro) console.log(`| ${m.L} | ${fmt(m.cpu.firstPaintMs, 1)} | ${fmt(m.gpu.firstPaintMs, 1)} | ${fmt(median(m.cpu.panFrameMs), 1)} | ${fmt(median(m.gpu.panFrameMs), 1)} |`);
    console.log('\nThe demo, long-context flow (data bytes exclude frame pixels; the forwards read back their summaries alone):');
    console.log('| L | first paint ms | first paint data bytes | zoom → window ms | zoom data bytes | window rows | pan frame ms (median) | pan data bytes | frame pixels bytes | error |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const f of flows) {
      console.log(`| ${f.L} | ${fmt(f.firstPaintMs)} | ${fmt(f.firstPaintBytes)} | ${fmt(f.zoomToWindowMs)} | ${fmt(f.zoomBytes)} | ${f.window ?? '—'} | ${f.panFrameMs ? fmt(median(f.panFrameMs), 1) : '—'} | ${fmt(f.panBytes)} | ${fmt(f.panFrameBytes)} | ${f.error ?? ''} |`);
    }
    mkdirSync(RESULTS, { recursive: true });
    const out = args.string('json', join(RESULTS, 'draw-swiftshader.json'));
    writeFileSync(out, JSON.stringify({ adapter, date: new Date().toISOString(), micro, flows }, null, 2));
    log(`wrote ${out}`);
  } finally {
    await browser.close();
    await server.close();
  }
}

await main();
