const { test, expect } = require('@playwright/test');
const { waitForHydration, markDocument, expectSameDocument, registerOverApi } = require('./helpers');

test.describe.configure({ mode: 'serial' });

test('services registered over the API are server-rendered, and filters, sorting and pages live in the URL', async ({ page, request }) => {
  await registerOverApi(request, { name: 'checkout', version: '1.4.0', owner: 'team-payments' });
  await registerOverApi(request, { name: 'basket', version: '0.9.1', owner: 'team-shop' });

  // The server's HTML already lists them, before any script runs.
  const html = await (await request.get('/services')).text();
  expect(html).toContain('checkout');
  expect(html).toContain('team-shop');

  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto('/services');
  await waitForHydration(page);
  await markDocument(page);

  // Other spec files share this server: count relative to what is there.
  const rows = page.locator('table.services tbody tr');
  const total = await rows.count();
  expect(total).toBeGreaterThanOrEqual(2);
  await page.fill('#service-filter', 'pay');
  await page.press('#service-filter', 'Enter');
  await expect(page).toHaveURL(/\/services\?q=pay&/);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-service', 'checkout');
  await expect(page.locator('#service-count')).toContainText(`1 of ${total} services`);
  await page.click('#clear-filters');
  await expect(rows).toHaveCount(total);

  // The team filter shows what the URL set; sorting is a link.
  await page.selectOption('#filter-owner', 'team-shop');
  await page.click('#apply-filters');
  await expect(page).toHaveURL(/owner=team-shop/);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-service', 'basket');
  await expect(page.locator('#filter-owner')).toHaveValue('team-shop');
  await page.goto('/services');
  await waitForHydration(page);
  await markDocument(page);
  await page.click('a.sort[data-sort="name"]');
  await expect(page).toHaveURL(/sort=name&order=desc/);
  await expect(page.locator('th[aria-sort="descending"]')).toHaveCount(1);
  const names = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.service));
  expect(names).toEqual([...names].sort().reverse());

  // A filter that matches nothing says so and offers the way back.
  await page.goto('/services?q=no-such-service');
  await expect(page.locator('p.empty')).toContainText('No services match these filters');

  expect(errors).toEqual([]);
});

test('the services list works as plain HTML before (or without) the wasm', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/services');
  await page.fill('#service-filter', 'basket');
  await page.click('#apply-filters');
  await expect(page).toHaveURL(/\/services\?q=basket/);
  await expect(page.locator('table.services tbody tr')).toHaveCount(1);
  await page.click('a.sort[data-sort="owner"]');
  await expect(page).toHaveURL(/sort=owner/);
  await context.close();
});

test('script and HTML in every text field of a manifest never run', async ({ page, request }) => {
  const payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>';
  const manifest = `apiVersion: seam.dev/v1
kind: Service
metadata:
  name: hostile
  description: '${payload}'
  links: [{url: "https://example.com/", title: '${payload}'}]
spec:
  version: 1.0.0
  owner: team-hostile
  domain: hostile
  lifecycle: production
  datastores:
    - {name: hostile-db, kind: postgresql, access: owned}
---
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: hostile
  description: '${payload}'
spec:
  owner: team-hostile
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-hostile
  description: '${payload}'
spec:
  type: team
  children: []
`;
  // Only free-text fields take such text: names, kinds and lifecycles are refused.
  const put = await request.put('/api/v1/manifests', { headers: { 'content-type': 'application/yaml' }, data: manifest });
  expect(put.status(), await put.text()).toBe(200);
  // A javascript: link is refused outright.
  const link = await request.put('/api/v1/manifests', {
    headers: { 'content-type': 'application/yaml' },
    data: manifest.replace('https://example.com/', 'javascript:alert(1)'),
  });
  expect(link.status()).toBe(422);

  const dialogs = [];
  page.on('dialog', (dialog) => { dialogs.push(dialog.message()); dialog.dismiss(); });
  for (const path of ['/services', '/services/hostile', '/teams', '/domains']) {
    await page.goto(path);
    await waitForHydration(page);
    expect(await page.evaluate(() => window.__xss)).toBeUndefined();
  }
  await expect(page.locator('body')).not.toContainText('undefined');
  expect(dialogs).toEqual([]);
});

test('the registration form shows validation errors inline and registers through a server function', async ({ page, request }) => {
  await page.goto('/services');
  await waitForHydration(page);
  await markDocument(page);

  // Every field error at once, the token's among them; fixing a field clears its own.
  await page.click('#register-form button[type=submit]');
  for (const field of ['name', 'version', 'owner', 'token']) {
    await expect(page.locator(`#register-${field}-error`)).not.toHaveText('');
    await expect(page.locator(`#register-${field}`)).toHaveAttribute('aria-invalid', 'true');
  }
  await page.fill('#register-name', 'search');
  await expect(page.locator('#register-name-error')).toHaveText('');
  await expect(page.locator('#register-name')).toHaveAttribute('aria-invalid', 'false');
  await expect(page.locator('#register-owner-error')).not.toHaveText('');
  await page.fill('#register-version', '1.2.0');
  await page.fill('#register-owner', 'team-discovery');
  // This Seam has an API token: without it the form registers nothing.
  await page.click('#register-form button[type=submit]');
  await expect(page.locator('#register-token-error')).toHaveText('an API token is required to register');
  expect((await request.get('/api/v1/services/search')).status()).toBe(404);

  await page.fill('#register-token', 'e2e-token');
  await page.fill('#register-version', 'v1.2');
  await page.click('#register-form button[type=submit]');

  await expect(page.locator('#register-version-error')).toContainText('did you mean "1.2.0"?');
  await expect(page.locator('#register-name-error')).toHaveText('');
  await expectSameDocument(page);
  // Refused means nothing was stored.
  expect((await request.get('/api/v1/services/search')).status()).toBe(404);

  await page.fill('#register-version', '1.2.0');
  await page.click('#register-form button[type=submit]');
  await expect(page.locator('#register-status')).toHaveText('Registered search 1.2.0');
  await expect(page.locator('#register-version-error')).toHaveText('');
  await expect(page.locator('tr[data-service="search"]')).toBeVisible();
  await expectSameDocument(page);
  expect((await request.get('/api/v1/services/search')).status()).toBe(200);

  // A taken name is reported on the name field.
  await page.click('#register-form button[type=submit]');
  await expect(page.locator('#register-name-error')).toHaveText('"search" is already registered');
  await page.screenshot({ path: 'test-results/services.png', fullPage: true });
});

test('the quick registration works as a plain HTML form, with errors and a confirmation', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/services');
  await page.fill('#register-name', 'plain-form');
  await page.fill('#register-version', 'v2');
  await page.fill('#register-owner', 'team-html');
  await page.fill('#register-token', 'e2e-token');
  await page.click('#register-form button[type=submit]');
  // Back on the list: the error under its field, what was typed kept (never the token).
  await expect(page.locator('#register-version-error')).toContainText('semantic version');
  await expect(page.locator('#register-name')).toHaveValue('plain-form');
  await expect(page.locator('#register-token')).toHaveValue('');
  await page.fill('#register-version', '2.0.0');
  await page.fill('#register-token', 'e2e-token');
  await page.click('#register-form button[type=submit]');
  await expect(page.locator('#register-status')).toHaveText('Registered plain-form');
  await expect(page.locator('tr[data-service="plain-form"]')).toHaveCount(1);
  // The Register page's checker needs the wasm: it takes no input without it.
  await page.goto('/register');
  await expect(page.locator('#manifest-text')).toBeDisabled();
  await expect(page.locator('#checker-loading')).toBeVisible();
  await context.close();
});
