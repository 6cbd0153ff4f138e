'use strict';
// The client's own rules, without a daemon: socket discovery, the method table, and framing
// against a scripted Unix-socket peer (out-of-order answers, events, the incoming cap,
// connection-level errors, the outgoing cap).

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const pvault = require('..');

test('socket discovery follows the CLI rules', () => {
  assert.equal(pvault.socketPath({ PVAULT_SOCKET: '/x/s.sock', XDG_RUNTIME_DIR: '/run/user/7' }, 7), '/x/s.sock');
  assert.equal(pvault.socketPath({ PVAULT_SOCKET: '', XDG_RUNTIME_DIR: '/run/user/7' }, 7), '/run/user/7/pvault/pvaultd.sock');
  assert.equal(pvault.socketPath({ XDG_RUNTIME_DIR: '' }, 7), '/tmp/pvault-7/pvaultd.sock');
});

test('every protocol method has a camelCase function', () => {
  assert.equal(Object.keys(pvault.METHODS).length, 33);
  for (const m of Object.keys(pvault.METHODS)) {
    const fn = m.replace(/[._]([a-z])/g, (_, c) => c.toUpperCase());
    assert.equal(typeof pvault.Client.prototype[fn], 'function', `${m} → ${fn}`);
  }
  assert.equal(typeof pvault.Client.prototype.profileCreate, 'function');
  assert.equal(typeof pvault.Client.prototype.daemonShutdown, 'function');
});

test("the daemon's hint travels with the error, and stays through forMethod", () => {
  const e = pvault.PvaultError.fromBody({ code: 'locked', message: 'the vault is locked', hint: 'run `pvault unlock` first' }, 'session.stop');
  assert.equal(e.code, 'locked');
  assert.equal(e.hint, 'run `pvault unlock` first');
  assert.equal(e.detail, 'the vault is locked');
  assert.equal(e.message, 'session.stop: the vault is locked (hint: run `pvault unlock` first)');
  assert.equal(e.forMethod('vault.lock').message, 'vault.lock: the vault is locked (hint: run `pvault unlock` first)');
  const plain = pvault.PvaultError.fromBody({ code: 'busy', message: 'm' });
  assert.equal(plain.hint, undefined);
  assert.equal(plain.message, 'm');
});

test('credentials', () => {
  assert.deepEqual(pvault.passphrase('p'), { passphrase: 'p' });
  assert.deepEqual(pvault.keyFile(Buffer.from([0, 1, 255])), { key_file: 'AAH/' });
});

/** A scripted daemon: answers hello, then calls `onRequest(req, sock)` for each line. */
async function fakeDaemon(t, onRequest) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pvault-node-unit-'));
  const sockPath = path.join(dir, 's.sock');
  const server = net.createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const req = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (req.method === 'hello') {
          sock.write(JSON.stringify({ id: req.id, result: { protocol: { major: 1, minor: 0 }, daemon_version: 'fake', pid: 1 } }) + '\n');
        } else {
          onRequest(req, sock);
        }
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => server.listen(sockPath, r));
  t.after(() => { server.close(); fs.rmSync(dir, { recursive: true, force: true }); });
  return sockPath;
}

test('vaultVerify gives typed findings, and none from a daemon older than 1.5', async (t) => {
  const finding = { profile: 'ab'.repeat(16), seq: 2, record: 'history', kind: 'missing', message: 'm' };
  let old = false;
  const sockPath = await fakeDaemon(t, (req, sock) => {
    assert.equal(req.method, 'vault.verify');
    const result = old
      ? { ok: false, records: 3, failures: ['m'] }
      : { ok: false, records: 3, failures: ['m'], findings: [finding] };
    sock.write(JSON.stringify({ id: req.id, result }) + '\n');
  });
  const c = await pvault.connect({ socketPath: sockPath });
  t.after(() => c.close());
  const v = await c.vaultVerify();
  assert.deepEqual(v.findings, [finding]);
  assert.ok(pvault.FINDING_KINDS.includes(v.findings[0].kind));
  assert.ok(pvault.FINDING_RECORDS.includes(v.findings[0].record));
  old = true;
  const v14 = await c.vaultVerify();
  assert.deepEqual(v14.findings, []);
  assert.deepEqual(v14.failures, ['m']);
});

test('pipelined requests are matched by id, whatever the answer order', async (t) => {
  const held = [];
  const sockPath = await fakeDaemon(t, (req, sock) => {
    held.push(req);
    if (held.length === 3) {
      for (const r of held.reverse()) sock.write(JSON.stringify({ id: r.id, result: { echo: r.params.name } }) + '\n');
    }
  });
  const c = await pvault.connect({ socketPath: sockPath });
  t.after(() => c.close());
  assert.equal(c.server.daemon_version, 'fake');
  const answers = await Promise.all(['a', 'b', 'c'].map((n) => c.profileShow(n)));
  assert.deepEqual(answers.map((a) => a.echo), ['a', 'b', 'c']);
  assert.deepEqual(held.map((r) => r.method), ['profile.show', 'profile.show', 'profile.show']);
});

