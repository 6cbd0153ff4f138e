// What Playwright does through a pvault session whose browser runs on a pipe behind the
// daemon's multiplexer, with a second Playwright client connected at the same time. Prints
// one JSON object: each feature's observed result (never a value the script merely assumed).
//   pages, newPage, page.close; a popup; an out-of-process (cross-site) iframe; a dedicated
//   worker; a service worker; a download; each client's pages seen by the other; a second
//   client's newPage while the first is connected and after it left; a cookie set through
//   the first client, read by the second. Pauses (`both-connected`) with both clients
//   connected, so that the test can see the engine's checkpoints run meanwhile.
'use strict';
const fs = require('fs');
const { connect, main, pause, waitFor } = require('./common');

const origin = process.env.TEST_ORIGIN;
// Another site than 127.0.0.1: Chromium puts its frames in another process.
const crossSite = origin.replace('127.0.0.1', 'localhost');

main(async () => {
  const out = {};
  const first = await connect();
  const page = await first.context.newPage();
  await page.goto(origin + '/');
  out.title = await page.title();

  const [popup] = await Promise.all([
    page.waitForEvent('popup'),
    page.evaluate((u) => { window.open(u); }, origin + '/popup-target'),
  ]);
  await popup.waitForLoadState();
  out.popup = new URL(popup.url()).pathname;

  await page.goto(`${origin}/frames?${crossSite}/inner`);
  const frame = await waitFor(() => page.frames().find((f) => f.url().startsWith(crossSite)));
  await frame.waitForLoadState();
  out.oopif = await frame.evaluate(() => location.host);

  const [worker] = await Promise.all([
    page.waitForEvent('worker'),
    page.evaluate(() => { window.w = new Worker('/worker.js'); }),
  ]);
  out.worker = await worker.evaluate(() => 6 * 7);
  out.workerReply = await page.evaluate(() => new Promise((resolve) => {
    window.w.onmessage = (e) => resolve(e.data);
    window.w.postMessage('ping');
  }));

  const swPage = await first.context.newPage();
  await swPage.goto(origin + '/sw-scope');
  const [sw] = await Promise.all([
    first.context.waitForEvent('serviceworker'),
    swPage.evaluate(() => navigator.serviceWorker.register('/sw.js')),
  ]);
  out.serviceWorker = new URL(sw.url()).pathname;

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.evaluate(() => {
      const a = document.createElement('a');
      a.href = '/download';
      a.download = 'report.txt';
      document.body.appendChild(a);
      a.click();
    }),
  ]);
  out.downloadName = download.suggestedFilename();
  out.download = fs.readFileSync(await download.path(), 'utf8');

  // The second client connects now: Chrome keeps one download directory per browser context,
  // and each Playwright client sets its own, so two clients at once would race for it (on
  // Chrome's own port just the same).
  const second = await connect();
  out.secondSeesFirstsPage = second.context.pages().some((p) => p.url().includes('/frames?'));

  await page.evaluate(() => { document.cookie = 'mux=first-client; path=/; max-age=86400'; });
  // The test sees a checkpoint capture this cookie while both clients are connected.
  await pause('both-connected');
  const before = first.context.pages().length;
  await popup.close();
  await swPage.close();
  out.closed = before - first.context.pages().length;

  const other = await second.context.newPage();
  await other.goto(origin + '/');
  out.secondSees = await other.evaluate(() => document.cookie);
  const seenByFirst = await waitFor(() => first.context.pages()
    .find((p) => p !== page && new URL(p.url()).pathname === '/'));
  out.firstSeesSecondsPage = seenByFirst.url() === other.url();
  await first.browser.close(); // connectOverCDP: disconnects this client, the browser runs on
  const after = await second.context.newPage();
  await after.goto(origin + '/after');
  out.afterFirstLeft = new URL(after.url()).pathname;
  out.secondPages = second.context.pages().length;
  await second.browser.close();
  console.log(JSON.stringify(out));
  process.exit(0);
});
