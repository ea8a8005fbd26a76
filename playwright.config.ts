import { defineConfig } from '@playwright/test';
import { BUILT_DEMO, DEMO_PORT } from './e2e/page.ts';

/** Debian's chromium (apt-get install chromium): Playwright's own browser downloads are not reachable here. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-output/playwright',
  timeout: 300_000,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: 'http://127.0.0.1:5173',
    browserName: 'chromium',
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        '--enable-unsafe-webgpu',
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: [
    {
      command: 'npx vite',
      env: { ATTNSCOPE_E2E: '1' },
      url: 'http://127.0.0.1:5173/test/browser/index.html',
      reuseExistingServer: !process.env.CI,
      timeout: 60_000,
    },
    {
      // The demo as a user hosts it: `npm run build:demo`, served under a sub-path by a plain static server.
      command: `npm run build:demo -- --logLevel warn && exec node e2e/static_server.mjs dist-demo /apps/attnscope/ ${DEMO_PORT}`,
      url: `${BUILT_DEMO}index.html`,
      reuseExistingServer: !process.env.CI,
      timeout: 180_000,
    },
  ],
});
