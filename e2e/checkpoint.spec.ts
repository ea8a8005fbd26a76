// The demo's model picker with Hugging Face checkpoints, in headless Chromium on WebGPU (SwiftShader): a GPT-2
// checkpoint downloaded from a stand-in hub on 127.0.0.1 (progress, then the browser's cache on a second load),
// generating, its attention equal to what the library computes in Node for the same ids; a checkpoint folder and a
// masked lm opened from disk; a .bin-only folder refused; a model opened during a run kept; no stale results.
import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, writeSafetensors } from '../src/model/safetensors.ts';
import type { HubServer } from '../test/hub_server.ts';
import { serveHubToPage } from './hub-server.ts';
import { collectErrors, hoverCell, maxDiff, runs, type Snapshot, snapshot, type Tensor, waitForRun } from './page.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const HF = join(repo, 'test', 'fixtures', 'hf');
const OUT = join(repo, 'test-output');
const GPT2 = 'attnscope-test/gpt2_lm';

/** The library in Node (e2e/library-captures.ts) on the page's forward inputs: every attention module's weights. */
function libraryCaptures(dir: string, inputs: Record<string, Tensor>): Map<string, { shape: number[]; data: Float32Array }> {
  const work = mkdtempSync(join(tmpdir(), 'attnscope-checkpoint-'));
  try {
    const IN = join(work, 'in.safetensors');
    const OUTF = join(work, 'out.safetensors');
    writeFileSync(IN, writeSafetensors(Object.entries(inputs).map(([name, t]) => ({ name, dtype: t.dtype as 'I32', shape: t.shape, data: Int32Array.from(t.data.map(Number)) }))));
    execFileSync(join(repo, 'node_modules', '.bin', 'vite-node'), [join(repo, 'e2e', 'library-captures.ts'), dir, IN, OUTF], { cwd: repo, timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Map([...readSafetensors(readFileSync(OUTF), OUTF).tensors].map(([name, t]) => [name, { shape: t.shape, data: t.data as Float32Array }]));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The page's captures equal the library's in Node for the same inputs. */
function expectLibraryCaptures(s: Snapshot, dir: string): Map<string, { shape: number[]; data: Float32Array }> {
  const ref = libraryCaptures(dir, s.inputs);
  expect([...ref.keys()].sort()).toEqual(Object.keys(s.captures).sort());
  let worst = 0;
  for (const [name, w] of ref) {
    expect(s.captures[name].shape, name).toEqual(w.shape);
    worst = Math.max(worst, maxDiff(s.captures[name].data, w.data, name));
  }
  expect(worst).toBeLessThan(1e-5);
  console.log(`${dir.split('/').pop()}: page vs library in Node, ${ref.size} attention captures, max |difference| ${worst.toExponential(2)}`);
  return ref;
}

/** Row `row` of the head mean of a [1, H, L, S] capture. */
function meanRow(t: { shape: number[]; data: Float32Array }, row: number): Float32Array {
  const [, H, L, S] = t.shape;
  const out = new Float32Array(S);
  for (let h = 0; h < H; h++) for (let j = 0; j < S; j++) out[j] += t.data[(h * L + row) * S + j] / H;
  return out;
}

const resolves = (hub: HubServer) => hub.requests.filter((r) => r.includes('/resolve/')).length;

test('a GPT-2 checkpoint from the hub on 127.0.0.1: progress, generation with its attention equal to the library, cached next time', async ({ page }) => {
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
    // only what the model needs came down: config, weights, tokenizer.json and tokenizer_config.json
    await expect(page.locator('#download-text')).toHaveText(/^attnscope-test\/gpt2_lm: 4 files, 1\d\d\.\d KiB downloaded$/);
    expect(hub.requests).toContain(`GET /${GPT2}/resolve/main/model.safetensors`);
    await page.screenshot({ path: join(OUT, 'checkpoint-gpt2.png'), fullPage: true });

    // the prompt in the tokenizer's tokens, a continuation, and the maps over prompt + continuation
    const s = await snapshot(page);
    expect(s.text).toBe('the cat sat on the mat.');
    const prompt = [257, 266, 276, 275, 258, 288, 13]; // test/fixtures/hf/gpt2_lm/tokenizer_expect.json
    expect(s.inputs.input_ids.data.slice(0, prompt.length).map(Number)).toEqual(prompt);
    expect(s.generatedIds.length).toBe(16);
    expect(s.inputs.input_ids.shape).toEqual([1, prompt.length + 15]);
    await expect(page.locator('#output-row')).toBeVisible();
    await expect(page.locator('#kind-self')).toBeVisible();
    const ref = expectLibraryCaptures(s, join(HF, 'gpt2_lm'));
    // each generated token's attention (KV-cached steps) equals its row of the full forward
    const paths = [...ref.keys()].sort();
    s.steps.forEach((st, t) =>
      st.byLayer.forEach((row, l) => {
        const full = meanRow(ref.get(paths[l])!, prompt.length - 1 + t).subarray(0, row.length);
        expect(row.length).toBe(prompt.length + t);
        expect(maxDiff(row, full, `step ${t} layer ${l}`)).toBeLessThan(1e-4);
      }),
    );
    await expect(page.locator('#steps-host canvas')).toHaveAttribute('data-steps', '16');
    // labels are the tokenizer's tokens; rows by default the token each position predicts
    await hoverCell(page, page.locator('#large-host canvas'), 1, 0);
    await expect(page.locator('#hover-info')).toContainText('query 1 "Ġcat" (predicts "Ġsat") → key 0 "the"');
    expect(s.relevance.rows).toBe(prompt.length + 15);

    // a second visit loads from this browser's cache: the hub is asked for the listing only
    const before = resolves(hub);
    await page.reload();
    await waitForRun(page, 0);
    await page.locator('#hub-id').fill(GPT2);
    await page.locator('#hub-load').click();
    await waitForRun(page, 1, GPT2);
    await expect(page.locator('#download-text')).toHaveText(`${GPT2}: 4 files, 0.0 KiB downloaded, 4 from this browser’s cache`);
    expect(resolves(hub)).toBe(before);
    console.log(`checkpoint e2e: dates ${((tDates - t0) / 1000).toFixed(1)} s, gpt2 from the hub ${((tGpt2 - tDates) / 1000).toFixed(1)} s, whole test ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(errors).toEqual([]);
  } finally {
    await hub.close();
  }
});

/** A copy of a fixture checkpoint under `name` in `dir`, with pytorch_model.bin in place of model.safetensors if `bin`. */
function checkpointFolder(dir: string, fixture: string, name: string, bin = false): string {
  const to = join(dir, name);
  mkdirSync(to);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
    copyFileSync(join(HF, fixture, f), join(to, bin && f === 'model.safetensors' ? 'pytorch_model.bin' : f));
  }
  return to;
}

test('checkpoint folders and files: a refused .bin, stale results cleared, a model opened during a run kept, a masked lm filling [MASK]', async ({ page }) => {
  const t0 = Date.now();
  const errors = collectErrors(page);
  const work = mkdtempSync(join(tmpdir(), 'attnscope-folders-'));
  try {
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.goto('/');
    await waitForRun(page, 0);

    // a .bin-only folder: the loader's refusal, the built-in model untouched
    await page.locator('#model-folder').setInputFiles(checkpointFolder(work, 'gpt2_lm', 'gpt2_bin', true));
    await expect(page.locator('#error')).toContainText('Could not open gpt2_bin: has only pytorch_model.bin, a Python pickle');
    await expect(page.locator('#error')).toContainText('save_pretrained(dir, safe_serialization=True)');
    await expect(page.locator('#model-name')).toHaveText('dates.safetensors');
    await expect(page.locator('#results')).toBeVisible();
    await page.locator('#error-close').click();

    // an input the model cannot read: the error, and no result of the earlier input left on screen
    await page.locator('#text').fill('3rd of March 1998 §');
    await page.locator('#run').click();
    await expect(page.locator('#input-error')).toContainText('§');
    await expect(page.locator('#results')).toBeHidden();
    await expect(page.locator('#output')).toHaveText('');
    expect(await snapshot(page)).toBeUndefined();

    // a folder opened while a run is in progress replaces the model: the run stops if it is still going when the
    // folder has loaded (it is stale), else it has finished
    const n = await runs(page);
    await page.locator('#text').fill('3rd of March 1998');
    await page.locator('#run').click();
    await page.waitForFunction(() => window.__attnscope?.state === 'running');
    await page.locator('#model-folder').setInputFiles(checkpointFolder(work, 'gpt2_lm', 'gpt2_lm'));
    await waitForRun(page, n, 'gpt2_lm');
    const m = await runs(page);
    expect([n + 1, n + 2]).toContain(m); // gpt2_lm's run, after the dates run's or its stop
    await expect(page.locator('#error')).toBeHidden();
    await expect(page.locator('#model-summary')).toContainText('gpt2 · lm head');

    // a masked lm from its files: [MASK] filled, attention over [CLS] … [SEP] under the tokenizer's labels
    const bert = checkpointFolder(work, 'bert_mlm', 'bert_mlm');
    await page.locator('#model-file').setInputFiles(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].map((f) => join(bert, f)));
    await waitForRun(page, m, 'the chosen files');
    await expect(page.locator('#model-summary')).toContainText('bert · mlm head · 2 layers × 4 heads · vocab 88');
    await expect(page.locator('#text')).toHaveValue('the cat [MASK] on the mat.');
    await expect(page.locator('#fills')).toContainText('position 3: "');
    await expect(page.locator('#kind-enc')).toBeVisible();
    const b = await snapshot(page);
    expect(b.steps).toEqual([]);
    expectLibraryCaptures(b, bert);
    await hoverCell(page, page.locator('#large-host canvas'), 0, 3);
    await expect(page.locator('#hover-info')).toContainText('query 0 "[CLS]" → key 3 "[MASK]"');
    await page.screenshot({ path: join(OUT, 'checkpoint-bert.png'), fullPage: true });
    console.log(`checkpoint folders e2e: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(errors).toEqual([]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('a Llama checkpoint folder: the chat template wraps the prompt, tokens stream in with their attention, equal to the library', async ({ page }) => {
  const t0 = Date.now();
  const errors = collectErrors(page);
  const work = mkdtempSync(join(tmpdir(), 'attnscope-llama-'));
  try {
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.goto('/');
    await waitForRun(page, 0);
    // Every value the steps view shows while the run is on: a streamed generation shows 1, 2, … tokens, not only the end.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { __stepsSeen: string[] }).__stepsSeen = seen;
      new MutationObserver((ms) => ms.forEach((m) => seen.push((m.target as HTMLElement).dataset.steps ?? ''))).observe(document.body, { attributes: true, attributeFilter: ['data-steps'], subtree: true });
    });
    const n = await runs(page);
    await page.locator('#model-folder').setInputFiles(checkpointFolder(work, 'llama_lm', 'llama_lm'));
    await waitForRun(page, n, 'llama_lm');
    await expect(page.locator('#model-summary')).toContainText('llama · lm head · 2 layers × 4 heads · vocab 298');
    await expect(page.locator('#text')).toHaveValue('What does a cat sit on?');
    const s = await snapshot(page);
    // the prompt is the chat template's rendering: '<|im_start|>user\n' … '<|im_start|>assistant\n', 60 tokens here
    const ids = s.inputs.input_ids.data.map(Number);
    const steps = s.generatedIds.length;
    expect(steps).toBe(16);
    expect(ids.length).toBe(60 + steps - 1);
    const labels = s.steps.map((st) => st.label);
    expect(labels.length).toBe(steps);
    const seen = await page.evaluate(() => (window as unknown as { __stepsSeen: string[] }).__stepsSeen);
    expect(seen.slice(0, steps)).toEqual(Array.from({ length: steps }, (_, i) => String(i + 1)));
    await expect(page.locator('#steps-host canvas')).toHaveAttribute('data-steps', String(steps));
    const ref = expectLibraryCaptures(s, join(HF, 'llama_lm'));
    // each streamed token's attention (grouped K/V caches) equals its row of the full forward
    const paths = [...ref.keys()].sort();
    s.steps.forEach((st, t) =>
      st.byLayer.forEach((row, l) => {
        expect(row.length).toBe(60 + t);
        expect(maxDiff(row, meanRow(ref.get(paths[l])!, 59 + t).subarray(0, row.length), `step ${t} layer ${l}`)).toBeLessThan(1e-4);
      }),
    );
    await page.screenshot({ path: join(OUT, 'checkpoint-llama.png'), fullPage: true });
    console.log(`llama checkpoint e2e: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(errors).toEqual([]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
