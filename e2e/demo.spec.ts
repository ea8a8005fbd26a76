import { expect, test } from '@playwright/test';

test('demo page runs its GPU checks without console errors', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page.locator('#status')).toHaveText('All checks passed', { timeout: 120_000 });
  await expect(page.locator('#adapter')).toContainText('Adapter:');
  await page.screenshot({ path: 'test-output/demo.png', fullPage: true });
  expect(errors).toEqual([]);
});
