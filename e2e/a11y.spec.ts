// The explorer by keyboard alone and for a screen reader (issue 20): no mouse event reaches the page (counted); Tab
// reaches every control and view, each showing a focus ring; the kind tabs follow the WAI-ARIA tabs pattern; the model
// view picks a head, the mean and the rollout with arrows and Enter; the large view, relevance, head view and steps
// read values into their aria-live readouts, checked against the page's own maps; the causal card's analyses run from
// their buttons, their canvases read cell by cell, and integrated gradients explain a token picked with Enter; a model
// is opened through the file chooser by keyboard, its logit lens read, and a run of it streamed while the steps view
// has the focus says one thing when it ends, not one per step; the text view's tokens read and chosen with arrows and Enter,
// and not chosen where they are not the map's rows, the rows strip above them choosing the query there. Then axe-core: no serious or critical violation and no skipped
// heading level with every view on screen.
import AxeBuilder from '@axe-core/playwright';
import { expect, type Page, test } from '@playwright/test';
import { join } from 'node:path';
import { collectErrors, num, snapshot } from './page.ts';
import { LM, OUT, viewModels, waitForMaps } from './views-helpers.ts';

/** Everything Tab should reach: visible, enabled, in the tab order (a tab group's unselected tabs are not). */
function focusables(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const els = Array.from(document.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, summary, [tabindex]'));
    return els
      .filter((e) => e.tabIndex >= 0 && !(e as HTMLButtonElement).disabled && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden')
      .map((e) => e.dataset.a11yKey!)
      .filter(Boolean);
  });
}

/** Tags every element with a key naming it, so the spec can list what Tab reached. */
async function tagElements(page: Page): Promise<void> {
  await page.evaluate(() => {
    let n = 0;
    for (const e of Array.from(document.querySelectorAll<HTMLElement>('*'))) e.dataset.a11yKey ??= `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.dataset.head ? `[head ${e.dataset.head}]` : ''}:${n++}`;
  });
}

/** The focused element's key and whether it shows a focus ring (its own outline, or its label's for a file input). */
function focused(page: Page): Promise<{ key: string; ring: boolean }> {
  return page.evaluate(() => {
    const e = document.activeElement as HTMLElement;
    const ringOf = (x: Element) => {
      const s = getComputedStyle(x);
      return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none';
    };
    const ring = ringOf(e) || (e instanceof HTMLInputElement && e.type === 'file' && !!e.parentElement && ringOf(e.parentElement));
    return { key: e?.dataset.a11yKey ?? e?.tagName ?? '', ring };
  });
}

/** Runs a causal analysis from its button by keyboard and waits until its figure is drawn. */
async function runCausal(page: Page, kind: string): Promise<void> {
  await tabTo(page, `#causal-${kind}`);
  await page.keyboard.press('Enter');
  await page.waitForFunction((k) => (document.getElementById('causal-card')?.dataset.done ?? '').split(' ').includes(k), kind, { timeout: 120_000 });
}

