// The demo's causal analysis card in headless Chromium (WebGPU on SwiftShader): integrated gradients, head importance
// and activation patching on the built-in dates model (seq2seq; no logit lens), then all four views, the logit lens
// included, on a GPT-2 checkpoint folder; each view drawn, its numbers from the library, read by the pointer, and
// exported as PNG on both. (Their keyboard reading is in a11y.spec.ts.)
import { expect, type Page, test } from '@playwright/test';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectErrors, hoverCell, runs, waitForRun } from './page.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const HF = join(repo, 'test', 'fixtures', 'hf');

/** Clicks a view's button and waits until the card says it is drawn; returns the status line. */
async function runView(page: Page, kind: string): Promise<string> {
  await page.locator(`#causal-${kind}`).click();
  await page.waitForFunction((k) => (document.getElementById('causal-card')?.dataset.done ?? '').split(' ').includes(k), kind, { timeout: 200_000 });
  await expect(page.locator(`#causal-${kind}-figure`)).toBeVisible();
  const size = await page.locator(`#causal-${kind}-canvas`).evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
  expect(size[0]).toBeGreaterThan(100);
  expect(size[1]).toBeGreaterThan(40);
  return (await page.locator('#causal-status').textContent()) ?? '';
}

/** The view's PNG export: a download whose bytes start with the PNG signature. */
async function expectPng(page: Page, kind: string): Promise<void> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`#export-causal-${kind}`).click()]);
  expect(download.suggestedFilename()).toBe(`attnscope-${kind}.png`);
  const bytes = readFileSync((await download.path())!);
  expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
}

/** "completeness error 1.2e-4 of 3.456": the error relative to F(x) - F(baseline). */
function completeness(status: string): number {
  const m = /completeness error (\S+) of (\S+)/.exec(status);
  expect(m, status).not.toBeNull();
  return Math.abs(Number(m![1])) / Math.max(1e-6, Math.abs(Number(m![2])));
}

test('causal views on the dates model: integrated gradients, head importance and patching drawn and exported; no lens', async ({ page }) => {
  const errors = collectErrors(page);
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto('/');
  await waitForRun(page, 0);
  await expect(page.locator('#causal-lens')).toBeDisabled();
  // 16 trapezoid steps: the sum of the attributions is F(x) - F(0) to within a few per cent.
  expect(completeness(await runView(page, 'attribution'))).toBeLessThan(0.1);
  await expectPng(page, 'attribution');
  expect(await runView(page, 'heads')).toMatch(/heads in \d+ forwards/);
  await expectPng(page, 'heads');
  // the pointer reads a cell into the figure's readout, and marks it
  await hoverCell(page, page.locator('#causal-heads-canvas'), 1, 2);
  await expect(page.locator('#causal-heads-info')).toHaveText(/^layer \S+, head h2: change in P -?\d+\.\d{4}$/);
  await page.mouse.move(0, 0);
  await expect(page.locator('#causal-heads-info')).toContainText('Hover a cell');
  await page.locator('#causal-corrupt').fill('2');
  expect(await runView(page, 'patch')).toMatch(/\d+ layers x \d+ positions in \d+ forwards/);
  await expectPng(page, 'patch');
  // A new run takes the figures away: they belong to the earlier input.
  const before = await runs(page);
  await page.locator('#run').click();
  await waitForRun(page, before);
  await expect(page.locator('#causal-patch-figure')).toBeHidden();
  expect(errors).toEqual([]);
});

test('causal views on a GPT-2 checkpoint folder: the logit lens with the rest', async ({ page }) => {
  const errors = collectErrors(page);
  const work = mkdtempSync(join(tmpdir(), 'attnscope-causal-'));
  try {
    const dir = join(work, 'gpt2_lm');
    mkdirSync(dir);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(HF, 'gpt2_lm', f), join(dir, f));
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.goto('/');
    await waitForRun(page, 0);
    const before = await runs(page);
    await page.locator('#model-folder').setInputFiles(dir);
    await waitForRun(page, before);
    await expect(page.locator('#causal-lens')).toBeEnabled();
    expect(await runView(page, 'lens')).toMatch(/3 streams x \d+ positions/);
    await expectPng(page, 'lens');
    expect(completeness(await runView(page, 'attribution'))).toBeLessThan(0.1);
    await expectPng(page, 'attribution');
    expect(await runView(page, 'heads')).toMatch(/6 heads in \d+ forwards/);
    await expectPng(page, 'heads');
    expect(await runView(page, 'patch')).toMatch(/2 layers x \d+ positions/);
    await expectPng(page, 'patch');
    expect(errors).toEqual([]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
