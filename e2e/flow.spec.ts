// The explorer's run flow (issue #20): maps first and relevance after, in the background, with progress, Cancel and
// rows on demand, and no main-thread task over 200 ms meanwhile, on a 6 + 6 layer x 12 head seq2seq model with 320
// characters (tools/make_explorer_model.ts, made here without downloads); results never shown as current for an input that
// is not in the box, a stale run stopped; a model opened while the page is busy is loaded; the model's confidence per
// step; Cancel stops a generating lm between two steps.
import { expect, type Page, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectErrors, runs, snapshot, waitForRun } from './page.ts';
import { LM, viewModels } from './views-helpers.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const DATES = join(repo, 'demo', 'models', 'dates.safetensors');
const DATES_JSON = join(repo, 'demo', 'models', 'dates.json');
const MODEL_FILE = join(repo, 'test-output', 'explorer-6x12.safetensors');
const MODEL = 'explorer-6x12.safetensors';
/**
 * Longest main-thread task allowed while relevance rows are computed, and the time to the maps (issue #20), on a quiet
 * machine. A machine busy with other work stretches every task (SwiftShader's compute shares the same cores): the
 * budgets grow with the 1-minute load average per core beyond 1, and the log says by how much.
 */
const LOAD = Math.max(1, loadavg()[0] / cpus().length);
const LONG_TASK_MS = 200 * LOAD;
const MAPS_MS = 10_000 * LOAD;

declare global {
  interface Window {
    __longTasks?: { start: number; ms: number }[];
    __violations?: string[];
  }
}

/** A text of n characters from the model's source vocabulary: dates written several ways. */
function dateText(n: number): string {
  const parts = ['3rd of March 1998', 'Tuesday, 4 May 2021', '12/10/1975', '1 Jan 2000', '2049-12-31', "June '64"];
  let out = '';
  for (let i = 0; out.length < n; i++) out += `${parts[i % parts.length]}, `;
  return out.slice(0, n);
}

const attn = (page: Page) => page.evaluate(() => {
  const a = window.__attnscope!;
  return { state: a.state, runs: a.runs, model: a.model, stale: a.stale, tasks: a.tasks, mapsAt: a.mapsAt, mapsPaintedAt: a.mapsPaintedAt, relevance: a.relevance };
});

/** Records main-thread long tasks (PerformanceObserver 'longtask') from now on. */
async function watchLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks!.push({ start: e.startTime, ms: e.duration });
    }).observe({ type: 'longtask' });
  });
}

/**
 * Watches every change of the page: whenever a verdict is on screen, it must be about the text in the box, and results
 * not marked stale must be for the text in the box (while no run of another text is in progress).
 */
async function watchHonesty(page: Page): Promise<void> {
  await page.evaluate(() => {
    window.__violations = [];
    const box = document.getElementById('text') as HTMLInputElement;
    const verdict = document.getElementById('verdict')!;
    const check = () => {
      const v = !verdict.hidden && verdict.textContent ? verdict.dataset.for : undefined;
      if (v !== undefined && v !== box.value) window.__violations!.push(`verdict "${verdict.textContent}" for ${JSON.stringify(v)} while the box holds ${JSON.stringify(box.value)}`);
    };
    new MutationObserver(check).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    box.addEventListener('input', check);
  });
}

