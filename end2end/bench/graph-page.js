// Measures the graph page on synthetic fleets: registering them over the REST API, then,
// in Chromium at 1400×900, each view of /graph (grouped by domain, by system, not at all):
// time until the SVG is there and until the page is hydrated, what it draws, the HTML's
// weight, what a mouse move costs, frame times while panning the canvas in small steps,
// the time until a jump to the canvas's middle is drawn, and the time to open a
// collapsed group.
//
//   node end2end/bench/graph-page.js [--sizes 500,5000,20000] [--timeout 120] [--pan 2]
//
// Uses the seam binary as it is (SEAM_BIN, else target/debug/seam; nothing is built) with
// its default site root (SEAM_SITE_ROOT overrides it). Each size gets a fresh seam on a
// free port and a temp data dir, with write token bench-token and no collectors. The
// fleet is deterministic: 8 tiers of services within domains of 100, 3 to 5 `consumes`
// each to the next two tiers (mostly in the domain, some to neighbouring domains, a few
// anywhere), 2% back edges (cycles), systems of 10 (across tiers), teams of 25. A view
// that does not load within --timeout seconds is reported as such. Prints a markdown
// table for BENCHMARKS.md on stdout, progress on stderr. The three sizes take about
// 5 minutes on 2 cores.
const { chromium } = require('playwright-core');
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');

const TOKEN = 'bench-token';
const VIEWPORT = { width: 1400, height: 900 };
const VIEWS = [
  { name: 'domain (default)', path: '/graph' },
  { name: 'system', path: '/graph?group=system' },
  { name: 'none', path: '/graph?group=none' },
];
// PUT /api/v1/manifests takes at most 1 MiB and 1000 documents (catalog Limits::default()).
const BATCH_DOCS = 500;
const BATCH_BYTES = 900 * 1024;

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const SIZES = option('sizes', '500,5000,20000').split(',').map((s) => parseInt(s, 10)).filter((n) => n > 0);
const TIMEOUT_MS = parseFloat(option('timeout', '120')) * 1000;
const PAN_MS = parseFloat(option('pan', '2')) * 1000;
const HOVER_LIMIT_MS = 5000;
const HOVER_BUDGET_MS = 15000;
const JUMP_LIMIT_MS = 30000;

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
}

async function waitReady(base, seam) {
  for (let i = 0; i < 300; i++) {
    if (seam.exitCode !== null) throw new Error(`seam exited with ${seam.exitCode}`);
    try { if ((await fetch(`${base}/readyz`)).ok) return; } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('seam did not start');
}

// A small deterministic PRNG (mulberry32).
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n, width) => String(n).padStart(width, '0');
const TIERS = 8;
const DOMAIN_SIZE = 100;
const SYSTEM_SIZE = 10;
const TEAM_SIZE = 25;

/// The fleet of `n` services as YAML documents, and how many `consumes` it declares.
function fleet(n) {
  const rand = prng(0x5ea + n);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const domains = Math.ceil(n / DOMAIN_SIZE);
  const domainLen = (d) => Math.min(DOMAIN_SIZE, n - d * DOMAIN_SIZE);
  const tierOf = (d, p) => Math.floor((p * TIERS) / domainLen(d));
  // Services by domain and tier.
  const byTier = [];
  for (let d = 0; d < domains; d++) {
    byTier.push(Array.from({ length: TIERS }, () => []));
    for (let p = 0; p < domainLen(d); p++) byTier[d][tierOf(d, p)].push(d * DOMAIN_SIZE + p);
  }
  const target = (d, t) => {
    for (let tt = Math.min(t, TIERS - 1); tt >= 0; tt--) if (byTier[d][tt].length) return pick(byTier[d][tt]);
    return null;
  };
  const docs = [];
  let edges = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.floor(i / DOMAIN_SIZE);
    const p = i % DOMAIN_SIZE;
    const t = tierOf(d, p);
    const consumes = new Set();
    if (t < TIERS - 1) {
      const k = 3 + (rand() < 0.5 ? 1 : 0) + (rand() < 0.25 ? 1 : 0);
      for (let j = 0; j < k; j++) {
        const tier = t + (rand() < 0.75 ? 1 : 2);
        const r = rand();
        let dd = d;
        if (r > 0.95) dd = Math.floor(rand() * domains);
        else if (r > 0.8) dd = (d + 1 + Math.floor(rand() * 3)) % domains;
        const to = target(dd, tier);
        if (to !== null && to !== i) consumes.add(to);
      }
    }
    if (t > 0 && rand() < 0.02) {
      const to = target(d, t - 1);
      if (to !== null && to !== i) consumes.add(to);
    }
    edges += consumes.size;
    const lines = [
      'apiVersion: seam.dev/v1',
      'kind: Service',
      'metadata:',
      `  name: svc-${pad(i, 5)}`,
      'spec:',
      '  version: 1.0.0',
      `  owner: team-${pad(Math.floor(i / TEAM_SIZE), 3)}`,
      `  domain: domain-${pad(d, 3)}`,
      `  system: system-${pad(d * (DOMAIN_SIZE / SYSTEM_SIZE) + (p % (DOMAIN_SIZE / SYSTEM_SIZE)), 4)}`,
      '  lifecycle: production',
    ];
    if (consumes.size) {
      lines.push('  consumes:');
      for (const to of consumes) {
        const r = rand();
        const [mode, protocol] = r < 0.85 ? ['sync', 'http'] : r < 0.95 ? ['async', 'event'] : ['sync', 'grpc'];
        lines.push(`    - {service: svc-${pad(to, 5)}, mode: ${mode}, protocol: ${protocol}}`);
      }
    }
    docs.push(lines.join('\n') + '\n');
  }
  return { docs, edges };
}

