// What the benches share: paths, the Vite server and headless Chromium the page half runs in, a bench script run in a
// process of its own.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';
import playwrightConfig, { CHROMIUM } from '../playwright.config.ts';
import type { PageInfo } from './page/main.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MODELS = join(ROOT, 'bench', 'models');
export const RESULTS = join(ROOT, 'bench', 'results');
export const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

export const log = (s: string) => console.error(s);

/** "google swiftshader swiftshader-device-subzero- SwiftShader driver 5.0.0" -> "swiftshader". */
export function adapterSlug(name: string): string {
  const lower = name.toLowerCase();
  for (const k of ['swiftshader', 'lavapipe', 'llvmpipe', 'nvidia', 'amd', 'intel', 'apple', 'qualcomm', 'arm']) if (lower.includes(k)) return k;
  return lower.replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'unknown';
}

export interface ScriptResult {
  command: string;
  seconds: number;
  ok: boolean;
  error?: string;
  /** The JSON the script wrote. */
  result?: unknown;
}

/**
 * Runs a bench script with vite-node in a process of its own (its output goes to the terminal) within `limitS`
 * seconds, and reads back the JSON it wrote to `json` (one of its `args`) when given.
 */
export function runScript(args: readonly string[], limitS: number, json?: string): ScriptResult {
  const command = `vite-node ${args.join(' ')}`;
  log(`\n$ ${command}`);
  const t0 = performance.now();
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'vite-node'), args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: limitS * 1000 });
  const seconds = (performance.now() - t0) / 1000;
  const written = json === undefined || existsSync(json);
  if (r.status !== 0 || !written) {
    const error = r.error ? r.error.message : `exit ${r.status ?? r.signal}${written ? '' : ', no JSON written'}`;
    log(`${args[0]} failed (${error})`);
    return { command, seconds, ok: false, error };
  }
  return { command, seconds, ok: true, result: json === undefined ? undefined : JSON.parse(readFileSync(json, 'utf8')) };
}

export function hasTorch(): boolean {
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 120_000 });
  return r.status === 0;
}

/** Vite's dev server with the project config, on a free port, cross-origin isolated (wasm threads need it). */
export async function startServer(): Promise<{ server: ViteDevServer; url: string }> {
  const server = await createServer({
    root: ROOT,
    logLevel: 'warn',
    clearScreen: false,
    server: {
      host: '127.0.0.1',
      port: 5180,
      strictPort: false,
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
      // No file watching, no HMR: an edit elsewhere in the tree during a run must not reload the page mid-benchmark.
      hmr: false,
      watch: null,
    },
    // onnxruntime-web finds its worker and .wasm relative to its own module: serve it as it is, not pre-bundled.
    optimizeDeps: { exclude: ['onnxruntime-web'] },
  });
  await server.listen();
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite: the dev server has no local URL');
  return { server, url };
}

export async function openPage(url: string): Promise<{ page: Page; close: () => Promise<void>; info: PageInfo }> {
  const args = playwrightConfig.use?.launchOptions?.args ?? ['--enable-unsafe-webgpu', '--no-sandbox'];
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args, headless: true });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') log(`  [page ${m.type()}] ${m.text()}`);
    });
    // An error before window.peers exists (a module that fails to load) ends the wait at once.
    const broken = new Promise<never>((_, reject) => page.once('pageerror', (e) => reject(new Error(`the bench page failed to start: ${e.message}`))));
    broken.catch(() => undefined); // handled by the race below; later page errors are only logged
    page.on('pageerror', (e) => log(`  [page error] ${e.message}`));
    await page.goto(new URL('bench/page/', url).href);
    await Promise.race([page.waitForFunction(() => window.peers !== undefined, undefined, { timeout: 120_000 }), broken]);
    const info = await page.evaluate(() => window.peers.info);
    return { page, info, close: () => browser.close() };
  } catch (e) {
    await browser.close();
    throw e;
  }
}
