//! Complete browser state: IndexedDB and sessionStorage survive across sessions, through the
//! CLI, real Chromium, real Playwright and real npm libraries served by the test server.
//!
//! - Logins kept by idb-keyval, Dexie and localforage (IndexedDB) and by oidc-client-ts's
//!   `UserManager` (its default store, sessionStorage) are there in the next session, after
//!   `session load` into a running session, and through `pvault run`.
//! - sessionStorage is per tab: a new tab landing on an origin starts with its saved items; a
//!   logout there is not undone by a reload.
//! - Every structured-clone type round-trips as IndexedDB values and keys (capture → vault →
//!   load, and pvault's JSON export → import), with key paths, key generators and indexes.
//! - Playwright interop both ways (`storageState({indexedDB: true})`), the data-loss scenario
//!   (a `--save` session that changes nothing keeps what was imported), diff, malformed input,
//!   `kill -9` after a write, and checkpoints beside a busy script.

use std::time::Duration;

use serde_json::{Value, json};

use pvault_testkit::{OIDC_CLIENT_ID, TestServer, node_dir, oidc_user_key, wait_for};

use crate::support::daemon::Daemon;
use crate::support::session::{node, parse_node};

/// The token the app pages store; tests look for it in stored state and in pages.
const APP_TOKEN: &str = "app-token-5c1e7f02-secret";

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.init();
    d
}

fn id(doc: &Value) -> String {
    doc["session_id"].as_str().expect("session_id").to_owned()
}

fn url(doc: &Value) -> String {
    doc["cdp_ws_url"].as_str().expect("cdp_ws_url").to_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `node tests/node/<script> ARGS` against a session; asserts success, returns its JSON.
fn script(script: &str, server: &TestServer, cdp_ws_url: &str, args: &[&str]) -> Value {
    let out = node(script, server)
        .env("PVAULT_CDP_URL", cdp_ws_url)
        .args(args)
        .output()
        .expect("run node");
    parse_node(script, &out)
}

/// What every app library finds when its page loads, all holding `token`.
fn logged_in(token: &str) -> Value {
    json!({"keyval": token, "dexie": token, "localforage": token, "oidc": token})
}

/// `pvault profile export NAME --format pvault`: pvault's own JSON, nothing left out.
fn export_pvault(d: &Daemon, profile: &str) -> Value {
    let out = d.run(&["profile", "export", profile, "--format", "pvault"]);
    assert!(
        out.status.success(),
        "export {profile} --format pvault: {}",
        stderr(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("export prints JSON");
    assert_eq!(v["pvault"], 1, "pvault's JSON is marked: {v}");
    v
}

/// The origin entry of `origin` in a storageState.
fn origin_of<'a>(state: &'a Value, origin: &str) -> Option<&'a Value> {
    state["origins"]
        .as_array()?
        .iter()
        .find(|o| o["origin"] == origin)
}

/// Object store `store` of database `db` at `origin`.
fn idb_store<'a>(state: &'a Value, origin: &str, db: &str, store: &str) -> Option<&'a Value> {
    origin_of(state, origin)?["indexedDB"]
        .as_array()?
        .iter()
        .find(|d| d["name"] == db)?["stores"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == store)
}

/// The plain-JSON value of the record with plain key `key` in an out-of-line store.
fn idb_value<'a>(
    state: &'a Value,
    origin: &str,
    db: &str,
    store: &str,
    key: &str,
) -> Option<&'a Value> {
    idb_store(state, origin, db, store)?["records"]
        .as_array()?
        .iter()
        .find(|r| r["key"] == key)
        .map(|r| &r["value"])
}

/// The sessionStorage item `name` of `origin` in pvault's JSON.
fn session_item<'a>(state: &'a Value, origin: &str, name: &str) -> Option<&'a str> {
    origin_of(state, origin)?["sessionStorage"]
        .as_array()?
        .iter()
        .find(|i| i["name"] == name)?["value"]
        .as_str()
}

/// oidc-client-ts's stored user (`User.toStorageString()`) holding `token`.
fn oidc_user(token: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({
        "id_token": format!("id-{token}"),
        "access_token": token,
        "refresh_token": format!("refresh-{token}"),
        "token_type": "Bearer",
        "scope": "openid profile",
        "profile": {"sub": "alice", "aud": OIDC_CLIENT_ID, "iat": now, "exp": now + 86_400},
        "expires_at": now + 86_400,
    })
    .to_string()
}