/// Registers the documents in batches under the API's limits; references to services of
/// later batches are only warnings, so one pass in any order is enough.
async function register(base, docs) {
  let batch = [];
  let bytes = 0;
  let requests = 0;
  let warnings = 0;
  const times = [];
  const flush = async () => {
    if (!batch.length) return;
    const t = Date.now();
    const res = await fetch(`${base}/api/v1/manifests`, {
      method: 'PUT',
      headers: { 'content-type': 'application/yaml', Authorization: `Bearer ${TOKEN}` },
      body: batch.join('---\n'),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`PUT /api/v1/manifests: ${res.status} ${text.slice(0, 500)}`);
    warnings += (JSON.parse(text).warnings || []).length;
    times.push(Date.now() - t);
    requests++;
    batch = [];
    bytes = 0;
  };
  for (const doc of docs) {
    const size = Buffer.byteLength(doc) + 4;
    if (batch.length >= BATCH_DOCS || bytes + size > BATCH_BYTES) await flush();
    batch.push(doc);
    bytes += size;
  }
  await flush();
  return { requests, warnings, first: times[0], last: times[times.length - 1] };
}

// Runs in the page before its scripts: notes (in ms since navigation start) when #graph
// appears and when #app says it is hydrated.
function probe() {
  const marks = (window.__bench = { graph: null, hydrated: null });
  const check = () => {
    if (marks.graph === null && document.getElementById('graph')) marks.graph = performance.now();
    const app = document.getElementById('app');
    if (marks.hydrated === null && app && app.getAttribute('data-hydrated') === 'true') marks.hydrated = performance.now();
    if (marks.graph !== null && marks.hydrated !== null) observer.disconnect();
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-hydrated'] });
}

/// Pans `.graph-canvas` in small steps, one per animation frame, for `ms`; returns the
/// intervals between frames.
function pan(ms) {
  const el = document.querySelector('.graph-canvas');
  if (!el) return null;
  const maxX = el.scrollWidth - el.clientWidth;
  const maxY = el.scrollHeight - el.clientHeight;
  let dx = 12;
  let dy = 6;
  const intervals = [];
  return new Promise((resolve) => {
    let last = null;
    let start = null;
    const frame = (t) => {
      if (last !== null) intervals.push(t - last);
      if (start === null) start = t;
      last = t;
      if (maxX > 0) {
        if (el.scrollLeft + dx > maxX || el.scrollLeft + dx < 0) dx = -dx;
        el.scrollLeft += dx;
      }
      if (maxY > 0) {
        if (el.scrollTop + dy > maxY || el.scrollTop + dy < 0) dy = -dy;
        el.scrollTop += dy;
      }
      if (t - start < ms) requestAnimationFrame(frame);
      else resolve({ intervals, maxX, maxY, elapsed: t - start });
    };
    requestAnimationFrame(frame);
  });
}

const quantile = (xs, q) => {
  if (!xs.length) return null;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timeout: ${what} after ${ms / 1000} s`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/// Jumps to the middle of the canvas (as dragging a scroll bar does) and times until two
/// frames have started there; then moves the mouse onto up to 6 visible nodes in turn
/// (each one's :hover outline) and off them, and returns the median and the slowest time
/// from a move until two frames have started after it.
async function hover(page) {
  let jump = null;
  try {
    jump = await withTimeout(page.evaluate(async () => {
      const canvas = document.querySelector('.graph-canvas');
      if (!canvas) return null;
      canvas.scrollIntoView({ block: 'start' });
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())));
      const t = performance.now();
      canvas.scrollLeft = (canvas.scrollWidth - canvas.clientWidth) / 2;
      canvas.scrollTop = (canvas.scrollHeight - canvas.clientHeight) / 2;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())));
      return performance.now() - t;
    }), JUMP_LIMIT_MS, 'jump');
  } catch (_) {
    // The renderer is busy for longer than that: no hover measured on this page.
    return { jump: null, p50: null, max: null, moves: 0, skipped: true };
  }
  const points = await page.evaluate(() => {
    const canvas = document.querySelector('.graph-canvas');
    if (!canvas) return [];
    const c = canvas.getBoundingClientRect();
    const bottom = Math.min(c.bottom, innerHeight);
    const found = [];
    for (const el of document.querySelectorAll('#graph a.node')) {
      const r = el.getBoundingClientRect();
      const x = r.left + r.width / 2;
      const y = r.top + r.height / 2;
      if (x > c.left && x < c.right && y > c.top + 30 && y < bottom) found.push([x, y]);
      if (found.length >= 6) break;
    }
    return found;
  });
  const times = [];
  const started = Date.now();
  for (const [px, py] of points.flatMap(([x, y]) => [[x, y], [x, y - 30]])) {
    // Stops at the first move that takes longer than HOVER_LIMIT_MS, or once the moves
    // have taken HOVER_BUDGET_MS (the page is left for good then: see measureView).
    if (Date.now() - started > HOVER_BUDGET_MS) break;
    const t = Date.now();
    try {
      await withTimeout((async () => {
        await page.mouse.move(px, py);
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
      })(), HOVER_LIMIT_MS, 'hover');
    } catch (_) {
      return { jump, p50: times.length ? quantile(times, 0.5) : null, max: null, moves: times.length, stuck: true };
    }
    times.push(Date.now() - t);
  }
  return { jump, p50: times.length ? quantile(times, 0.5) : null, max: times.length ? Math.max(...times) : null, moves: times.length };
}

/// Clicks the first collapsed group, as a user would, and waits until its box is drawn
/// and the page is hydrated (a full page load would have to hydrate again), then for the
/// next frame; returns the ms that took and what is drawn then.
async function openGroup(page) {
  const target = await page.evaluate(() => {
    const el = document.querySelector('#graph a.node.kind-cluster');
    el.scrollIntoView({ block: 'center', inline: 'center' });
    const r = el.getBoundingClientRect();
    return { key: el.getAttribute('data-node').replace(/^cluster:/, ''), x: r.left + r.width / 2, y: r.top + r.height / 2 };
  });
  const { key } = target;
  await page.mouse.move(target.x, target.y);
  await page.evaluate(() => { window.__benchSamePage = true; });
  // The new view's data, if the router fetches it (a server function under /rpc/).
  const rpc = page.waitForResponse((r) => r.url().includes('/rpc/'), { timeout: TIMEOUT_MS }).catch(() => null);
  const started = Date.now();
  try {
    // The mouse, not locator.click(): Playwright's actionability checks alone take
    // seconds on a big SVG.
    await page.mouse.down();
    await page.mouse.up();
    await page.waitForSelector(`#graph [data-group="${key}"]`, { state: 'attached', timeout: TIMEOUT_MS });
    await page.waitForSelector('#app[data-hydrated="true"]', { state: 'attached', timeout: TIMEOUT_MS });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  } catch (err) {
    return { key, ms: null, error: `timeout after ${((Date.now() - started) / 1000).toFixed(0)} s` };
  }
  const ms = Date.now() - started;
  const after = await page.evaluate(() => ({
    clientSide: window.__benchSamePage === true,
    // After a page load: the new document's own timings.
    timeOrigin: performance.timeOrigin,
    ttfb: performance.getEntriesByType('navigation')[0].responseStart,
    hydratedAt: window.__bench && window.__bench.hydrated,
    nodes: document.querySelectorAll('#graph .node').length,
    edges: document.querySelectorAll('#graph path.edge').length,
  }));
  if (!after.clientSide) after.navigationAfter = after.timeOrigin - started;
  const response = await Promise.race([rpc, null]);
  if (response) {
    const timing = response.request().timing();
    after.rpcMs = timing.responseEnd;
    after.rpcBytes = (await response.body().catch(() => Buffer.alloc(0))).length;
  }
  return { key, ms, ...after };
}

/// Opens the view in a new page at 1400×900 and waits until it is hydrated and its graph
/// (or its message) is there; returns the page, or an error saying how long it waited.
async function load(browser, base, view) {
  const context = await browser.newContext({ viewport: VIEWPORT });
  await context.addInitScript(probe);
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const started = Date.now();
  try {
    await page.goto(`${base}${view.path}`, { waitUntil: 'commit', timeout: TIMEOUT_MS });
    await page.waitForSelector('#app[data-hydrated="true"]', { state: 'attached', timeout: TIMEOUT_MS - (Date.now() - started) });
    await page.waitForFunction(() => window.__bench && window.__bench.hydrated !== null && (window.__bench.graph !== null || !!document.querySelector('.empty, .error')), null, { timeout: Math.max(1000, TIMEOUT_MS - (Date.now() - started)) });
  } catch (err) {
    await context.close().catch(() => {});
    return { context: null, error: `timeout after ${((Date.now() - started) / 1000).toFixed(0)} s` };
  }
  return { context, page };
}

async function measureView(browser, base, view) {
  const result = { view: view.name };
  const { context, page, error } = await load(browser, base, view);
  if (error) return { ...result, error };
  try {
    const facts = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const svg = document.getElementById('graph');
      const size = (text) => new Blob([text]).size;
      return {
        marks: window.__bench,
        ttfb: nav.responseStart,
        htmlBytes: nav.decodedBodySize,
        htmlWire: nav.encodedBodySize,
        // What the HTML is made of: the SVG's markup, and inline scripts (the serialized
        // data hydration resumes from), as the DOM serializes them now.
        svgBytes: svg ? size(svg.outerHTML) : 0,
        scriptBytes: [...document.scripts].reduce((sum, el) => sum + size(el.textContent), 0),
        domNodes: document.getElementsByTagName('*').length,
        nodes: document.querySelectorAll('#graph .node').length,
        clusters: document.querySelectorAll('#graph .node.kind-cluster').length,
        edges: document.querySelectorAll('#graph path.edge').length,
        width: svg ? Number(svg.getAttribute('width')) : null,
        height: svg ? Number(svg.getAttribute('height')) : null,
      };
    });
    Object.assign(result, facts, { graphAt: facts.marks.graph, hydratedAt: facts.marks.hydrated });
    // What a mouse move's hit test costs at points of the visible canvas (SVG strokes
    // are tested precisely).
    result.hitTest = await page.evaluate(() => {
      const el = document.querySelector('.graph-canvas');
      if (!el) return null;
      const box = el.getBoundingClientRect();
      const times = [];
      for (let i = 1; i <= 5; i++) {
        const t = performance.now();
        document.elementFromPoint(box.left + (box.width * i) / 6, box.top + Math.min(box.height, innerHeight - box.top) / 2);
        times.push(performance.now() - t);
      }
      return times.sort((a, b) => a - b)[2];
    });
    try {
      const panned = await withTimeout(page.evaluate(pan, PAN_MS), PAN_MS + TIMEOUT_MS, 'panning');
      if (panned) {
        const xs = panned.intervals;
        result.frames = xs.length;
        result.p50 = quantile(xs, 0.5);
        result.p95 = quantile(xs, 0.95);
        result.max = xs.length ? Math.max(...xs) : null;
        result.panElapsed = panned.elapsed;
        // rAF timestamps are vsync-aligned; 1 ms of slack keeps jitter from counting.
        result.slow = xs.length ? xs.filter((x) => x > 16.7 + 1).length / xs.length : null;
        result.scrollX = panned.maxX;
        result.scrollY = panned.maxY;
      }
    } catch (err) {
      result.panError = err.message;
    }
    // Last on this page: a stuck renderer is left behind with its context.
    result.hover = await hover(page);
  } finally {
    await context.close().catch(() => {});
  }
  // Opening a group, on a page of its own that nothing has hovered or panned.
  if (result.clusters > 0) {
    const fresh = await load(browser, base, view);
    if (fresh.error) {
      result.open = { ms: null, error: `reload: ${fresh.error}` };
    } else {
      try {
        result.open = await openGroup(fresh.page);
      } finally {
        await fresh.context.close().catch(() => {});
      }
    }
  }
  return result;
}

