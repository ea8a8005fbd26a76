// The attention explorer as built (npm run build:demo) and served from a sub-path by a static server, in headless
// Chromium on WebGPU (SwiftShader): the default example's output, the
// page's captured attention maps against the CLI's for the same input, the views' interactions, exports, model
// upload (valid and corrupt), the profile panel, and the message shown without WebGPU.
import { expect, type Page, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, writeSafetensors } from '../src/model/safetensors.ts';
import { rolloutF64 } from '../test/rollout_ref.ts';
import { BUILT_DEMO, collectErrors, data, hoverCell, maxDiff, num, runs, snapshot, type Tensor, waitForRun } from './page.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const DATES = join(repo, 'demo', 'models', 'dates.safetensors');
const DATES_JSON = join(repo, 'demo', 'models', 'dates.json');
const FIXTURE = join(repo, 'test', 'fixtures', 'seq2seq-sinusoidal.model.safetensors');
const LM_FIXTURE = join(repo, 'test', 'fixtures', 'lm-learned-causal.model.safetensors');
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const OUT = join(repo, 'test-output');
const TOL = 1e-5;

/** Head h, or the mean over heads, of a [1, H, L, S] capture. */
function slice(t: { shape: number[]; data: Float32Array }, choice: number | 'mean'): Float32Array {
  const [, H, L, S] = t.shape;
  if (choice !== 'mean') return t.data.slice(choice * L * S, (choice + 1) * L * S);
  const out = new Float32Array(L * S);
  for (let h = 0; h < H; h++) for (let i = 0; i < L * S; i++) out[i] += t.data[h * L * S + i] / H;
  return out;
}

