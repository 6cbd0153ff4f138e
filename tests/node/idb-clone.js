// Every structured-clone type as IndexedDB values and keys, written in one pvault session and
// checked in another ($PVAULT_CDP_URL), in a new tab at $TEST_ORIGIN + PATH (default /):
//
//   node idb-clone.js write [PATH]    creates database `clone-db` (version 7) and fills it;
//                                     prints {"written": N}.
//   node idb-clone.js verify [PATH]   opens `clone-db` as a page of the next session would and
//                                     compares everything with a fresh copy of what `write`
//                                     wrote; then checks that key generators continue from the
//                                     right number and indexes work (unique ones refuse a
//                                     duplicate). Prints {"checked": N, "problems": [...]}.
//   node idb-clone.js write-unsupported [PATH]
//                                     database `odd-db`, store `odd`: a Blob (inside an object),
//                                     a File and a plain string record `fine`; prints {"written": 3}.
//   node idb-clone.js read-unsupported [PATH]
//                                     prints {"fine": <value of `fine` or null>, "keys": [...]}.
//
// Both build the data with the same function, run in the page. The comparison is exact:
// Object.is for numbers (-0, NaN), prototypes for Map/Set/Date/RegExp/typed arrays/boxed
// primitives, bytes of binary data, holes of sparse arrays (`i in arr`), key order of objects,
// entry order of Maps and Sets, and shared or cyclic references by identity.
'use strict';
const { connect, origin, main } = require('./common');