test('a chunked export is reassembled from its chunk frames, whatever arrives between them', async (t) => {
  const doc = Buffer.from(JSON.stringify({ cookies: [], origins: [{ origin: 'https://a.test', localStorage: [{ name: 'k', value: 'é'.repeat(1000) }] }] }));
  const seen = [];
  const sockPath = await fakeDaemon(t, (req, sock) => {
    seen.push(req);
    const pieces = [doc.subarray(0, 7), doc.subarray(7, 1500), doc.subarray(1500)];
    for (const [i, piece] of pieces.entries()) {
      sock.write(JSON.stringify({ id: req.id, chunk: piece.toString('base64') }) + '\n');
      if (i === 0) sock.write('{"event":"vault.locked","data":{"reason":"idle"}}\n');
    }
    sock.write(JSON.stringify({ id: req.id, result: { snapshot: { seq: 1 }, left_out: ['sessionStorage of 1 origin'], state_bytes: doc.length, state_chunks: 3 } }) + '\n');
  });
  const c = await pvault.connect({ socketPath: sockPath });
  t.after(() => c.close());
  const res = await c.profileExport('p', { format: 'pvault' });
  assert.deepEqual(seen[0].params, { chunked: true, format: 'pvault', name: 'p' });
  assert.deepEqual(res.state, JSON.parse(doc.toString('utf8')));
  assert.deepEqual(res.left_out, ['sessionStorage of 1 origin']);
});

test('events are delivered and error responses become PvaultError with code', async (t) => {
  const sockPath = await fakeDaemon(t, (req, sock) => {
    if (req.method === 'subscribe') {
      // An event split across two writes, and a response in the same write as an event.
      sock.write(JSON.stringify({ id: req.id, result: {} }) + '\n{"event":"vault.lo');
      setTimeout(() => sock.write('cked","data":{"reason":"idle"}}\r\n'), 5);
    } else {
      sock.write(JSON.stringify({ id: req.id, error: { code: 'not_found', message: 'no profile "x"' } }) + '\n');
    }
  });
  const c = await pvault.connect({ socketPath: sockPath });
  t.after(() => c.close());
  const got = new Promise((r) => c.once('vault.locked', r));
  await c.subscribe();
  assert.deepEqual(await got, { reason: 'idle' });
  await assert.rejects(c.profileShow('x'), (e) => e instanceof pvault.PvaultError && e.code === 'not_found' && e.method === 'profile.show');
});

test('an incoming line over the cap fails with too_large before it is buffered whole', async (t) => {
  const sockPath = await fakeDaemon(t, (req, sock) => {
    // 3 chunks of 40 KiB, no newline: the client must give up at its 64 KiB cap.
    const chunk = Buffer.alloc(40 * 1024, 0x61);
    sock.write(chunk); sock.write(chunk); sock.write(chunk);
  });
  const c = await pvault.connect({ socketPath: sockPath, maxMessageBytes: 64 * 1024 });
  await assert.rejects(c.status(), (e) => e.code === 'too_large');
  await new Promise((r) => (c.closed ? r() : c.once('close', r)));
  assert.ok(c.closed);
  await assert.rejects(c.status(), (e) => e.code === 'too_large');
});

test('a connection-level error (id null) fails every pending request', async (t) => {
  const sockPath = await fakeDaemon(t, (req, sock) => {
    if (req.params.last) sock.end(JSON.stringify({ id: null, error: { code: 'too_large', message: 'message exceeds the limit' } }) + '\n');
  });
  const c = await pvault.connect({ socketPath: sockPath });
  const a = c.call('status', {});
  const b = c.call('profile.list', { last: true });
  await assert.rejects(a, (e) => e.code === 'too_large');
  await assert.rejects(b, (e) => e.code === 'too_large');
});

test('a request over the limit is refused locally with too_large', async (t) => {
  let seen = 0;
  const sockPath = await fakeDaemon(t, (req, sock) => { seen++; sock.write(JSON.stringify({ id: req.id, result: {} }) + '\n'); });
  const c = await pvault.connect({ socketPath: sockPath, maxRequestBytes: 1000 });
  t.after(() => c.close());
  await assert.rejects(c.profileImport('x', { state: { cookies: [], origins: [{ origin: 'x', localStorage: [{ name: 'k', value: 'v'.repeat(2000) }] }] } }), (e) => e.code === 'too_large');
  assert.equal(seen, 0);
  await c.status();
  assert.equal(seen, 1);
});

test('connecting to a missing socket gives unavailable', async () => {
  await assert.rejects(pvault.connect({ socketPath: '/nonexistent/pvaultd.sock' }), (e) => e.code === 'unavailable' && /PVAULT_SOCKET/.test(e.message));
});

/** playwright-core, if this run can resolve it (the e2e suite sets NODE_PATH). */
function playwrightCore() {
  try {
    return require('playwright-core');
  } catch {
    return null;
  }
}