/// The state the app pages leave after `app.login(token)`, written by hand in pvault's JSON:
/// idb-keyval's, Dexie's and localforage's databases as those libraries create them, and
/// oidc-client-ts's user in sessionStorage.
fn app_state(origin: &str, token: &str) -> Value {
    json!({
        "pvault": 1,
        "cookies": [],
        "origins": [{
            "origin": origin,
            "localStorage": [],
            "sessionStorage": [{"name": oidc_user_key(origin), "value": oidc_user(token)}],
            "indexedDB": [
                {"name": "keyval-store", "version": 1, "stores": [
                    {"name": "keyval", "autoIncrement": false, "indexes": [],
                     "records": [{"key": "auth-token", "value": token}]}]},
                {"name": "dexie-auth", "version": 10, "stores": [
                    {"name": "sessions", "autoIncrement": true, "keyPath": "id",
                     "keyGenerator": 2,
                     "indexes": [{"name": "user", "keyPath": "user", "unique": true,
                                  "multiEntry": false}],
                     "records": [{"valueEncoded": {"o": [
                         {"k": "user", "v": "alice"}, {"k": "token", "v": token},
                         {"k": "at", "v": {"d": "2026-01-02T03:04:05.678Z"}},
                         {"k": "id", "v": 1}], "id": 1}}]}]},
                {"name": "localforage", "version": 2, "stores": [
                    {"name": "keyvaluepairs", "autoIncrement": false, "indexes": [],
                     "records": [{"key": "lf-token", "value": token}]},
                    {"name": "local-forage-detect-blob-support", "autoIncrement": false,
                     "indexes": [], "records": []}]}
            ]
        }]
    })
}

/// Asserts the newest snapshot of `profile` holds the app login of `token` at `origin`:
/// idb-keyval's record (checked in Playwright's export, which holds it), then oidc-client-ts's
/// user in sessionStorage (in pvault's own JSON, the only export that holds sessionStorage).
fn assert_app_login_stored(d: &Daemon, profile: &str, origin: &str, token: &str) {
    let state = d.export(profile);
    assert_eq!(
        idb_value(&state, origin, "keyval-store", "keyval", "auth-token"),
        Some(&json!(token)),
        "idb-keyval's record is not in the saved state: {state}"
    );
    let state = export_pvault(d, profile);
    let user = session_item(&state, origin, &oidc_user_key(origin)).unwrap_or_else(|| {
        panic!("oidc-client-ts's user is not in the saved sessionStorage: {state}")
    });
    let user: Value = serde_json::from_str(user).expect("the stored user is JSON");
    assert_eq!(user["access_token"], token, "{user}");
}

#[test]
fn idb_and_session_storage_logins_are_there_in_the_next_session() {
    let d = daemon();
    let server = TestServer::start();
    d.json(&["profile", "create", "apps"]);
    let s = d.session_start(&["--profile", "apps", "--save"]);
    let wrote = script("state-app.js", &server, &url(&s), &["login", APP_TOKEN]);
    assert_eq!(
        wrote,
        logged_in(APP_TOKEN),
        "the libraries stored the login"
    );

    let stop = d.session_stop(&id(&s), &[]);
    assert_eq!(stop["snapshot"]["kind"], "session_save", "{stop}");
    assert_eq!(stop["capture"]["failures"], json!([]), "{stop}");
    // idb-keyval's, Dexie's and localforage's records; oidc-client-ts's user.
    assert!(
        stop["snapshot"]["indexed_db_record_count"].as_u64() >= Some(3)
            && stop["snapshot"]["session_storage_key_count"].as_u64() >= Some(1),
        "the saved snapshot counts no IndexedDB records or sessionStorage keys: {stop}"
    );

    let next = d.session_start(&["--profile", "apps"]);
    assert_eq!(next["load"]["failures"], json!([]), "{next}");
    let seen = script("state-app.js", &server, &url(&next), &["check"]);
    assert_eq!(
        seen,
        logged_in(APP_TOKEN),
        "what the libraries found when their pages loaded in the next session"
    );
    d.session_stop(&id(&next), &[]);
    assert_app_login_stored(&d, "apps", &server.origin, APP_TOKEN);
}

