// IndexedDB of the document's origin, read and written by script: CDP's IndexedDB domain has no
// write method and returns values as shallow previews only, so a faithful copy needs script
// running in a document of the origin. The daemon evaluates this file as an expression whose
// value is a function, called with one argument:
//   {op: "collect"}                       → [database…] in the model's JSON (indexed_db.rs)
//   {op: "restore", databases, replace}   → {records, failures: [text…]}
// Values use the tagged encoding documented in crates/model/src/clone_value.rs (Playwright's
// serialization plus pvault tags). Nothing here touches the page's own globals: it runs in an
// isolated world of a live page, or in the main world of our stub page.
(async function pvaultIndexedDb(arg) {
  const TA = {
    i8: Int8Array, ui8: Uint8Array, ui8c: Uint8ClampedArray, i16: Int16Array,
    ui16: Uint16Array, i32: Int32Array, ui32: Uint32Array, f32: Float32Array,
    f64: Float64Array, bi64: BigInt64Array, bui64: BigUint64Array,
  };
  if (typeof Float16Array === 'function') TA.f16 = Float16Array;
  const tagOf = (v) => Object.prototype.toString.call(v).slice(8, -1);
  const b64 = (bytes) => {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000)
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  };
  const unb64 = (s) => {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  };
  const req = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

  // Playwright's rule for `value` (plain JSON) vs `valueEncoded`, made exact: -0, sparse
  // arrays and an object reached twice (shared or cyclic) are not plain (JSON would turn them
  // into 0, nulls and copies).
  function plain(v, depth, seen = new Set()) {
    if (depth > 100) return false;
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
    if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
    if (typeof v !== 'object') return false;
    if (seen.has(v)) return false;
    seen.add(v);
    if (Array.isArray(v)) {
      if (Object.getPrototypeOf(v) !== Array.prototype) return false;
      for (let i = 0; i < v.length; i++) if (!(i in v) || !plain(v[i], depth + 1, seen)) return false;
      return true;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return false;
    for (const k of Object.keys(v)) if (!plain(v[k], depth + 1, seen)) return false;
    return true;
  }

  function encode(value) {
    const seen = new Map();
    let last = 0;
    const enc = (v) => {
      if (v === undefined) return { v: 'undefined' };
      if (v === null) return { v: 'null' };
      switch (typeof v) {
        case 'number':
          if (Number.isNaN(v)) return { v: 'NaN' };
          if (v === Infinity) return { v: 'Infinity' };
          if (v === -Infinity) return { v: '-Infinity' };
          if (Object.is(v, -0)) return { v: '-0' };
          return v;
        case 'string': case 'boolean': return v;
        case 'bigint': return { bi: v.toString() };
        case 'object': break;
        default: return { unsupported: typeof v };
      }
      if (seen.has(v)) return { ref: seen.get(v) };
      const tag = tagOf(v);
      switch (tag) {
        case 'Date': return { d: Number.isNaN(v.getTime()) ? null : v.toJSON() };
        case 'RegExp': return { r: { p: v.source, f: v.flags } };
        case 'ArrayBuffer': return { ab: { b: b64(new Uint8Array(v)) } };
        case 'DataView': return { dv: { b: b64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) } };
        case 'Error': return { e: { n: String(v.name), m: String(v.message), s: String(v.stack) } };
        case 'Number': case 'String': case 'Boolean': case 'BigInt':
          return { bx: enc(v.valueOf()) };
      }
      for (const [k, ctor] of Object.entries(TA)) {
        if (v instanceof ctor || tag === ctor.name)
          return { ta: { b: b64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)), k } };
      }
      const id = ++last;
      seen.set(v, id);
      if (tag === 'Map') {
        const m = [];
        for (const [k, x] of v) m.push({ k: enc(k), v: enc(x) });
        return { m, id };
      }
      if (tag === 'Set') {
        const s = [];
        for (const x of v) s.push(enc(x));
        return { s, id };
      }
      if (Array.isArray(v)) {
        const a = [];
        const holes = [];
        for (let i = 0; i < v.length; i++) {
          if (i in v) a.push(enc(v[i]));
          else { a.push({ v: 'undefined' }); holes.push(i); }
        }
        return holes.length ? { a, id, holes } : { a, id };
      }
      if (tag === 'Object') {
        const o = [];
        for (const k of Object.keys(v)) o.push({ k, v: enc(v[k]) });
        return { o, id };
      }
      // Blob, File, FileList, ImageData, CryptoKey, …: kept by name, reported, never loaded.
      seen.delete(v);
      return { unsupported: tag };
    };
    return enc(value);
  }

  function decode(e) {
    const refs = new Map();
    const dec = (x) => {
      if (x === null || typeof x !== 'object') return x;
      if ('ref' in x) return refs.get(x.ref);
      if ('v' in x) return { undefined: undefined, null: null, NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 }[x.v];
      if ('d' in x) return new Date(x.d === null ? NaN : x.d);
      if ('u' in x) return new URL(x.u);
      if ('bi' in x) return BigInt(x.bi);
      if ('e' in x) {
        const ctor = globalThis[x.e.n];
        const err = typeof ctor === 'function' && ctor.prototype instanceof Error ? new ctor(x.e.m) : new Error(x.e.m);
        if (err.name !== x.e.n) err.name = x.e.n;
        err.stack = x.e.s;
        return err;
      }
      if ('r' in x) return new RegExp(x.r.p, x.r.f);
      if ('ta' in x) {
        const ctor = TA[x.ta.k];
        if (!ctor) throw new Error(`typed array kind ${x.ta.k} is not supported by this browser`);
        return new ctor(unb64(x.ta.b).buffer);
      }
      if ('ab' in x) return unb64(x.ab.b).buffer;
      if ('dv' in x) return new DataView(unb64(x.dv.b).buffer);
      if ('bx' in x) return Object(dec(x.bx));
      if ('unsupported' in x) throw new Error(`holds a ${x.unsupported}, which pvault could not save`);
      if ('a' in x) {
        const a = new Array(x.a.length);
        refs.set(x.id, a);
        const holes = new Set(x.holes || []);
        x.a.forEach((item, i) => { if (!holes.has(i)) a[i] = dec(item); });
        return a;
      }
      if ('o' in x) {
        const o = {};
        refs.set(x.id, o);
        for (const { k, v } of x.o)
          Object.defineProperty(o, k, { value: dec(v), enumerable: true, writable: true, configurable: true });
        return o;
      }
      if ('m' in x) {
        const m = new Map();
        refs.set(x.id, m);
        for (const { k, v } of x.m) m.set(dec(k), dec(v));
        return m;
      }
      if ('s' in x) {
        const s = new Set();
        refs.set(x.id, s);
        for (const item of x.s) s.add(dec(item));
        return s;
      }
      throw new Error('unknown encoded value');
    };
    return dec(e);
  }

  const form = (v, plainName, encName, out) => {
    if (plain(v, 0)) out[plainName] = v;
    else out[encName] = encode(v);
  };

  async function openExisting(name) {
    const r = indexedDB.open(name);
    // Listed a moment ago but gone now: opening without a version would create it empty.
    r.onupgradeneeded = () => r.transaction.abort();
    const db = await req(r);
    // A page upgrading its database must not wait on us.
    db.onversionchange = () => db.close();
    return db;
  }

  // One read travels as one CDP message; past this an origin is refused by name, never
  // truncated (the capture keeps its last known content and reports it).
  const MAX_ORIGIN_CHARS = 32 * 1024 * 1024;

  async function collect() {
    const out = [];
    let size = 0;
    for (const info of await indexedDB.databases()) {
      if (!info.name) continue;
      let db;
      try { db = await openExisting(info.name); } catch (e) { continue; }
      try {
        const entry = { name: db.name, version: db.version, stores: [] };
        const names = [...db.objectStoreNames];
        if (names.length) {
          const tx = db.transaction(names, 'readonly');
          entry.stores = await Promise.all(names.map(async (sname) => {
            const store = tx.objectStore(sname);
            const [keys, values] = await Promise.all([req(store.getAllKeys()), req(store.getAll())]);
            const records = keys.map((k, i) => {
              const rec = {};
              form(k, 'key', 'keyEncoded', rec);
              form(values[i], 'value', 'valueEncoded', rec);
              return rec;
            });
            size += JSON.stringify(records).length;
            if (size > MAX_ORIGIN_CHARS)
              throw new Error(`too_large: IndexedDB of this origin passed ${MAX_ORIGIN_CHARS >> 20} MiB at database ${db.name} store ${sname}; it was not captured (its last known content is kept)`);
            const kp = store.keyPath;
            const s = { name: sname, records, indexes: [], autoIncrement: store.autoIncrement };
            if (typeof kp === 'string') s.keyPath = kp;
            else if (Array.isArray(kp)) s.keyPathArray = [...kp];
            for (const iname of store.indexNames) {
              const ix = store.index(iname);
              const i = { name: iname, multiEntry: ix.multiEntry, unique: ix.unique };
              if (Array.isArray(ix.keyPath)) i.keyPathArray = [...ix.keyPath];
              else i.keyPath = ix.keyPath;
              s.indexes.push(i);
            }
            return s;
          }));
        }
        out.push(entry);
      } finally {
        db.close();
      }
    }
    return out;
  }

  async function deleteDb(name) {
    const r = indexedDB.deleteDatabase(name);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('a page keeps the database open (deletion blocked for 5 s)')), 5000);
      r.onsuccess = () => { clearTimeout(timer); resolve(); };
      r.onerror = () => { clearTimeout(timer); reject(r.error); };
    });
  }

  // A dummy value whose key path selects `key`, for moving a key generator forward.
  const holder = (path, key) => {
    if (path === '') return key;
    const root = {};
    let cur = root;
    const parts = path.split('.');
    parts.slice(0, -1).forEach((p) => { cur = cur[p] = {}; });
    cur[parts[parts.length - 1]] = key;
    return root;
  };

  async function restoreDb(info, replace, failures) {
    const existing = (await indexedDB.databases()).some((d) => d.name === info.name);
    if (existing) {
      if (!replace) throw new Error('already exists in the browser');
      await deleteDb(info.name);
    }
    const open = indexedDB.open(info.name, info.version);
    open.onupgradeneeded = () => {
      const db = open.result;
      for (const s of info.stores) {
        const keyPath = s.keyPathArray ?? s.keyPath ?? null;
        const store = db.createObjectStore(s.name, { keyPath, autoIncrement: !!s.autoIncrement });
        for (const i of s.indexes || [])
          store.createIndex(i.name, i.keyPathArray ?? i.keyPath, { unique: !!i.unique, multiEntry: !!i.multiEntry });
      }
    };
    open.onblocked = () => failures.push(`${info.name}: opening was blocked by another connection`);
    const db = await req(open);
    db.onversionchange = () => db.close();
    let issued = 0;
    let failed = 0;
    try {
      if (!info.stores.length) return 0;
      // Relaxed: the vault holds the data; a crash of the browser mid-load loses nothing.
      const tx = db.transaction(info.stores.map((s) => s.name), 'readwrite', { durability: 'relaxed' });
      // A failed put's error event bubbles up to the transaction: one handler for all of
      // them (a handler per request costs a JS callback per record, measurably slower on
      // thousands), which keeps the transaction going and names the record.
      const what = new Map();
      const done = new Promise((resolve, reject) => {
        tx.oncomplete = resolve;
        tx.onerror = (ev) => {
          ev.preventDefault();
          const r = ev.target;
          const at = what.get(r);
          if (at === undefined) return;
          // The record's name is made only for a failure (not a string per record).
          const name = `${info.name}/${info.stores[Math.floor(at / 2 ** 32)].name} record ${at % 2 ** 32}`;
          failed++;
          failures.push(`${name}: ${r.error && r.error.name}: ${r.error && r.error.message}`);
        };
        tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
      });
      info.stores.forEach((s, si) => {
        const store = tx.objectStore(s.name);
        const inLine = s.keyPath !== undefined || s.keyPathArray !== undefined;
        let maxKey = 0;
        (s.records || []).forEach((rec, n) => {
          let value, key;
          try {
            value = 'value' in rec ? rec.value : decode(rec.valueEncoded);
            key = 'key' in rec ? rec.key : ('keyEncoded' in rec ? decode(rec.keyEncoded) : undefined);
          } catch (e) {
            failures.push(`${info.name}/${s.name} record ${n}: ${e.message}`);
            return;
          }
          if (typeof key === 'number' && key > maxKey) maxKey = key;
          let r;
          try {
            r = inLine ? store.put(value) : store.put(value, key);
          } catch (e) {
            failures.push(`${info.name}/${s.name} record ${n}: ${e.name}: ${e.message}`);
            return;
          }
          issued++;
          what.set(r, si * 2 ** 32 + n);
        });
        // Move the key generator to where it was: records deleted after being added leave
        // it above the largest key, and the next generated key must not reuse theirs.
        const gen = s.keyGenerator;
        if (s.autoIncrement && gen && gen - 1 > Math.floor(maxKey) && gen - 1 <= 2 ** 53) {
          const k = gen - 1;
          const p = inLine ? store.put(holder(s.keyPath, k)) : store.put(null, k);
          p.onsuccess = () => store.delete(k);
          p.onerror = (ev) => {
            ev.preventDefault();
            ev.stopPropagation();
            failures.push(`${info.name}/${s.name}: key generator not restored`);
          };
        }
      });
      await done;
    } finally {
      db.close();
    }
    return issued - failed;
  }

  if (arg.op === 'collect') return collect();
  if (arg.op === 'restore') {
    const failures = [];
    // Databases are independent: their transactions overlap in Chrome's storage service.
    const counts = await Promise.all(arg.databases.map((info) =>
      restoreDb(info, !!arg.replace, failures).catch((e) => {
        failures.push(`${info.name}: ${e && e.message ? e.message : e}`);
        return 0;
      })));
    return { records: counts.reduce((a, b) => a + b, 0), failures };
  }
  throw new Error(`unknown op ${arg.op}`);
})
