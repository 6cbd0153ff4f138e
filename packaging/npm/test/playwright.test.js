'use strict';
// withProfile with real Playwright (playwright-core, connectOverCDP) against a real pvaultd and
// the e2e suite's local login server: log in inside one session with save, then find the
// login (httpOnly cookie and localStorage) in the next session. The e2e suite sets
// PVAULT_SOCKET, PVAULT_TEST_LOGIN_ORIGIN/_SID/_TOKEN and NODE_PATH (for playwright-core).

const test = require('node:test');
const assert = require('node:assert/strict');
const pvault = require('..');

const origin = process.env.PVAULT_TEST_LOGIN_ORIGIN;
const opts = { skip: origin ? false : 'needs the e2e login server and a pvaultd with an unlocked vault (PVAULT_TEST_LOGIN_ORIGIN)' };

async function title(page, url, expected) {
  await page.goto(url);
  await page.waitForFunction((t) => document.title === t, expected, { timeout: 15000 }).catch(() => {});
  return page.title();
}

test('log in with save, then find the login in the next session', opts, async () => {
  const c = await pvault.connect();
  try {
    // The profile does not exist yet: save creates it.
    const seen = await pvault.withProfile('github', { save: true }, async ({ browser, context, page, session, profileCreated }) => {
      assert.equal(session.profile, 'github');
      assert.equal(profileCreated, true);
      assert.equal(browser.contexts()[0], context);
      assert.equal(await title(page, `${origin}/login`, 'logged-in'), 'logged-in');
      return session.session_id;
    });
    assert.equal(typeof seen, 'string');
    assert.deepEqual((await c.sessionList()).sessions, [], 'the session ended with the callback');
    const history = await c.profileHistory('github');
    assert.equal(history.snapshots[0].kind, 'session_save');
    assert.ok(history.snapshots[0].cookie_count >= 2);

    await pvault.withProfile('github', {}, async ({ page }) => {
      assert.equal(await title(page, `${origin}/whoami`, `user:${process.env.PVAULT_TEST_LOGIN_SID}`), `user:${process.env.PVAULT_TEST_LOGIN_SID}`);
      assert.equal(await title(page, `${origin}/app`, `token:${process.env.PVAULT_TEST_LOGIN_TOKEN}`), `token:${process.env.PVAULT_TEST_LOGIN_TOKEN}`);
    });
    assert.equal((await c.profileHistory('github')).snapshots.length, 1, 'a session without save saves nothing');
  } finally {
    c.close();
  }
});

test('a health definition, a check and a profile.health event', opts, async () => {
  const c = await pvault.connect();
  const listener = await pvault.connect();
  try {
    const event = new Promise((resolve) => listener.on('event', (ev) => {
      if (ev.event === 'profile.health' && ev.data.profile === 'github') resolve(ev.data);
    }));
    await listener.subscribe();
    // Bad input is refused naming the argument.
    await assert.rejects(c.profileHealthSet('github', { url: `${origin}/whoami`, expect: [] }),
      (e) => e.code === 'invalid_argument' && e.detail.includes('expect'));
    const set = await c.profileHealthSet('github', {
      url: `${origin}/whoami`,
      expect: [{ type: 'cookie', name: 'sid' }, { type: 'text', text: `user:${process.env.PVAULT_TEST_LOGIN_SID}` }],
    });
    assert.equal(set.profile.health.expect.length, 2);
    const checked = await c.profileCheck('github');
    assert.equal(checked.result.status, 'healthy', JSON.stringify(checked));
    assert.equal(checked.result.final_url, `${origin}/whoami`);
    assert.equal(checked.result.http_status, 200);
    const ev = await event;
    assert.equal(ev.result.status, 'healthy');
    assert.equal(ev.previous, null);
    assert.equal((await c.profileHealthShow('github')).result.status, 'healthy');
    await c.profileHealthClear('github');
  } finally {
    listener.close();
    c.close();
  }
});

test('the session ends when the callback throws, and the error comes through', opts, async () => {
  const c = await pvault.connect();
  try {
    const before = (await c.profileHistory('github')).snapshots.length;
    const boom = new Error('boom');
    await assert.rejects(pvault.withProfile('github', { save: true, saveOnError: false, client: c }, async ({ page }) => {
      await page.goto(`${origin}/logout`);
      throw boom;
    }), (e) => e === boom);
    assert.deepEqual((await c.sessionList()).sessions, []);
    assert.equal((await c.profileHistory('github')).snapshots.length, before, 'saveOnError: false discarded the state');
    assert.equal(c.closed, false, 'a client passed in stays open');
  } finally {
    c.close();
  }
});
