// Playwright's side of the session benchmark (tests/bench/sessions.rs runs it):
//   node bench-playwright.js RUNS NAME=FILE [NAME=FILE…]
// For each run and each storageState file, on $CHROME (default /usr/lib/chromium/chromium):
//   launch_ms          chromium.launch() until it resolves;
//   launch_context_ms  launch() + browser.newContext({storageState}) (the whole load);
//   storage_state_ms   context.storageState() on that context (the capture), with
//                      {indexedDB: true} when the file has IndexedDB (else Playwright would
//                      not read it).
// Prints one JSON document: {"<name>": {"launch_ms": [...], "launch_context_ms": [...],
// "storage_state_ms": [...], "cookies": n, "origins": n}, "version": "<browser version>"}.
'use strict';
const { performance } = require('perf_hooks');
const { chromium } = require('playwright-core');

const executablePath = process.env.CHROME || '/usr/lib/chromium/chromium';

async function once(file) {
  const fs = require('fs');
  const indexedDB = JSON.parse(fs.readFileSync(file, 'utf8')).origins.some((o) => o.indexedDB);
  const t0 = performance.now();
  const browser = await chromium.launch({ executablePath });
  const t1 = performance.now();
  const context = await browser.newContext({ storageState: file });
  const t2 = performance.now();
  const state = await context.storageState({ indexedDB });
  const t3 = performance.now();
  const version = browser.version();
  await browser.close();
  return {
    launch: t1 - t0,
    launchContext: t2 - t0,
    storageState: t3 - t2,
    cookies: state.cookies.length,
    origins: state.origins.length,
    records: state.origins
      .flatMap((o) => o.indexedDB || [])
      .flatMap((d) => d.stores)
      .reduce((n, s) => n + s.records.length, 0),
    version,
  };
}

async function main() {
  const [runsArg, ...pairs] = process.argv.slice(2);
  const runs = Number(runsArg);
  if (!(runs > 0) || pairs.length === 0) {
    throw new Error('usage: bench-playwright.js RUNS NAME=FILE [NAME=FILE…]');
  }
  const out = {};
  const states = pairs.map((p) => p.split('='));
  for (const [name] of states) {
    out[name] = { launch_ms: [], launch_context_ms: [], storage_state_ms: [] };
  }
  // One warm-up launch so the first measured run does not pay for a cold page cache.
  await once(states[0][1]);
  for (let i = 0; i < runs; i++) {
    for (const [name, file] of states) {
      const r = await once(file);
      out[name].launch_ms.push(r.launch);
      out[name].launch_context_ms.push(r.launchContext);
      out[name].storage_state_ms.push(r.storageState);
      out[name].cookies = r.cookies;
      out[name].origins = r.origins;
      out[name].records = r.records;
      out.version = r.version;
    }
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(99);
});
