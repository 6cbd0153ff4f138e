// A busy Playwright client in a pvault session ($PVAULT_CDP_URL) while the daemon checkpoints
// it (tests/e2e/checkpoints.rs): for SECONDS it navigates one page of the default context
// between pages of the given ORIGINs (two origins make a checkpoint meet an origin that was
// written and left), writes a counter into localStorage and `document.cookie`, reads both back
// after every step, and runs `page.evaluate` round trips. A checkpoint must change nothing a
// client can see, so it records what one could have disturbed: pages appearing in the context,
// page errors and console errors, the page count and viewport at start and end, and any failed
// read-back, error or timeout.
//
// With --indexeddb, every write also puts the counter into IndexedDB (database `busy-db`,
// store `kv`, keys `pw-counter` and `pw-key-<n % 5>`, one transaction), and every read-back
// reads it too: checkpoints must see those writes and never make one revert.
//
// Usage: node busy-playwright.js [--indexeddb] SECONDS ORIGIN [ORIGIN...]
// Prints one JSON line: {iterations, counter (the last value written), last: {origin: value
// last written there}, idb_writes (with --indexeddb), pages_opened, page_errors, console_errors, problems, pages_at_start,
// pages_at_end, viewport_at_start/end, window_at_start/end}. Exits 0 when nothing was
// disturbed; otherwise 1 with the problems on stderr (99 when it crashed, see common.js).
// Disconnects with browser.close(), which for connectOverCDP leaves the browser running.
'use strict';
const { connect, main } = require('./common');

// Three documents per origin; the query string makes each visit a real navigation.
const PATHS = ['/busy/one', '/busy/two', '/app'];
// A step that takes longer than this fails the run instead of hanging it.
const STEP_TIMEOUT_MS = 10000;

// What the page sees of the counter: its localStorage key and its cookie, and with `idb` its
// IndexedDB record (null when there is none).
function readBack(page, idb) {
  return page.evaluate(async (idb) => {
    const c = document.cookie.split('; ').find((kv) => kv.startsWith('pwc='));
    const seen = {
      storage: localStorage.getItem('pw-counter'),
      cookie: c ? c.slice('pwc='.length) : null,
    };
    if (idb) {
      seen.idb = await new Promise((resolve, reject) => {
        const open = indexedDB.open('busy-db', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('kv');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const get = db.transaction('kv').objectStore('kv').get('pw-counter');
          get.onsuccess = () => {
            db.close();
            resolve(get.result === undefined ? null : String(get.result));
          };
          get.onerror = () => reject(get.error);
        };
      });
    }
    return seen;
  }, idb);
}

