//! `profile.import_browser` as the protocol documents it, through the real daemon on browser
//! profiles written to order: every error code (unknown browser, relative user-data-dir,
//! non-local D-Bus address, bad or empty filter, missing user-data-dir or browser profile,
//! corrupt database, undecryptable values, locked vault), each storing nothing (no profile,
//! no snapshot) and leaving no copy behind; a dry run that writes nothing and needs no
//! unlocked vault; a database another process holds locked, read through its copy;
//! `skip_undecryptable` storing the rest and counting what it left out; and a dead daemon's
//! copies removed by the next daemon at start. Real Chromium profiles are the import crate's
//! and the CLI's tests.

use std::path::Path;

use pvault_import::crypto::{cbc_key, encrypt_cbc, v10_key, with_host_digest};
use pvault_testkit::{RowSpec, write_cookie_db};
use serde_json::{Value, json};

use crate::harness::{Env, Raw};

fn v10(host: &str, value: &str) -> Vec<u8> {
    [
        b"v10".as_slice(),
        &encrypt_cbc(&v10_key(), &with_host_digest(host, value.as_bytes(), 24)),
    ]
    .concat()
}

fn v11(host: &str, value: &str) -> Vec<u8> {
    [
        b"v11".as_slice(),
        &encrypt_cbc(
            &cbc_key(b"a keyring secret nobody has here"),
            &with_host_digest(host, value.as_bytes(), 24),
        ),
    ]
    .concat()
}

/// The daemon's import copies directory (`<runtime dir>/imports`).
fn imports_dir(env: &Env) -> std::path::PathBuf {
    env.socket.parent().unwrap().join("imports")
}