/** The real CLI on the page's forward inputs: `attnscope run MODEL --inputs IN --out OUT ...args`; every tensor it wrote. */
function cliRun(model: string, inputs: Record<string, Tensor>, dir: string, args: string[]): Map<string, { shape: number[]; data: Float32Array }> {
  const cli = join(repo, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run npm run build (npm ci runs it)');
  const IN = join(dir, 'in.safetensors');
  const OUTF = join(dir, 'out.safetensors');
  writeFileSync(
    IN,
    writeSafetensors(Object.entries(inputs).map(([name, t]) => ({ name, dtype: t.dtype as 'F32', shape: t.shape, data: t.data.map(num) }))),
  );
  const env = { ...process.env, ...(existsSync(SWIFTSHADER_ICD) && !process.env.VK_ICD_FILENAMES ? { VK_ICD_FILENAMES: SWIFTSHADER_ICD } : {}) };
  execFileSync(process.execPath, [cli, 'run', model, '--inputs', IN, '--out', OUTF, ...args], {
    env,
    timeout: 120_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = readSafetensors(readFileSync(OUTF), OUTF);
  return new Map([...out.tensors].map(([name, t]) => [name, { shape: t.shape, data: t.data as Float32Array }]));
}

async function clickModelCell(page: Page, layer: number, choice: string): Promise<void> {
  const c = page.locator('#model-view-host canvas');
  const box = (await c.boundingBox())!;
  const cols = (await c.getAttribute('data-columns'))!.split(',');
  const col = cols.indexOf(choice);
  expect(col, `model view column ${choice} in ${cols}`).toBeGreaterThanOrEqual(0);
  const [x0, y0, size, gap, pitchY] = await Promise.all(['x0', 'y0', 'size', 'gap', 'pitch-y'].map((k) => data(c, k)));
  await page.mouse.click(box.x + x0 + col * (size + gap) + size / 2, box.y + y0 + layer * pitchY + 6);
}

test('attention explorer: generation, CLI-equal captures, views, exports, uploads, profile', async ({ page }) => {
  test.setTimeout(300_000);
  mkdirSync(OUT, { recursive: true });
  const t0 = Date.now();
  const errors = collectErrors(page);
  const haveDates = existsSync(DATES);
  const info = haveDates && existsSync(DATES_JSON) ? (JSON.parse(readFileSync(DATES_JSON, 'utf8')) as { examples: { input: string; expected: string }[] }) : undefined;
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(BUILT_DEMO);

  // 1. the default example runs on load: output, and the expected answer with the trained model
  await waitForRun(page, 0);
  const first = await snapshot(page);
  if (info) {
    expect(first.text).toBe(info.examples[0].input);
    await expect(page.locator('#output')).toHaveText(info.examples[0].expected);
    await expect(page.locator('#verdict')).toContainText('matches');
  } else {
    expect(first.steps.length).toBeGreaterThan(0); // random fixture: some tokens were generated (maybe only specials)
    expect(((await page.locator('#output').textContent()) ?? '') + ((await page.locator('#output-raw').textContent()) ?? '')).not.toBe('');
    await expect(page.locator('#notice')).toContainText('random weights');
  }
  const tLoad = Date.now();
  await page.screenshot({ path: join(OUT, 'demo-page.png'), fullPage: true });

  // 2. the page's captures equal the CLI's for the same forward inputs (its attention captures, '<path>.weights')
  const work = mkdtempSync(join(tmpdir(), 'attnscope-demo-'));
  try {
    const cliAll = cliRun(haveDates ? DATES : FIXTURE, first.inputs, work, ['--capture', '**.self_attn', '--capture', '**.multihead_attn', '--rollout']);
    const cli = new Map([...cliAll].filter(([name]) => name.endsWith('.weights')));
    expect([...cli.keys()].sort()).toEqual(Object.keys(first.captures).sort());
    let worst = 0;
    for (const [name, t] of cli) {
      expect(first.captures[name].shape, name).toEqual(t.shape);
      const d = maxDiff(first.captures[name].data, t.data, name);
      expect(d, name).toBeLessThan(TOL);
      worst = Math.max(worst, d);
    }
    console.log(`page vs CLI: ${cli.size} attention captures, max |difference| ${worst.toExponential(2)}`);
    // the large view shows the head mean of the selected module, equal to the CLI's
    const large = first.large;
    expect(large.choice).toBe('mean');
    expect(maxDiff(large.data, slice(cli.get(`${large.module}.weights`)!, 'mean'), 'large view (mean)')).toBeLessThan(TOL);
    // the per-step records of generate() agree with the full forward's rows (same maps, KV-cached path)
    const crossPaths = [...cli.keys()].filter((k) => k.includes('multihead_attn')).sort();
    first.steps.forEach((st, t) =>
      st.byLayer.forEach((row, l) => {
        const full = slice(cli.get(crossPaths[l])!, 'mean');
        const S = cli.get(crossPaths[l])!.shape[3];
        expect(maxDiff(row, full.subarray(t * S, (t + 1) * S), `step ${t} layer ${l}`), `step ${t} layer ${l}`).toBeLessThan(1e-4);
      }),
    );

    // 3. hover the large view: #hover-info names the query, key and value of the cell
    const largeCanvas = page.locator('#large-host canvas');
    const info0 = await page.locator('#hover-info').textContent();
    const r = Math.min(2, large.rows - 1);
    const c = Math.min(3, large.cols - 1);
    await hoverCell(page, largeCanvas, r, c);
    await expect(page.locator('#hover-info')).toContainText(`query ${r} `);
    await expect(page.locator('#hover-info')).toContainText(`key ${c} `);
    await expect(page.locator('#hover-info')).toContainText(num(large.data[r * large.cols + c]).toFixed(4));
    expect(await page.locator('#hover-info').textContent()).not.toBe(info0);
    await page.locator('.maps-card').screenshot({ path: join(OUT, 'demo-model-view.png') });
    await page.locator('#large-host').screenshot({ path: join(OUT, 'demo-large-view.png') });

    // 4. click head 1 of layer 0 in the model view: the large view shows exactly that head
    await clickModelCell(page, 0, '1');
    await expect(largeCanvas).toHaveAttribute('data-choice', '1');
    const head1 = (await snapshot(page)).large;
    expect(maxDiff(head1.data, slice(cli.get(`${head1.module}.weights`)!, 1), 'large view head 1')).toBeLessThan(TOL);

    // 5. encoder self-attention, rollout of the last layer, against an f64 reference from the CLI's captures and
    // the CLI's --rollout (the same library function)
    await page.locator('#kind-enc').click();
    await expect(page.locator('#large-title')).toContainText('Encoder self-attention');
    const encPaths = [...cli.keys()].filter((k) => /encoder\.layers\.\d+\.self_attn/.test(k)).sort();
    await clickModelCell(page, encPaths.length - 1, 'rollout');
    await expect(largeCanvas).toHaveAttribute('data-choice', 'rollout');
    await expect(page.locator('#rollout-note')).toBeVisible();
    const roll = (await snapshot(page)).large;
    expect(maxDiff(roll.data, rolloutF64(encPaths.map((p) => cli.get(p)!), 0).flat(), 'rollout')).toBeLessThan(1e-4);
    expect(maxDiff(roll.data, cliAll.get('rollout.encoder')!.data, 'page vs CLI rollout')).toBeLessThan(TOL);
    await page.locator('.maps-card').screenshot({ path: join(OUT, 'demo-encoder-rollout.png') });
    await page.locator('#kind-cross').click();
    await expect(page.locator('#large-title')).toContainText('Cross-attention');

    // 5b. relevance: one GPU backward per output position; each row equals the CLI's --relevance for that row's
    // target (the predicted token's logit), which the CLI suite checks against PyTorch autograd
    await expect(page.locator('#relevance-card')).toBeVisible();
    const rel = first.relevance;
    expect(rel.map).toBe('cross');
    expect(rel.rows).toBe(first.steps.length);
    expect(rel.data.every((v) => num(v) >= 0)).toBe(true);
    for (const i of [0, rel.rows - 1]) {
      const idx = rel.targets[i].index!;
      expect(idx[2]).toBe(first.steps[i].token); // the predicted token is the one generated there
      const maps = cliRun(haveDates ? DATES : FIXTURE, first.inputs, work, [`--relevance=${idx.join(',')}`]);
      const cross = maps.get('relevance.cross')!;
      const S = cross.shape[2];
      expect(S).toBe(rel.cols);
      const row = rel.data.slice(i * S, (i + 1) * S);
      expect(maxDiff(row, cross.data.subarray(i * S, (i + 1) * S), `relevance row ${i}`), `relevance row ${i}`).toBeLessThan(1e-4);
      expect(Math.max(...row.map(num))).toBeGreaterThan(0);
    }
    const relCanvas = page.locator('#relevance-host canvas');
    await relCanvas.scrollIntoViewIfNeeded();
    await hoverCell(page, relCanvas, rel.rows - 1, 0);
    await expect(page.locator('#relevance-info')).toContainText(`position ${rel.rows - 1} `);
    await expect(page.locator('#relevance-info')).toContainText(num(rel.data[(rel.rows - 1) * rel.cols]).toFixed(4));
    await page.locator('#relevance-card').screenshot({ path: join(OUT, 'demo-relevance.png') });
    await page.mouse.move(0, 0);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  // 6. head view: toggling a head removes its lines; hovering a token isolates its lines
  const heads = page.locator('#head-host canvas');
  const allLines = await data(heads, 'lines');
  expect(allLines).toBeGreaterThan(0);
  await page.locator('#head-host input[data-head="0"]').uncheck();
  await expect(heads).not.toHaveAttribute('data-heads', /(^|,)0(,|$)/);
  const fewer = await data(heads, 'lines');
  expect(fewer).toBeLessThan(allLines);
  const hb = (await heads.boundingBox())!;
  await page.mouse.move(hb.x + (await data(heads, 'xl')) - 10, hb.y + (await data(heads, 'y0')) + (await data(heads, 'row-h')) * 1.5);
  await expect(page.locator('#head-info')).toContainText('query 1');
  expect(await data(heads, 'lines')).toBeLessThan(fewer);
  await page.locator('#head-host').screenshot({ path: join(OUT, 'demo-head-view.png') });
  await page.locator('#head-host input[data-head="0"]').check();
  await page.mouse.move(0, 0);
  // generation steps: hovering a bar names the step, the key and the weight recorded by generate()
  const stepsCanvas = page.locator('#steps-host canvas');
  await expect(stepsCanvas).toHaveAttribute('data-steps', String(first.steps.length));
  const sb = (await stepsCanvas.boundingBox())!;
  await page.mouse.move(sb.x + (await data(stepsCanvas, 'x0')) + (await data(stepsCanvas, 'cell')) / 2, sb.y + (await data(stepsCanvas, 'y0')) + (await data(stepsCanvas, 'row-h')) / 2);
  await expect(page.locator('#step-info')).toContainText('step 0 →');
  await page.locator('#steps-card').screenshot({ path: join(OUT, 'demo-steps.png') });
  await page.mouse.move(0, 0);

  // 7. exports: PNG of every view, the captures as .safetensors
  for (const id of ['#export-large', '#export-model', '#export-head', '#export-steps', '#export-relevance']) {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.locator(id).click()]);
    const p = join(OUT, `demo-export-${id.slice(8)}.png`);
    await dl.saveAs(p);
    expect(dl.suggestedFilename()).toMatch(/\.png$/);
    expect([...readFileSync(p).subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  }
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('#export-tensors').click()]);
  const exported = join(OUT, 'demo-export-captures.safetensors');
  await dl.saveAs(exported);
  const file = readSafetensors(readFileSync(exported), exported);
  for (const [name, t] of Object.entries(first.captures)) {
    const e = file.tensors.get(name);
    expect(e, name).toBeDefined();
    expect(e!.shape).toEqual(t.shape);
    expect(maxDiff(t.data, e!.data as Float32Array, name)).toBe(0);
  }
  expect(file.tensors.has('src') && file.tensors.has('tgt')).toBe(true);

  // 8. profile panel
  await page.locator('#profile').click();
  await expect(page.locator('#profile-report')).toHaveAttribute('data-done', '1', { timeout: 120_000 });
  await expect(page.locator('#profile-report')).toContainText('forward');
  await page.locator('#profile-report').screenshot({ path: join(OUT, 'demo-profile.png') });

  // 9. an unknown character is an inline error naming it; nothing runs
  const before = await runs(page);
  await page.locator('#text').fill(`${first.text}ä`);
  await page.locator('#text').press('Enter');
  await expect(page.locator('#input-error')).toBeVisible();
  await expect(page.locator('#input-error')).toContainText("'ä'");
  expect(await runs(page)).toBe(before);

  // 10. a corrupt model file: a visible one-line error, the loaded model stays and still runs (Enter key)
  const good = readFileSync(haveDates ? DATES : FIXTURE);
  const modelName = await page.locator('#model-name').textContent();
  await page.locator('#model-file').setInputFiles({ name: 'corrupt.safetensors', mimeType: 'application/octet-stream', buffer: good.subarray(0, 200) });
  await expect(page.locator('#error')).toBeVisible();
  await expect(page.locator('#error')).toContainText('corrupt.safetensors');
  await page.locator('#error').screenshot({ path: join(OUT, 'demo-error.png') });
  await expect(page.locator('#model-name')).toHaveText(modelName!);
  const second = info?.examples[1];
  await page.locator('#text').fill(second?.input ?? first.text);
  await page.locator('#text').press('Enter');
  await waitForRun(page, before);
  await expect(page.locator('#input-error')).toBeHidden();
  await expect(page.locator('#error')).toBeHidden();
  if (second) await expect(page.locator('#output')).toHaveText(second.expected);

  // 11. a valid model dropped on the page (a causal lm): it loads, generates, shows self-attention
  const n = await runs(page);
  const lmBytes = [...readFileSync(LM_FIXTURE)];
  const dt = await page.evaluateHandle((bytes) => {
    const d = new DataTransfer();
    d.items.add(new File([new Uint8Array(bytes)], 'lm-learned-causal.model.safetensors'));
    return d;
  }, lmBytes);
  await page.dispatchEvent('body', 'drop', { dataTransfer: dt });
  await waitForRun(page, n);
  await expect(page.locator('#model-name')).toHaveText('lm-learned-causal.model.safetensors');
  await expect(page.locator('#model-summary')).toContainText('lm');
  await expect(page.locator('#kind-self')).toBeVisible();
  await expect(page.locator('#kind-cross')).toBeHidden();
  await expect(page.locator('#large-title')).toContainText('Self-attention');
  const lm = await snapshot(page);
  expect(lm.steps.length).toBeGreaterThan(0);
  expect(Object.keys(lm.captures).sort()).toEqual(['encoder.layers.0.self_attn.weights', 'encoder.layers.1.self_attn.weights']);
  expect(lm.relevance.map).toBe('source');
  expect(lm.relevance.rows).toBe(lm.relevance.cols);
  await expect(page.locator('#relevance-title')).toContainText(`${lm.relevance.rows} backwards`);
  // its self-attention is the lm stream: the last layer's rollout against an f64 reference from the page's captures
  const lmLayers = Object.keys(lm.captures).sort().map((k) => ({ shape: lm.captures[k].shape, data: Float32Array.from(lm.captures[k].data, num) }));
  await clickModelCell(page, lmLayers.length - 1, 'rollout');
  await expect(page.locator('#large-host canvas')).toHaveAttribute('data-choice', 'rollout');
  expect(maxDiff((await snapshot(page)).large.data, rolloutF64(lmLayers, 0).flat(), 'lm rollout')).toBeLessThan(1e-4);
  await page.screenshot({ path: join(OUT, 'demo-lm.png'), fullPage: true });

  console.log(`demo e2e: first result after ${((tLoad - t0) / 1000).toFixed(1)} s, whole test ${((Date.now() - t0) / 1000).toFixed(1)} s (${haveDates ? 'dates model' : 'fixture stand-in'})`);
  expect(errors).toEqual([]);
});

test('without WebGPU the page says so and how to get it', async ({ page }) => {
  const errors = collectErrors(page);
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
  });
  await page.goto(BUILT_DEMO);
  await expect(page.locator('#gpu-missing')).toBeVisible();
  await expect(page.locator('#gpu-missing')).toContainText('navigator.gpu');
  await expect(page.locator('#gpu-missing')).toContainText('--enable-unsafe-webgpu');
  await expect(page.locator('#gpu-missing')).toContainText('113');
  await expect(page.locator('#app')).toBeHidden();
  await page.screenshot({ path: join(OUT, 'demo-no-webgpu.png') });
  expect(errors).toEqual([]);
});
