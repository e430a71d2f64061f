// Every page at desktop and phone widths: no serious or critical accessibility
// violations (axe-core, WCAG 2.2 AA rules), a title of its own, no sideways scrolling.
const { test, expect } = require('@playwright/test');
const AxeBuilder = require('@axe-core/playwright').default;
const { waitForHydration } = require('./helpers');

test.describe.configure({ mode: 'serial' });

const manifest = `apiVersion: seam.dev/v1
kind: Service
metadata:
  name: a11y-orders
  description: Takes orders for the accessibility checks
  links: [{url: "https://runbooks.example/orders", title: Runbook}]
spec:
  version: 1.2.0
  owner: team-a11y
  domain: a11y-commerce
  system: a11y-shop
  lifecycle: production
  instances:
    - baseUrl: http://127.0.0.1:9
  provides:
    - {name: a11y-orders-api, version: 1.2.0, protocol: http}
  consumes:
    - {service: a11y-payments, version: "^2.0", mode: sync, protocol: http}
  datastores:
    - {name: a11y-db, kind: postgresql, access: shared}
  libraries:
    - {name: seam-client, version: 0.3.1}
`;

const pages = [
  { path: '/', heading: 'Overview' },
  { path: '/services', heading: 'Services' },
  { path: '/targets', heading: 'Targets' },
  { path: '/services/a11y-orders', heading: 'a11y-orders' },
  { path: '/teams', heading: 'Teams' },
  { path: '/domains', heading: 'Domains' },
  { path: '/register', heading: 'Register' },
  { path: '/graph', heading: 'Graph' },
  { path: '/findings', heading: 'Findings' },
  { path: '/versions', heading: 'Versions' },
  { path: '/no-such-page', heading: 'Not found' },
];

test.beforeAll(async ({ request }) => {
  for (const version of ['1.1.0', '1.2.0']) {
    const put = await request.put('/api/v1/manifests', {
      headers: { 'content-type': 'application/yaml' },
      data: manifest.replace('version: 1.2.0\n  owner', `version: ${version}\n  owner`),
    });
    expect(put.status(), await put.text()).toBe(200);
  }
});

for (const width of [1400, 390]) {
  test(`every page at ${width} px: accessible, titled, no sideways scroll`, async ({ page }) => {
    await page.setViewportSize({ width, height: 900 });
    const titles = new Set();
    for (const { path } of pages) {
      await page.goto(path);
      await waitForHydration(page);
      const title = await page.title();
      expect(title, path).toMatch(/ · Seam$/);
      titles.add(title);
      const overflow = await page.evaluate(() => document.scrollingElement.scrollWidth - window.innerWidth);
      expect(overflow, `${path} scrolls sideways by ${overflow} px`).toBeLessThanOrEqual(0);
      const results = await new AxeBuilder({ page })
        .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
        .analyze();
      const serious = results.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
      expect(serious, `${path} at ${width} px`).toEqual([]);
      await page.screenshot({ path: `test-results/page-${width}${path.replaceAll('/', '-')}.png`, fullPage: true });
    }
    expect(titles.size).toBe(pages.length);
  });
}

test('a skip link leads to the content, and in-app navigation moves focus to the heading', async ({ page }) => {
  await page.goto('/services');
  await waitForHydration(page);
  await page.keyboard.press('Tab');
  const skip = page.locator('a.skip-link');
  await expect(skip).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('#main')).toBeFocused();
  await page.click('nav a[href="/teams"]');
  await expect(page.locator('main h1')).toHaveText('Teams');
  await expect(page.locator('main h1')).toBeFocused();
});

test('times show in the viewer\'s time zone, with the zone named and UTC on hover', async ({ browser }) => {
  const context = await browser.newContext({ timezoneId: 'Asia/Tokyo' });
  const page = await context.newPage();
  await page.goto('/services/a11y-orders');
  await waitForHydration(page);
  const time = page.locator('#history time').first();
  await expect(time).toHaveAttribute('datetime', /Z$/);
  await expect(time).toHaveAttribute('title', /Z$/);
  // Tokyo is UTC+9 and names itself so.
  await expect(time).toContainText(/GMT\+9|JST/);
  await context.close();
});
