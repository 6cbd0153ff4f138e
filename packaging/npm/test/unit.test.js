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
  assert.equal(Object.keys(pvault.METHODS).length, 28);
  for (const m of Object.keys(pvault.METHODS)) {
    const fn = m.replace(/[._]([a-z])/g, (_, c) => c.toUpperCase());
    assert.equal(typeof pvault.Client.prototype[fn], 'function', `${m} → ${fn}`);
  }
  assert.equal(typeof pvault.Client.prototype.profileCreate, 'function');
  assert.equal(typeof pvault.Client.prototype.daemonShutdown, 'function');
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