// Puts the counter into IndexedDB (one transaction, committed before it resolves).
function idbWrite(page, v) {
  return page.evaluate(
    (v) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('busy-db', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('kv');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction('kv', 'readwrite');
          tx.objectStore('kv').put(v, 'pw-counter');
          tx.objectStore('kv').put(v, 'pw-key-' + (v % 5));
          tx.oncomplete = () => {
            db.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    v,
  );
}

function innerSize(page) {
  return page.evaluate(() => ({ width: window.innerWidth, height: window.innerHeight }));
}

main(async () => {
  let args = process.argv.slice(2);
  const idb = args[0] === '--indexeddb';
  if (idb) args = args.slice(1);
  const [secs, ...origins] = args;
  const seconds = Number(secs);
  if (!(seconds > 0) || origins.length === 0) {
    throw new Error('usage: node busy-playwright.js [--indexeddb] SECONDS ORIGIN [ORIGIN...]');
  }
  const { browser, context } = await connect();
  const report = {
    iterations: 0,
    counter: 0,
    last: {},
    pages_opened: [],
    page_errors: [],
    console_errors: [],
    problems: [],
  };
  if (idb) report.idb_writes = 0;
  // Whether what the page read back is `v` in every store the run writes.
  const holds = (seen, v) =>
    seen.storage === String(v) && seen.cookie === String(v) && (!idb || seen.idb === String(v));
  const problem = (p) => {
    if (report.problems.length < 20) report.problems.push(p);
  };
  let closing = false;
  browser.on('disconnected', () => {
    if (!closing) problem('the browser connection closed during the run');
  });

  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  // Listened to only once our own page exists: from here on, any page is someone else's.
  context.on('page', (p) => report.pages_opened.push(p.url() || '(no url yet)'));
  page.on('pageerror', (e) => report.page_errors.push(String(e && e.message ? e.message : e)));
  page.on('console', (m) => {
    if (m.type() === 'error') report.console_errors.push(m.text());
  });
  page.on('crash', () => problem('the page crashed'));
  await page.goto(origins[0] + PATHS[0] + '?start');
  report.pages_at_start = context.pages().length;
  report.viewport_at_start = page.viewportSize();
  report.window_at_start = await innerSize(page);

  const deadline = Date.now() + seconds * 1000;
  try {
    for (let i = 0; Date.now() < deadline; i++) {
      const origin = origins[i % origins.length];
      await page.goto(`${origin}${PATHS[i % PATHS.length]}?i=${i}`);
      // What this origin held when we left it must still be there.
      const want = report.last[origin];
      if (want !== undefined) {
        const seen = await readBack(page, idb);
        if (!holds(seen, want)) {
          problem(`back at ${origin} (step ${i}): expected ${want}, saw ${JSON.stringify(seen)}`);
        }
      }
      // Write a few values into the same document, reading each back at once.
      for (let k = 0; k < 3; k++) {
        const n = report.counter + 1;
        await page.evaluate((v) => {
          localStorage.setItem('pw-counter', String(v));
          localStorage.setItem('pw-key-' + (v % 5), String(v));
          document.cookie = `pwc=${v}; path=/; max-age=86400`;
        }, n);
        if (idb) {
          await idbWrite(page, n);
          report.idb_writes += 1;
        }
        report.counter = n;
        report.last[origin] = n;
        const seen = await readBack(page, idb);
        if (!holds(seen, n)) {
          problem(`at ${origin} (step ${i}): wrote ${n}, read ${JSON.stringify(seen)}`);
        }
        const echoed = await page.evaluate((v) => ({ v, twice: v * 2 }), n);
        if (echoed.v !== n || echoed.twice !== 2 * n) {
          problem(`evaluate round trip of ${n} gave ${JSON.stringify(echoed)}`);
        }
      }
      report.iterations += 1;
    }
  } catch (e) {
    problem(`step ${report.iterations} failed: ${e && e.message ? e.message : e}`);
  }

  report.pages_at_end = context.pages().length;
  report.viewport_at_end = page.viewportSize();
  try {
    report.window_at_end = await innerSize(page);
  } catch (e) {
    problem(`reading the window size at the end failed: ${e && e.message ? e.message : e}`);
  }
  if (report.pages_opened.length) problem(`pages opened: ${report.pages_opened.join(', ')}`);
  if (report.page_errors.length) problem(`page errors: ${report.page_errors.join('; ')}`);
  if (report.console_errors.length) problem(`console errors: ${report.console_errors.join('; ')}`);
  if (report.pages_at_end !== report.pages_at_start) {
    problem(`page count went from ${report.pages_at_start} to ${report.pages_at_end}`);
  }
  if (JSON.stringify(report.viewport_at_end) !== JSON.stringify(report.viewport_at_start)) {
    problem('the viewport changed');
  }
  if (JSON.stringify(report.window_at_end) !== JSON.stringify(report.window_at_start)) {
    problem('the window size changed');
  }

  closing = true;
  await browser.close();
  console.log(JSON.stringify(report));
  if (report.problems.length) {
    console.error(report.problems.join('\n'));
    process.exit(1);
  }
  process.exit(0);
});