const ms = (x) => (x === null || x === undefined ? '–' : x >= 10000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);
const kib = (x) => (x === null || x === undefined ? '–' : x >= 1024 * 1024 ? `${(x / 1024 / 1024).toFixed(1)} MiB` : `${Math.round(x / 1024)} KiB`);
const frame = (x) => (x === null || x === undefined ? '–' : `${x.toFixed(1)} ms`);
const num = (x) => (x === null || x === undefined ? '–' : x.toLocaleString('en-US'));

async function runSize(browser, bin, n) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'seam-bench-'));
  // No collectors: the OTLP receivers' fixed ports may be taken by another seam.
  const config = path.join(data, 'bench.toml');
  fs.writeFileSync(config, '[collectors.otlp]\nenabled = false\n\n[collectors.scrape]\nenabled = false\n');
  const args = ['--listen', `127.0.0.1:${port}`, '--data-dir', data, '--log-level', 'warn', '--api-token', TOKEN, '--config', config];
  const seam = spawn(bin, args, { stdio: ['ignore', 2, 2] });
  const out = { n, rows: [] };
  try {
    await waitReady(base, seam);
    const { docs, edges } = fleet(n);
    out.edges = edges;
    const t0 = Date.now();
    const reg = await register(base, docs);
    out.registerMs = Date.now() - t0;
    out.requests = reg.requests;
    out.firstBatchMs = reg.first;
    out.lastBatchMs = reg.last;
    console.error(`${n} services, ${edges} consumes: registered in ${(out.registerMs / 1000).toFixed(1)} s (${reg.requests} requests, ${reg.warnings} warnings about services of later batches)`);
    // The first /graph after the catalog changed computes the analysis; the views
    // measured below reuse it while the minute lasts.
    const t1 = Date.now();
    await withTimeout(fetch(`${base}/graph`).then((r) => r.text()), TIMEOUT_MS, 'first /graph');
    out.firstGraphMs = Date.now() - t1;
    console.error(`  first GET /graph (analysis computed): ${ms(out.firstGraphMs)}`);
    for (const view of VIEWS) {
      const viewStarted = Date.now();
      const row = await measureView(browser, base, view);
      out.rows.push(row);
      console.error(`  ${view.path} (${((Date.now() - viewStarted) / 1000).toFixed(0)} s): ${row.error || `graph ${ms(row.graphAt)}, hydrated ${ms(row.hydratedAt)}, ${num(row.nodes)} nodes, ${num(row.edges)} edges, jump ${row.hover ? ms(row.hover.jump) : '–'}, hover ${row.hover ? ms(row.hover.p50) : '–'}, pan p50 ${frame(row.p50)} p95 ${frame(row.p95)}${row.open ? `, open group ${ms(row.open.ms)}` : ''}`}`);
    }
  } catch (err) {
    out.error = err.message;
    console.error(`  ${n}: ${err.message}`);
  } finally {
    seam.kill();
    await new Promise((r) => (seam.exitCode !== null ? r() : seam.once('exit', r)));
    fs.rmSync(data, { recursive: true, force: true });
  }
  return out;
}