test('6+6 x 12 heads, 320 characters: maps first, relevance in the background with progress, cancel, rows on demand, no long tasks; a model opened meanwhile loads', async ({ page }) => {
  test.setTimeout(300_000);
  mkdirSync(join(repo, 'test-output'), { recursive: true });
  if (!existsSync(MODEL_FILE)) execFileSync(join(repo, 'node_modules', '.bin', 'vite-node'), [join(repo, 'tools', 'make_explorer_model.ts'), MODEL_FILE], { cwd: repo, timeout: 60_000 });
  const errors = collectErrors(page);
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto('/');
  await waitForRun(page, 0);

  // the model, from a file: its first input runs; the 320-character run is asked for while that one's relevance runs
  await page.locator('#model-file').setInputFiles(MODEL_FILE);
  await page.waitForFunction((m) => window.__attnscope?.model === m && window.__attnscope.runs >= 2, MODEL, { timeout: 120_000 });
  await expect(page.locator('#model-summary')).toContainText('6 encoder + 6 decoder layers');
  await expect(page.locator('#model-summary')).toContainText('12 heads');
  // wording follows the model: no promise of a "good date model" for an untrained one
  await expect(page.locator('#cross-note')).not.toContainText('good date model');
  await expect(page.locator('#cross-note')).toContainText('does not know what this model was trained on');

  const text = dateText(320);
  await page.locator('#max-tokens').fill('24');
  await page.locator('#text').fill(text);
  await watchLongTasks(page);
  const n = await runs(page);
  const t0 = await page.evaluate(() => performance.now());
  await page.locator('#run').click();
  await page.waitForFunction((k) => window.__attnscope!.runs > k, n, { timeout: 120_000 });
  const shown = await attn(page);
  const mapsMs = shown.mapsAt! - t0;
  console.log(`maps of 6+6 x 12 heads at 321 source tokens on screen ${(mapsMs / 1000).toFixed(2)} s after Run (${await page.locator('#timing').textContent()}); load ${loadavg()[0].toFixed(1)} on ${cpus().length} cores: budgets x${LOAD.toFixed(1)}`);
  expect(shown.stale).toBe(false);
  await expect(page.locator('#model-view-title')).toContainText('6 layers × 12 heads');
  await expect(page.locator('#large-host canvas')).toBeVisible();

  // relevance comes after: progress 'n/24 rows' while it runs, then Cancel stops it for good
  expect(shown.relevance!.rows).toBe(24);
  await page.waitForFunction(() => (window.__attnscope!.relevance?.done ?? 0) >= 2, undefined, { timeout: 120_000 });
  await expect(page.locator('#relevance-status')).toContainText(/\d+\/24 rows/);
  await expect(page.locator('#relevance-cancel')).toBeVisible();
  await page.locator('#relevance-cancel').click();
  await page.waitForFunction(() => window.__attnscope!.relevance?.state === 'stopped' && window.__attnscope!.state === 'ready');
  const stoppedAt = (await attn(page)).relevance!.done;
  const tCancel = await page.evaluate(() => performance.now());
  expect(stoppedAt).toBeLessThan(24);
  await page.waitForTimeout(1500);
  expect((await attn(page)).relevance!.done).toBe(stoppedAt); // nothing runs after a cancel
  await expect(page.locator('#relevance-status')).toHaveText(`stopped at ${stoppedAt}/24 rows`);
  // relevance starts once the maps' first frame is painted (mapsPaintedAt): that frame's paint is the maps' cost
  const painted = (await attn(page)).mapsPaintedAt!;
  const all = await page.evaluate(() => window.__longTasks!);
  const during = (from: number) => all.filter((t) => t.start >= from && t.start <= tCancel);
  const tasks = during(painted);
  const longest = Math.max(0, ...tasks.map((t) => t.ms));
  const first = during(shown.mapsAt!).filter((t) => t.start < painted);
  console.log(`first frame of the maps: long tasks ${first.map((t) => t.ms.toFixed(0)).join(', ') || 'none'} ms (${(painted - shown.mapsAt!).toFixed(0)} ms to paint)`);
  console.log(`while ${stoppedAt} relevance rows ran: ${tasks.length} long tasks (ms: ${tasks.map((t) => t.ms.toFixed(0)).join(', ')}), longest ${longest.toFixed(0)} ms`);
  expect(longest).toBeLessThan(LONG_TASK_MS);
  expect(mapsMs).toBeLessThan(MAPS_MS);

  // a row on demand: position 20, then the text view coloured by relevance asks for its query's row (22)
  await page.locator('#relevance-position').fill('20');
  await page.locator('#relevance-compute').click();
  await page.waitForFunction(() => window.__attnscope!.relevance?.computed[20] === 1, undefined, { timeout: 60_000 });
  // colouring the text view by relevance asks for the row of its query (the last position), then of the one chosen
  await page.locator('#text-colour').selectOption('relevance');
  const asked = new Set([20, Number(await page.locator('#text-host [data-query]').getAttribute('data-query')), 22]);
  await page.locator('#text-query').fill('22');
  await page.locator('#text-query').dispatchEvent('change');
  await page.waitForFunction((ps) => ps.every((p) => window.__attnscope!.relevance?.computed[p] === 1), [...asked], { timeout: 60_000 });
  const rel = (await attn(page)).relevance!;
  const computed = rel.computed.flatMap((v, i) => (v ? [i] : []));
  // the rows run before the cancel (the first ones, in order) and the rows asked for; no other
  expect(computed).toEqual([...new Set([...Array.from({ length: stoppedAt }, (_, i) => i), ...asked])].sort((x, y) => x - y));
  await expect(page.locator('#relevance-title')).toContainText(`${computed.length}/24 rows`);

  // Continue, and while the rows run a model is opened: relevance stops, the model is loaded and run
  await page.locator('#relevance-continue').click();
  await page.waitForFunction(() => window.__attnscope!.relevance?.state === 'running');
  const before = await runs(page);
  await page.locator('#model-file').setInputFiles(existsSync(DATES) ? DATES : join(repo, 'test', 'fixtures', 'seq2seq-sinusoidal.model.safetensors'));
  await waitForRun(page, before, existsSync(DATES) ? 'dates.safetensors' : 'seq2seq-sinusoidal.model.safetensors');
  await expect(page.locator('#model-summary')).toContainText('2 encoder + 2 decoder layers');
  if (existsSync(DATES_JSON)) {
    // opened from a file, the page knows no examples: the first input is a date its vocabulary spells
    const input = await page.locator('#text').inputValue();
    const ex = (JSON.parse(readFileSync(DATES_JSON, 'utf8')) as { examples: { input: string; expected: string }[] }).examples.find((e) => e.input === input);
    expect(ex, `a dates example reads ${JSON.stringify(input)}`).toBeDefined();
    await expect(page.locator('#output')).toHaveText(ex!.expected);
  }
  expect(errors).toEqual([]);
});