/** Presses Tab until `selector` has the focus. */
async function tabTo(page: Page, selector: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** The axe findings a scan must not have: serious or critical ones, and headings that skip a level. */
const reported = (v: { id: string; impact?: string | null }) => v.impact === 'serious' || v.impact === 'critical' || v.id === 'heading-order';

const largeValue = async (page: Page, row: number, col: number) => {
  const l = (await snapshot(page)).large;
  return num(l.data[row * l.cols + col]).toFixed(4);
};

test('keyboard alone: every control and view reached with a visible focus, heads picked, values read', async ({ page }) => {
  test.setTimeout(240_000);
  viewModels();
  const errors = collectErrors(page);
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.addInitScript(() => {
    (window as unknown as { __mouse: number }).__mouse = 0;
    for (const t of ['mousedown', 'mouseup', 'mousemove', 'pointerdown', 'wheel', 'dblclick']) addEventListener(t, (e) => e.isTrusted && (window as unknown as { __mouse: number }).__mouse++, true);
  });
  await page.goto('/');
  await waitForMaps(page, 0);
  await page.waitForFunction(() => window.__attnscope?.state === 'ready', undefined, { timeout: 200_000 }); // relevance rows too

  // 1. Tab through the page: every focusable control and view, each with a ring
  await tagElements(page);
  const want = new Set(await focusables(page));
  const seen = new Map<string, boolean>();
  for (let i = 0; i < want.size + 10; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    if (f.key && !/^body\b/i.test(f.key)) seen.set(f.key, f.ring);
  }
  const missed = [...want].filter((k) => !seen.has(k));
  const ringless = [...seen].filter(([, ring]) => !ring).map(([k]) => k);
  const extra = [...seen.keys()].filter((k) => !want.has(k));
  console.log(`Tab reached ${seen.size} of ${want.size} focusable elements`);
  expect(missed, 'never reached by Tab').toEqual([]);
  expect(extra, 'reached by Tab but not in the list of focusable elements').toEqual([]);
  expect(ringless, 'no visible focus ring').toEqual([]);
  for (const id of ['model-file', 'kind-cross', 'scale', 'zoom-in']) expect([...seen.keys()].some((k) => k.includes(`#${id}:`)), id).toBe(true);
  expect([...seen.keys()].filter((k) => k.startsWith('canvas')).length).toBeGreaterThanOrEqual(5); // model, large, relevance, head, steps

  // 2. the kind tabs: one tab stop, arrows move the selection (automatic activation), Home / End
  await tabTo(page, '[role="tab"][aria-selected="true"]');
  const tabs = await page.locator('[role="tab"]:visible').evaluateAll((els) => els.map((e) => e.id));
  expect(tabs).toEqual(['kind-cross', 'kind-enc', 'kind-dec']);
  await expect(page.locator('#kind-cross')).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('ArrowRight');
  await expect(page.locator('#kind-enc')).toHaveAttribute('aria-selected', 'true');
  await expect(page.locator('#kind-enc')).toBeFocused();
  await expect(page.locator('#kind-enc')).toHaveAttribute('tabindex', '0');
  await expect(page.locator('#kind-cross')).toHaveAttribute('tabindex', '-1');
  await expect(page.locator('#kind-panel')).toHaveAttribute('aria-labelledby', 'kind-enc');
  await expect(page.locator('#large-title')).toContainText('Encoder self-attention');
  await page.keyboard.press('End');
  await expect(page.locator('#kind-dec')).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('ArrowRight'); // wraps
  await expect(page.locator('#kind-cross')).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('ArrowRight');
  await expect(page.locator('#kind-enc')).toHaveAttribute('aria-selected', 'true');

  // 3. the model view: arrows and Enter pick head 1 of layer 1, then the rollout (End) and the mean of that layer
  const large = page.locator('#large-host canvas');
  await tabTo(page, '#model-view-host canvas');
  await page.keyboard.press('PageUp');
  await page.keyboard.press('Home');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  await expect(page.locator('#model-info')).toContainText('layer 1, head 1: largest weight');
  await page.keyboard.press('Enter');
  await expect(large).toHaveAttribute('data-choice', '1');
  await expect(large).toHaveAttribute('data-layer', '1');
  await expect(page.locator('#large-title')).toContainText('layer 1 · head 1');
  await page.keyboard.press('End');
  await expect(page.locator('#model-info')).toContainText('layer 1, rollout');
  await page.keyboard.press('Enter');
  await expect(large).toHaveAttribute('data-choice', 'rollout');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press(' ');
  await expect(large).toHaveAttribute('data-choice', 'mean');

  // 4. the large view: a cell cursor; the live region reads the map's value
  await expect(page.locator('#hover-info')).toHaveAttribute('aria-live', 'polite');
  await tabTo(page, '#large-host canvas');
  await expect(page.locator('#hover-info')).toContainText('query 0 ');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await expect(page.locator('#hover-info')).toContainText('query 1 ');
  await expect(page.locator('#hover-info')).toContainText(`key 2 `);
  await expect(page.locator('#hover-info')).toContainText(`: ${await largeValue(page, 1, 2)}`);
  await page.keyboard.press('+');
  await expect(large).toHaveAttribute('data-zoom', /^(?!1$)/);
  await page.keyboard.press('0');
  await expect(large).toHaveAttribute('data-zoom', '1');

  // 5. relevance, head view (and a head toggled with Space), steps: each reads into its readout
  await tabTo(page, '#relevance-host canvas');
  await page.keyboard.press('ArrowRight');
  await expect(page.locator('#relevance-info')).toContainText('position 0 ');
  const rel = (await snapshot(page)).relevance;
  await expect(page.locator('#relevance-info')).toContainText(`token 1 `);
  await expect(page.locator('#relevance-info')).toContainText(`relevance ${num(rel.data[1]).toFixed(4)}`);
  await tabTo(page, '#head-host input[data-head="0"]');
  await page.keyboard.press(' ');
  await expect(page.locator('#head-host input[data-head="0"]')).not.toBeChecked();
  await expect(page.locator('#head-host canvas')).not.toHaveAttribute('data-heads', /(^|,)0(,|$)/);
  await tabTo(page, '#head-host canvas');
  await page.keyboard.press('ArrowDown');
  await expect(page.locator('#head-info')).toContainText('query 1 ');
  await expect(page.locator('#head-info')).toContainText('strongest');
  await tabTo(page, '#steps-host canvas');
  await page.keyboard.press('ArrowRight');
  await expect(page.locator('#step-info')).toContainText('step 0 ');
  const st = (await snapshot(page)).steps[0];
  await expect(page.locator('#step-info')).toContainText(`key 1 `);
  await expect(page.locator('#step-info')).toContainText(`gets ${num(st.byLayer[Number(await page.locator('#step-layer').inputValue())][1]).toFixed(4)}`);
  // the text view: tokens by arrow keys, marked, read; on a square map (encoder self) Enter chooses the query; coloured
  // by relevance (rows: output positions; tokens: the source) a token is read but names no row, so chooses nothing
  const tv = page.locator('#text-host .text-view');
  const textInfo = page.locator('#text-info');
  await tabTo(page, '#text-host .text-view');
  await expect(tv).toHaveAttribute('aria-label', /Enter or Space chooses the token as the query/);
  await expect(textInfo).toContainText('token 0 ');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await expect(tv).toHaveAttribute('data-cursor', '0,2');
  await expect(tv.locator('.tok.cursor')).toHaveAttribute('data-i', '2');
  const q0 = Number(await tv.getAttribute('data-query'));
  expect(q0).not.toBe(2);
  await expect(textInfo).toContainText(`token 2 `);
  await expect(textInfo).toContainText(`: ${await largeValue(page, q0, 2)}; Enter chooses it as the query`);
  await page.keyboard.press('Enter');
  await expect(tv).toHaveAttribute('data-query', '2');
  await expect(tv.locator('.tok.chosen')).toHaveAttribute('data-i', '2');
  await expect(page.locator('#text-title')).toContainText('query 2 ');
  await expect(textInfo).toContainText(`: ${await largeValue(page, 2, 2)} (the query)`);
  await page.keyboard.press('ArrowRight');
  await expect(textInfo).toContainText(`token 3 `);
  await page.locator('#text-card').screenshot({ path: join(OUT, 'a11y-text.png') });
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  await expect(page.locator('#text-colour')).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(page.locator('#text-colour')).toHaveValue('relevance');
  await tabTo(page, '#text-host .text-view');
  await expect(tv).toHaveAttribute('aria-label', /the query is chosen among the rows above, or with the query field/);
  const relQuery = await tv.getAttribute('data-query');
  await page.keyboard.press('End');
  await expect(textInfo).toHaveText(/^token \d+ ".*": -?\d+\.\d{4}$/);
  await page.keyboard.press('Enter');
  await page.keyboard.press(' ');
  await expect(tv).toHaveAttribute('data-query', relQuery!);
  await expect(tv.locator('.tok.chosen')).toHaveCount(0);
  // the rows (output positions) are above the text, one tab stop back: Enter on one chooses the query
  await page.keyboard.press('Shift+Tab');
  const rowsView = page.locator('#text-rows-host .text-view');
  await expect(rowsView).toBeFocused();
  await expect(rowsView).toHaveAttribute('aria-label', /Enter or Space chooses one as the query/);
  const target = relQuery === '0' ? 1 : 0;
  await page.keyboard.press('Home');
  if (target) await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  await expect(tv).toHaveAttribute('data-query', String(target));
  await expect(rowsView.locator('.tok.chosen')).toHaveAttribute('data-i', String(target));
  await expect(textInfo).toHaveText(new RegExp(`^row ${target} ".*" \\(the query\\)$`));

  // 6. the causal card: head importance read cell by cell; integrated gradients read token by token, and a token of
  // the decoder input picked with Enter explains the prediction at its position
  await runCausal(page, 'heads');
  const heads = page.locator('#causal-heads-canvas');
  const headsInfo = page.locator('#causal-heads-info');
  await expect(headsInfo).toHaveAttribute('aria-live', 'polite');
  await tabTo(page, '#causal-heads-canvas');
  await expect(heads).toHaveAttribute('aria-label', /layers x \d+ heads\. Arrow keys/);
  await expect(headsInfo).toHaveText(/^layer \S+, head h0: change in P -?\d+\.\d{4}$/);
  const layer0 = /^layer (\S+),/.exec((await headsInfo.textContent())!)![1];
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  await expect(heads).toHaveAttribute('data-cursor', '1,1');
  await expect(headsInfo).toHaveText(/^layer \S+, head h1: change in P -?\d+\.\d{4}$/);
  expect(/^layer (\S+),/.exec((await headsInfo.textContent())!)![1]).not.toBe(layer0);
  await runCausal(page, 'attribution');
  const ig = page.locator('#causal-attribution-canvas');
  const igInfo = page.locator('#causal-attribution-info');
  const last = Number(await ig.getAttribute('data-position'));
  expect(last).toBeGreaterThan(0); // the last output position
  await tabTo(page, '#causal-attribution-canvas');
  await expect(igInfo).toHaveText(/^src token 0 ".+": attribution -?\d+\.\d{4}$/);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('End');
  await expect(igInfo).toHaveText(new RegExp(`^tgt token ${last} ".+": attribution -?\\d+\\.\\d{4}; its prediction is the one explained$`));
  await page.keyboard.press('Home');
  await expect(igInfo).toHaveText(/^tgt token 0 ".+": .*Enter or click explains the prediction at this position$/);
  await page.keyboard.press('Enter');
  await expect(ig).toHaveAttribute('data-position', '0', { timeout: 60_000 });
  await expect(igInfo).toContainText('tgt token 0 ');
  await expect(igInfo).toContainText('its prediction is the one explained');
  await expect(page.locator('#causal-attribution-figure')).toBeVisible();
  await expect(ig).toBeFocused();
  await page.locator('#causal-card').screenshot({ path: join(OUT, 'a11y-causal.png') });
  const axe = await new AxeBuilder({ page }).include('#causal-card').analyze();
  expect(axe.violations.filter(reported).map((v) => v.id)).toEqual([]);

  // 7. open the 12 x 16 model through the file chooser by keyboard, and pick its head 15 of layer 11
  const runs = await page.evaluate(() => window.__attnscope!.runs);
  await tabTo(page, '#model-file');
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
  await chooser.setFiles(LM);
  await waitForMaps(page, runs, 'view-lm-12x16.safetensors');
  await tabTo(page, '#model-view-host canvas');
  await page.keyboard.press('PageDown');
  await page.keyboard.press('Home');
  for (let i = 0; i < 15; i++) await page.keyboard.press('ArrowRight');
  await expect(page.locator('#model-info')).toContainText('layer 11, head 15');
  await page.keyboard.press('Enter');
  await expect(large).toHaveAttribute('data-choice', '15');
  await expect(large).toHaveAttribute('data-layer', '11');
  await page.locator('.maps-card').screenshot({ path: join(OUT, 'a11y-keyboard.png') });
  // its logit lens, read: a cell's top tokens and the rank of the model's prediction there
  await runCausal(page, 'lens');
  await tabTo(page, '#causal-lens-canvas');
  await page.keyboard.press('ArrowDown');
  await expect(page.locator('#causal-lens-canvas')).toHaveAttribute('data-cursor', '1,0');
  await expect(page.locator('#causal-lens-info')).toHaveText(/^\S+, position 0 ".+": top ".+" \d+(\.\d)?%, ".+" \d+(\.\d)?%, ".+" \d+(\.\d)?%; the target ".+" ranks \d+$/);

  // a run of the lm while the steps view has the focus (started by script, not the mouse): its streamed steps leave
  // the same bar under the cursor, so the readout stays quiet until one polite "finished"
  await tabTo(page, '#steps-host canvas');
  await page.keyboard.press('ArrowRight');
  await expect(page.locator('#step-info')).toContainText('step 0 ');
  const before = (await page.locator('#step-info').textContent())!;
  await page.evaluate(() => {
    const info = document.getElementById('step-info')!;
    const w = window as unknown as { __said: string[] };
    w.__said = [];
    new MutationObserver(() => w.__said.push(info.textContent ?? '')).observe(info, { childList: true, characterData: true, subtree: true });
    (document.getElementById('run-form') as HTMLFormElement).requestSubmit();
  });
  await waitForMaps(page, await page.evaluate(() => window.__attnscope!.runs));
  await expect(page.locator('#steps-host canvas')).toBeFocused();
  const said = await page.evaluate(() => (window as unknown as { __said: string[] }).__said);
  console.log(`steps readout during a run of ${(await snapshot(page)).steps.length} steps: ${said.length} change(s)`);
  expect(said).toEqual([`Generation finished: ${(await snapshot(page)).steps.length} steps. ${before}`]);

  expect(await page.evaluate(() => (window as unknown as { __mouse: number }).__mouse), 'mouse events').toBe(0);
  expect(errors).toEqual([]);
});

test('axe-core: no serious or critical violations, no skipped heading level, with every view on screen', async ({ page }) => {
  test.setTimeout(240_000);
  viewModels();
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.goto('/');
  await page.waitForFunction(() => window.__attnscope?.state === 'ready' && window.__attnscope.runs > 0, undefined, { timeout: 200_000 });
  const scan = async (what: string) => {
    const r = await new AxeBuilder({ page }).analyze();
    const bad = r.violations.filter(reported);
    console.log(`${what}: ${r.passes.length} rules pass, ${r.violations.length} violated (${r.violations.map((v) => `${v.id}: ${v.impact}`).join(', ') || 'none'})`);
    expect(bad.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }))).toEqual([]);
  };
  await scan('the dates model, every view');
  const runs = await page.evaluate(() => window.__attnscope!.runs);
  await page.locator('#model-file').setInputFiles(LM);
  await waitForMaps(page, runs, 'view-lm-12x16.safetensors');
  await scan('the 12 x 16 lm');
});
