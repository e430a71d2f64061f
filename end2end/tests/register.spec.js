const { test, expect } = require('@playwright/test');
const { waitForHydration, markDocument, expectSameDocument } = require('./helpers');

test.describe.configure({ mode: 'serial' });

const manifest = (version, extra = '') => `apiVersion: seam.dev/v1
kind: Service
metadata:
  name: inventory
  description: Knows what is in stock
spec:
  version: ${version}
  owner: team-stock
  domain: warehouse
  lifecycle: production
${extra}`;

test('a pasted manifest is checked as you type, with errors at their line, and registers', async ({ page, request }) => {
  await page.goto('/register');
  await waitForHydration(page);
  await markDocument(page);
  await page.fill('#manifest-token', 'e2e-token');

  // Line 7 carries the bad version; the finding appears right under that line.
  await page.fill('#manifest-text', manifest('v1.2'));
  const finding = page.locator('.diag.error[data-diag-line="7"]');
  await expect(finding).toContainText('did you mean "1.2.0"?');
  await expect(page.locator('.src-line[data-line="7"]')).toHaveClass(/has-error/);
  await expect(page.locator('#manifest-summary')).toContainText('1 error,');

  // Registering refuses and stores nothing.
  await page.click('#manifest-submit');
  await expect(page.locator('[role=alert]')).toContainText('Not registered');
  expect((await request.get('/api/v1/services/inventory')).status()).toBe(404);

  // An unknown field is an error at its own line.
  await page.fill('#manifest-text', manifest('1.2.0', '  colour: red\n'));
  await expect(page.locator('.diag.error[data-diag-line="11"]')).toContainText('colour');

  await page.fill('#manifest-text', manifest('1.2.0'));
  await expect(page.locator('#manifest-summary')).toContainText('Valid: 1 service,');
  await page.click('#manifest-submit');
  await expect(page.locator('.applied li[data-change="inventory"]')).toContainText('created service');
  await expectSameDocument(page);

  const stored = await (await request.get('/api/v1/services/inventory')).json();
  expect(stored.owner).toBe('team-stock');
  expect(stored.domain).toBe('warehouse');
  expect(stored.revision).toBe(1);
});

test('the service page shows the manifest history and a diff between revisions', async ({ page, request }) => {
  const put = await request.put('/api/v1/manifests', {
    headers: { 'content-type': 'application/yaml' },
    data: manifest('1.3.0'),
  });
  expect(put.status(), await put.text()).toBe(200);

  await page.goto('/services/inventory');
  await waitForHydration(page);
  await expect(page.locator('#history tr[data-revision]')).toHaveCount(2);
  // The documents as their author wrote them, in their own field names.
  await expect(page.locator('#diff .removed')).toContainText('version: 1.2.0');
  await expect(page.locator('#diff .added')).toContainText('version: 1.3.0');
  // What changed comes first, by field.
  await expect(page.locator('#diff-changed')).toContainText('spec.version');

  await page.goto('/domains');
  await expect(page.locator('[data-domain="warehouse"]')).toContainText('inventory');
  await page.goto('/teams');
  await expect(page.locator('tr[data-team="team-stock"]')).toContainText('inventory');
  await page.goto('/services/inventory');
  await page.screenshot({ path: 'test-results/service.png', fullPage: true });
});

test('the live check says what Register will do, knows the catalog, and its result goes stale', async ({ page }) => {
  await page.goto('/register');
  await waitForHydration(page);
  await page.fill('#manifest-token', 'e2e-token');
  // inventory is at 1.3.0 now; the pasted one would update it.
  await page.fill('#manifest-text', manifest('1.4.0'));
  const row = page.locator('#manifest-plan li[data-plan="inventory"]');
  await expect(row).toHaveAttribute('data-action', 'update');
  await expect(row).toContainText('version 1.3.0 → 1.4.0');
  // A service that depends on one in the catalog: no "unknown service" warning.
  const consumer = `apiVersion: seam.dev/v1
kind: Service
metadata:
  name: picker
spec:
  version: 0.1.0
  owner: team-stock
  lifecycle: experimental
  consumes:
    - {service: inventory}
`;
  await page.fill('#manifest-text', consumer);
  await expect(page.locator('#manifest-plan li[data-plan="picker"]')).toHaveAttribute('data-action', 'create');
  await expect(page.locator('#manifest-summary')).toContainText('0 warnings');
  await page.click('#manifest-submit');
  await expect(page.locator('.applied li[data-change="picker"]')).toContainText('created service');
  // Editing the text makes the result stale: it disappears.
  await page.locator('#manifest-text').press('End');
  await page.locator('#manifest-text').type('#');
  await expect(page.locator('.applied')).toHaveCount(0);
  // An input with nothing in it is refused, not "registered".
  await page.fill('#manifest-text', '# only a comment\n');
  await expect(page.locator('#manifest-summary')).toContainText('1 error,');
  await expect(page.locator('.diag.error')).toContainText('the input contains no documents');
});

test('a manifest file can be uploaded into the registration page', async ({ page }) => {
  await page.goto('/register');
  await waitForHydration(page);
  await page.fill('#manifest-token', 'wrong');
  await page.setInputFiles('#manifest-file', {
    name: 'catalog-info.yaml',
    mimeType: 'text/yaml',
    buffer: Buffer.from(`apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: uploaded
  annotations:
    seam.dev/version: 0.1.0
spec:
  type: service
  lifecycle: experimental
  owner: team-upload
`),
  });
  await expect(page.locator('#manifest-text')).toHaveValue(/name: uploaded/);
  await expect(page.locator('#manifest-summary')).toContainText('Valid: 1 service,');
  await page.click('#manifest-submit');
  await expect(page.locator('[role=alert]')).toContainText('this API token is not accepted');
  await page.fill('#manifest-token', 'e2e-token');
  await page.click('#manifest-submit');
  await expect(page.locator('.applied li[data-change="uploaded"]')).toContainText('created service');
});

test('typing quickly costs one check, not one per keystroke', async ({ page }) => {
  await page.goto('/register');
  await waitForHydration(page);
  let checks = 0;
  page.on('request', (request) => {
    if (request.url().includes('/rpc/check_manifest')) checks += 1;
  });
  await page.locator('#manifest-text').pressSequentially('apiVersion: seam.dev/v1', { delay: 15 });
  await expect(page.locator('#manifest-summary')).toContainText(/\d+ errors?,/);
  // 23 keystrokes; a stalled machine may split them into a few bursts, never into one check each.
  expect(checks).toBeLessThanOrEqual(4);
});