test('honest state on the dates model: stale results marked, a verdict only for the input in the box, examples clicked during a run, confidence', async ({ page }) => {
  test.skip(!existsSync(DATES_JSON), 'the trained dates model (demo/models) is needed for verdicts');
  test.setTimeout(120_000);
  const info = JSON.parse(readFileSync(DATES_JSON, 'utf8')) as { examples: { input: string; expected: string }[] };
  const errors = collectErrors(page);
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto('/');
  await waitForRun(page, 0);
  await watchHonesty(page);
  await expect(page.locator('#verdict')).toHaveText('✓ matches the expected answer');
  await expect(page.locator('#confidence-hint')).toBeVisible();
  console.log(`${JSON.stringify(info.examples[0].input)} → ${await page.locator('#output').textContent()}: ${await page.locator('#confidence-hint').textContent()}`);

  // typing another input marks the results stale at once: the verdict goes, a note names whose they are
  await page.locator('#text').fill('next tuesday');
  await expect(page.locator('#stale-note')).toBeVisible();
  await expect(page.locator('#stale-note')).toContainText(info.examples[0].input);
  await expect(page.locator('#verdict')).toBeHidden();
  await expect(page.locator('#results')).toHaveClass(/stale/);
  // running it: the model cannot read 'x', and nothing of the earlier input stays
  await page.locator('#run').click();
  await expect(page.locator('#input-error')).toContainText("'x'");
  await expect(page.locator('#results')).toBeHidden();
  await expect(page.locator('#output')).toHaveText('');
  await expect(page.locator('#verdict')).toHaveText('');
  await expect(page.locator('#confidence')).toBeHidden();
  expect(await snapshot(page)).toBeUndefined();

  // an example clicked while a run is in progress: the box shows it at once, the run in progress is stale and stops
  // (never presented as the example's result), and the example runs next
  const [a, b] = [info.examples[1], info.examples[2]];
  const n = await runs(page);
  await page.locator('#text').fill(a.input);
  // the example is clicked the moment the run of `a` has started (a run of the dates model is quick)
  const queued = await page.evaluate(
    (input) =>
      new Promise<string>((resolve) => {
        const chip = Array.from(document.querySelectorAll<HTMLButtonElement>('.chip')).find((c) => c.textContent === input)!;
        const mo = new MutationObserver(() => {
          if (document.body.dataset.state !== 'running') return;
          mo.disconnect();
          chip.click();
          resolve(document.getElementById('queue-status')!.textContent ?? '');
        });
        mo.observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
        document.getElementById('run')!.click();
      }),
    b.input,
  );
  await expect(page.locator('#text')).toHaveValue(b.input);
  expect(queued).toContain('queued: a run of the text in the box');
  await page.waitForFunction((k) => window.__attnscope!.runs >= k + 1 && window.__attnscope!.state === 'ready', n, { timeout: 60_000 });
  expect(await runs(page)).toBe(n + 1); // the run of `a` stopped without results
  expect((await snapshot(page)).text).toBe(b.input);
  await expect(page.locator('#output')).toHaveText(b.expected);
  await expect(page.locator('#verdict')).toHaveText('✓ matches the expected answer');
  await expect(page.locator('#stale-note')).toBeHidden();

  // a weekday alone is no date: the model still answers, and the page says it is guessing or unsure
  await page.locator('#text').fill('tuesday');
  await page.locator('#run').click();
  await page.waitForFunction((k) => window.__attnscope!.runs >= k + 2 && window.__attnscope!.state === 'ready', n, { timeout: 60_000 });
  await expect(page.locator('#confidence')).toHaveAttribute('data-level', /unsure|guessing/);
  console.log(`"tuesday" → ${await page.locator('#output').textContent()}: ${await page.locator('#confidence-hint').textContent()}`);
  await expect(page.locator('#confidence-hint')).toContainText(/top token ".+" \d+(\.\d+)?%/);
  const s = await snapshot(page);
  const conf = (await page.evaluate(() => window.__attnscope!.confidence()))!;
  // greedy decoding emits each step's top token; probabilities fall, sum to at most 1; entropy within [0, ln V]
  expect(conf.outputs).toEqual(s.generatedIds.map((_, t) => t));
  conf.outputs.forEach((p, t) => {
    const pc = conf.positions[p];
    expect(pc.top[0].id).toBe(s.generatedIds[t]);
    for (let i = 1; i < pc.top.length; i++) expect(pc.top[i].prob).toBeLessThanOrEqual(pc.top[i - 1].prob);
    expect(pc.top.reduce((x, g) => x + g.prob, 0)).toBeLessThanOrEqual(1 + 1e-6);
    expect(pc.entropy).toBeGreaterThanOrEqual(0);
    expect(pc.entropy).toBeLessThanOrEqual(Math.log(conf.vocab) + 1e-9);
  });
  await page.locator('#confidence-details summary').click();
  await expect(page.locator('#confidence-table tbody tr')).toHaveCount(conf.outputs.length);
  expect(await page.locator('body').textContent()).not.toContain('good date model');
  expect(await page.evaluate(() => window.__violations)).toEqual([]);
  expect(errors).toEqual([]);
});

