//! IndexedDB and sessionStorage: every structured-clone type survives capture → load as keys
//! and values (compound, out-of-line and binary keys, key generators, unique and multiEntry
//! indexes); a new tab's first document starts with its origin's saved sessionStorage and a
//! logout is not undone by a reload; a part the session never touched is captured back as
//! loaded; a checkpoint sees an IndexedDB write without opening a page; a record Chrome refuses
//! at load is named (database/store and position), the others loaded.

use std::time::Duration;

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::target::EventTargetCreated;
use futures::StreamExt;
use pvault_browser::LocalStorageLoad;
use pvault_model::{BrowserState, OriginState, StorageItem};
use serde_json::json;

use crate::support::*;

/// Evaluates an async expression and returns its value as a string.
async fn eval_async(page: &Page, expr: &str) -> String {
    let wrapped = format!(
        "(async () => {{ try {{ return String(await ({expr})); }} \
         catch (e) {{ return 'error: ' + (e && e.name) + ': ' + (e && e.message); }} }})()"
    );
    page.evaluate(wrapped)
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}"))
        .into_value::<String>()
        .unwrap()
}

/// Builds the values every test compares: one per structured-clone type.
const VALUES_JS: &str = r#"
const makeValues = () => {
  const cyc = { name: 'c' }; cyc.self = cyc;
  const shared = [1];
  const sparse = [1, , 3]; sparse[6] = 'x';
  return {
    str: 'tök€n ✓', num: 1.5, nan: NaN, inf: Infinity, ninf: -Infinity, negz: -0,
    t: true, f: false, nul: null, undef: undefined,
    date: new Date(1700000000123), badDate: new Date(NaN), re: /a+b/gi,
    big: 123456789012345678901234567890n, nbig: -5n,
    ab: new Uint8Array([1, 2, 255]).buffer,
    i8: new Int8Array([-1, 2]), u8: new Uint8Array([1, 255]), u8c: new Uint8ClampedArray([3]),
    i16: new Int16Array([-300]), u16: new Uint16Array([65535]), i32: new Int32Array([-70000]),
    u32: new Uint32Array([4e9]), f32: new Float32Array([1.5]), f64: new Float64Array([Math.PI]),
    bi64: new BigInt64Array([-9n]), bu64: new BigUint64Array([9n]),
    dv: new DataView(new Uint8Array([9, 8, 7]).buffer),
    arr: [1, 'two', [3]], sparse, obj: { a: { b: { c: 1 } } },
    map: new Map([[1, 'one'], ['k', new Set([1, 'x'])]]), set: new Set([new Date(5), 2]),
    cyc, pair: [shared, shared],
    boxedStr: new String('s'), boxedNum: new Number(4), boxedBool: new Boolean(false),
    err: new RangeError('boom'),
  };
};
const keysOf = () => [1, -Infinity, 'str', new Date(7), new Uint8Array([1, 2]).buffer, ['a', 1, new Date(3)]];
const eqBytes = (x, y) => x.length === y.length && x.every((b, i) => b === y[i]);
const eq = (a, b, seen = new Map()) => {
  if (typeof a !== typeof b) return false;
  if (typeof a !== 'object' || a === null || b === null) return Object.is(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (seen.has(a)) return seen.get(a) === b;
  seen.set(a, b);
  if (a instanceof Date) return Object.is(a.getTime(), b.getTime());
  if (a instanceof RegExp) return a.source === b.source && a.flags === b.flags;
  if (a instanceof ArrayBuffer) return eqBytes(new Uint8Array(a), new Uint8Array(b));
  if (ArrayBuffer.isView(a))
    return eqBytes(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
  if (a instanceof Error) return a.name === b.name && a.message === b.message;
  if (a instanceof String || a instanceof Number || a instanceof Boolean) return Object.is(a.valueOf(), b.valueOf());
  if (a instanceof Map) {
    const x = [...a], y = [...b];
    return x.length === y.length && x.every((e, i) => eq(e[0], y[i][0], seen) && eq(e[1], y[i][1], seen));
  }
  if (a instanceof Set) {
    const x = [...a], y = [...b];
    return x.length === y.length && x.every((e, i) => eq(e, y[i], seen));
  }
  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      if ((i in a) !== (i in b)) return false;
      if (i in a && !eq(a[i], b[i], seen)) return false;
    }
    return true;
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && eq(a[k], b[k], seen));
};
const req = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
const done = (tx) => new Promise((res, rej) => { tx.oncomplete = res; tx.onerror = () => rej(tx.error); });
"#;

