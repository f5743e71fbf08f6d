// The docs' browser check: serves the built site (site/.vitepress/dist; run `docs:build` first) on
// 127.0.0.1, opens every demo page in headless Chromium (Debian's /usr/bin/chromium, or
// CHROMIUM=<path>) through playwright-core, and asserts that each demo produced its output with
// no console errors and on the wasm backend:
//   gumbel-softmax: 12 samples on the simplex; near one-hot at tau = 0.1, flat at tau = 5; the
//                   Gumbel-Max frequencies beside softmax(logits);
//   variance:       the table has both estimators' columns, a row per N, REINFORCE's variance
//                   above reparameterization's in every row and each near its analytic 87/N, 4/N
//                   (N >= 10), and both plotted against N;
//   flow:           training finishes and the loss of the last 10 steps is well below the first;
//   vae:            the shipped checkpoint loads and decodes a 15x15 latent grid of digit images
//                   (inked, and different across the plane) and 8 prior samples.
// Saves a screenshot per demo to apps/bench/results/screenshots/docs-<demo>.png (the bench report
// can embed them). Exits 1 on any failure, printing one line per check. Usage:
//   node scripts/browser-check.mjs [--dist <dir>] [--out <dir>]
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? resolve(process.argv[i + 1]) : dflt;
};
const dist = arg('--dist', join(here, '..', 'site', '.vitepress', 'dist'));
const outDir = arg('--out', join(here, '..', '..', 'bench', 'results', 'screenshots'));
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const t0 = performance.now();
const cpu0 = process.cpuUsage();

