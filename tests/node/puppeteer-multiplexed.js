// What Puppeteer (puppeteer-core) does through a pvault session whose browser runs on a pipe
// behind the daemon's multiplexer, with a Playwright client connected at the same time. Prints
// one JSON object: each feature's observed result (never a value the script merely assumed).
//   pages, newPage, page.close; a popup; an out-of-process (cross-site) iframe; a dedicated
//   worker; a service worker; a download (through a browser-level CDP session, as Puppeteer
//   users do it); pages each client sees of the other; the Playwright client's newPage while
//   Puppeteer is connected and after it disconnected; a cookie set through Puppeteer, read
//   through Playwright. Pauses (`both-connected`) with both clients connected, so that the
//   test can see the engine's checkpoints run meanwhile.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');
const { connect, main, pause, waitFor } = require('./common');

const origin = process.env.TEST_ORIGIN;
// Another site than 127.0.0.1: Chromium puts its frames in another process.
const crossSite = origin.replace('127.0.0.1', 'localhost');

main(async () => {
  const out = {};
  const endpoint = process.env.PVAULT_CDP_URL;
  if (!endpoint) throw new Error('PVAULT_CDP_URL is not set: run me through `pvault run`');
  // defaultViewport null: leave pages at the browser's own size (no 800×600 emulation).
  const browser = await puppeteer.connect({ browserWSEndpoint: endpoint, defaultViewport: null });
  const page = await browser.newPage();
  await page.goto(origin + '/');
  out.title = await page.title();

  const popupOpened = new Promise((resolve) => page.once('popup', resolve));
  await page.evaluate((u) => { window.open(u); }, origin + '/popup-target');
  const popup = await popupOpened;
  await waitFor(() => popup.url().endsWith('/popup-target'));
  out.popup = new URL(popup.url()).pathname;

  await page.goto(`${origin}/frames?${crossSite}/inner`);
  const frame = await waitFor(() => page.frames().find((f) => f.url().startsWith(crossSite)));
  out.oopif = await frame.evaluate(() => location.host);

  const workerCreated = new Promise((resolve) => page.once('workercreated', resolve));
  await page.evaluate(() => { window.w = new Worker('/worker.js'); });
  const worker = await workerCreated;
  out.worker = await worker.evaluate(() => 6 * 7);
  out.workerReply = await page.evaluate(() => new Promise((resolve) => {
    window.w.onmessage = (e) => resolve(e.data);
    window.w.postMessage('ping');
  }));

  const swPage = await browser.newPage();
  await swPage.goto(origin + '/sw-scope');
  const swTarget = browser.waitForTarget(
    (t) => t.type() === 'service_worker' && t.url().endsWith('/sw.js'),
    { timeout: 10000 },
  );
  await swPage.evaluate(() => navigator.serviceWorker.register('/sw.js'));
  const sw = await swTarget;
  out.serviceWorker = new URL(sw.url()).pathname;
  out.serviceWorkerScope = await (await sw.worker()).evaluate(() => typeof self.registration);

  // Puppeteer has no download API: its users send Browser.setDownloadBehavior on a
  // browser-level session and follow Browser.downloadProgress, as here.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pvault-pptr-download-'));
  const cdp = await browser.target().createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', {
    behavior: 'allowAndName',
    downloadPath: dir,
    eventsEnabled: true,
  });
  const downloaded = new Promise((resolve, reject) => {
    cdp.on('Browser.downloadWillBegin', (e) => { out.downloadName = e.suggestedFilename; });
    cdp.on('Browser.downloadProgress', (e) => {
      if (e.state === 'completed') resolve(e.guid);
      if (e.state === 'canceled') reject(new Error('the download was canceled'));
    });
  });
  await page.evaluate(() => {
    const a = document.createElement('a');
    a.href = '/download';
    a.download = 'report.txt';
    document.body.appendChild(a);
    a.click();
  });
  out.download = fs.readFileSync(path.join(dir, await downloaded), 'utf8');
  fs.rmSync(dir, { recursive: true, force: true });
  await cdp.detach();

  // The Playwright client connects now (after the download: each client sets the browser
  // context's download directory, as they would on Chrome's own port).
  const second = await connect();
  out.playwrightSeesPuppeteerPage = second.context.pages().some((p) => p.url().includes('/frames?'));

  await page.evaluate(() => { document.cookie = 'mux=puppeteer; path=/; max-age=86400'; });
  // The test sees a checkpoint capture this cookie while both clients are connected.
  await pause('both-connected');
  const before = (await browser.pages()).length;
  await popup.close();
  await swPage.close();
  out.closed = before - (await browser.pages()).length;

  const other = await second.context.newPage();
  await other.goto(origin + '/from-playwright');
  out.secondSees = await other.evaluate(() => document.cookie);
  const seenByPuppeteer = await browser.waitForTarget(
    (t) => t.url().endsWith('/from-playwright'),
    { timeout: 10000 },
  );
  out.puppeteerSeesPlaywrightPage = new URL(seenByPuppeteer.url()).pathname;

  await browser.disconnect(); // the browser runs on: only this client leaves
  const after = await second.context.newPage();
  await after.goto(origin + '/after');
  out.afterPuppeteerLeft = new URL(after.url()).pathname;
  await second.browser.close(); // connectOverCDP: disconnects this client
  console.log(JSON.stringify(out));
  process.exit(0);
});