/// Writes every type as a value and as keys, plus stores exercising key paths, generators
/// and indexes.
const WRITE_JS: &str = r#"(async () => {
  const open = indexedDB.open('everything', 4);
  open.onupgradeneeded = () => {
    const db = open.result;
    db.createObjectStore('values');
    db.createObjectStore('keys');
    db.createObjectStore('auto', { autoIncrement: true });
    db.createObjectStore('inline', { keyPath: 'id', autoIncrement: true });
    db.createObjectStore('compound', { keyPath: ['x', 'y'] });
    const people = db.createObjectStore('people', { keyPath: 'id' });
    people.createIndex('byEmail', 'email', { unique: true });
    people.createIndex('byTag', 'tags', { multiEntry: true });
  };
  const db = await req(open);
  const tx = db.transaction(['values', 'keys', 'auto', 'inline', 'compound', 'people'], 'readwrite');
  tx.objectStore('values').put(makeValues(), 'all');
  tx.objectStore('values').put(null, 'nothing');
  const s2 = { x: 1 };
  tx.objectStore('values').put({ a: s2, b: s2 }, 'sharedPlain');
  keysOf().forEach((k, i) => tx.objectStore('keys').put(i, k));
  const auto = tx.objectStore('auto');
  auto.add('a'); auto.add('b'); auto.add('c'); auto.delete(3);
  const inline = tx.objectStore('inline');
  inline.add({ v: 1 }); inline.add({ v: 2 }); inline.delete(2);
  tx.objectStore('compound').put({ x: 'k', y: new Date(9), payload: 1 });
  const people = tx.objectStore('people');
  people.put({ id: 1, email: 'a@x', tags: ['t1', 't2'] });
  people.put({ id: 2, email: 'b@x', tags: ['t1'] });
  await done(tx);
  db.close();
  return 'written';
})()"#;

