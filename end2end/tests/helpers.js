const { expect } = require('@playwright/test');

/** Waits until the wasm has loaded and hydrated the page (the app sets the marker). */
async function waitForHydration(page) {
  await expect(page.locator('#app')).toHaveAttribute('data-hydrated', 'true');
}

/** Marks the current document, to prove later that no page load replaced it. */
async function markDocument(page) {
  await page.evaluate(() => { window.__seamSameDocument = true; });
}

async function expectSameDocument(page) {
  expect(await page.evaluate(() => window.__seamSameDocument === true)).toBe(true);
}

/** Registers a service over the REST API and checks it was created. */
async function registerOverApi(request, service) {
  const response = await request.post('/api/v1/services', { data: service });
  expect(response.status(), await response.text()).toBe(201);
}

module.exports = { waitForHydration, markDocument, expectSameDocument, registerOverApi };
