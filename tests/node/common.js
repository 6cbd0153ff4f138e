// Shared by the scripts the end-to-end suite runs: connecting to a pvault session, and pages
// of the suite's local test server ($TEST_ORIGIN). Every failure exits 99 with the error on
// stderr, so the Rust side can tell a script's own exit code (e.g. 3) from a crash.
'use strict';
const { chromium } = require('playwright-core');

const origin = process.env.TEST_ORIGIN;
const executablePath = process.env.CHROME || '/usr/lib/chromium/chromium';

// The pvault session's browser and its default context (where pvault loads profiles).
async function connect() {
  const url = process.env.PVAULT_CDP_URL;
  if (!url) throw new Error('PVAULT_CDP_URL is not set: run me through `pvault run`');
  const browser = await chromium.connectOverCDP(url);
  const context = browser.contexts()[0];
  if (!context) throw new Error('the session browser has no default context');
  return { browser, context };
}

// Opens /login and waits until its script has stored the token (the title says so).
async function login(page) {
  await page.goto(origin + '/login');
  await page.waitForFunction(() => document.title === 'logged-in');
}

// What the server and the page say about the login: /whoami's title (from the cookie the
// server received) and /app's title (from localStorage).
async function check(page) {
  await page.goto(origin + '/whoami');
  const whoami = await page.title();
  await page.goto(origin + '/app');
  await page.waitForFunction(() => document.title.startsWith('token:'));
  return { whoami, app: await page.title() };
}

// Polls `fn` every 50 ms until it returns something truthy, for at most 10 s.
async function waitFor(fn) {
  for (let i = 0; i < 200; i++) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in 10 s');
}

// Prints {"step": step} and waits for the test to answer with a line on stdin: the test
// checks what it must while the script holds its state (clients connected, pages open).
async function pause(step) {
  console.log(JSON.stringify({ step }));
  const readline = require('readline');
  const rl = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => rl.once('line', resolve));
  rl.close();
}

function main(fn) {
  fn().catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(99);
  });
}

module.exports = { chromium, origin, executablePath, connect, login, check, main, pause, waitFor };
