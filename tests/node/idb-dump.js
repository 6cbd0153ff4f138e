// What a page sees of its origin's storage, in the pvault session at $PVAULT_CDP_URL, or (with
// --storage-state FILE) in Playwright's own browser with newContext({storageState: FILE}):
//
//   node idb-dump.js [--storage-state FILE] URL [URL...]
//
// For each URL, in a new tab whose first navigation is that URL, prints under the URL's
// origin: {sessionStorage: {name: value}, localStorage: {name: value}, indexedDB: {db: {version,
// stores: {store: {keyPath, autoIncrement, indexes: [names], records: [[key, value]...]}}}}}.
// Keys and values are shown as JSON; a Date as {"$date": ISO}, binary data as {"$bytes":
// [...]}, a Map as {"$map": [[k, v]...]}, a Set as {"$set": [...]}, undefined as
// {"$undefined": true}, a BigInt as {"$bigint": "..."}, a reference back to an enclosing object
// as {"$cycle": true}: enough to tell records apart.
'use strict';
const { chromium, executablePath, connect, main } = require('./common');

async function dumpPage() {
  const req = (r) =>
    new Promise((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  const show = (v, seen = new Set()) => {
    if (v === undefined) return { $undefined: true };
    if (typeof v === 'bigint') return { $bigint: String(v) };
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return { $cycle: true };
    seen = new Set(seen).add(v);
    const each = (x) => show(x, seen);
    if (v instanceof Date) return { $date: isNaN(v) ? null : v.toISOString() };
    if (v instanceof ArrayBuffer) return { $bytes: [...new Uint8Array(v)] };
    if (ArrayBuffer.isView(v)) return { $bytes: [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)] };
    if (v instanceof Map) return { $map: [...v].map(([k, x]) => [each(k), each(x)]) };
    if (v instanceof Set) return { $set: [...v].map(each) };
    if (Array.isArray(v)) return v.map(each);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, each(x)]));
  };
  const items = (s) => Object.fromEntries(Object.keys(s).map((k) => [k, s.getItem(k)]));
  const out = {
    sessionStorage: items(sessionStorage),
    localStorage: items(localStorage),
    indexedDB: {},
  };
  for (const { name } of await indexedDB.databases()) {
    const db = await req(indexedDB.open(name));
    const stores = {};
    for (const s of db.objectStoreNames) {
      const tx = db.transaction(s, 'readonly');
      const store = tx.objectStore(s);
      const ks = await req(store.getAllKeys());
      const vs = await req(store.getAll());
      stores[s] = {
        keyPath: store.keyPath,
        autoIncrement: store.autoIncrement,
        indexes: [...store.indexNames],
        records: ks.map((k, i) => [show(k), show(vs[i])]),
      };
    }
    out.indexedDB[name] = { version: db.version, stores };
    db.close();
  }
  return out;
}

main(async () => {
  let args = process.argv.slice(2);
  let file = null;
  if (args[0] === '--storage-state') {
    file = args[1];
    args = args.slice(2);
  }
  if (args.length === 0) throw new Error('usage: idb-dump.js [--storage-state FILE] URL [URL...]');
  let browser;
  let context;
  if (file) {
    browser = await chromium.launch({ executablePath });
    context = await browser.newContext({ storageState: file });
  } else {
    ({ browser, context } = await connect());
  }
  const result = {};
  for (const url of args) {
    const page = await context.newPage();
    await page.goto(url);
    result[new URL(url).origin] = await page.evaluate(dumpPage);
  }
  await browser.close();
  console.log(JSON.stringify(result));
  process.exit(0);
});
