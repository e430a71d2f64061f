// Measures what a visitor on a slow link waits for: the wasm's size on the wire and
// the time until the services page is hydrated, on Chrome DevTools' "Fast 3G" profile
// (562.5 ms latency, 1.44 Mbit/s down), with the assets as Seam serves them (Brotli)
// and, in the same run, uncompressed (what serving the plain files would cost).
//
//   node end2end/bench/hydration.js        (after scripts/build; SEAM_BIN overrides the binary)
const { chromium } = require('playwright-core');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');

const FAST_3G = { offline: false, latency: 562.5, downloadThroughput: (1.44 * 1e6) / 8, uploadThroughput: (675 * 1e3) / 8 };
const RUNS = 3;

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
}

async function waitReady(base) {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/readyz`)).ok) return; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('seam did not start');
}

async function measure(browser, base, encoding) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', FAST_3G);
  if (encoding) await cdp.send('Network.setExtraHTTPHeaders', { headers: { 'Accept-Encoding': encoding } });
  let wasmBytes = 0;
  cdp.on('Network.loadingFinished', (e) => { if (e.encodedDataLength > 100000) wasmBytes = Math.max(wasmBytes, e.encodedDataLength); });
  const started = Date.now();
  await page.goto(`${base}/services`, { waitUntil: 'domcontentloaded' });
  const contentLoaded = Date.now() - started;
  await page.waitForSelector('#app[data-hydrated="true"]', { timeout: 120000 });
  const hydrated = Date.now() - started;
  await context.close();
  return { contentLoaded, hydrated, wasmBytes };
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  const root = path.join(__dirname, '..', '..');
  const bin = process.env.SEAM_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'debug', 'seam');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'seam-bench-'));
  const seam = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--data-dir', data, '--log-level', 'warn'], { stdio: 'inherit' });
  try {
    await waitReady(base);
    for (const file of fs.readdirSync(path.join(root, 'examples', 'manifests'))) {
      await fetch(`${base}/api/v1/manifests`, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: fs.readFileSync(path.join(root, 'examples', 'manifests', file)) });
    }
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    console.log(`services page on "Fast 3G" (562.5 ms, 1.44 Mbit/s), median of ${RUNS} cold loads\n`);
    console.log('assets as served'.padEnd(34) + 'wasm on the wire'.padStart(18) + 'DOM ready'.padStart(12) + 'hydrated'.padStart(12));
    for (const [label, encoding] of [['Brotli (as Seam serves them)', null], ['uncompressed (identity)', 'identity']]) {
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await measure(browser, base, encoding));
      const kb = (median(runs.map((r) => r.wasmBytes)) / 1024).toFixed(0) + ' KiB';
      console.log(label.padEnd(34) + kb.padStart(18) + `${(median(runs.map((r) => r.contentLoaded)) / 1000).toFixed(1)} s`.padStart(12) + `${(median(runs.map((r) => r.hydrated)) / 1000).toFixed(1)} s`.padStart(12));
    }
    await browser.close();
  } finally {
    seam.kill();
    fs.rmSync(data, { recursive: true, force: true });
  }
})().catch((err) => { console.error(err); process.exit(1); });
