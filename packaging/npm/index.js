'use strict';
// pvault's Node client: talks to pvaultd over its Unix socket (JSON lines, see protocol.md at
// the repository root). No runtime dependencies and no build step, so
// `require('./packaging/npm')` works straight from a checkout.
//
// One connection carries many requests at once: each gets an id and its promise settles when
// the response with that id arrives, in whatever order the daemon answers.

const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const { createRequire } = require('node:module');

/** Protocol major version this client speaks; the daemon refuses another at `hello`. */
const PROTOCOL_MAJOR = 1;
/** Protocol minor version this client knows. */
const PROTOCOL_MINOR = 5;
/** Largest message either side accepts (one line without its newline): 64 MiB. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/**
 * Largest document reassembled from a chunked response (`profile.export`): 512 MiB, room for
 * the JSON of any snapshot the vault holds (its cap is 256 MiB).
 */
const MAX_CHUNKED_BYTES = 512 * 1024 * 1024;
/** Largest request id: ids must survive JavaScript numbers. */
const MAX_ID = Number.MAX_SAFE_INTEGER;

/** The protocol's stable error codes. */
const ERROR_CODES = Object.freeze([
  'invalid_argument', 'not_found', 'conflict', 'busy', 'locked', 'auth_failed', 'too_large',
  'unsupported', 'browser_error', 'logged_out', 'internal', 'remote_unavailable',
  'remote_tampered',
]);

/**
 * What `vaultVerify()` can report in a finding's `kind` (protocol 1.5, protocol.md §5.2
 * "Verify findings"). A newer daemon may add kinds: treat any `kind` as a problem and show its
 * `message`.
 */
const FINDING_KINDS = Object.freeze([
  'unreadable', 'not_checkable', 'edited', 'missing', 'reordered', 'rolled_back', 'unexpected',
  'content_mismatch', 'anchor_mismatch', 'count_mismatch', 'current_mismatch', 'went_back',
]);

/** The records a finding names in `record` (a newer daemon may add some). */
const FINDING_RECORDS = Object.freeze([
  'wrapped_dk', 'meta', 'name_hash', 'snapshot_info', 'snapshot_body', 'history',
]);

/**
 * Every method of protocol 1, with the parameter a plain first argument stands for (so
 * `profileShow('github')` means `profileShow({ name: 'github' })`).
 */
const METHODS = Object.freeze({
  'hello': null,
  'status': null,
  'subscribe': null,
  'daemon.shutdown': null,
  'vault.init': null,
  'vault.unlock': null,
  'vault.lock': null,
  'vault.passwd': null,
  'vault.verify': null,
  'vault.backup': 'path',
  'profile.create': 'name',
  'profile.list': null,
  'profile.show': 'name',
  'profile.rename': 'name',
  'profile.update': 'name',
  'profile.delete': 'name',
  'profile.import': 'name',
  'profile.export': 'name',
  'profile.history': 'name',
  'profile.diff': 'name',
  'profile.restore': 'name',
  // Login health (protocol 1.8).
  'profile.health.set': 'name',
  'profile.health.show': 'name',
  'profile.health.clear': 'name',
  'profile.check': 'name',
  'profile.accept': 'name',
  'session.start': 'profile',
  'session.list': null,
  'session.show': 'session_id',
  'session.stop': 'session_id',
  'session.capture': 'session_id',
  'session.load': 'session_id',
  'session.attach': 'cdp_url',
});

/**
 * An error from pvaultd (its stable `code`, one of ERROR_CODES) or from this client:
 * `unavailable` when no daemon answers or the connection closed before the answer.
 */
class PvaultError extends Error {
  constructor(code, message, method, hint) {
    const text = method ? `${method}: ${message}` : message;
    super(hint ? `${text} (hint: ${hint})` : text);
    this.name = 'PvaultError';
    /** Stable error code: switch on this, never on the message. */
    this.code = code;
    /** The method of the failed request, when there was one. */
    this.method = method;
    /** The daemon's explanation, without the method or the hint. */
    this.detail = message;
    /** What the user can do about it, when the daemon said (protocol 1.4), else undefined. */
    this.hint = hint;
  }

  /** The error of a response's `error` body, attributed to `method`. */
  static fromBody(body, method) {
    return new PvaultError(body.code, body.message, method, body.hint ?? undefined);
  }

  /** The same error, attributed to `method`. */
  forMethod(method) {
    return new PvaultError(this.code, this.detail, method, this.hint);
  }
}

