// The demo fleet in the browser (named to run last: its services stay out of the other
// specs' lists until then, and are deleted afterwards). A small fleet runs against the
// test's Seam, sending its spans to the test's OTLP receiver (seam-e2e.toml), every page
// is visited, and the README's screenshots are taken here, so they show what Seam shows
// today. The twelve services hold every smell of the fleet (demo/src/fleet.rs, `smells`).
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
// Sessions runs two versions, one instance each.
const instances = names.length + 1;

test.beforeAll(async ({ baseURL }) => {
  // Traffic enters at gateway only (no one else is uncalled), which calls six services.
  fleet = spawn(bin, ['--services', String(names.length), '--seam', baseURL, '--token', 'e2e-token',
    '--otlp', 'http://127.0.0.1:14318/v1/traces',
    '--register-all', '--rate', '10', '--burst-every', '10', '--burst-for', '8'], { stdio: 'ignore' });
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
  await expect(page.locator('#targets tr[data-health="up"]')).toHaveCount(instances, { timeout: 15_000 });
  await page.screenshot({ path: path.join(shots, 'targets.png'), fullPage: true });

  await page.goto('/services');
  await waitForHydration(page);
  await page.screenshot({ path: path.join(shots, 'services.png'), fullPage: true });
});

test('the demo fleet: the smells of its spans on the Calls page and a service page', async ({ page }) => {
  test.setTimeout(90_000);
  await page.setViewportSize({ width: 1280, height: 900 });
  const calls = page.locator('#calls');
  const edge = (caller, callee) => calls.locator(`tr[data-caller="${caller}"][data-callee="${callee}"]`);
  // Spans pair within seconds; an unpaired call waits out the pairing time first, and
  // the page shows the graph as it was when it was served: reload until all is there.
  await expect(async () => {
    await page.goto('/calls');
    await expect(page.locator('#propagation li[data-service="search"][data-broken="incoming"]')).toBeVisible({ timeout: 1_000 });
    await expect(edge('recommendations', 'search')).toHaveCount(1, { timeout: 1_000 });
    await expect(edge('inventory', 'shop-db')).toHaveCount(1, { timeout: 1_000 });
    await expect(edge('identity', 'sessions')).toHaveCount(2, { timeout: 1_000 });
  }).toPass({ timeout: 60_000, intervals: [1_000, 2_000] });
  await waitForHydration(page);

  // An undeclared call, and a declared dependency never called.
  await expect(edge('recommendations', 'pricing')).toHaveAttribute('data-drift', 'undeclared');
  await expect(edge('cart', 'inventory')).toHaveAttribute('data-drift', 'declared, not observed');
  // Broken propagation: search reads no traceparent, so its callers' calls did not pair;
  // Seam found it by address, declared as its callers say.
  await expect(page.locator('#propagation li[data-service="search"]')).toContainText('traceparent');
  await expect(edge('gateway', 'search')).toHaveAttribute('data-drift', '');
  // One database, two bounded contexts.
  for (const user of ['orders', 'inventory']) {
    await expect(edge(user, 'shop-db')).toContainText('postgresql');
    await expect(edge(user, 'shop-db')).toContainText('SELECT');
  }
  // Two live versions of sessions, both called by identity (which declares ^2.0).
  await expect(edge('identity', 'sessions').filter({ hasText: '3.0.0' })).toHaveCount(1);
  await expect(edge('identity', 'sessions').filter({ hasText: '2.4.1' })).toHaveCount(1);
  // The hub calls six services; the chatty pair calls 8 to 12 times a request.
  await expect(calls.locator('tr[data-caller="gateway"]')).toHaveCount(6);
  const perRequest = await edge('cart', 'pricing').locator('td').nth(8).innerText();
  expect(parseFloat(perRequest), perRequest).toBeGreaterThanOrEqual(8);
  // Traffic comes in from users, at gateway (and at search, whose spans are all roots).
  await expect(edge('user', 'gateway')).toHaveCount(1);
  await page.screenshot({ path: path.join(shots, 'calls.png'), fullPage: true });

  // The filter in the URL: only the drift.
  await page.goto('/calls?drift=undeclared');
  await waitForHydration(page);
  await expect(calls.locator('tr')).toHaveCount(2);
  await expect(edge('recommendations', 'pricing')).toHaveCount(1);

  // A service's callers and callees, the cycle with payments among them.
  await page.goto('/services/orders');
  await waitForHydration(page);
  const observed = page.locator('#observed-calls');
  for (const caller of ['storefront', 'payments']) {
    await expect(observed.locator(`#callers tr[data-caller="${caller}"][data-callee="orders"]`)).toHaveCount(1);
  }
  for (const callee of ['payments', 'inventory', 'shop-db']) {
    await expect(observed.locator(`#callees tr[data-caller="orders"][data-callee="${callee}"]`)).toHaveCount(1);
  }
  await expect(observed.locator('#callers tr[data-caller="payments"]')).toContainText('GET /confirm');

  // The broken service's own page says so too.
  await page.goto('/services/search');
  await waitForHydration(page);
  await expect(page.locator('#observed-calls #propagation li[data-service="search"]')).toHaveAttribute('data-broken', 'incoming');
});

test('the demo fleet: its smells as findings, on the graph and in the version matrix', async ({ page }) => {
  test.setTimeout(90_000);
  await page.setViewportSize({ width: 1280, height: 900 });
  // The analysis runs at most once a minute per window: reload until the spans are in it.
  await expect(async () => {
    await page.goto('/findings?window=5m');
    await expect(page.locator('#cycles li[data-id="cycle:orders>payments>orders"]')).toBeVisible({ timeout: 1_000 });
    await expect(page.locator('li[data-id="chatty_pair:cart>pricing"]')).toBeVisible({ timeout: 1_000 });
    await expect(page.locator('li[data-id="shared_datastore:shop-db"]')).toBeVisible({ timeout: 1_000 });
    await expect(page.locator('li[data-id="observed_not_declared:recommendations>pricing"]')).toBeVisible({ timeout: 1_000 });
    await expect(page.locator('li[data-id="range_mismatch:demo:identity>sessions"]')).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 75_000, intervals: [2_000, 5_000] });
  await waitForHydration(page);
  await expect(page.locator('li[data-id="hub:gateway"]')).toContainText('gateway calls 6 services');
  await expect(page.locator('li[data-id="several_majors:demo:sessions"]')).toContainText('3.0.0');
  await page.screenshot({ path: path.join(shots, 'findings.png'), fullPage: true });

  await page.goto('/graph?window=5m&finding=cycle');
  await waitForHydration(page);
  await expect(page.locator('#graph path.edge.highlighted[data-from="orders"][data-to="payments"]')).toHaveCount(1);
  await page.screenshot({ path: path.join(shots, 'graph.png'), fullPage: true });

  await page.goto('/versions?window=5m&q=sessions&ask=deploy&service=sessions&version=3.1.0&environment=demo');
  await waitForHydration(page);
  await expect(page.locator('#answer')).toHaveAttribute('data-ok', 'false');
  await expect(page.locator('#answer')).toContainText('identity');
  await page.screenshot({ path: path.join(shots, 'versions.png'), fullPage: true });
});
