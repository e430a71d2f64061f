const { test, expect } = require('@playwright/test');
const { waitForHydration, markDocument, expectSameDocument, registerOverApi } = require('./helpers');

test.describe.configure({ mode: 'serial' });

test('services registered over the API are server-rendered, and the filter works after hydration', async ({ page, request }) => {
  await registerOverApi(request, { name: 'checkout', version: '1.4.0', owner: 'team-payments' });
  await registerOverApi(request, { name: 'basket', version: '0.9.1', owner: 'team-shop' });

  // The server's HTML already lists them, before any script runs.
  const html = await (await request.get('/')).text();
  expect(html).toContain('checkout');
  expect(html).toContain('team-shop');

  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto('/');
  await waitForHydration(page);
  await markDocument(page);

  // Other spec files share this server: count relative to what is there.
  const rows = page.locator('table.services tbody tr');
  const total = await rows.count();
  expect(total).toBeGreaterThanOrEqual(2);
  await page.fill('#service-filter', 'pay');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-service', 'checkout');
  await expect(page.locator('#service-count')).toHaveText(`1 of ${total} services`);
  await page.fill('#service-filter', '');
  await expect(rows).toHaveCount(total);

  // The team filter and sorting work in the browser too.
  await page.selectOption('#filter-owner', 'team-shop');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-service', 'basket');
  await page.selectOption('#filter-owner', '');
  await page.click('button.sort[data-sort="Name"]');
  const names = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.service));
  expect(names).toEqual([...names].sort().reverse());

  await expectSameDocument(page);
  expect(errors).toEqual([]);
});

test('the registration form shows validation errors inline and registers through a server function', async ({ page, request }) => {
  await page.goto('/');
  await waitForHydration(page);
  await markDocument(page);

  await page.fill('#register-name', 'search');
  await page.fill('#register-version', '1.2.0');
  await page.fill('#register-owner', 'team-discovery');
  // This Seam has an API token: without it the form registers nothing.
  await page.click('#register-form button[type=submit]');
  await expect(page.locator('#register-token-error')).toHaveText('a valid API token is required to register');
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