// Runs in the page. Everything it needs is inside it.
async function inPage(mode) {
  const DB = 'clone-db';
  const VERSION = 7;
  const problems = [];
  const problem = (p) => {
    if (problems.length < 50) problems.push(p);
  };
  const req = (r) =>
    new Promise((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  const done = (tx) =>
    new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
    });

  // The values: one record each in store `values`, and all of them again in record `all`.
  function values() {
    const sparse = [1, , 3];
    sparse[9] = 'nine';
    const cyclic = { name: 'root' };
    cyclic.self = cyclic;
    cyclic.children = [cyclic, { parent: cyclic }];
    const shared = { shared: true };
    const selfArray = [];
    selfArray.push(selfArray, 1);
    const selfMap = new Map();
    selfMap.set('me', selfMap);
    const selfSet = new Set();
    selfSet.add(selfSet);
    const v = {
      string: 'héllo ✓ 日本 \u0000 \ud83d\ude00',
      emptyString: '',
      integer: 42,
      float: 3.141592653589793,
      negative: -7.25,
      large: 2 ** 60,
      smallest: 5e-324,
      maxSafe: Number.MAX_SAFE_INTEGER,
      nan: NaN,
      infinity: Infinity,
      negInfinity: -Infinity,
      negZero: -0,
      true: true,
      false: false,
      null: null,
      undefined: undefined,
      date: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
      dateEpoch: new Date(0),
      datePre1970: new Date(-86400000 * 365.25 * 100),
      invalidDate: new Date(NaN),
      regexp: /a+(b|c)*\/d$/gimsy,
      regexpUnicode: /\p{L}+/u,
      bigint: 123456789012345678901234567890n,
      negBigint: -5n,
      zeroBigint: 0n,
      arrayBuffer: new Uint8Array([0, 1, 2, 254, 255]).buffer,
      emptyArrayBuffer: new ArrayBuffer(0),
      int8: new Int8Array([-128, -1, 0, 127]),
      uint8: new Uint8Array([0, 128, 255]),
      uint8Clamped: new Uint8ClampedArray([0, 200, 255]),
      int16: new Int16Array([-32768, 32767]),
      uint16: new Uint16Array([0, 65535]),
      int32: new Int32Array([-2147483648, 2147483647]),
      uint32: new Uint32Array([0, 4294967295]),
      float32: new Float32Array([1.5, -0, NaN, Infinity]),
      float64: new Float64Array([Math.PI, -0, NaN, -Infinity, 5e-324]),
      bigInt64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
      bigUint64: new BigUint64Array([0n, 2n ** 64n - 1n]),
      emptyTyped: new Uint8Array(0),
      dataView: new DataView(new Uint8Array([9, 8, 7, 6]).buffer),
      array: [1, 'two', [3, [4, [5]]], { six: 6 }],
      emptyArray: [],
      sparse,
      holesOnly: new Array(5),
      object: { a: 1, nested: { b: [1, { c: 'd' }] }, 'with space': true, '': 'empty key' },
      emptyObject: {},
      map: new Map([
        [1, 'one'],
        ['k', { deep: [1, 2] }],
        [new Date(5), new Set([1, 'x'])],
        [{ objKey: 1 }, null],
      ]),
      emptyMap: new Map(),
      set: new Set(['a', 1, { o: true }, [2], 1n]),
      emptySet: new Set(),
      boxedString: new String('boxed'),
      boxedNumber: new Number(-0),
      boxedBoolean: new Boolean(false),
      boxedBigint: Object(7n),
      nested: {
        map: new Map([['set', new Set([new Date(9), 2n, new Uint16Array([1, 2])])]]),
        list: [new Map([[1, [new ArrayBuffer(2)]]]), /x/g],
      },
      cyclic,
      dag: { a: shared, b: shared, list: [shared, shared] },
      selfArray,
      selfMap,
      selfSet,
    };
    if (typeof Float16Array !== 'undefined') v.float16 = new Float16Array([1.5, -0, NaN]);
    return v;
  }

  // Keys of store `keys` (out-of-line): [key written, key read back, label]. Binary keys are
  // read back as ArrayBuffers whatever view wrote them.
  function keys() {
    const bytes = (a) => new Uint8Array(a).buffer;
    return [
      [0, 0, 'zero'],
      [-1.5, -1.5, 'negative'],
      [1e300, 1e300, 'huge'],
      [Infinity, Infinity, 'infinity'],
      [-Infinity, -Infinity, 'negInfinity'],
      ['', '', 'emptyString'],
      ['key', 'key', 'string'],
      ['ünïcødé ✓ 日本', 'ünïcødé ✓ 日本', 'unicode'],
      [new Date(0), new Date(0), 'dateEpoch'],
      [new Date(Date.UTC(2030, 5, 6, 7, 8, 9, 10)), new Date(Date.UTC(2030, 5, 6, 7, 8, 9, 10)), 'date'],
      [bytes([1, 2, 3]), bytes([1, 2, 3]), 'arrayBuffer'],
      [new Uint8Array([1, 2, 4]), bytes([1, 2, 4]), 'typedArray'],
      [new DataView(bytes([7, 7])), bytes([7, 7]), 'dataView'],
      [new ArrayBuffer(0), new ArrayBuffer(0), 'emptyBinary'],
      [[], [], 'emptyArray'],
      [[1, 'a', new Date(5), bytes([9]), [2, [3]]], [1, 'a', new Date(5), bytes([9]), [2, [3]]], 'array'],
      [[Infinity, ''], [Infinity, ''], 'arrayOfSpecials'],
    ];
  }

  // Exact structural comparison of `want` (fresh) and `got` (read back); reports by path.
  function compare(want, got, path, wantSeen = new Map(), gotSeen = new Map()) {
    const tag = (x) => Object.prototype.toString.call(x);
    const str = (x) => (Object.is(x, -0) ? '-0' : typeof x === 'bigint' ? `${x}n` : String(x));
    if (typeof want !== typeof got) {
      return problem(`${path}: expected ${typeof want}, got ${typeof got} (${str(got)})`);
    }
    if (typeof want !== 'object' || want === null || got === null) {
      if (!Object.is(want, got)) problem(`${path}: expected ${str(want)}, got ${str(got)}`);
      return;
    }
    // Shared and cyclic references: the same object on both sides, both ways.
    if (wantSeen.has(want) || gotSeen.has(got)) {
      if (wantSeen.get(want) !== got || gotSeen.get(got) !== want) {
        problem(`${path}: the reference structure differs (a shared or cyclic object)`);
      }
      return;
    }
    wantSeen.set(want, got);
    gotSeen.set(got, want);
    if (Object.getPrototypeOf(want) !== Object.getPrototypeOf(got) || tag(want) !== tag(got)) {
      return problem(`${path}: expected a ${tag(want)}, got a ${tag(got)}`);
    }
    const bytesOf = (x) =>
      x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    const sameBytes = (a, b) => {
      const x = bytesOf(a);
      const y = bytesOf(b);
      return x.length === y.length && x.every((v, i) => v === y[i]);
    };
    if (want instanceof Date) {
      if (!Object.is(want.getTime(), got.getTime())) {
        problem(`${path}: Date ${want.getTime()} became ${got.getTime()}`);
      }
    } else if (want instanceof RegExp) {
      if (want.source !== got.source || want.flags !== got.flags) {
        problem(`${path}: RegExp ${want} became ${got}`);
      }
    } else if (want instanceof ArrayBuffer) {
      if (!sameBytes(want, got)) problem(`${path}: ArrayBuffer bytes differ`);
    } else if (ArrayBuffer.isView(want)) {
      if (want.byteLength !== got.byteLength || !sameBytes(want, got)) {
        problem(`${path}: ${tag(want)} bytes differ`);
      }
      if (!(want instanceof DataView)) {
        for (let i = 0; i < want.length; i++) {
          if (!Object.is(want[i], got[i])) {
            problem(`${path}[${i}]: expected ${str(want[i])}, got ${str(got[i])}`);
          }
        }
      }
    } else if (want instanceof Map) {
      const w = [...want];
      const g = [...got];
      if (w.length !== g.length) return problem(`${path}: Map of ${w.length} became ${g.length}`);
      w.forEach(([k, v], i) => {
        compare(k, g[i][0], `${path}.<key ${i}>`, wantSeen, gotSeen);
        compare(v, g[i][1], `${path}.<value ${i}>`, wantSeen, gotSeen);
      });
    } else if (want instanceof Set) {
      const w = [...want];
      const g = [...got];
      if (w.length !== g.length) return problem(`${path}: Set of ${w.length} became ${g.length}`);
      w.forEach((v, i) => compare(v, g[i], `${path}.<item ${i}>`, wantSeen, gotSeen));
    } else if (
      want instanceof String ||
      want instanceof Number ||
      want instanceof Boolean ||
      want instanceof BigInt
    ) {
      if (!Object.is(want.valueOf(), got.valueOf())) {
        problem(`${path}: boxed ${str(want.valueOf())} became ${str(got.valueOf())}`);
      }
    } else if (Array.isArray(want)) {
      if (want.length !== got.length) {
        return problem(`${path}: array length ${want.length} became ${got.length}`);
      }
      for (let i = 0; i < want.length; i++) {
        if (i in want !== i in got) {
          problem(`${path}[${i}]: ${i in want ? 'an element became a hole' : 'a hole became an element'}`);
        } else if (i in want) {
          compare(want[i], got[i], `${path}[${i}]`, wantSeen, gotSeen);
        }
      }
    } else {
      const wk = Object.keys(want);
      const gk = Object.keys(got);
      if (JSON.stringify(wk) !== JSON.stringify(gk)) {
        return problem(`${path}: keys ${JSON.stringify(wk)} became ${JSON.stringify(gk)}`);
      }
      for (const k of wk) compare(want[k], got[k], `${path}.${k}`, wantSeen, gotSeen);
    }
  }

  const USERS = [
    { id: 1, email: 'ada@example.test', tags: ['x', 'y'], last: 'Lovelace', first: 'Ada', address: { city: 'London' } },
    { id: 2, email: 'grace@example.test', tags: ['y'], last: 'Hopper', first: 'Grace', address: { city: 'New York' } },
    { id: 3, email: 'alan@example.test', tags: ['x', 'z', 'x'], last: 'Turing', first: 'Alan', address: { city: 'London' } },
  ];

  if (mode === 'write') {
    await req(indexedDB.deleteDatabase(DB));
    const open = indexedDB.open(DB, VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      db.createObjectStore('values');
      db.createObjectStore('keys');
      db.createObjectStore('compound', { keyPath: ['org', 'user.id'] });
      db.createObjectStore('inline', { keyPath: 'meta.id' });
      db.createObjectStore('autoInline', { keyPath: 'id', autoIncrement: true });
      db.createObjectStore('autoOut', { autoIncrement: true });
      db.createObjectStore('empty');
      const users = db.createObjectStore('users', { keyPath: 'id' });
      users.createIndex('byEmail', 'email', { unique: true });
      users.createIndex('byTag', 'tags', { multiEntry: true });
      users.createIndex('byName', ['last', 'first']);
      users.createIndex('byCity', 'address.city');
    };
    const db = await req(open);
    let written = 0;
    const tx = db.transaction(db.objectStoreNames, 'readwrite');
    const v = values();
    for (const [name, value] of Object.entries(v)) {
      tx.objectStore('values').put(value, name);
      written++;
    }
    tx.objectStore('values').put(v, 'all');
    for (const [key, , label] of keys()) {
      tx.objectStore('keys').put(label, key);
      written++;
    }
    const compound = tx.objectStore('compound');
    compound.put({ org: 'acme', user: { id: 1 }, role: 'admin' });
    compound.put({ org: 'acme', user: { id: 2 }, role: 'user' });
    compound.put({ org: 'globex', user: { id: 1 }, role: 'owner' });
    const inline = tx.objectStore('inline');
    inline.put({ meta: { id: new Date(7) }, v: 'date key' });
    inline.put({ meta: { id: ['a', 1] }, v: 'array key' });
    inline.put({ meta: { id: 'plain' }, v: 'string key' });
    const autoInline = tx.objectStore('autoInline');
    for (const n of [1, 2, 3]) autoInline.add({ n });
    autoInline.delete(3);
    const autoOut = tx.objectStore('autoOut');
    for (const s of ['a', 'b', 'c']) autoOut.add(s);
    autoOut.put('explicit', 10);
    autoOut.delete(10);
    for (const u of USERS) tx.objectStore('users').put(u);
    written += 3 + 3 + 2 + 3 + USERS.length;
    await done(tx);
    db.close();
    return { written };
  }

  // verify: open as a fresh page of the next session would (no version: refuse to create it).
  let created = false;
  const open = indexedDB.open(DB);
  open.onupgradeneeded = () => {
    created = true;
    open.transaction.abort();
  };
  let db;
  try {
    db = await req(open);
  } catch (e) {
    if (created) return { checked: 0, problems: [`database ${DB} does not exist in this session`] };
    throw e;
  }
  let checked = 0;
  const check = (cond, what) => {
    checked++;
    if (!cond) problem(what);
  };
  check(db.version === VERSION, `version ${VERSION} became ${db.version}`);
  const storeNames = [...db.objectStoreNames];
  const wantStores = ['autoInline', 'autoOut', 'compound', 'empty', 'inline', 'keys', 'users', 'values'];
  check(
    JSON.stringify(storeNames) === JSON.stringify(wantStores),
    `stores ${JSON.stringify(wantStores)} became ${JSON.stringify(storeNames)}`,
  );
  if (!wantStores.every((s) => storeNames.includes(s))) return { checked, problems };

  const tx = db.transaction(wantStores, 'readonly');
  const get = (store, key) => req(tx.objectStore(store).get(key));
  const all = (store) => req(tx.objectStore(store).getAll());
  const allKeys = (store) => req(tx.objectStore(store).getAllKeys());

  // Values, one record each, then all of them in one graph.
  const want = values();
  const stored = await allKeys('values');
  check(
    stored.length === Object.keys(want).length + 1,
    `store values has ${stored.length} records, expected ${Object.keys(want).length + 1}`,
  );
  for (const [name, value] of Object.entries(want)) {
    const count = await req(tx.objectStore('values').count(name));
    check(count === 1, `value ${name}: record missing`);
    if (count === 1) {
      const before = problems.length;
      compare(value, await get('values', name), `values[${name}]`);
      check(problems.length === before, `value ${name} differs`);
    }
  }
  compare(want, await get('values', 'all'), 'values[all]');
  checked++;

  // Keys: each found by its key, and all of them back in IndexedDB order with their types.
  const ks = keys();
  for (const [, readBack, label] of ks) {
    check((await get('keys', readBack)) === label, `key ${label}: no record under it`);
  }
  const expectedOrder = ks
    .map(([, k]) => k)
    .sort((a, b) => indexedDB.cmp(a, b));
  const gotKeys = await allKeys('keys');
  check(gotKeys.length === ks.length, `store keys has ${gotKeys.length} keys, expected ${ks.length}`);
  const before = problems.length;
  compare(expectedOrder, gotKeys, 'keys');
  check(problems.length === before, 'keys came back different');

  // Compound and nested in-line key paths.
  const compound = tx.objectStore('compound');
  check(
    JSON.stringify(compound.keyPath) === JSON.stringify(['org', 'user.id']),
    `compound keyPath became ${JSON.stringify(compound.keyPath)}`,
  );
  check((await get('compound', ['globex', 1]))?.role === 'owner', 'compound key [globex, 1] not found');
  check((await get('compound', ['acme', 2]))?.role === 'user', 'compound key [acme, 2] not found');
  check((await allKeys('compound')).length === 3, 'compound store lost records');
  check(tx.objectStore('inline').keyPath === 'meta.id', 'inline keyPath changed');
  check((await get('inline', new Date(7)))?.v === 'date key', 'in-line Date key not found');
  check((await get('inline', ['a', 1]))?.v === 'array key', 'in-line array key not found');
  check((await get('inline', 'plain'))?.v === 'string key', 'in-line string key not found');
  check((await all('empty')).length === 0, 'the empty store is not empty');

  // Indexes: their definitions and queries through them.
  const users = tx.objectStore('users');
  const idx = (n) => users.index(n);
  check(
    JSON.stringify([...users.indexNames]) === JSON.stringify(['byCity', 'byEmail', 'byName', 'byTag']),
    `indexes became ${JSON.stringify([...users.indexNames])}`,
  );
  if (users.indexNames.length === 4) {
    check(idx('byEmail').unique && !idx('byEmail').multiEntry, 'byEmail is no longer unique');
    check(idx('byTag').multiEntry && !idx('byTag').unique, 'byTag is no longer multiEntry');
    check(
      JSON.stringify(idx('byName').keyPath) === JSON.stringify(['last', 'first']),
      'byName key path changed',
    );
    check(idx('byCity').keyPath === 'address.city', 'byCity key path changed');
    check((await req(idx('byEmail').get('grace@example.test')))?.id === 2, 'byEmail lookup failed');
    const tagged = await req(idx('byTag').getAllKeys('x'));
    check(JSON.stringify(tagged) === '[1,3]', `byTag 'x' found ${JSON.stringify(tagged)}`);
    check((await req(idx('byTag').count('y'))) === 2, "byTag 'y' count is not 2");
    check((await req(idx('byTag').count())) === 5, 'byTag has not one entry per distinct tag of each user');
    check((await req(idx('byName').get(['Turing', 'Alan'])))?.id === 3, 'byName lookup failed');
    check((await req(idx('byCity').count('London'))) === 2, "byCity 'London' count is not 2");
  }
  compare(USERS, await all('users'), 'users');
  checked++;
  await new Promise((r) => (tx.oncomplete = r));

  // Writes: key generators continue from the right number; a unique index refuses a
  // duplicate (and the failed add leaves the generator where it was).
  const wtx = db.transaction(['autoInline', 'autoOut', 'users'], 'readwrite');
  const added = async (store, value) => {
    try {
      return await req(wtx.objectStore(store).add(value));
    } catch (e) {
      return `error ${e && e.name}`;
    }
  };
  const a = await added('autoInline', { n: 4 });
  check(a === 4, `autoInline: the next key is ${a}, expected 4 (3 was deleted, not reused)`);
  const o = await added('autoOut', 'd');
  check(o === 11, `autoOut: the next key is ${o}, expected 11 (after the explicit key 10)`);
  const dup = wtx.objectStore('users').add({ id: 9, email: 'ada@example.test', tags: [] });
  const dupResult = await new Promise((resolve) => {
    dup.onsuccess = () => resolve('added');
    dup.onerror = (ev) => {
      ev.preventDefault();
      resolve(dup.error && dup.error.name);
    };
  });
  check(dupResult === 'ConstraintError', `a duplicate byEmail was ${dupResult}, not refused`);
  const fine = await added('users', { id: 10, email: 'new@example.test', tags: ['x'] });
  check(fine === 10, `a fresh user was refused: ${fine}`);
  wtx.abort();
  db.close();
  return { checked, problems };
}