/// Checks everything WRITE_JS wrote, after a load into a fresh browser.
const CHECK_JS: &str = r#"(async () => {
  const db = await req(indexedDB.open('everything'));
  const problems = [];
  if (db.version !== 4) problems.push('version ' + db.version);
  let tx = db.transaction(['values', 'keys', 'compound', 'people'], 'readonly');
  const loaded = await req(tx.objectStore('values').get('all'));
  const want = makeValues();
  for (const k of Object.keys(want)) if (!eq(want[k], loaded && loaded[k])) problems.push('value ' + k);
  if (!eq(Object.keys(want), Object.keys(loaded || {}))) problems.push('value keys');
  if (loaded && loaded.pair[0] !== loaded.pair[1]) problems.push('shared reference');
  if (loaded && loaded.cyc.self !== loaded.cyc) problems.push('cycle');
  const values = tx.objectStore('values');
  if ((await req(values.getKey('nothing'))) !== 'nothing' || (await req(values.get('nothing'))) !== null) problems.push('a null value');
  const sp = await req(values.get('sharedPlain'));
  if (!sp || sp.a !== sp.b || sp.a.x !== 1) problems.push('shared reference in an otherwise plain value');
  const keys = await req(tx.objectStore('keys').getAllKeys());
  const wantKeys = keysOf().sort((a, b) => indexedDB.cmp(a, b));
  if (keys.length !== wantKeys.length || keys.some((k, i) => indexedDB.cmp(k, wantKeys[i]) !== 0)) problems.push('keys');
  const c = await req(tx.objectStore('compound').get(['k', new Date(9)]));
  if (!c || c.payload !== 1) problems.push('compound key');
  const byEmail = await req(tx.objectStore('people').index('byEmail').get('b@x'));
  if (!byEmail || byEmail.id !== 2) problems.push('unique index lookup');
  const tagged = await req(tx.objectStore('people').index('byTag').getAll('t1'));
  if (tagged.length !== 2) problems.push('multiEntry index ' + tagged.length);
  await done(tx);
  tx = db.transaction(['auto', 'inline', 'people'], 'readwrite');
  const next = await req(tx.objectStore('auto').add('d'));
  if (next !== 4) problems.push('auto key generator gave ' + next);
  const nextInline = await req(tx.objectStore('inline').add({ v: 3 }));
  if (nextInline !== 3) problems.push('in-line key generator gave ' + nextInline);
  const dup = tx.objectStore('people').add({ id: 9, email: 'a@x', tags: [] });
  const dupFailed = await new Promise((res) => { dup.onsuccess = () => res(false); dup.onerror = (e) => { e.preventDefault(); e.stopPropagation(); res(dup.error.name === 'ConstraintError'); }; });
  if (!dupFailed) problems.push('unique index accepted a duplicate');
  await done(tx);
  db.close();
  return problems.length ? problems.join('; ') : 'ok';
})()"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_structured_clone_type_survives_capture_and_load() {
    let server = TestServer::start().await;
    let l = launch(None, LocalStorageLoad::Auto).await;
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    let page = client.open(&server.url("/")).await;
    assert_eq!(
        eval_async(
            &page,
            &format!("(() => {{ {VALUES_JS}; return {WRITE_JS}; }})()")
        )
        .await,
        "written"
    );
    let (state, report) = l.session.capture().await.unwrap();
    assert!(
        report.origins_failed.is_empty(),
        "{:?}",
        report.origins_failed
    );
    let origin = state
        .origins
        .iter()
        .find(|o| o.origin == server.origin)
        .expect("the origin was captured");
    let db = &origin.databases()[0];
    assert_eq!((db.name.as_str(), db.version), ("everything", 4));
    let auto = db.stores.iter().find(|s| s.name == "auto").unwrap();
    assert_eq!(
        auto.key_generator,
        Some(4),
        "the generator is past the deleted record"
    );
    let values = db.stores.iter().find(|s| s.name == "values").unwrap();
    assert!(values.records[0].value_encoded.is_some());
    drop(client);
    l.session.close().await.unwrap();

    if let Ok(path) = std::env::var("PVAULT_DUMP_STATE") {
        std::fs::write(path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    }
    let l2 = launch(Some(state), LocalStorageLoad::Auto).await;
    assert!(
        l2.report.origins_failed.is_empty(),
        "{:?}",
        l2.report.origins_failed
    );
    assert_eq!(l2.report.indexed_db_databases, 1);
    // The load wrote through a stub page at the server's origin, answered by the engine:
    // nothing but the test's own page requests reached the server.
    let stray = server.other_requests(&["/", "/favicon.ico"]);
    assert!(
        stray.is_empty(),
        "the stub page reached the server: {stray:?}"
    );
    let client = Client::connect(&l2.session.client_ws_url().await.unwrap()).await;
    let page = client.open(&server.url("/")).await;
    assert_eq!(
        eval_async(
            &page,
            &format!("(() => {{ {VALUES_JS}; return {CHECK_JS}; }})()")
        )
        .await,
        "ok"
    );
    drop(client);
    l2.session.close().await.unwrap();
}

