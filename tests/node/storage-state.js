// Playwright on its own (it launches $CHROME, default /usr/lib/chromium/chromium):
//   node storage-state.js load FILE   newContext({storageState: FILE}), then prints the
//                                     check result of /whoami and /app;
//   node storage-state.js save FILE   logs in on a fresh context and writes
//                                     context.storageState({path: FILE}).
//   node storage-state.js save-indexeddb FILE TOKEN
//                                     on a fresh context, logs in with TOKEN at /idb-app
//                                     (idb-keyval, Dexie, localforage) and fills database
//                                     `pw-db` (see fillPwDb), then writes
//                                     context.storageState({path: FILE, indexedDB: true}).
'use strict';
const { chromium, executablePath, origin, login, check, main } = require('./common');

// Database `pw-db`: store `items` (keyPath id, index byKind) with values Playwright encodes
// (Dates, nested objects, typed arrays), store `kv` with out-of-line keys (a Date, an array).
function fillPwDb() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('pw-db', 3);
    open.onupgradeneeded = () => {
      const items = open.result.createObjectStore('items', { keyPath: 'id' });
      items.createIndex('byKind', 'kind');
      open.result.createObjectStore('kv');
    };
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(['items', 'kv'], 'readwrite');
      const items = tx.objectStore('items');
      items.put({ id: 1, kind: 'date', at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)) });
      items.put({ id: 2, kind: 'nested', v: { a: [1, { b: 'two' }], flag: true, none: null } });
      items.put({ id: 3, kind: 'bytes', v: new Uint8Array([1, 2, 3]) });
      const kv = tx.objectStore('kv');
      kv.put('dated', new Date(Date.UTC(2030, 0, 1)));
      kv.put({ pair: ['x', 2] }, ['x', 2]);
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}

main(async () => {
  const [mode, file] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath });
  try {
    if (mode === 'load') {
      const context = await browser.newContext({ storageState: file });
      const page = await context.newPage();
      console.log(JSON.stringify(await check(page)));
    } else if (mode === 'save') {
      const context = await browser.newContext();
      const page = await context.newPage();
      await login(page);
      await context.storageState({ path: file });
      console.log(JSON.stringify({ saved: file }));
    } else if (mode === 'save-indexeddb') {
      const token = process.argv[4];
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(origin + '/idb-app');
      await page.waitForFunction(() => document.title.startsWith('idb:'));
      const seen = await page.evaluate((t) => window.app.login(t), token);
      await page.evaluate(fillPwDb);
      await context.storageState({ path: file, indexedDB: true });
      console.log(JSON.stringify({ saved: file, seen }));
    } else {
      throw new Error(`usage: storage-state.js load|save|save-indexeddb FILE (got ${mode})`);
    }
  } finally {
    await browser.close();
  }
});
