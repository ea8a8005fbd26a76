import { expect, test } from '@playwright/test';

// test/browser/: every kernel case and the PyTorch parity cases of a few fixtures, in the page on navigator.gpu.
test('kernel suite and PyTorch parity pass in headless Chromium on WebGPU', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const t0 = Date.now();
  await page.goto('/test/browser/index.html');
  await page.waitForFunction(() => window.kernelSuite?.done, undefined, { timeout: 280_000 });
  const r = await page.evaluate(() => window.kernelSuite);
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  await page.screenshot({ path: 'test-output/kernel-suite.png', fullPage: true });
  const parityPassed = r.passed.filter((n) => n.startsWith('parity ')).length;
  const hfPassed = r.passed.filter((n) => n.startsWith('hf ')).length;
  console.log(
    `browser suite on ${r.adapter}: ${r.passed.length} passed (${r.passed.length - parityPassed - hfPassed} kernel, ${parityPassed} parity, ${hfPassed} HF), ` +
      `${r.failed.length} failed, in ${seconds} s`,
  );
  for (const p of r.parity) console.log(`  parity ${p.name}: max |attnscope - torch| ${p.maxAbsError.toExponential(2)}, forward ${p.firstMs.toFixed(0)} ms, cached ${p.cachedMs.toFixed(0)} ms`);
  expect(r.failed, r.failed.map((f) => `${f.name}: ${f.error}`).join('\n')).toEqual([]);
  for (const h of r.hf) console.log(`  hf ${h.name}: max |attnscope - HF reference| output ${h.output.toExponential(2)}, attention ${h.attention.toExponential(2)}${h.grad === undefined ? '' : `, grad ${h.grad.toExponential(2)}`}`);
  expect(r.passed.length - parityPassed - hfPassed).toBeGreaterThan(0);
  expect(hfPassed).toBeGreaterThan(0);
  expect(r.hf.length).toBe(hfPassed);
  expect(parityPassed).toBeGreaterThan(0);
  expect(r.parity.length).toBe(parityPassed);
  expect(errors).toEqual([]);
});