test('Cancel while an lm generates: it stops after the step in flight, says so, shows nothing of the run, leaves no view streaming, and the page runs again', async ({ page }) => {
  test.setTimeout(120_000);
  viewModels();
  const errors = collectErrors(page);
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto('/');
  // the lm is opened as soon as the page has its first model (a run of that one still going stops: it is stale)
  await page.waitForFunction(() => window.__attnscope?.model !== undefined);
  // the 12-layer lm's first run generates 16 tokens, streamed: Cancel is pressed once two are out, and every token
  // count the page shows from then on is recorded
  const cancelled = page.evaluate(
    () =>
      new Promise<{ at: number; counts: number[]; busy: string | null }>((resolve) => {
        const timing = document.getElementById('timing')!;
        const counts: number[] = [];
        let at = 0;
        let busy: string | null = null;
        new MutationObserver(() => {
          const text = timing.textContent ?? '';
          const m = /generating… (\d+)/.exec(text);
          if (m) counts.push(Number(m[1]));
          if (m && !at && Number(m[1]) >= 2) {
            at = Number(m[1]);
            busy = document.querySelector('#steps-host canvas')!.getAttribute('aria-busy');
            document.getElementById('run-cancel')!.click();
          }
          if (at && text.startsWith('cancelled')) resolve({ at, counts, busy });
        }).observe(timing, { childList: true, characterData: true, subtree: true });
      }),
  );
  await page.locator('#model-file').setInputFiles(LM);
  const { at, counts, busy } = await cancelled;
  expect(Math.max(...counts), `tokens shown after Cancel at ${at} (of 16)`).toBeLessThanOrEqual(at + 1);
  // the steps view streamed (aria-busy) until the Cancel, and is not left streaming: the next analysis shown is not
  // announced as a finished generation
  expect(busy).toBe('true');
  await expect(page.locator('#steps-host canvas')).toHaveAttribute('aria-busy', 'false');
  expect(await page.evaluate(() => window.__attnscope!.state)).toBe('cancelled');
  await expect(page.locator('#timing')).toContainText('cancelled: the run of');
  await expect(page.locator('#run-cancel')).toBeHidden();
  // the model is open; nothing of the stopped run is shown
  expect(await page.evaluate(() => window.__attnscope!.model)).toBe('view-lm-12x16.safetensors');
  const n = await runs(page);
  await expect(page.locator('#results')).toBeHidden();
  await expect(page.locator('#output')).toHaveText('');
  expect(await snapshot(page)).toBeUndefined();
  // and the page goes on: a short run shows its maps
  await page.locator('#max-tokens').fill('2');
  await page.locator('#run').click();
  await page.waitForFunction((k) => window.__attnscope!.runs > k, n, { timeout: 60_000 });
  await expect(page.locator('#results')).toBeVisible();
  expect((await snapshot(page)).generatedIds).toHaveLength(2);
  expect(errors).toEqual([]);
});
