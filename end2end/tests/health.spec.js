// Runtime health in the browser: a service whose instance is a small exporter this test
// runs (OpenTelemetry's request histogram, 4% of requests failing) is scraped by
// Seam; the overview, the service page's charts and the targets page show it.
const http = require('http');
const { test, expect } = require('@playwright/test');
const { waitForHydration, markDocument, expectSameDocument } = require('./helpers');

test.describe.configure({ mode: 'serial' });

let exporter;
let exporterUrl;

/** Counters that grow with time: 50 requests a second, 2 of them failing. */
function exposition() {
  const seconds = process.uptime();
  const ok = Math.floor(seconds * 48);
  const failed = Math.floor(seconds * 2);
  const fast = Math.floor(ok * 0.7);
  return [
    '# TYPE http_server_request_duration_seconds histogram',
    `http_server_request_duration_seconds_bucket{http_response_status_code="200",le="0.1"} ${fast}`,
    `http_server_request_duration_seconds_bucket{http_response_status_code="200",le="0.5"} ${ok}`,
    `http_server_request_duration_seconds_bucket{http_response_status_code="200",le="+Inf"} ${ok}`,
    `http_server_request_duration_seconds_sum{http_response_status_code="200"} ${ok * 0.08}`,
    `http_server_request_duration_seconds_count{http_response_status_code="200"} ${ok}`,
    `http_server_request_duration_seconds_bucket{http_response_status_code="503",le="0.1"} 0`,
    `http_server_request_duration_seconds_bucket{http_response_status_code="503",le="0.5"} ${failed}`,
    `http_server_request_duration_seconds_bucket{http_response_status_code="503",le="+Inf"} ${failed}`,
    `http_server_request_duration_seconds_sum{http_response_status_code="503"} ${failed * 0.3}`,
    `http_server_request_duration_seconds_count{http_response_status_code="503"} ${failed}`,
    '',
  ].join('\n');
}

const manifest = (base) => `apiVersion: seam.dev/v1
kind: Service
metadata:
  name: e2e-meter
spec:
  version: 1.0.0
  owner: team-e2e
  domain: e2e-metering
  lifecycle: production
  instances:
    - baseUrl: ${base}
`;

test.beforeAll(async ({ request }) => {
  exporter = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
    } else {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(exposition());
    }
  });
  await new Promise((resolve) => exporter.listen(0, '127.0.0.1', resolve));
  exporterUrl = `http://127.0.0.1:${exporter.address().port}`;
  const put = await request.put('/api/v1/manifests', {
    headers: { 'content-type': 'application/yaml' },
    data: manifest(exporterUrl),
  });
  expect(put.status(), await put.text()).toBe(200);
});

test.afterAll(async () => {
  await new Promise((resolve) => exporter.close(resolve));
});

test('the overview shows the system, refreshing in place', async ({ page }) => {
  await page.goto('/');
  await waitForHydration(page);
  await markDocument(page);
  // 4% of the requests fail: the domain is degraded (Kiali: 0.1% to 10%).
  const tile = page.locator('#domains [data-domain="e2e-metering"]');
  await expect(tile).toHaveAttribute('data-state', 'degraded', { timeout: 20_000 });
  await expect(tile).toContainText('errors');
  await expect(page.locator('#worst [data-service="e2e-meter"]')).toHaveAttribute('data-state', 'degraded');
  await expect(page.locator('#state-counts [data-state="degraded"] .count-number')).not.toHaveText('0');
  // The figures are refreshed without a page load.
  const asOf = await page.locator('#overall time').getAttribute('datetime');
  await expect(page.locator('#overall time')).not.toHaveAttribute('datetime', asOf, { timeout: 15_000 });
  await expectSameDocument(page);
  // The traffic chart has axes with units and a line with data.
  const chart = page.locator('[data-chart="overview-traffic"]');
  await expect(chart.locator('text.tick').first()).toContainText('/s');
  const line = await chart.locator('path.series.line-1').getAttribute('d');
  expect(line.split('L').length).toBeGreaterThan(2);
});

test('the service page plots rate, errors and latency, with values on hover', async ({ page }) => {
  await page.goto('/services/e2e-meter?window=15m');
  await waitForHydration(page);
  await expect(page.locator('.windows a[aria-current="true"]')).toHaveText('15m');
  for (const id of ['service-rate', 'service-errors', 'service-latency']) {
    await expect(page.locator(`[data-chart="${id}"] svg`)).toBeVisible();
  }
  await expect(page.locator('#runtime-state .state')).toHaveText('degraded');
  await expect(page.locator('#instance-health tbody tr')).toHaveAttribute('data-state', 'degraded');
  // Hovering the latest steps reads their values out beside the chart.
  const rate = page.locator('[data-chart="service-rate"]');
  const box = await rate.locator('svg').boundingBox();
  await page.mouse.move(box.x + box.width - 30, box.y + box.height / 2);
  await expect(rate.locator('.readout')).toHaveText(/\d\d:\d\d UTC: requests \d/);
  await expect(rate.locator('svg line.cursor')).toHaveCount(1);
  const latency = page.locator('[data-chart="service-latency"]');
  await expect(latency.locator('.legend')).toContainText('p95');
  await expect(latency.locator('text.tick').first()).toContainText('ms');
  // Another window is a link: the URL keeps the choice.
  await page.click('.windows a:text-is("1h")');
  await expect(page).toHaveURL(/window=1h/);
  await expect(page.locator('.windows a[aria-current="true"]')).toHaveText('1h');
});

test('the targets page lists each target with its state, filterable', async ({ page }) => {
  await page.goto('/targets');
  await waitForHydration(page);
  const row = page.locator(`#targets tr[data-target="${exporterUrl}/metrics"]`);
  await expect(row).toHaveAttribute('data-health', 'up');
  await expect(row).toContainText('e2e-meter');
  await page.selectOption('#targets-health', 'up');
  await page.click('form.filters button');
  await expect(page).toHaveURL(/health=up/);
  await expect(page.locator('#targets tbody tr[data-health="down"]')).toHaveCount(0);
  await expect(page.locator(`#targets tr[data-target="${exporterUrl}/metrics"]`)).toBeVisible();
});
