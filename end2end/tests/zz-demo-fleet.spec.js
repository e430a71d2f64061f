// The demo fleet in the browser (named to run last: its services stay out of the other
// specs' lists until then, and are deleted afterwards). A small fleet runs against the
// test's Seam, every page is visited, and the README's screenshots are taken here, so
// they show what Seam shows today.
const { spawn } = require('child_process');
const path = require('path');
const { test, expect } = require('@playwright/test');
const { waitForHydration } = require('./helpers');

test.describe.configure({ mode: 'serial' });

const bin = process.env.SEAM_FLEET_BIN
  || path.join(path.dirname(process.env.SEAM_BIN || path.join(__dirname, '..', '..', 'target', 'debug', 'seam')), 'seam-demo-fleet');
const shots = path.join(__dirname, '..', '..', 'docs', 'screenshots');
let fleet;
const names = ['storefront', 'orders', 'payments', 'inventory', 'catalog', 'gateway', 'identity', 'sessions', 'search', 'recommendations', 'pricing', 'cart'];

test.beforeAll(async ({ baseURL }) => {
  fleet = spawn(bin, ['--services', String(names.length), '--seam', baseURL, '--token', 'e2e-token',
    '--register-all', '--rate', '30', '--burst-every', '10', '--burst-for', '8'], { stdio: 'ignore' });
});

test.afterAll(async ({ request }) => {
  if (fleet) fleet.kill();
  for (const name of names) {
    await request.delete(`/api/v1/services/${name}`);
  }
});

test('the demo fleet: live health on every page, screenshots for the README', async ({ page }) => {
  test.setTimeout(90_000);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto('/');
  await waitForHydration(page);
  // The fleet registers, Seam scrapes it, payments' error burst shows.
  await expect(page.locator('#worst [data-service="payments"]')).toHaveAttribute('data-state', /degraded|failing/, { timeout: 45_000 });
  await expect(page.locator('#domains [data-domain="finance"]')).toHaveAttribute('data-state', /degraded|failing/);
  await page.screenshot({ path: path.join(shots, 'overview.png'), fullPage: true });

  await page.goto('/services/payments?window=15m');
  await waitForHydration(page);
  await expect(page.locator('#standard-metrics')).toContainText('otel-http');
  await page.screenshot({ path: path.join(shots, 'service.png'), fullPage: true });

  await page.goto('/services/recommendations');
  await waitForHydration(page);
  await expect(page.locator('#standard-metrics')).toContainText('prometheus-http');

  await page.goto('/targets');
  await waitForHydration(page);
  await expect(page.locator('#targets tr[data-health="up"]')).toHaveCount(names.length, { timeout: 15_000 });
  await page.screenshot({ path: path.join(shots, 'targets.png'), fullPage: true });

  await page.goto('/services');
  await waitForHydration(page);
  await page.screenshot({ path: path.join(shots, 'services.png'), fullPage: true });
});