#[test]
fn logins_made_in_cross_origin_iframes_are_there_in_the_next_session() {
    let d = daemon();
    let server = TestServer::start();
    // Another port: another origin of the same site, so the frames' storage is the origin's
    // own (not partitioned under the embedding site) and a top-level page of it sees it.
    let framed = TestServer::start();
    d.json(&["profile", "create", "frames"]);
    let s = d.session_start(&["--profile", "frames", "--save"]);
    let wrote = script(
        "state-app.js",
        &server,
        &url(&s),
        &["login-frames", APP_TOKEN, &framed.origin],
    );
    assert_eq!(
        wrote,
        logged_in(APP_TOKEN),
        "the framed libraries stored it"
    );
    let stop = d.session_stop(&id(&s), &[]);
    assert_eq!(stop["capture"]["failures"], json!([]), "{stop}");

    let next = d.session_start(&["--profile", "frames"]);
    let seen = script("state-app.js", &framed, &url(&next), &["check"]);
    assert_eq!(
        seen,
        logged_in(APP_TOKEN),
        "a page of the origin that was only ever an iframe finds the login in the next session"
    );
    d.session_stop(&id(&next), &[]);
}

#[test]
fn session_load_puts_idb_and_session_storage_into_a_running_session() {
    let d = daemon();
    let server = TestServer::start();
    d.import("loadme", &app_state(&server.origin, APP_TOKEN));
    let s = d.session_start(&[]);
    let before = script("state-app.js", &server, &url(&s), &["check"]);
    assert_eq!(
        before,
        json!({"keyval": null, "dexie": null, "localforage": null, "oidc": null}),
        "a session without a profile starts logged out"
    );

    let loaded = d.json(&["session", "load", &id(&s), "--profile", "loadme"]);
    assert_eq!(loaded["load"]["failures"], json!([]), "{loaded}");
    let seen = script("state-app.js", &server, &url(&s), &["check"]);
    assert_eq!(
        seen,
        logged_in(APP_TOKEN),
        "what the libraries found in a new tab after session load"
    );
    d.session_stop(&id(&s), &[]);
}

#[test]
fn the_start_page_finds_indexeddb_when_its_first_script_runs() {
    let d = daemon();
    let server = TestServer::start();
    d.import("start", &app_state(&server.origin, APP_TOKEN));
    let s = d.session_start(&["--profile", "start", "--start-url", &server.url("/idb-app")]);
    let seen = script("state-app.js", &server, &url(&s), &["start-page"]);
    assert_eq!(
        seen,
        json!({"keyval": APP_TOKEN, "dexie": APP_TOKEN, "localforage": APP_TOKEN}),
        "the start page's first script did not find the profile's IndexedDB (it must be in place before any page runs)"
    );
    d.session_stop(&id(&s), &[]);
}

#[test]
fn pvault_run_saves_and_loads_idb_and_session_storage_logins() {
    let d = daemon();
    let server = TestServer::start();
    d.json(&["profile", "create", "runs"]);
    let app = node_dir().join("state-app.js").display().to_string();
    let run = |args: &[&str]| {
        d.cli()
            .env("TEST_ORIGIN", &server.origin)
            .args(["run", "--profile", "runs"])
            .args(args)
            .output()
            .expect("pvault run")
    };
    let out = run(&["--save", "--", "node", &app, "login", APP_TOKEN]);
    assert_eq!(
        parse_node("state-app.js login via pvault run --save", &out),
        logged_in(APP_TOKEN)
    );

    let out = run(&["--", "node", &app, "check"]);
    assert_eq!(
        parse_node("state-app.js check via pvault run", &out),
        logged_in(APP_TOKEN),
        "what the libraries found in the next `pvault run`"
    );
    assert_app_login_stored(&d, "runs", &server.origin, APP_TOKEN);
}

#[test]
fn session_storage_is_seeded_per_new_tab_and_a_logout_is_not_undone() {
    let d = daemon();
    let server = TestServer::start();
    d.import("tabs", &app_state(&server.origin, APP_TOKEN));
    let s = d.session_start(&["--profile", "tabs"]);
    let seen = script("state-app.js", &server, &url(&s), &["tabs"]);
    assert_eq!(
        seen,
        json!({
            "first": APP_TOKEN,
            "after_logout": null,
            "after_reload": null,
            "after_navigation": null,
            "second_tab": APP_TOKEN,
        }),
        "a new tab landing on the origin starts with its saved sessionStorage; after that the \
         tab's sessionStorage is its own (a logout stays logged out across reload and \
         navigation); another new tab starts with the saved items again"
    );
    d.session_stop(&id(&s), &[]);
}

