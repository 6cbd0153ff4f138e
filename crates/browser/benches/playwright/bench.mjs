// Playwright baseline for the pvault-browser bench: on the same storageState and the same
// Chromium binary, time (1) chromium.launch + browser.newContext({storageState}) and
// (2) context.storageState(). Usage: node bench.mjs STATE.json CHROME RUNS
// Prints {"load_ms": median, "capture_ms": median} on stdout.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [statePath, executablePath, runsArg] = process.argv.slice(2);
const storageState = JSON.parse(readFileSync(statePath, 'utf8'));
const runs = Number(runsArg || 5);
const median = (v) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];

const loads = [];
const captures = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const browser = await chromium.launch({ executablePath, args: ['--disable-background-networking', '--disable-component-update'] });
  const context = await browser.newContext({ storageState });
  loads.push(performance.now() - t0);
  const t1 = performance.now();
  const captured = await context.storageState();
  captures.push(performance.now() - t1);
  if (captured.cookies.length === 0) throw new Error('Playwright loaded no cookies');
  await browser.close();
}
console.log(JSON.stringify({ load_ms: median(loads), capture_ms: median(captures) }));