function nonEmpty(v) {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The socket path, by the CLI's rules: `$PVAULT_SOCKET`, else
 * `$XDG_RUNTIME_DIR/pvault/pvaultd.sock`, else `/tmp/pvault-<uid>/pvaultd.sock`.
 */
function socketPath(env = process.env, uid = process.getuid()) {
  const explicit = nonEmpty(env.PVAULT_SOCKET);
  if (explicit) return explicit;
  const runtime = nonEmpty(env.XDG_RUNTIME_DIR);
  if (runtime) return path.join(runtime, 'pvault', 'pvaultd.sock');
  return `/tmp/pvault-${uid}/pvaultd.sock`;
}

/** A passphrase credential for `vault.init` / `vault.unlock` / `vault.passwd`. */
function passphrase(text) {
  return { passphrase: String(text) };
}

/** A key-file credential: the file's bytes (a Buffer) or a path to read them from. */
function keyFile(bytesOrPath) {
  const bytes = Buffer.isBuffer(bytesOrPath) ? bytesOrPath : fs.readFileSync(bytesOrPath);
  return { key_file: bytes.toString('base64') };
}

/** `profile.create` → `profileCreate`. */
function camelName(method) {
  return method.replace(/[._]([a-z])/g, (_, c) => c.toUpperCase());
}

/**
 * A connection to pvaultd. Use `connect()` (it does the handshake). Emits `event` with
 * `{ event, data }` for every event after `subscribe()`, and `close` when the connection ends.
 */
class Client extends EventEmitter {
  constructor(socket, options = {}) {
    super();
    this._socket = socket;
    this._maxIncoming = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    // Requests over the protocol's limit are refused here instead of shipping them to be
    // refused by the daemon (which also closes the connection).
    this._maxOutgoing = options.maxRequestBytes ?? MAX_MESSAGE_BYTES;
    this._nextId = 1;
    this._pending = new Map();
    this._chunks = [];
    this._buffered = 0;
    this._closedWith = null;
    /** The daemon's answer to `hello`. */
    this.server = null;
    socket.on('data', (chunk) => this._onData(chunk));
    // A write error (EPIPE after the daemon closed) must not hide what the daemon said
    // before closing; the close handler settles what is still pending.
    socket.on('error', (err) => {
      if (!this._closedWith) {
        this._closedWith = new PvaultError('unavailable', `connection to pvaultd failed: ${err.message}`);
      }
    });
    socket.on('close', () => this._fail(new PvaultError('unavailable', 'the connection to pvaultd closed')));
  }

  _onData(chunk) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this._buffered + piece.length > this._maxIncoming + 1) return this._tooLarge();
      this._chunks.push(piece);
      const line = this._chunks.length === 1 ? this._chunks[0] : Buffer.concat(this._chunks);
      this._chunks = [];
      this._buffered = 0;
      start = nl + 1;
      this._onLine(line);
      if (this._socket.destroyed) return;
    }
    const rest = chunk.subarray(start);
    if (rest.length === 0) return;
    // Checked before keeping the bytes, so a runaway line never grows past the cap.
    if (this._buffered + rest.length > this._maxIncoming + 1) return this._tooLarge();
    this._chunks.push(rest);
    this._buffered += rest.length;
  }

  _tooLarge() {
    this._chunks = [];
    this._buffered = 0;
    this._fail(new PvaultError('too_large', `pvaultd sent a message over ${this._maxIncoming} bytes; the connection is closed`));
    this._socket.destroy();
  }

  _onLine(buf) {
    let text = buf.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim() === '') return;
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      this._fail(new PvaultError('internal', 'pvaultd sent a line that is not JSON; the connection is closed'));
      this._socket.destroy();
      return;
    }
    if (msg.id !== null && msg.id !== undefined && typeof msg.chunk === 'string') {
      // One piece of a chunked response; the result that follows says how many bytes.
      const p = this._pending.get(msg.id);
      if (!p) return;
      const piece = Buffer.from(msg.chunk, 'base64');
      p.chunkBytes = (p.chunkBytes ?? 0) + piece.length;
      if (p.chunkBytes > MAX_CHUNKED_BYTES) {
        this._pending.delete(msg.id);
        p.reject(new PvaultError('too_large', `pvaultd sent more than ${MAX_CHUNKED_BYTES} bytes of chunks`, p.method));
        return;
      }
      (p.chunks ??= []).push(piece);
      return;
    }
    if (typeof msg.event === 'string') {
      const ev = { event: msg.event, data: msg.data ?? {} };
      this.emit('event', ev);
      this.emit(ev.event, ev.data);
      return;
    }
    if (msg.id === null || msg.id === undefined) {
      // An error about the connection itself (too_large, a timeout, refused peer): it is
      // followed by the daemon closing, so every pending request gets it.
      if (msg.error) this._fail(PvaultError.fromBody(msg.error));
      return;
    }
    const p = this._pending.get(msg.id);
    if (!p) return;
    this._pending.delete(msg.id);
    if (msg.error) return p.reject(PvaultError.fromBody(msg.error, p.method));
    const result = msg.result ?? {};
    if (result.state_chunks !== undefined) {
      const doc = Buffer.concat(p.chunks ?? []);
      if (doc.length !== result.state_bytes) {
        return p.reject(new PvaultError('internal', `pvaultd announced ${result.state_bytes} bytes but sent ${doc.length}`, p.method));
      }
      try {
        result.state = JSON.parse(doc.toString('utf8'));
      } catch {
        return p.reject(new PvaultError('internal', 'pvaultd sent chunks that are not JSON', p.method));
      }
    }
    p.resolve(result);
  }

  _fail(err) {
    // The first reason wins: a too_large answer stays the reason after the EPIPE and close.
    if (!this._closedWith || (this._closedWith.code === 'unavailable' && err.code !== 'unavailable')) {
      this._closedWith = err;
    }
    const reason = this._closedWith;
    for (const [, p] of this._pending) {
      p.reject(reason.forMethod(p.method));
    }
    this._pending.clear();
    if (this._socket.destroyed && !this._closeEmitted) {
      this._closeEmitted = true;
      this.emit('close', reason);
    }
  }

  /** Whether the connection is closed. */
  get closed() {
    return this._socket.destroyed;
  }

  /**
   * Sends any request; resolves with its `result`, rejects with a PvaultError. Requests are
   * pipelined: call many without awaiting each.
   */
  call(method, params = {}) {
    if (this._socket.destroyed || this._closedWith) {
      const why = this._closedWith ?? new PvaultError('unavailable', 'the connection to pvaultd is closed');
      return Promise.reject(why.forMethod(method));
    }
    const id = this._nextId;
    this._nextId = id >= MAX_ID ? 1 : id + 1;
    const line = JSON.stringify({ id, method, params: params ?? {} });
    const size = Buffer.byteLength(line, 'utf8');
    if (size > this._maxOutgoing) {
      return Promise.reject(new PvaultError('too_large',
        `the request is ${size} bytes, over the protocol's limit of ${this._maxOutgoing} bytes`, method));
    }
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject, method });
      this._socket.write(line + '\n');
    });
  }

  /** Starts receiving events on this connection (`event` and per-name emits). */
  subscribe(handler) {
    if (handler) this.on('event', handler);
    return this.call('subscribe', {});
  }

  /** Closes the connection; pending requests reject with `unavailable`. */
  close() {
    this._socket.end();
    this._socket.destroy();
  }
}