(async () => {
  const root = path.join(__dirname, '..', '..');
  const bin = process.env.SEAM_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'debug', 'seam');
  if (!fs.existsSync(bin)) throw new Error(`no seam binary at ${bin} (set SEAM_BIN)`);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const version = browser.version();
  const results = [];
  const started = Date.now();
  try {
    for (const n of SIZES) results.push(await runSize(browser, bin, n));
  } finally {
    await browser.close();
  }
  const command = `node end2end/bench/graph-page.js --sizes ${SIZES.join(',')}` + (process.argv.includes('--timeout') ? ` --timeout ${TIMEOUT_MS / 1000}` : '') + (process.argv.includes('--pan') ? ` --pan ${PAN_MS / 1000}` : '');
  let commit = '';
  try {
    const git = (...args) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    commit = ` at ${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? ' with uncommitted changes' : ''}`;
  } catch (_) { /* not a checkout */ }
  const built = fs.statSync(bin).mtime.toISOString().replace(/:\d\d\.\d+Z$/, 'Z').replace('T', ' ');
  const lines = [];
  lines.push(`Graph page, Chromium ${version} headless (--disable-gpu) at ${VIEWPORT.width}×${VIEWPORT.height}, seam ${path.relative(root, bin) || bin} (built ${built})${commit}; ${os.cpus().length} cores (${os.cpus()[0].model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}.`);
  lines.push(`Command: \`${command}\` (${((Date.now() - started) / 1000).toFixed(0)} s in all).`);
  lines.push('');
  lines.push(`| services | consumes | register (requests of ≤ ${BATCH_DOCS}) | first / last request | first GET /graph |`);
  lines.push('|---:|---:|---:|---:|---:|');
  for (const r of results) {
    lines.push(`| ${num(r.n)} | ${num(r.edges)} | ${r.registerMs !== undefined ? `${ms(r.registerMs)} (${r.requests})` : '–'} | ${ms(r.firstBatchMs)} / ${ms(r.lastBatchMs)} | ${r.error ? r.error : `${ms(r.firstGraphMs)}`} |`);
  }
  lines.push('');
  lines.push('| services | view | TTFB | #graph | hydrated | HTML: all / SVG / scripts (on the wire) | DOM elements | nodes (groups) | edges | SVG size (px) | hit test | jump to the middle | hover p50 / max | pan p50 | pan p95 | pan max | frames > 16.7 ms | open a group |');
  lines.push('|---:|---|' + '---:|'.repeat(15) + '---|');
  for (const r of results) {
    for (const v of r.rows) {
      if (v.error) {
        lines.push(`| ${num(r.n)} | ${v.view} | ${v.error} |${' |'.repeat(15)}`);
        continue;
      }
      const open = !v.open ? '–' : v.open.ms === null ? v.open.error : `${ms(v.open.ms)} (${v.open.clientSide ? 'in the page' : `page load starting after ${ms(v.open.navigationAfter)}, then TTFB ${ms(v.open.ttfb)}, hydrated ${ms(v.open.hydratedAt)}`}${v.open.rpcMs !== undefined ? `, data ${ms(v.open.rpcMs)}, ${kib(v.open.rpcBytes)}` : ''}; then ${num(v.open.nodes)} nodes, ${num(v.open.edges)} edges)`;
      const panCells = v.panError ? [v.panError, '', '', ''] : [frame(v.p50), frame(v.p95), frame(v.max), v.slow === null || v.slow === undefined ? '–' : `${(v.slow * 100).toFixed(0)}% of ${v.frames}`];
      const html = `${kib(v.htmlBytes)} / ${kib(v.svgBytes)} / ${kib(v.scriptBytes)} (${kib(v.htmlWire)})`;
      lines.push(`| ${num(r.n)} | ${v.view} | ${ms(v.ttfb)} | ${ms(v.graphAt)} | ${ms(v.hydratedAt)} | ${html} | ${num(v.domNodes)} | ${num(v.nodes)} (${num(v.clusters)}) | ${num(v.edges)} | ${num(Math.round(v.width))}×${num(Math.round(v.height))} | ${frame(v.hitTest)} | ${v.hover ? (v.hover.jump === null ? `> ${JUMP_LIMIT_MS / 1000} s` : ms(v.hover.jump)) : '–'} | ${!v.hover ? '–' : v.hover.skipped ? 'not measured (still drawing)' : v.hover.moves === 0 && !v.hover.stuck ? 'no node in view' : v.hover.stuck ? `${ms(v.hover.p50)} / stuck > ${HOVER_LIMIT_MS / 1000} s after ${v.hover.moves} moves` : `${ms(v.hover.p50)} / ${ms(v.hover.max)}`} | ${panCells.join(' | ')} | ${open} |`);
    }
  }
  lines.push('');
  lines.push(`Times are from navigation start (Navigation Timing) in the page. TTFB: the server renders the whole page before sending it (SsrMode::Async). "nodes (groups)": SVG \`.node\` elements, of which collapsed groups; "hit test": median time of document.elementFromPoint over the canvas (the hit test of a mouse move); "jump to the middle": the canvas scrolled at once to its middle, until two frames have started; "hover" (there): mouse moved onto a node (its :hover outline) or off it, until two frames have started (so 33 ms at best), 12 moves at most, within ${HOVER_BUDGET_MS / 1000} s; "pan": intervals of requestAnimationFrame while \`.graph-canvas\` is scrolled by 12 px × 6 px a frame for ${PAN_MS / 1000} s (1 ms of slack over 16.7 ms for timer jitter); "open a group": on a freshly loaded page, mouse click on the first collapsed group until its box is drawn, the page hydrated and the next frame started. Headless Chromium rasterizes in software.`);
  console.log(lines.join('\n'));
})().catch((err) => { console.error(err); process.exit(1); });