if (!existsSync(join(dist, 'index.html'))) {
  console.error(
    `browser-check: ${dist}/index.html not found; build the site first (pnpm --filter @dgm-js/docs docs:build).`,
  );
  process.exit(1);
}
if (!existsSync(executablePath)) {
  console.error(
    `browser-check: no Chromium at ${executablePath}; install it (apt-get install -y chromium) or set CHROMIUM=<path>.`,
  );
  process.exit(1);
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  let file = normalize(join(dist, decodeURIComponent(url.pathname)));
  if (!file.startsWith(dist)) {
    res.writeHead(403).end();
    return;
  }
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  else if (!existsSync(file) && existsSync(`${file}.html`)) file = `${file}.html`;
  if (!existsSync(file)) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
mkdirSync(outDir, { recursive: true });
const results = [];
const check = (demo, ok, what) => {
  results.push({ demo, ok, what });
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${demo}: ${what}`);
};

/** Opens a demo page, runs `body`, then checks for console errors and saves a screenshot. */
async function demoPage(demo, path, body) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error')
      errors.push(`${m.text()}${m.location()?.url ? ` (${m.location().url})` : ''}`);
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (r) => r.status() >= 400 && errors.push(`HTTP ${r.status()} ${r.url()}`));
  page.on('worker', (w) =>
    w.on('console', (m) => m.type() === 'error' && errors.push(`worker: ${m.text()}`)),
  );
  const started = performance.now();
  try {
    await page.goto(`${base}${path}`, { waitUntil: 'load' });
    const el = page.locator(`[data-demo="${demo}"]`);
    await el.waitFor({ timeout: 30_000 });
    await body(page, el);
    const status = (await el.locator('.status').innerText()).trim();
    check(demo, /on the wasm backend/.test(status), `backend: "${status}"`);
    await el.scrollIntoViewIfNeeded();
    const shot = join(outDir, `docs-${demo}.png`);
    await el.screenshot({ path: shot });
    console.log(`      screenshot ${shot}`);
  } catch (e) {
    check(demo, false, `${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  check(
    demo,
    errors.length === 0,
    errors.length ? `console errors: ${errors.join(' | ')}` : 'no console errors',
  );
  console.log(`      ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await page.close();
}

const done = async (el, timeout) =>
  el
    .page()
    .waitForFunction(
      (node) => ['done', 'error'].includes(node.getAttribute('data-state') ?? ''),
      await el.elementHandle(),
      { timeout },
    );

await demoPage('gumbel', '/demos/gumbel-softmax.html', async (page, el) => {
  const maxMeanAt = async (tau) => {
    await el.locator('[data-testid="temperature"]').fill(String(tau));
    await el.locator('[data-testid="temperature"]').dispatchEvent('change');
    await page.waitForFunction(
      ([node, t]) =>
        node.getAttribute('data-state') !== 'running' && node.textContent.includes(`= ${t}`),
      [await el.elementHandle(), Number(tau).toFixed(2)],
      { timeout: 30_000 },
    );
    await done(el, 30_000);
    return Number(await el.locator('[data-testid="max-mean"]').innerText());
  };
  await done(el, 60_000);
  const rows = await el
    .locator('.sample')
    .evaluateAll((rs) =>
      rs.map((r) =>
        [...r.querySelectorAll('span')].reduce((s, x) => s + Number.parseFloat(x.style.width), 0),
      ),
    );
  check(
    'gumbel',
    rows.length === 12 && rows.every((s) => Math.abs(s - 100) < 0.5),
    `${rows.length} samples drawn, each on the simplex (bar widths sum to ${rows
      .map((s) => s.toFixed(1))
      .slice(0, 3)
      .join(', ')}, ... %)`,
  );
  const cold = await maxMeanAt(0.1);
  const hot = await maxMeanAt(5);
  check(
    'gumbel',
    cold > 0.85 && hot < 0.5,
    `mean largest component ${cold} at tau = 0.1 (near one-hot), ${hot} at tau = 5 (near uniform 0.2)`,
  );
  await maxMeanAt(0.5); // the screenshot at the page's default temperature
  const table = await el.locator('[data-testid="gumbel-max"] tbody tr').allInnerTexts();
  check(
    'gumbel',
    table.length === 2,
    `Gumbel-Max frequencies beside softmax: ${table.join(' / ').replace(/\t/g, ' ')}`,
  );
});

await demoPage('variance', '/demos/variance.html', async (_page, el) => {
  await done(el, 120_000);
  const heads = await el.locator('thead th').allInnerTexts();
  check(
    'variance',
    heads.some((h) => /REINFORCE/.test(h)) && heads.some((h) => /reparameterization/.test(h)),
    `both columns: ${heads.join(' | ')}`,
  );
  const rows = await el
    .locator('[data-testid="variance-row"]')
    .evaluateAll((rs) =>
      rs.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
  const parsed = rows.map(([n, sf, sfA, rp, rpA]) => ({
    n: +n,
    sf: +sf,
    sfA: +sfA,
    rp: +rp,
    rpA: +rpA,
  }));
  check(
    'variance',
    parsed.length === 4 && parsed.every((r) => r.sf > r.rp),
    `${parsed.length} rows, REINFORCE above reparameterization in each`,
  );
  // R = 1000 repeats: for near-Gaussian estimates the sample variance has relative sd
  // sqrt(2/1000) = 4.5%, so 35% is many sd. At N = 1 REINFORCE's term x^2 (x - theta) is heavy-tailed
  // (its sample variance is far noisier), so that row is shown but not checked.
  const near = parsed
    .filter((r) => r.n >= 10)
    .every((r) => Math.abs(r.sf / r.sfA - 1) < 0.35 && Math.abs(r.rp / r.rpA - 1) < 0.35);
  const dots = await el.locator('[data-testid="variance-plot"] circle').count();
  check('variance', dots === 2 * parsed.length, `variance against N plotted: ${dots} points`);
  check(
    'variance',
    near,
    `N >= 10 near 87/N and 4/N: ${parsed.map((r) => `N=${r.n}: ${r.sf} vs ${r.sfA}, ${r.rp} vs ${r.rpA}`).join('; ')}`,
  );
});

await demoPage('flow', '/demos/flow.html', async (_page, el) => {
  await done(el, 150_000);
  const step = Number(await el.locator('[data-testid="step"]').innerText());
  const first = Number(await el.locator('[data-testid="first-loss"]').innerText());
  const last = Number(await el.locator('[data-testid="last-loss"]').innerText());
  check(
    'flow',
    step === 400 && last < first - 0.5,
    `loss decreases: first batch ${first}, last 10 steps ${last} after ${step} steps`,
  );
  const painted = await el.locator('[data-testid="learned"]').evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 128) lit++;
    return lit / (d.length / 4);
  });
  check(
    'flow',
    painted > 0.005 && painted < 0.9,
    `the learned density is drawn (${(100 * painted).toFixed(1)}% of its pixels bright)`,
  );
});

await demoPage('vae', '/demos/vae.html', async (_page, el) => {
  await done(el, 60_000);
  // ink per 28x28 tile of the 15x15 latent grid: digits, not blank, and different across the plane
  const ink = await el.locator('[data-testid="latent-grid"]').evaluate((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const out = [];
    for (let ty = 0; ty < c.height / 28; ty++) {
      for (let tx = 0; tx < c.width / 28; tx++) {
        let s = 0;
        for (let y = 0; y < 28; y++) {
          for (let x = 0; x < 28; x++)
            s += 1 - d[4 * ((ty * 28 + y) * c.width + tx * 28 + x)] / 255;
        }
        out.push(s / 784);
      }
    }
    return out;
  });
  const mean = ink.reduce((a, b) => a + b, 0) / ink.length;
  const sd = Math.sqrt(ink.reduce((a, b) => a + (b - mean) ** 2, 0) / ink.length);
  check(
    'vae',
    ink.length === 225 && mean > 0.03 && mean < 0.5 && sd > 0.01,
    `latent grid decoded: ${ink.length} images, mean ink ${mean.toFixed(3)}, sd across the plane ${sd.toFixed(3)}`,
  );
  const prior = await el.locator('[data-testid="prior-samples"]').evaluate((c) => c.width / 28);
  check('vae', prior === 8, `${prior} samples from the prior decoded`);
});

await browser.close();
server.close();
const failed = results.filter((r) => !r.ok).length;
const cpu = process.cpuUsage(cpu0);
console.log(
  `browser-check: ${results.length - failed} passed, ${failed} failed in ${((performance.now() - t0) / 1000).toFixed(1)} s (this process ${((cpu.user + cpu.system) / 1e6).toFixed(1)} CPU s; Chromium not counted)`,
);
process.exit(failed ? 1 : 0);