for (const [method, primary] of Object.entries(METHODS)) {
  if (method === 'subscribe') continue;
  Object.defineProperty(Client.prototype, camelName(method), {
    value: function (arg, extra) {
      let params = typeof arg === 'string' && primary ? { ...extra, [primary]: arg } : (arg ?? {});
      // Exports come in chunks, reassembled into `state`, so a snapshot larger than one
      // message exports too.
      if (method === 'profile.export') params = { chunked: true, ...params };
      // A daemon older than 1.5 sends only the failure lines: no typed findings.
      if (method === 'vault.verify') {
        return this.call(method, params).then((r) => ({ ...r, findings: r.findings ?? [] }));
      }
      return this.call(method, params);
    },
    writable: true,
    configurable: true,
  });
}

/**
 * Pauses (ms) between tries when the daemon refuses the connection or drops it before the
 * hello reply: that is a daemon going away (killed, or stopping), and one restarted meanwhile
 * (systemd, a `pvault` command) gets a moment to answer.
 */
const DYING_DAEMON_BACKOFF_MS = Object.freeze([25, 50, 100, 200, 400]);

/**
 * Connects to pvaultd and does the handshake. Options: `socketPath` (default by the CLI's
 * rules), `clientName`, `maxMessageBytes` (cap on incoming lines), `maxRequestBytes`,
 * `timeoutMs` for connecting and the handshake (default 10 s).
 *
 * A refusal, reset or close before the hello reply means no daemon serves the socket right
 * now: connecting is retried a few times with a short backoff. Only the connection and its
 * hello are retried, never a request.
 */
