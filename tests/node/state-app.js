// Logins kept outside cookies and localStorage, by real npm libraries, on the test server's
// app pages ($TEST_ORIGIN/idb-app: idb-keyval, Dexie and localforage in IndexedDB;
// $TEST_ORIGIN/oidc-app: oidc-client-ts's UserManager in sessionStorage), in the pvault
// session at $PVAULT_CDP_URL (or the one `pvault run` gives):
//
//   node state-app.js login TOKEN   in a new tab, stores TOKEN through every library and prints
//                                   what they read back: {keyval, dexie, localforage, oidc}.
//                                   The tab stays open (its sessionStorage is the login).
//   node state-app.js login-frames TOKEN FRAME_ORIGIN
//                                   the same, but from iframes: a new tab at $TEST_ORIGIN's
//                                   /frames page embeds FRAME_ORIGIN's /idb-app and /oidc-app,
//                                   and TOKEN is stored in those frames.
//   node state-app.js check         in a new tab, prints what each library finds when the
//                                   pages load (their titles are set by the pages' own first
//                                   scripts): {keyval, dexie, localforage, oidc}.
//   node state-app.js start-page    what the session's start page (/idb-app, opened by
//                                   `--start-url`, not by this script) found when its first
//                                   script ran: {keyval, dexie, localforage}.
//   node state-app.js tabs          sessionStorage per tab: prints {first, after_logout,
//                                   after_reload, after_navigation, second_tab}: what
//                                   /oidc-app finds in a new tab, after app.logout(), after a
//                                   reload, after leaving the origin and coming back, and in
//                                   another new tab.
//
// Disconnects with browser.close(), which for connectOverCDP leaves the browser running.
'use strict';
const { connect, origin, main } = require('./common');

// Opens PATH in `page` and returns what the page's first script put in its title after PREFIX.
async function loaded(page, path, prefix) {
  await page.goto(origin + path);
  await page.waitForFunction(
    (p) => document.title.startsWith(p) || document.title.startsWith('error:'),
    prefix,
  );
  const title = await page.title();
  if (!title.startsWith(prefix)) throw new Error(`${path}: ${title}`);
  return title.slice(prefix.length);
}

async function check(page) {
  const idb = JSON.parse(await loaded(page, '/idb-app', 'idb:'));
  const oidc = await loaded(page, '/oidc-app', 'oidc:');
  return { ...idb, oidc: oidc === 'none' ? null : oidc };
}

main(async () => {
  const [mode, token] = process.argv.slice(2);
  const { browser, context } = await connect();
  let result;
  if (mode === 'login') {
    if (!token) throw new Error('usage: state-app.js login TOKEN');
    const page = await context.newPage();
    await loaded(page, '/idb-app', 'idb:');
    const idb = await page.evaluate((t) => window.app.login(t), token);
    await loaded(page, '/oidc-app', 'oidc:');
    const oidc = await page.evaluate((t) => window.app.login(t), token);
    result = { ...idb, oidc };
  } else if (mode === 'login-frames') {
    const frameOrigin = process.argv[4];
    if (!token || !frameOrigin) throw new Error('usage: state-app.js login-frames TOKEN FRAME_ORIGIN');
    const page = await context.newPage();
    await page.goto(`${origin}/frames?${frameOrigin}/idb-app,${frameOrigin}/oidc-app`);
    const frame = async (path, prefix) => {
      let f;
      while (!(f = page.frames().find((x) => x.url() === frameOrigin + path))) {
        await page.waitForEvent('framenavigated');
      }
      await f.waitForFunction((p) => document.title.startsWith(p), prefix);
      return f;
    };
    const idb = await (await frame('/idb-app', 'idb:')).evaluate((t) => window.app.login(t), token);
    const oidc = await (await frame('/oidc-app', 'oidc:')).evaluate((t) => window.app.login(t), token);
    result = { ...idb, oidc };
  } else if (mode === 'start-page') {
    const page = context.pages().find((p) => p.url() === origin + '/idb-app');
    if (!page) throw new Error(`no start page: ${context.pages().map((p) => p.url())}`);
    await page.waitForFunction(
      () => document.title.startsWith('idb:') || document.title.startsWith('error:'),
    );
    const title = await page.title();
    if (!title.startsWith('idb:')) throw new Error(title);
    result = JSON.parse(title.slice('idb:'.length));
  } else if (mode === 'check') {
    const page = await context.newPage();
    result = await check(page);
  } else if (mode === 'tabs') {
    const page = await context.newPage();
    const none = (t) => (t === 'none' ? null : t);
    const first = none(await loaded(page, '/oidc-app', 'oidc:'));
    const afterLogout = await page.evaluate(() => window.app.logout());
    await page.reload();
    await page.waitForFunction(() => document.title.startsWith('oidc:'));
    const afterReload = none((await page.title()).slice('oidc:'.length));
    await page.goto(origin + '/whoami');
    const afterNavigation = none(await loaded(page, '/oidc-app', 'oidc:'));
    const second = await context.newPage();
    const secondTab = none(await loaded(second, '/oidc-app', 'oidc:'));
    result = {
      first,
      after_logout: afterLogout,
      after_reload: afterReload,
      after_navigation: afterNavigation,
      second_tab: secondTab,
    };
  } else {
    throw new Error(`usage: state-app.js login TOKEN | login-frames TOKEN ORIGIN | start-page | check | tabs (got ${mode})`);
  }
  await browser.close();
  console.log(JSON.stringify(result));
  process.exit(0);
});
