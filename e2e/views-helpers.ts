// What the views and accessibility specs share: their seeded test models (tools/make_view_models.ts) and a wait for
// a run's maps (the page is ready, or still computing relevance rows after them).
import type { Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
export const OUT = join(repo, 'test-output');
/** Causal, 12 layers x 16 heads. */
export const LM = join(OUT, 'view-lm-12x16.safetensors');
/** Bidirectional, 2 layers x 16 heads. */
export const ENC = join(OUT, 'view-enc-2x16.safetensors');

/**
 * Waits until the maps of a run after the `after`-th are on screen (on the model labelled `model`): the page is
 * ready, or computing relevance rows after the maps.
 */
export async function waitForMaps(page: Page, after: number, model?: string): Promise<void> {
  await page.waitForFunction(
    ([n, m]) => ['ready', 'relevance'].includes(window.__attnscope?.state ?? '') && window.__attnscope!.runs > (n as number) && (!m || window.__attnscope!.model === m),
    [after, model] as const,
    { timeout: 200_000 },
  );
}

/** Writes the test models (seeded, deterministic) unless they are there. */
export function viewModels(): void {
  if (existsSync(LM) && existsSync(ENC)) return;
  mkdirSync(OUT, { recursive: true });
  execFileSync(join(repo, 'node_modules', '.bin', 'vite-node'), [join(repo, 'tools', 'make_view_models.ts'), OUT], { cwd: repo, timeout: 120_000 });
}