async function connect(options = {}) {
  const where = options.socketPath ?? socketPath();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await connectOnce(options, where, Math.max(1, deadline - Date.now()));
    } catch (err) {
      const pause = DYING_DAEMON_BACKOFF_MS[attempt];
      if (!err.retryable || pause === undefined || Date.now() + pause >= deadline) {
        delete err.retryable;
        throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/** One try of `connect`; a failure that may be retried has `retryable` set. */
async function connectOnce(options, where, timeoutMs) {
  const socket = await new Promise((resolve, reject) => {
    const s = net.createConnection({ path: where });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new PvaultError('unavailable', `no answer from pvaultd at ${where} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      const e = new PvaultError('unavailable',
        `cannot connect to pvaultd at ${where} (${err.code ?? err.message}): start it with \`pvault daemon start\` or \`systemctl --user start pvaultd.socket\`, or set PVAULT_SOCKET`);
      e.retryable = err.code === 'ECONNREFUSED';
      reject(e);
    });
  });
  const client = new Client(socket, options);
  const name = options.clientName ?? `pvault-node ${require('./package.json').version}`;
  let timer;
  try {
    client.server = await Promise.race([
      client.call('hello', { protocol: PROTOCOL_MAJOR, minor: PROTOCOL_MINOR, client: name }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new PvaultError('unavailable', `pvaultd at ${where} did not answer hello within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    // Closed or reset before the reply (not a timeout, not an error answer): a dying daemon.
    if (err.code === 'unavailable' && client.closed) err.retryable = true;
    client.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** Finds Playwright's `chromium` from the caller's point of view (playwright-core is a peer). */
function resolveChromium(options) {
  if (options.chromium) return options.chromium;
  const bases = [process.cwd(), require.main?.filename && path.dirname(require.main.filename)].filter(Boolean);
  const tried = [];
  for (const pkg of ['playwright-core', 'playwright']) {
    for (const base of bases) {
      try {
        return createRequire(path.join(base, 'noop.js'))(pkg).chromium;
      } catch (err) {
        if (err.code !== 'MODULE_NOT_FOUND') throw err;
        tried.push(`${pkg} from ${base}`);
      }
    }
    try {
      // NODE_PATH and this package's own parents.
      return require(pkg).chromium;
    } catch (err) {
      if (err.code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  throw new Error(`withProfile needs Playwright: install playwright-core (npm i playwright-core) or pass { chromium } (tried ${tried.join(', ')})`);
}

const SESSION_OPTIONS = ['headful', 'kiosk', 'start_url', 'viewport', 'proxy', 'user_agent', 'locale', 'extensions', 'timeout_secs'];

/**
 * Runs `fn({ browser, context, page, session, client })` in a pvault browser session with
 * `profile` loaded, connected with Playwright's `chromium.connectOverCDP`. The session ends
 * when `fn` settles, resolved or thrown; with `save: true` its final state is saved into the
 * profile (set `saveOnError: false` to discard it when `fn` throws). Resolves with `fn`'s
 * result. Options: `save`, `saveOnError`, `chromium`, `client` (an open Client to reuse),
 * `socketPath`, and the session options of `session.start` (`headful`, `start_url`, …).
 */
async function withProfile(profile, options, fn) {
  if (typeof options === 'function') [options, fn] = [{}, options];
  options = options ?? {};
  const chromium = resolveChromium(options);
  const client = options.client ?? await connect(options);
  const ownClient = !options.client;
  const save = Boolean(options.save);
  const start = { profile, save };
  for (const k of SESSION_OPTIONS) if (options[k] !== undefined) start[k] = options[k];
  let session;
  let profileCreated = false;
  try {
    const started = await client.sessionStart(start);
    session = started.session;
    profileCreated = Boolean(started.profile_created);
  } catch (err) {
    if (ownClient) client.close();
    throw err;
  }
  let browser;
  let failed = false;
  let failure;
  try {
    browser = await chromium.connectOverCDP(session.cdp_ws_url);
    const context = browser.contexts()[0] ?? await browser.newContext();
    const page = context.pages()[0] ?? await context.newPage();
    return await fn({ browser, context, page, session, profileCreated, client });
  } catch (err) {
    failed = true;
    failure = err;
    throw err;
  } finally {
    // Stop first, while the browser still holds the state to save; then drop Playwright's
    // connection (for a CDP-connected browser, close() only disconnects).
    const discard = !save || (failed && options.saveOnError === false);
    let cleanupError;
    try {
      await client.sessionStop({ session_id: session.session_id, discard });
    } catch (err) {
      cleanupError = err;
    }
    if (browser) await browser.close().catch(() => {});
    if (ownClient) client.close();
    if (cleanupError) {
      if (!failed) throw cleanupError;
      // The callback's error is the one to report; keep the cleanup failure attached.
      if (failure && typeof failure === 'object' && !failure.cleanupError) failure.cleanupError = cleanupError;
    }
  }
}

module.exports = {
  PROTOCOL_MAJOR,
  PROTOCOL_MINOR,
  MAX_CHUNKED_BYTES,
  MAX_MESSAGE_BYTES,
  ERROR_CODES,
  FINDING_KINDS,
  FINDING_RECORDS,
  METHODS,
  PvaultError,
  Client,
  connect,
  socketPath,
  passphrase,
  keyFile,
  withProfile,
};