/// Every file left under the copies directory.
fn leftover_copies(env: &Env) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![imports_dir(env)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                // The per-daemon directory itself may stay; what is in it may not.
                stack.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

/// Asserts the call fails with `code`, and that nothing was stored or left behind.
fn fails_storing_nothing(r: &mut Raw, env: &Env, params: Value, code: &str) -> String {
    let v = r.call("profile.import_browser", params.clone());
    assert_eq!(v["error"]["code"], json!(code), "{params}: {v}");
    // (A locked vault cannot list: the caller checks after unlocking.)
    if code != "locked" {
        assert_eq!(
            r.ok("profile.list", json!({}))["total"],
            json!(0),
            "{params} stored something"
        );
    }
    assert!(
        leftover_copies(env).is_empty(),
        "{:?}",
        leftover_copies(env)
    );
    v["error"]["message"].as_str().unwrap().to_owned()
}

fn params(udd: &Path, extra: Value) -> Value {
    let mut p = json!({"name": "work", "browser": "chromium", "user_data_dir": udd});
    p.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    p
}

#[test]
fn every_failure_has_its_code_and_stores_nothing() {
    let env = Env::new();
    let d = env.start();
    let mut r = d.session();
    r.init();
    let udd = tempfile::tempdir().unwrap();
    let u = udd.path();
    write_cookie_db(
        u,
        24,
        &[
            RowSpec::encrypted(".example.com", "a", v10(".example.com", "value-a")),
            RowSpec::encrypted("www.example.com", "b", v10("www.example.com", "value-b")),
            RowSpec::plain("other.org", "c", "value-c"),
        ],
    );

    let m = fails_storing_nothing(
        &mut r,
        &env,
        json!({"name": "work", "browser": "firefox"}),
        "invalid_argument",
    );
    assert!(m.contains("chrome, chromium, brave, edge, vivaldi"), "{m}");
    fails_storing_nothing(
        &mut r,
        &env,
        json!({"name": "work", "browser": "chromium", "user_data_dir": "relative/dir"}),
        "invalid_argument",
    );
    fails_storing_nothing(
        &mut r,
        &env,
        params(u, json!({"dbus_address": "tcp:host=example.com,port=1"})),
        "invalid_argument",
    );
    fails_storing_nothing(
        &mut r,
        &env,
        params(u, json!({"domains": ["https://example.com/"]})),
        "invalid_argument",
    );
    let m = fails_storing_nothing(
        &mut r,
        &env,
        params(u, json!({"domains": ["nowhere.net"]})),
        "not_found",
    );
    assert!(m.contains("--domain nowhere.net"), "{m}");
    fails_storing_nothing(
        &mut r,
        &env,
        json!({"name": "work", "browser": "chromium", "user_data_dir": u.join("missing")}),
        "not_found",
    );
    let m = fails_storing_nothing(
        &mut r,
        &env,
        params(u, json!({"browser_profile": "Profile 9"})),
        "not_found",
    );
    assert!(m.contains("\"Default\""), "{m}");

    // A dry run: counts per registrable domain, no value, nothing written.
    let dry = r.ok(
        "profile.import_browser",
        params(u, json!({"dry_run": true})),
    );
    assert_eq!(dry["dry_run"], true);
    assert!(dry.get("snapshot").is_none() && dry.get("profile").is_none());
    assert_eq!(dry["report"]["cookies"], 3);
    assert_eq!(
        dry["report"]["domains"],
        json!([
            {"domain": "example.com", "cookies": 2, "origins": 0, "local_storage_keys": 0},
            {"domain": "other.org", "cookies": 1, "origins": 0, "local_storage_keys": 0},
        ])
    );
    assert!(!dry.to_string().contains("value-"), "{dry}");
    assert_eq!(r.ok("profile.list", json!({}))["total"], 0);

    // Undecryptable values (v11, and no keyring on the bus named): browser_error naming
    // the browser, the count and the keyring; nothing stored.
    let bad = tempfile::tempdir().unwrap();
    write_cookie_db(
        bad.path(),
        24,
        &[
            RowSpec::encrypted("a.test", "x", v11("a.test", "value-x")),
            RowSpec::encrypted("a.test", "y", v10("a.test", "value-y")),
        ],
    );
    let no_bus = json!({"dbus_address": "unix:path=/nonexistent/pvault-test-bus"});
    let m = fails_storing_nothing(
        &mut r,
        &env,
        params(bad.path(), no_bus.clone()),
        "browser_error",
    );
    assert!(
        m.contains("chromium")
            && m.contains("1 of 2")
            && m.contains("v11: 1")
            && m.contains("D-Bus"),
        "{m}"
    );
    assert!(!m.contains("value-"), "{m}");
    // The dry run reports the same error: it decrypts too.
    let mut dry_bad = no_bus.clone();
    dry_bad["dry_run"] = json!(true);
    fails_storing_nothing(&mut r, &env, params(bad.path(), dry_bad), "browser_error");

    // A corrupt database: browser_error naming the file.
    let corrupt = tempfile::tempdir().unwrap();
    let path = write_cookie_db(corrupt.path(), 24, &[]);
    std::fs::write(
        &path,
        b"not a database at all, but long enough to be read as one",
    )
    .unwrap();
    let m = fails_storing_nothing(
        &mut r,
        &env,
        params(corrupt.path(), json!({})),
        "browser_error",
    );
    assert!(m.contains("Cookies"), "{m}");

    // A locked vault: `locked`, checked before anything is read; a dry run still works.
    r.ok("vault.lock", json!({}));
    fails_storing_nothing(&mut r, &env, params(u, json!({})), "locked");
    let dry = r.ok(
        "profile.import_browser",
        params(u, json!({"dry_run": true})),
    );
    assert_eq!(dry["report"]["cookies"], 3);
    r.unlock();
    assert_eq!(r.ok("profile.list", json!({}))["total"], 0);

    // skip_undecryptable: the rest is stored, the left-out count reported.
    let mut skip = no_bus;
    skip["skip_undecryptable"] = json!(true);
    let got = r.ok("profile.import_browser", params(bad.path(), skip));
    assert_eq!(got["report"]["undecryptable_skipped"], 1);
    assert_eq!(got["snapshot"]["cookie_count"], 1);
    assert_eq!(got["snapshot"]["kind"], "import");
    assert_eq!(got["created"], true);
    assert!(leftover_copies(&env).is_empty());
}

#[test]
fn a_database_held_locked_by_the_browser_is_read_through_its_copy() {
    let env = Env::new();
    let d = env.start();
    let mut r = d.session();
    r.init();
    let udd = tempfile::tempdir().unwrap();
    let path = write_cookie_db(
        udd.path(),
        24,
        &[RowSpec::encrypted(
            "a.test",
            "committed",
            v10("a.test", "1"),
        )],
    );
    // As a running browser does: an exclusive lock and a write not yet committed.
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    holder
        .execute("UPDATE cookies SET name = 'uncommitted'", [])
        .unwrap();
    let got = r.ok("profile.import_browser", params(udd.path(), json!({})));
    assert_eq!(got["snapshot"]["cookie_count"], 1);
    let doc = r.ok(
        "profile.export",
        json!({"name": "work", "format": "pvault"}),
    );
    assert_eq!(doc["state"]["cookies"][0]["name"], "committed", "{doc}");
    holder.execute_batch("ROLLBACK").unwrap();
    assert!(leftover_copies(&env).is_empty());
}

#[test]
fn a_dead_daemons_copies_are_removed_at_start() {
    let env = Env::new();
    // Above the largest pid a 64-bit kernel hands out (2^22): no process has it.
    let stale = imports_dir(&env).join("4194399/import-abc123/Cookies");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, b"a copy of someone's cookies").unwrap();
    // The daemon's runtime directory must be private, as it makes it.
    for d in [
        env.socket.parent().unwrap().to_path_buf(),
        imports_dir(&env),
    ] {
        std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    let d = env.start();
    // Answered only once serving began, which is after the cleanup at start (the socket
    // accepts connections before that).
    d.session();
    assert!(!stale.exists(), "stale copy left at {}", stale.display());
    assert!(!imports_dir(&env).join("4194399").exists());
}
