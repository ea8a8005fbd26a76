import { readdirSync, readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { BROWSER_FIXTURES, BROWSER_MIDSIZE } from '../test/browser/suite.ts';

// test/browser/: every kernel case (each under both kernel sets), the PyTorch parity cases of a few fixtures, a
// mid-size fixture and the Hugging Face reference cases, in the page on navigator.gpu. Every count is checked
// exactly: a shortened list, a case file the page missed or a fixture it skipped fails here.
test('kernel suite and PyTorch parity pass in headless Chromium on WebGPU', async ({ page }) => {
  // Every kernel case under both kernel sets and a mid-size model on SwiftShader: longer than the config's default.
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const t0 = Date.now();
  await page.goto('/test/browser/index.html');
  await page.waitForFunction(() => window.kernelSuite?.done, undefined, { timeout: 880_000 });
  const r = await page.evaluate(() => window.kernelSuite);
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  await page.screenshot({ path: 'test-output/kernel-suite.png', fullPage: true });
  const passed = (prefix: string) => r.passed.filter((n) => n.startsWith(prefix));
  const parity = passed('parity ');
  const midsize = passed('midsize ');
  const hf = passed('hf ');
  const kernel = r.passed.length - parity.length - midsize.length - hf.length;
  console.log(
    `browser suite on ${r.adapter}: ${r.passed.length} passed (${kernel} kernel: ${r.rowWidths.bothSets} under both kernel sets, ` +
      `${r.rowWidths.oneSet} once; ${parity.length} parity, ${midsize.length} mid-size, ${hf.length} HF), ${r.failed.length} failed, in ${seconds} s`,
  );
  for (const p of r.parity) console.log(`  parity ${p.name}: max |attnscope - torch| ${p.maxAbsError.toExponential(2)}, forward ${p.firstMs.toFixed(0)} ms, cached ${p.cachedMs.toFixed(0)} ms`);
  for (const h of r.hf) console.log(`  hf ${h.name}: max |attnscope - HF reference| output ${h.output.toExponential(2)}, attention ${h.attention.toExponential(2)}${h.grad === undefined ? '' : `, grad ${h.grad.toExponential(2)}`}`);
  console.log(`row kernels, dispatches per width and kernel set (threads per row):\n${r.rowWidths.lines.join('\n')}`);
  expect(r.failed, r.failed.map((f) => `${f.name}: ${f.error}`).join('\n')).toEqual([]);

  // The page ran every case file on disk, every case of each, and nothing else.
  const files = readdirSync('test/kernels').filter((f) => f.endsWith('.cases.ts')).sort();
  expect(Object.keys(r.caseFiles).sort()).toEqual(files);
  const kernelCases = Object.values(r.caseFiles).reduce((a, b) => a + b, 0);
  expect(r.expected.kernel).toBe(kernelCases);
  expect(kernel).toBe(kernelCases);
  expect(r.rowWidths.bothSets + r.rowWidths.oneSet).toBe(kernelCases);
  expect(r.rowWidths.missing).toEqual([]);
  // Each browser fixture once, and each is one the Node suite has.
  const index = (JSON.parse(readFileSync('test/fixtures/index.json', 'utf8')) as { name: string }[]).map((f) => f.name);
  for (const f of BROWSER_FIXTURES) expect(index).toContain(f);
  expect(parity.map((n) => n.slice('parity '.length).split(':')[0]).sort()).toEqual([...BROWSER_FIXTURES].sort());
  expect(r.expected.parity).toBe(BROWSER_FIXTURES.length);
  expect(r.parity.length).toBe(parity.length);
  expect(midsize.map((n) => n.split(':')[0])).toEqual([`midsize ${BROWSER_MIDSIZE}`]);
  expect(r.expected.midsize).toBe(1);
  expect(hf.length).toBe(r.expected.hf);
  expect(r.expected.hf).toBeGreaterThan(0);
  expect(r.hf.length).toBe(hf.length);
  expect(errors).toEqual([]);
});