/// Runs `idb-clone.js verify` in a session; asserts every check passed.
fn assert_clone_verified(server: &TestServer, cdp_ws_url: &str, when: &str) {
    let r = script("idb-clone.js", server, cdp_ws_url, &["verify"]);
    assert_eq!(r["problems"], json!([]), "{when}: {r}");
    assert!(
        r["checked"].as_u64() >= Some(150),
        "{when}: too few checks ran: {r}"
    );
}

#[test]
fn every_structured_clone_type_round_trips_as_indexeddb_values_and_keys() {
    let d = daemon();
    let server = TestServer::start();
    d.json(&["profile", "create", "clone"]);
    let s = d.session_start(&["--profile", "clone", "--save"]);
    let w = script("idb-clone.js", &server, &url(&s), &["write"]);
    assert!(w["written"].as_u64() >= Some(80), "{w}");
    // The check itself passes where the data was written (it changes nothing: its writes are
    // rolled back), so a failure later is the round trip's.
    assert_clone_verified(&server, &url(&s), "in the session that wrote it");
    let stop = d.session_stop(&id(&s), &[]);
    assert_eq!(stop["capture"]["failures"], json!([]), "{stop}");

    // capture → vault → load.
    let next = d.session_start(&["--profile", "clone"]);
    assert_eq!(next["load"]["failures"], json!([]), "{next}");
    assert_clone_verified(&server, &url(&next), "after capture, save and load");
    d.session_stop(&id(&next), &[]);

    // pvault's JSON → import → load.
    let file = d.path("clone.json");
    std::fs::write(&file, export_pvault(&d, "clone").to_string()).unwrap();
    d.json(&["profile", "import", "clone2", file.to_str().unwrap()]);
    let again = d.session_start(&["--profile", "clone2"]);
    assert_eq!(again["load"]["failures"], json!([]), "{again}");
    assert_clone_verified(
        &server,
        &url(&again),
        "after export --format pvault and import",
    );
    d.session_stop(&id(&again), &[]);
}