/** Starts Chromium with its own DevTools port; resolves with its browser WebSocket URL. */
async function chromeWs(t) {
  const { spawn } = require('node:child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pvault-node-chrome-'));
  const child = spawn(process.env.PVAULT_CHROME || '/usr/lib/chromium/chromium',
    ['--headless=new', '--no-sandbox', '--remote-debugging-port=0', `--user-data-dir=${dir}`, 'about:blank'],
    { stdio: 'ignore', detached: true });
  const exited = new Promise((r) => child.once('exit', r));
  t.after(async () => {
    // The whole process group: Chromium's helpers would otherwise keep writing to `dir`.
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    await exited;
    try { fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 }); } catch { /* best effort */ }
  });
  const file = path.join(dir, 'DevToolsActivePort');
  const deadline = Date.now() + 20000;
  while (!fs.existsSync(file) || fs.readFileSync(file, 'utf8').split('\n').length < 2 || !fs.readFileSync(file, 'utf8').split('\n')[1]) {
    assert.ok(Date.now() < deadline, 'Chromium did not write DevToolsActivePort within 20 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  const [port, wsPath] = fs.readFileSync(file, 'utf8').split('\n');
  return `ws://127.0.0.1:${port}${wsPath}`;
}

const pw = playwrightCore();
const pwOpts = { skip: pw ? false : 'playwright-core is not resolvable (set NODE_PATH=tests/node/node_modules)' };

test('withProfile drives a real browser and ends the session when the callback throws', pwOpts, async (t) => {
  const ws = await chromeWs(t);
  const stops = [];
  const sockPath = await fakeDaemon(t, (req, sock) => {
    let result = {};
    if (req.method === 'session.start') {
      result = { session: { session_id: `s${req.id}`, cdp_ws_url: ws, pid: null, profile: req.params.profile, save: req.params.save, attached: false, started_at: 0 }, load: null };
    } else if (req.method === 'session.stop') {
      stops.push(req.params);
      result = { session_id: req.params.session_id, snapshot: null, capture: null };
    }
    sock.write(JSON.stringify({ id: req.id, result }) + '\n');
  });
  // Resolves: the callback's value comes back, and the session is stopped with save.
  const title = await pvault.withProfile('github', { save: true, socketPath: sockPath, headful: false }, async ({ page, context, browser, session }) => {
    assert.equal(session.profile, 'github');
    assert.equal(browser.contexts()[0], context);
    await page.setContent('<title>hello</title>');
    return page.title();
  });
  assert.equal(title, 'hello');
  assert.equal(stops.length, 1);
  assert.equal(stops[0].discard, false);
  // Throws: the error comes through and the session is still stopped (discarding, as asked).
  const boom = new Error('boom');
  await assert.rejects(pvault.withProfile('github', { save: true, saveOnError: false, socketPath: sockPath }, async () => { throw boom; }), (e) => e === boom);
  assert.equal(stops.length, 2);
  assert.equal(stops[1].discard, true);
  // Without save, the session is discarded; { chromium } can be passed explicitly.
  await pvault.withProfile('github', { socketPath: sockPath, chromium: pw.chromium }, async () => {});
  assert.equal(stops[2].discard, true);
});

test('a daemon that drops connections before hello is retried; a sent request never is', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pvault-node-unit-'));
  const sockPath = path.join(dir, 's.sock');
  let connections = 0;
  const requests = [];
  // The first two connections are closed before any answer, as a daemon being killed does;
  // the third one answers hello, then dies on the first request.
  const server = net.createServer((sock) => {
    connections += 1;
    sock.on('error', () => {});
    if (connections <= 2) {
      sock.destroy();
      return;
    }
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const req = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (req.method === 'hello') {
          sock.write(JSON.stringify({ id: req.id, result: { protocol: { major: 1, minor: 0 }, daemon_version: 'fake', pid: 1 } }) + '\n');
        } else {
          requests.push(req.method);
          sock.destroy();
        }
      }
    });
  });
  await new Promise((r) => server.listen(sockPath, r));
  t.after(() => { server.close(); fs.rmSync(dir, { recursive: true, force: true }); });

  const c = await pvault.connect({ socketPath: sockPath });
  assert.equal(connections, 3);
  assert.equal(c.server.daemon_version, 'fake');
  await assert.rejects(c.profileDelete('x'), (e) => e.code === 'unavailable');
  assert.deepEqual(requests, ['profile.delete'], 'the request was sent once');
  assert.equal(connections, 3, 'no reconnection after a request was sent');
});

test('a refused connection is retried briefly, then reported', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pvault-node-unit-'));
  // A socket file nobody listens on: what a killed daemon leaves behind.
  const sockPath = path.join(dir, 's.sock');
  // Bound, never listened on, and the binding process gone (Node cannot bind without listening).
  require('node:child_process').execFileSync('python3', ['-c',
    'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', sockPath]);
  const t0 = Date.now();
  await assert.rejects(pvault.connect({ socketPath: sockPath }), (e) => e.code === 'unavailable' && /ECONNREFUSED/.test(e.message));
  assert.ok(Date.now() - t0 >= 25, 'it retried before giving up');
  fs.rmSync(dir, { recursive: true, force: true });
});
