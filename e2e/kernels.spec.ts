import { expect, test } from '@playwright/test';

test('kernel suite passes in headless Chromium on WebGPU', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/test/browser/index.html');
  await page.waitForFunction(() => window.kernelSuite?.done, undefined, { timeout: 280_000 });
  const r = await page.evaluate(() => window.kernelSuite);
  await page.screenshot({ path: 'test-output/kernel-suite.png', fullPage: true });
  console.log(`browser kernel suite on ${r.adapter}: ${r.passed.length} passed, ${r.failed.length} failed`);
  expect(r.failed, r.failed.map((f) => `${f.name}: ${f.error}`).join('\n')).toEqual([]);
  expect(r.passed.length).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});