#[test]
fn values_no_encoding_can_hold_are_recorded_by_name_and_reported_not_dropped() {
    let d = daemon();
    let server = TestServer::start();
    d.json(&["profile", "create", "odd"]);
    let s = d.session_start(&["--profile", "odd", "--save"]);
    script("idb-clone.js", &server, &url(&s), &["write-unsupported"]);
    let stop = d.session_stop(&id(&s), &[]);
    assert!(
        stop.to_string().contains("Blob") && stop.to_string().contains("File"),
        "the capture does not report the Blob and File values it could not keep: {stop}"
    );

    let state = export_pvault(&d, "odd");
    let records = idb_store(&state, &server.origin, "odd-db", "odd")
        .map(|st| st["records"].to_string())
        .unwrap_or_else(|| panic!("store odd-db/odd is not in the saved state: {state}"));
    assert!(
        records.contains(r#""unsupported":"Blob""#) && records.contains(r#""unsupported":"File""#),
        "the Blob and the File are not recorded by name: {records}"
    );
    assert!(records.contains("still here"), "{records}");
    let out = d.run(&["profile", "export", "odd"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Blob"),
        "Playwright's export left the Blob out without saying so: {}",
        stderr(&out)
    );

    let next = d.session_start(&["--profile", "odd"]);
    let seen = script("idb-clone.js", &server, &url(&next), &["read-unsupported"]);
    assert_eq!(seen["fine"], "still here", "{seen}");
    assert!(
        next["load"].to_string().contains("Blob"),
        "the load report does not name what it could not load: {next}"
    );
    d.session_stop(&id(&next), &[]);
}

/// What a page at each of `urls` sees of its origin's storage (tests/node/idb-dump.js), in the
/// session at `cdp_ws_url`, or in Playwright's own browser loading `storage_state`.
fn dump(server: &TestServer, cdp_ws_url: Option<&str>, storage_state: Option<&str>) -> Value {
    let mut c = node("idb-dump.js", server);
    if let Some(u) = cdp_ws_url {
        c.env("PVAULT_CDP_URL", u);
    }
    if let Some(f) = storage_state {
        c.args(["--storage-state", f]);
    }
    let out = c.arg(server.url("/")).output().expect("run node");
    parse_node("idb-dump.js", &out)
}

#[test]
fn playwright_storage_state_with_indexeddb_imports_into_a_pvault_session() {
    let d = daemon();
    let server = TestServer::start();
    let file = d.path("playwright-idb.json");
    let f = file.to_str().unwrap();
    let out = node("storage-state.js", &server)
        .args(["save-indexeddb", f, APP_TOKEN])
        .output()
        .unwrap();
    parse_node("storage-state.js save-indexeddb", &out);
    let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(
        idb_store(&written, &server.origin, "pw-db", "items").is_some(),
        "Playwright wrote IndexedDB: {written}"
    );
    // What Playwright itself restores from its file: the reference.
    let playwright = dump(&server, None, Some(f));
    let want = &playwright[&server.origin]["indexedDB"];
    assert_eq!(
        want["keyval-store"]["stores"]["keyval"]["records"],
        json!([["auth-token", APP_TOKEN]]),
        "{playwright}"
    );

    d.json(&["profile", "import", "pwi", f]);
    let s = d.session_start(&["--profile", "pwi"]);
    assert_eq!(s["load"]["failures"], json!([]), "{s}");
    let seen = dump(&server, Some(&url(&s)), None);
    assert_eq!(
        &seen[&server.origin]["indexedDB"], want,
        "the pvault session's IndexedDB differs from what Playwright restores from the same file"
    );
    let apps = script("state-app.js", &server, &url(&s), &["check"]);
    assert_eq!(
        apps,
        json!({"keyval": APP_TOKEN, "dexie": APP_TOKEN, "localforage": APP_TOKEN, "oidc": null}),
        "the IndexedDB libraries find the login Playwright saved"
    );
    d.session_stop(&id(&s), &[]);
}

#[test]
fn indexeddb_captured_by_pvault_loads_in_playwrights_own_browser() {
    let d = daemon();
    let server = TestServer::start();
    d.json(&["profile", "create", "pwe"]);
    let s = d.session_start(&["--profile", "pwe", "--save"]);
    script("state-app.js", &server, &url(&s), &["login", APP_TOKEN]);
    let in_session = dump(&server, Some(&url(&s)), None);
    let want = in_session[&server.origin]["indexedDB"].clone();
    assert!(
        want["dexie-auth"]["stores"]["sessions"]["records"]
            .as_array()
            .is_some_and(|r| r.len() == 1),
        "{in_session}"
    );
    d.session_stop(&id(&s), &[]);

    let file = d.path("exported-idb.json");
    let f = file.to_str().unwrap();
    let out = d.run(&["profile", "export", "pwe", "-o", f]);
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = dump(&server, None, Some(f));
    assert_eq!(
        seen[&server.origin]["indexedDB"], want,
        "Playwright's newContext({{storageState}}) from pvault's export differs from the session"
    );
}

/// A storageState with IndexedDB and sessionStorage for `origin`, in pvault's JSON.
fn imported_state(origin: &str) -> Value {
    json!({
        "pvault": 1,
        "cookies": [],
        "origins": [{
            "origin": origin,
            "localStorage": [{"name": "ls", "value": "kept"}],
            "sessionStorage": [{"name": "ss-token", "value": "ss-secret-1"}],
            "indexedDB": [{"name": "app-db", "version": 3, "stores": [
                {"name": "tokens", "autoIncrement": false, "keyPath": "id",
                 "indexes": [{"name": "byUser", "keyPath": "user", "unique": false,
                              "multiEntry": false}],
                 "records": [{"value": {"id": "t1", "user": "alice", "token": "idb-secret-1"}}]},
                {"name": "kv", "autoIncrement": false, "indexes": [],
                 "records": [
                     {"key": "k", "value": "v"},
                     {"keyEncoded": {"d": "2026-01-02T03:04:05.678Z"},
                      "valueEncoded": {"d": "2030-01-01T00:00:00.000Z"}}]}
            ]}]
        }]
    })
}

/// The parts of one origin's IndexedDB that must survive, order-independent: per database its
/// version, per store its key path, key generator flag, indexes and the records' values.
fn idb_essentials(state: &Value, origin: &str) -> Value {
    let mut dbs: Vec<Value> = origin_of(state, origin)
        .and_then(|o| o["indexedDB"].as_array())
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|db| {
            let mut stores: Vec<Value> = db["stores"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    let mut indexes = s["indexes"].as_array().cloned().unwrap_or_default();
                    indexes.sort_by_key(|i| i["name"].to_string());
                    let mut records: Vec<String> = s["records"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(|r| {
                            let key = if s.get("keyPath").is_some() {
                                Value::Null
                            } else {
                                r.get("key").or(r.get("keyEncoded")).cloned().into()
                            };
                            json!([key, r.get("value").or(r.get("valueEncoded"))]).to_string()
                        })
                        .collect();
                    records.sort();
                    json!({"name": s["name"], "keyPath": s.get("keyPath"),
                           "keyPathArray": s.get("keyPathArray"),
                           "autoIncrement": s["autoIncrement"], "indexes": indexes,
                           "records": records})
                })
                .collect();
            stores.sort_by_key(|s| s["name"].to_string());
            json!({"name": db["name"], "version": db["version"], "stores": stores})
        })
        .collect();
    dbs.sort_by_key(|d| d["name"].to_string());
    Value::Array(dbs)
}

#[test]
fn a_save_session_that_changes_nothing_keeps_imported_indexeddb_and_session_storage() {
    let d = daemon();
    let server = TestServer::start();
    let state = imported_state(&server.origin);
    d.import("keep", &state);
    let imported = d.export("keep");
    assert_eq!(
        idb_essentials(&imported, &server.origin),
        idb_essentials(&state, &server.origin),
        "import kept the IndexedDB as given"
    );

    // A --save session that visits nothing and changes nothing.
    let s = d.session_start(&["--profile", "keep", "--save"]);
    assert_eq!(s["load"]["failures"], json!([]), "{s}");
    let stop = d.session_stop(&id(&s), &[]);
    assert_eq!(stop["snapshot"]["kind"], "session_save", "{stop}");

    let out = d.run(&["profile", "export", "keep"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let saved: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        idb_essentials(&saved, &server.origin),
        idb_essentials(&state, &server.origin),
        "the session's snapshot dropped or changed IndexedDB it never touched: {saved}"
    );
    let diff = d.json(&["profile", "diff", "keep"]);
    assert_eq!(
        diff["diff"]["indexedDB"],
        json!([]),
        "the save changed IndexedDB: {diff}"
    );
    assert_eq!(
        diff["diff"]["sessionStorage"],
        json!([]),
        "the save changed sessionStorage: {diff}"
    );
    // Playwright's format cannot hold sessionStorage: the export says so on stderr.
    assert!(
        stderr(&out).contains("sessionStorage"),
        "export into Playwright's format left sessionStorage out without saying so: {}",
        stderr(&out)
    );
    // pvault's own JSON holds everything.
    let saved = export_pvault(&d, "keep");
    assert_eq!(
        idb_essentials(&saved, &server.origin),
        idb_essentials(&state, &server.origin),
        "{saved}"
    );
    assert_eq!(
        session_item(&saved, &server.origin, "ss-token"),
        Some("ss-secret-1"),
        "the session's snapshot dropped sessionStorage: {saved}"
    );
}

#[test]
fn diff_reports_indexeddb_and_session_storage_changes() {
    let d = daemon();
    let server = TestServer::start();
    let before = imported_state(&server.origin);
    d.import("changes", &before);
    let mut after = before.clone();
    let o = &mut after["origins"][0];
    o["sessionStorage"] = json!([{"name": "ss-token", "value": "ss-secret-2"}]);
    let stores = &mut o["indexedDB"][0]["stores"];
    stores[0]["records"] =
        json!([{"value": {"id": "t1", "user": "alice", "token": "idb-secret-2"}}]);
    stores[1]["records"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "added-key", "value": 1}));
    d.import("changes", &after);

    let diff = d.json(&["profile", "diff", "changes"]);
    let idb = diff["diff"]["indexedDB"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let text = Value::Array(idb.clone()).to_string();
    assert!(
        idb.iter()
            .any(|x| x["origin"] == server.origin.as_str() && x["database"] == "app-db"),
        "diff names the changed database: {diff}"
    );
    assert!(
        text.contains("tokens") && text.contains("t1") && text.contains("added-key"),
        "diff names the changed store and the changed and added record keys: {diff}"
    );
    assert!(
        !text.contains("idb-secret"),
        "diff shows names only, never values: {diff}"
    );
    assert!(
        diff["diff"]["sessionStorage"]
            .to_string()
            .contains("ss-token"),
        "diff names the changed sessionStorage key: {diff}"
    );

    let out = d.run(&["profile", "diff", "changes"]);
    let people = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !people.contains("no differences") && people.contains("IndexedDB"),
        "the human diff reports the IndexedDB change: {people}"
    );
}