// Runs in the page: values structured clone accepts but no JSON encoding can hold.
async function unsupported(mode) {
  const req = (r) =>
    new Promise((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  const open = indexedDB.open('odd-db', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('odd');
  const db = await req(open);
  const tx = db.transaction('odd', mode === 'write' ? 'readwrite' : 'readonly');
  const store = tx.objectStore('odd');
  let out;
  if (mode === 'write') {
    store.put({ name: 'avatar', blob: new Blob(['hello'], { type: 'text/plain' }) }, 'blob');
    store.put(new File(['x'], 'f.txt'), 'file');
    store.put('still here', 'fine');
    out = { written: 3 };
  } else {
    out = { fine: (await req(store.get('fine'))) ?? null, keys: await req(store.getAllKeys()) };
  }
  await new Promise((r) => (tx.oncomplete = r));
  db.close();
  return out;
}

main(async () => {
  const [mode, path = '/'] = process.argv.slice(2);
  const modes = ['write', 'verify', 'write-unsupported', 'read-unsupported'];
  if (!modes.includes(mode)) {
    throw new Error(`usage: idb-clone.js ${modes.join('|')} [PATH]`);
  }
  const { browser, context } = await connect();
  const page = await context.newPage();
  await page.goto(origin + path);
  const result = mode.endsWith('-unsupported')
    ? await page.evaluate(unsupported, mode.replace('-unsupported', ''))
    : await page.evaluate(inPage, mode);
  await page.close();
  await browser.close();
  console.log(JSON.stringify(result));
  process.exit(0);
});
