// The architecture pages with a fleet the test declares: a cycle of three services shows
// on the Findings page and, highlighted, on the graph it links to; groups close into one
// box and open again; the Versions page answers can-deploy.
const { test, expect } = require('@playwright/test');
const { waitForHydration } = require('./helpers');

test.describe.configure({ mode: 'serial' });

const ring = ['ring-alpha', 'ring-beta', 'ring-gamma'];

function manifest(name, next, version) {
  return `apiVersion: seam.dev/v1
kind: Service
metadata:
  name: ${name}
spec:
  version: ${version}
  owner: team-ring
  domain: ring-domain
  lifecycle: production
  provides:
    - {name: ${name}-api, version: ${version}, protocol: http}
  consumes:
    - {api: ${next}-api, version: "^1.0", mode: sync, protocol: http}
`;
}

test.beforeAll(async ({ request }) => {
  const body = ring.map((name, i) => manifest(name, ring[(i + 1) % ring.length], '1.4.0')).join('---\n');
  const put = await request.put('/api/v1/manifests', { headers: { 'content-type': 'application/yaml' }, data: body });
  expect(put.status(), await put.text()).toBe(200);
});

test.afterAll(async ({ request }) => {
  for (const name of ring) {
    await request.delete(`/api/v1/services/${name}`);
  }
});

const cycleId = 'cycle:ring-alpha>ring-beta>ring-gamma>ring-alpha';

test('a cycle the test declared is a finding, and the graph it links to highlights it', async ({ page }) => {
  await page.goto('/findings');
  await waitForHydration(page);
  const row = page.locator(`#cycles li[data-id="${cycleId}"]`);
  await expect(row).toBeVisible();
  await expect(row).toContainText('ring-alpha → ring-beta → ring-gamma → ring-alpha');
  await expect(row).toContainText('synchronous cycle of 3 services');
  await row.getByRole('link', { name: 'Show on the graph' }).click();

  await expect(page).toHaveURL(/\/graph\?finding=cycle/);
  await expect(page.locator('#graph-finding-note')).toContainText('ring-alpha → ring-beta');
  // The graph shows the three services, and each edge of the cycle highlighted.
  for (const name of ring) {
    await expect(page.locator(`#graph [data-node="${name}"]`)).toBeVisible();
  }
  const highlighted = page.locator('#graph path.edge.highlighted');
  await expect(highlighted).toHaveCount(3);
  for (let i = 0; i < ring.length; i++) {
    await expect(page.locator(`#graph path.edge.highlighted[data-from="${ring[i]}"][data-to="${ring[(i + 1) % 3]}"]`)).toHaveCount(1);
  }
  // A service box leads to its page.
  await page.locator('#graph a[data-node="ring-beta"]').click();
  await expect(page).toHaveURL(/\/services\/ring-beta$/);
});

test('cycles are highlighted on demand, groups close and open, focus narrows', async ({ page }) => {
  await page.goto('/graph?finding=cycle');
  await waitForHydration(page);
  await expect(page.locator('#graph path.edge.highlighted[data-from="ring-gamma"][data-to="ring-alpha"]')).toHaveCount(1);

  // Grouped by domain: the ring's group closes into one box of three, and opens again.
  await page.goto('/graph');
  await waitForHydration(page);
  await expect(page.locator('#graph [data-group="ring-domain"]')).toBeVisible();
  await page.getByRole('link', { name: 'Close group ring-domain' }).click();
  const cluster = page.locator('#graph a[data-node="cluster:ring-domain"]');
  await expect(cluster).toBeVisible();
  await expect(cluster).toContainText('ring-domain (3)');
  await expect(page.locator('#graph [data-node="ring-alpha"]')).toHaveCount(0);
  await cluster.click();
  await expect(page.locator('#graph [data-node="ring-alpha"]')).toBeVisible();

  // Focus on one service and one hop: its neighbours only.
  await page.goto('/graph?focus=ring-alpha&hops=1&group=none');
  await waitForHydration(page);
  await expect(page.locator('#graph [data-node="ring-alpha"]')).toHaveClass(/focus/);
  await expect(page.locator('#graph .node')).toHaveCount(3);
  // Search marks matches.
  await page.goto('/graph?q=gamma&group=none');
  await waitForHydration(page);
  await expect(page.locator('#graph [data-node="ring-gamma"]')).toHaveClass(/matched/);
  await expect(page.locator('#graph [data-node="ring-alpha"]')).not.toHaveClass(/matched/);
});

test('the Versions page shows the matrix and answers can-deploy', async ({ page }) => {
  await page.goto('/versions?q=ring');
  await waitForHydration(page);
  const table = page.locator('table.versions[data-environment="default"]');
  await expect(table.locator('tr[data-provider="ring-beta"]')).toContainText('1.4.0');
  await expect(table.locator('tr[data-provider="ring-beta"] [data-verdict="accepted"]')).toHaveCount(1);

  await page.locator('#ask-what').selectOption('deploy');
  await page.locator('#ask-service').fill('ring-beta');
  await page.locator('#ask-version').fill('2.0.0');
  await page.getByRole('button', { name: 'Ask' }).click();
  const answer = page.locator('#answer');
  await expect(answer).toHaveAttribute('data-ok', 'false');
  await expect(answer).toContainText('ring-alpha');
  await expect(answer.locator('li[data-blocking="true"]')).not.toHaveCount(0);
});