#[test]
fn malformed_indexeddb_is_refused_naming_the_field_and_nothing_is_stored() {
    let d = daemon();
    let server = TestServer::start();
    d.import("target", &imported_state(&server.origin));
    let history = d.history_ids("target");
    let good_db = || {
        json!({"name": "db", "version": 1, "stores": [
            {"name": "s", "autoIncrement": false, "keyPath": "id", "indexes": [],
             "records": [{"value": {"id": 1}}]}]})
    };
    let p = "origins[1].indexedDB";
    let s0 = format!("{p}[0].stores[0]");
    // (what is wrong, the origin's indexedDB member, the path the error must name)
    let cases: Vec<(&str, Value, String)> = vec![
        ("not an array", json!({"name": "db"}), p.to_owned()),
        (
            "version of the wrong type",
            json!([{"name": "db", "version": "1", "stores": []}]),
            format!("{p}[0].version"),
        ),
        (
            "duplicate database names",
            json!([good_db(), good_db()]),
            format!("{p}[1].name"),
        ),
        (
            "duplicate store names",
            json!([{"name": "db", "version": 1, "stores": [{"name": "s"}, {"name": "s"}]}]),
            format!("{p}[0].stores[1].name"),
        ),
        (
            "autoIncrement of the wrong type",
            json!([{"name": "db", "version": 1, "stores": [{"name": "s", "autoIncrement": "yes"}]}]),
            format!("{s0}.autoIncrement"),
        ),
        (
            "a key that disagrees with the key path",
            json!([{"name": "db", "version": 1, "stores": [{"name": "s", "keyPath": "id",
                    "records": [{"key": 2, "value": {"id": 1}}]}]}]),
            format!("{s0}.records[0].key"),
        ),
        (
            "a value without the key path's key",
            json!([{"name": "db", "version": 1, "stores": [{"name": "s", "keyPath": "id",
                    "records": [{"value": {"other": 1}}]}]}]),
            format!("{s0}.records[0].value"),
        ),
        (
            "a record without a value",
            json!([{"name": "db", "version": 1, "stores": [{"name": "s",
                    "records": [{"key": "k"}]}]}]),
            format!("{s0}.records[0].value"),
        ),
        (
            "an out-of-line record without a key",
            json!([{"name": "db", "version": 1, "stores": [{"name": "s",
                    "records": [{"value": 1}]}]}]),
            format!("{s0}.records[0].key"),
        ),
        (
            "a value in no known encoding",
            json!([{"name": "db", "version": 1, "stores": [{"name": "s",
                    "records": [{"key": "k", "valueEncoded": {"zz": 1}}]}]}]),
            format!("{s0}.records[0].valueEncoded"),
        ),
        (
            "a key that is no IndexedDB key",
            json!([{"name": "db", "version": 1, "stores": [{"name": "s",
                    "records": [{"key": {"a": 1}, "value": 1}]}]}]),
            format!("{s0}.records[0].key"),
        ),
        (
            "an index without a key path",
            json!([{"name": "db", "version": 1, "stores": [{"name": "s",
                    "indexes": [{"name": "i"}]}]}]),
            format!("{s0}.indexes[0].keyPath"),
        ),
    ];
    for (i, (what, idb, path)) in cases.iter().enumerate() {
        let doc = json!({"cookies": [], "origins": [
            {"origin": server.origin, "localStorage": []},
            {"origin": "https://bad.test", "localStorage": [], "indexedDB": idb},
        ]});
        let file = d.path(&format!("bad-{i}.json"));
        std::fs::write(&file, doc.to_string()).unwrap();
        for profile in ["target", "fresh"] {
            let out = d.run(&["profile", "import", profile, file.to_str().unwrap()]);
            let err = stderr(&out);
            assert!(
                !out.status.success(),
                "{what}: import into {profile} succeeded"
            );
            assert!(
                err.contains(&format!("{path}:")),
                "{what}: the error does not name {path}: {err}"
            );
        }
        assert_eq!(
            d.history_ids("target"),
            history,
            "{what}: a snapshot was added"
        );
        assert_eq!(
            d.run(&["profile", "show", "fresh"]).status.code(),
            Some(3),
            "{what}: a refused import created the profile"
        );
    }
    // A sessionStorage member of the wrong type is refused the same way.
    let file = d.path("bad-session.json");
    let doc = json!({"cookies": [], "origins": [
        {"origin": server.origin, "localStorage": [], "sessionStorage": {"k": "v"}}]});
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = d.run(&["profile", "import", "target", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("origins[0].sessionStorage:"),
        "{}",
        stderr(&out)
    );
    assert_eq!(d.history_ids("target"), history);
}

#[test]
fn kill_9_of_chrome_after_an_indexeddb_write_keeps_it_in_the_checkpoint() {
    let d = daemon();
    let server = TestServer::start();
    d.json(&["profile", "create", "crash"]);
    let s = d.session_start(&["--profile", "crash", "--save"]);
    let sid = id(&s);
    let pid = s["pid"].as_u64().expect("a launched session has a pid") as i32;
    script("state-app.js", &server, &url(&s), &["login", APP_TOKEN]);
    // Two checkpoint captures finished after the write: one of them began after it.
    let (after_write, _) = crate::checkpoints::checkpoint_counts(&d, &sid);
    wait_for(
        "two checkpoint captures after the write",
        Duration::from_secs(30),
        || (crate::checkpoints::checkpoint_counts(&d, &sid).0 >= after_write + 2).then_some(()),
    );
    // SAFETY: kill(2) of the Chromium this test's daemon started.
    unsafe { kill(pid, 9) };
    wait_for("the session to crash", Duration::from_secs(30), || {
        (d.json(&["session", "show", &sid])["session"]["state"] == "crashed").then_some(())
    });

    let h = d.json(&["profile", "history", "crash"]);
    assert_eq!(
        h["snapshots"][0]["kind"], "checkpoint",
        "no checkpoint holds the session's IndexedDB writes (the newest snapshot should be \
         the session's checkpoint): {h}"
    );
    let state = d.export("crash");
    assert_eq!(
        idb_value(
            &state,
            &server.origin,
            "keyval-store",
            "keyval",
            "auth-token"
        ),
        Some(&json!(APP_TOKEN)),
        "the checkpoint lost the IndexedDB write made before the kill: {state}"
    );
    assert_eq!(
        idb_value(
            &state,
            &server.origin,
            "localforage",
            "keyvaluepairs",
            "lf-token"
        ),
        Some(&json!(APP_TOKEN)),
        "{state}"
    );
}

#[test]
fn checkpoints_do_not_disturb_a_script_busy_writing_indexeddb_on_two_origins() {
    let d = daemon();
    let server = TestServer::start();
    let other = server.origin.replace("127.0.0.1", "localhost");
    d.json(&["profile", "create", "busyidb"]);
    let s = d.session_start(&["--profile", "busyidb", "--save"]);
    let sid = id(&s);
    let (captures_before, written_before) = crate::checkpoints::checkpoint_counts(&d, &sid);
    let out = node("busy-playwright.js", &server)
        .env("PVAULT_CDP_URL", url(&s))
        .args(["--indexeddb", "8", &server.origin, &other])
        .output()
        .expect("run node");
    let (captures_after, written_after) = crate::checkpoints::checkpoint_counts(&d, &sid);
    let r = parse_node("busy-playwright.js --indexeddb", &out);
    assert_eq!(r["problems"], json!([]), "{r}");
    assert_eq!(
        r["pages_opened"],
        json!([]),
        "a checkpoint opened a page: {r}"
    );
    assert_eq!(r["page_errors"], json!([]), "{r}");
    assert_eq!(r["console_errors"], json!([]), "{r}");
    assert!(
        r["idb_writes"].as_u64() >= Some(20),
        "too few IndexedDB writes in 8 s: {r}"
    );
    assert!(
        captures_after >= captures_before + 3,
        "checkpoints did not run meanwhile ({captures_before} → {captures_after})"
    );
    assert!(
        written_after > written_before,
        "no checkpoint was written ({written_before} → {written_after})"
    );

    d.session_stop(&sid, &[]);
    let state = d.export("busyidb");
    let last = r["last"].as_object().expect("last per origin");
    assert_eq!(last.len(), 2, "{r}");
    for (origin, value) in last {
        assert_eq!(
            idb_value(&state, origin, "busy-db", "kv", "pw-counter"),
            Some(value),
            "the saved IndexedDB of {origin} is not the script's last write: {state}"
        );
    }
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
