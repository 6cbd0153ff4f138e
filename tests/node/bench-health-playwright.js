// Playwright's side of the health check benchmark (tests/bench/health.rs runs it):
//   node bench-health-playwright.js RUNS STATE_FILE URL
// Per run, on $CHROME (default /usr/lib/chromium/chromium): chromium.launch(),
// browser.newContext({storageState}), newPage(), page.goto(URL) until its load event, then
// close: the same navigation a `pvault profile check` does, done by hand.
// Prints {"wall_ms": [...], "final_url": "...", "version": "..."}.
'use strict';
const { performance } = require('perf_hooks');
const { chromium } = require('playwright-core');

const executablePath = process.env.CHROME || '/usr/lib/chromium/chromium';

async function once(file, url) {
  const t0 = performance.now();
  const browser = await chromium.launch({ executablePath });
  const context = await browser.newContext({ storageState: file });
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'load' });
  const wall = performance.now() - t0;
  const finalUrl = page.url();
  const version = browser.version();
  await browser.close();
  return { wall, finalUrl, version };
}

async function main() {
  const [runsArg, file, url] = process.argv.slice(2);
  const runs = Number(runsArg);
  if (!(runs > 0) || !file || !url) throw new Error('usage: bench-health-playwright.js RUNS STATE_FILE URL');
  await once(file, url); // warm-up
  const out = { wall_ms: [] };
  for (let i = 0; i < runs; i++) {
    const r = await once(file, url);
    out.wall_ms.push(r.wall);
    out.final_url = r.finalUrl;
    out.version = r.version;
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
