// Seam's browser tests. Playwright starts its own `seam` on a fresh data directory and
// drives Debian's Chromium (never a downloaded browser). scripts/test sets SEAM_BIN.
const { defineConfig } = require('@playwright/test');
const fs = require('fs');
const os = require('os');
const path = require('path');

const port = process.env.SEAM_E2E_PORT || '3917';
const bin = process.env.SEAM_BIN || path.join(__dirname, '..', 'target', 'debug', 'seam');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'seam-e2e-'));

module.exports = defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    // Write calls of the API need this token (see webServer below).
    extraHTTPHeaders: { Authorization: 'Bearer e2e-token' },
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      // Without the background-networking flags Chromium keeps dialling out, and this
      // machine's network refuses everything but loopback.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  webServer: {
    command: `"${bin}" --listen 127.0.0.1:${port} --data-dir "${dataDir}" --log-level warn --api-token e2e-token --config "${path.join(__dirname, 'seam-e2e.toml')}"`,
    url: `http://127.0.0.1:${port}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