fn items(pairs: &[(&str, &str)]) -> Vec<StorageItem> {
    pairs
        .iter()
        .map(|(k, v)| StorageItem {
            name: (*k).into(),
            value: (*v).into(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tab_starts_with_saved_session_storage_and_a_logout_sticks() {
    let server = TestServer::start().await;
    let mut o = OriginState::new(&server.origin);
    o.session_storage = Some(items(&[("msal.token", "t-1"), ("user", "ü")]));
    let state = BrowserState {
        cookies: vec![],
        origins: vec![o],
        source: None,
    };
    let l = launch(Some(state), LocalStorageLoad::Auto).await;
    assert_eq!(l.report.session_storage_origins, 1);
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    // A tab created with its URL: its first script already sees the data.
    let page = client.open(&server.url("/session-probe")).await;
    assert_eq!(
        eval(&page, "window.firstSeen").await,
        r#"[["msal.token","t-1"],["user","ü"]]"#
    );
    // Logout, then a reload: the tab's own (empty) sessionStorage stays.
    eval(&page, "sessionStorage.clear()").await;
    page.reload().await.unwrap();
    page.wait_for_navigation().await.unwrap();
    assert_eq!(eval(&page, "window.firstSeen").await, "[]");
    let (state, _) = l.session.capture().await.unwrap();
    let captured = state.origins.iter().find(|o| o.origin == server.origin);
    assert!(
        captured.is_none_or(|o| o.session_items().is_empty()),
        "the logout is what is captured"
    );
    // A write in the tab is captured.
    eval(&page, "sessionStorage.setItem('fresh', '1')").await;
    let (state, report) = l.session.capture().await.unwrap();
    let captured = state
        .origins
        .iter()
        .find(|o| o.origin == server.origin)
        .unwrap();
    assert_eq!(captured.session_items(), items(&[("fresh", "1")]));
    assert_eq!(report.session_storage_origins, 1);
    drop(client);
    l.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_in_a_new_tab_before_any_storage_event_is_captured() {
    let server = TestServer::start().await;
    let mut o = OriginState::new(&server.origin);
    o.session_storage = Some(items(&[("msal.token", "t-1")]));
    let state = BrowserState {
        cookies: vec![],
        origins: vec![o],
        source: None,
    };
    let l = launch(Some(state), LocalStorageLoad::Auto).await;
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    // The page's first script writes at once: its storage event may come before our listener
    // is on the new tab, or never; the capture must still see the write.
    let page = client.open(&server.url("/session-login")).await;
    assert_eq!(
        eval(&page, "sessionStorage.getItem('fresh')").await,
        "token-2"
    );
    let (state, _) = l.session.capture().await.unwrap();
    let captured = state
        .origins
        .iter()
        .find(|o| o.origin == server.origin)
        .expect("the origin is captured");
    assert!(
        captured
            .session_items()
            .iter()
            .any(|i| i.name == "fresh" && i.value == "token-2"),
        "the tab's write is captured, not only the loaded items"
    );
    drop(client);
    l.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_nothing_touched_are_captured_back_as_loaded_and_failures_are_named() {
    let state: BrowserState = serde_json::from_value(json!({
        "cookies": [],
        "origins": [{
            "origin": "https://untouched.test",
            "localStorage": [{"name": "l", "value": "1"}],
            "sessionStorage": [{"name": "s", "value": "2"}],
            "indexedDB": [{"name": "firebaseLocalStorageDb", "version": 1, "stores": [
                {"name": "firebaseLocalStorage", "keyPath": "fbase_key", "autoIncrement": false,
                 "indexes": [], "records": [
                    {"key": "firebase:authUser:k", "value": {"fbase_key": "firebase:authUser:k", "value": {"uid": "u"}}}]},
                {"name": "files", "autoIncrement": false, "indexes": [], "records": [
                    {"key": "f", "valueEncoded": {"unsupported": "Blob"}}]}
            ]}]
        }]
    }))
    .unwrap();
    let l = launch(Some(state.clone()), LocalStorageLoad::Auto).await;
    assert_eq!(
        (
            l.report.session_storage_origins,
            l.report.indexed_db_databases,
            l.report.indexed_db_records
        ),
        (1, 1, 1),
        "{:?}",
        l.report.origins_failed
    );
    assert!(
        l.report
            .origins_failed
            .iter()
            .any(|(o, why)| o == "https://untouched.test"
                && why.contains("firebaseLocalStorageDb/files")
                && why.contains("Blob")),
        "the Blob record is named as not loaded: {:?}",
        l.report.origins_failed
    );
    let (captured, report) = l.session.capture().await.unwrap();
    assert_eq!(
        captured.origins, state.origins,
        "nothing dropped or changed"
    );
    assert_eq!(report.unsupported.len(), 1, "{:?}", report.unsupported);
    l.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_sees_an_indexed_db_write_without_opening_a_page() {
    let server = TestServer::start().await;
    let l = launch(None, LocalStorageLoad::Auto).await;
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    let page = client.open(&server.url("/")).await;
    let (first, _) = l.session.capture_checkpoint().await.unwrap();
    assert!(first.origins.iter().all(|o| o.databases().is_empty()));
    let mut created = client
        .browser
        .event_listener::<EventTargetCreated>()
        .await
        .unwrap();
    let mut changes = l.session.change_watch();
    let seen = changes.borrow_and_update().seq;
    eval_async(
        &page,
        "(async () => { const r = indexedDB.open('auth', 1); \
         r.onupgradeneeded = () => r.result.createObjectStore('kv'); \
         const db = await new Promise(res => r.onsuccess = () => res(r.result)); \
         const tx = db.transaction('kv', 'readwrite'); tx.objectStore('kv').put('tok-9', 'token'); \
         await new Promise(res => tx.oncomplete = res); db.close(); return 1; })()",
    )
    .await;
    tokio::time::timeout(Duration::from_secs(10), changes.wait_for(|c| c.seq != seen))
        .await
        .expect("the IndexedDB write moved the change signal")
        .unwrap();
    let state = wait_for(10, "a checkpoint holding the write", || async {
        let (s, _) = l.session.capture_checkpoint().await.unwrap();
        let has = s.origins.iter().any(|o| {
            o.databases().iter().any(|d| {
                d.name == "auth"
                    && d.stores[0]
                        .records
                        .iter()
                        .any(|r| r.value == Some(json!("tok-9")))
            })
        });
        has.then_some(s)
    })
    .await;
    assert!(!state.origins.is_empty());
    let opened = tokio::time::timeout(Duration::from_millis(200), created.next()).await;
    assert!(opened.is_err(), "a checkpoint opened a target: {opened:?}");
    drop(client);
    l.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_past_the_read_limit_is_refused_by_name_not_truncated() {
    let server = TestServer::start().await;
    let l = launch(None, LocalStorageLoad::Auto).await;
    let client = Client::connect(&l.session.client_ws_url().await.unwrap()).await;
    let page = client.open(&server.url("/")).await;
    eval_async(
        &page,
        "(async () => { const r = indexedDB.open('big', 1); \
         r.onupgradeneeded = () => r.result.createObjectStore('blobs'); \
         const db = await new Promise(res => r.onsuccess = () => res(r.result)); \
         const tx = db.transaction('blobs', 'readwrite'); \
         tx.objectStore('blobs').put('x'.repeat(33 * 1024 * 1024), 'one'); \
         await new Promise(res => tx.oncomplete = res); db.close(); return 1; })()",
    )
    .await;
    let (state, report) = l.session.capture().await.unwrap();
    assert!(
        report
            .origins_failed
            .iter()
            .any(|(o, why)| o == &server.origin
                && why.contains("too_large")
                && why.contains("database big")),
        "{:?}",
        report.origins_failed
    );
    assert!(
        state.origins.iter().all(|o| o.databases().is_empty()),
        "nothing partial was kept"
    );
    drop(client);
    l.session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_chrome_refuses_at_load_is_named_and_the_others_are_loaded() {
    // Two records with the same value under a unique index: Chrome refuses the second put.
    let state: BrowserState = serde_json::from_value(json!({
        "cookies": [],
        "origins": [{
            "origin": "https://unique.test",
            "localStorage": [],
            "indexedDB": [{"name": "db", "version": 1, "stores": [
                {"name": "other", "autoIncrement": false, "indexes": [], "records": [
                    {"key": "k", "value": 1}]},
                {"name": "users", "keyPath": "id", "autoIncrement": false,
                 "indexes": [{"name": "email", "keyPath": "email", "unique": true, "multiEntry": false}],
                 "records": [
                    {"key": 1, "value": {"id": 1, "email": "a@x"}},
                    {"key": 2, "value": {"id": 2, "email": "a@x"}},
                    {"key": 3, "value": {"id": 3, "email": "b@x"}}]}
            ]}]
        }]
    }))
    .unwrap();
    let l = launch(Some(state), LocalStorageLoad::Auto).await;
    assert_eq!(
        l.report.indexed_db_records, 3,
        "{:?}",
        l.report.origins_failed
    );
    assert!(
        l.report
            .origins_failed
            .iter()
            .any(|(o, why)| o == "https://unique.test"
                && why.contains("db/users record 1: ConstraintError")),
        "the refused record is named by store and position: {:?}",
        l.report.origins_failed
    );
    l.session.close().await.unwrap();
}
