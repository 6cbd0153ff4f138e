//! Known answers: the checked-in golden vaults (fixed seed → fixed ids, salts, nonces, keys
//! and times) open with their passphrase and with their key file and decrypt to exactly their
//! `expected.json` (its shape: vault-format.md section 10).
//!
//! Fixture directories are named by the vault format version and the snapshot schema(s) they
//! hold, since both have a version 2:
//! - `fixtures/format1-schema1`: format 1, snapshot schema 1 (the first release).
//! - `fixtures/format1-schema2`: format 1, snapshot schema 2 (sessionStorage, typed IndexedDB,
//!   the tagged value encoding).
//!
//!   Both are frozen (pinned by hash; this build writes format 3 and cannot rebuild them) and
//!   every later build must open them, upgrade them to format 3 at the first unlock and read
//!   identical content.
//! - `fixtures/format2`: format 2 (chained history), frozen likewise since format 3.
//! - `fixtures/format3`: format 3 (the format-2 content plus a profile with a health
//!   definition and result, snapshots the logout guard marked, an accepted one, and retention
//!   keeping the current snapshot), written by this build from a seed. Rebuilding it
//!   reproduces every stored column byte for byte, so any change to the writer or the reader
//!   fails here. Regenerate (only for an intended, versioned change; see vault-format.md) with
//!   `cargo test -p pvault-vault --test vault golden::regenerate_format3_fixture -- --ignored`.

use std::path::{Path, PathBuf};

use pvault_model::{
    BrowserState, Expectation, HealthDefinition, HealthFailure, HealthResult, HealthStatus,
    OriginState, SessionSettings, SnapshotKind,
};
use pvault_vault::{CreateOptions, Credential, KdfParams, Vault};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::common::*;

/// Passphrase of the golden vaults.
pub const GOLDEN_PASS: &str = "pvault golden ☃ passphrase";
/// Seed of the deterministic generator that made the format-3 golden vault (the format-2
/// content is built with the format-2 seed's successor so no id repeats across fixtures).
const SEED_FORMAT3: [u8; 32] = *b"pvault golden vault seed, fmt 3#";
/// SHA-256 of the frozen fixtures' files (format 1, and format 2 since format 3).
const FROZEN: [(&str, [(&str, &str); 2]); 3] = [
    (
        FORMAT1_SCHEMA1,
        [
            (
                "vault.db",
                "bf88af1e17fb84708f5555cc295ddcc448401de6c1d7c4b23d7a7a23d8c03ac3",
            ),
            (
                "expected.json",
                "bcd31df8fcc07ac892eb98edf29982376845510f0ef43f18bceb5624d9aaeab9",
            ),
        ],
    ),
    (
        FORMAT1_SCHEMA2,
        [
            (
                "vault.db",
                "0ab4a1953a4e7381df13b129ac436c67d436bcaee1f86e33d23b4f1894254225",
            ),
            (
                "expected.json",
                "762016628788b0b78322e72c57cca238a5f87a16e879c332ef6496c5bcde91ee",
            ),
        ],
    ),
    (
        FORMAT2,
        [
            (
                "vault.db",
                "88c5c9bb765b6510d45b2fdbde2dabe46a02d588aa0b62f48b2c613ca8292e25",
            ),
            (
                "expected.json",
                "7560614fdc64f4e05c149e99f013c506f2a70c42ace2649b3c9f44526f7b5ff9",
            ),
        ],
    ),
];

/// Format 1, snapshot schema 1.
pub const FORMAT1_SCHEMA1: &str = "format1-schema1";
/// Format 1, snapshot schema 2.
pub const FORMAT1_SCHEMA2: &str = "format1-schema2";
/// Format 2.
pub const FORMAT2: &str = "format2";
/// Format 3.
pub const FORMAT3: &str = "format3";

/// Key file of the golden vaults: bytes 0, 1, …, 63.
pub fn golden_keyfile() -> Credential {
    Credential::KeyFile(Zeroizing::new((0u8..64).collect()))
}

/// A fixture directory in the source tree, by name.
pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The schema-2 golden content: a logged-in single-page app with sessionStorage and
/// IndexedDB holding every kind of key and value the encoding has. `round` varies values so
/// two snapshots differ.
pub fn idb_state(round: u32) -> BrowserState {
    let date = "2026-01-02T03:04:05.678Z";
    let origin: OriginState = serde_json::from_value(json!({
        "origin": "https://app.example.com",
        "localStorage": [{"name": "theme", "value": "dark"}],
        "sessionStorage": [
            {"name": "msal.token.keys.client-id", "value": format!("{{\"accessToken\":[\"at-{round}\"]}}")},
            {"name": "oidc.user:https://idp.example:client", "value": "séssion-☃"}
        ],
        "indexedDB": [
            {"name": "firebaseLocalStorageDb", "version": 1, "stores": [
                {"name": "firebaseLocalStorage", "keyPath": "fbase_key", "autoIncrement": false,
                 "indexes": [], "records": [
                    {"key": "firebase:authUser:AIza:[DEFAULT]", "value": {
                        "fbase_key": "firebase:authUser:AIza:[DEFAULT]",
                        "value": {"uid": "u-1", "stsTokenManager": {
                            "refreshToken": format!("rt-{round}"), "expirationTime": 1_767_229_200_000u64}}}}
                ]}
            ]},
            {"name": "types", "version": 3, "durability": "future member kept verbatim", "stores": [
                {"name": "values", "autoIncrement": false, "indexes": [], "records": [
                    {"key": "plain", "value": {"a": [1, "two", true, null], "n": round}},
                    {"key": "date", "valueEncoded": {"d": date}},
                    {"key": "invalid-date", "valueEncoded": {"d": null}},
                    {"key": "specials", "valueEncoded": {"a": [{"v": "NaN"}, {"v": "Infinity"},
                        {"v": "-Infinity"}, {"v": "-0"}, {"v": "undefined"}, {"v": "null"}], "id": 1}},
                    {"key": "bigint", "valueEncoded": {"bi": "-123456789012345678901234567890"}},
                    {"key": "map", "valueEncoded": {"m": [
                        {"k": "a", "v": 1},
                        {"k": {"d": date}, "v": {"s": [1, 2], "id": 2}}], "id": 1}},
                    {"key": "set", "valueEncoded": {"s": ["x", {"bi": "7"}], "id": 1}},
                    {"key": "typed", "valueEncoded": {"o": [
                        {"k": "u8", "v": {"ta": {"b": "AQID", "k": "ui8"}}},
                        {"k": "i16", "v": {"ta": {"b": "//8BAA==", "k": "i16"}}},
                        {"k": "f64", "v": {"ta": {"b": "AAAAAAAA8D8=", "k": "f64"}}},
                        {"k": "bi64", "v": {"ta": {"b": "AQAAAAAAAAA=", "k": "bi64"}}},
                        {"k": "f16", "v": {"ta": {"b": "ADw=", "k": "f16"}}}], "id": 1}},
                    {"key": "buffer", "valueEncoded": {"ab": {"b": "3q2+7w=="}}},
                    {"key": "view", "valueEncoded": {"dv": {"b": "AQIDBA=="}}},
                    {"key": "cycle", "valueEncoded": {"o": [
                        {"k": "name", "v": "root"}, {"k": "self", "v": {"ref": 1}}], "id": 1}},
                    {"key": "sparse", "valueEncoded": {"a": [1, {"v": "undefined"}, 3], "id": 1, "holes": [1]}},
                    {"key": "blob", "valueEncoded": {"o": [{"k": "file", "v": {"unsupported": "Blob"}}], "id": 1}},
                    {"key": "regexp", "valueEncoded": {"r": {"p": "^a+$", "f": "gi"}}},
                    {"key": "url", "valueEncoded": {"u": "https://example.com/a?b"}},
                    {"key": "error", "valueEncoded": {"e": {"n": "TypeError", "m": "boom", "s": "TypeError: boom"}}},
                    {"key": "boxed", "valueEncoded": {"bx": "str"}}
                ]},
                {"name": "compound", "keyPathArray": ["user", "seq"], "autoIncrement": false,
                 "indexes": [
                    {"name": "byTag", "keyPath": "tags", "multiEntry": true, "unique": false},
                    {"name": "byUserSeq", "keyPathArray": ["user", "seq"], "multiEntry": false, "unique": true}],
                 "records": [
                    {"key": ["alice", 1], "value": {"user": "alice", "seq": 1, "tags": ["a", "b"]}},
                    {"key": ["bob", round], "value": {"user": "bob", "seq": round, "tags": []}}]},
                {"name": "binaryKeys", "autoIncrement": false, "indexes": [], "records": [
                    {"key": -1.5, "value": "negative number"},
                    {"keyEncoded": {"v": "-Infinity"}, "value": "minus infinity"},
                    {"keyEncoded": {"d": date}, "value": "by date"},
                    {"keyEncoded": {"ab": {"b": "AQI="}}, "value": "by bytes"},
                    {"keyEncoded": {"a": [{"d": date}, "x"], "id": 1}, "value": "by array"}]},
                {"name": "counter", "keyPath": "id", "autoIncrement": true, "keyGenerator": 42,
                 "indexes": [{"name": "byN", "keyPath": "n", "multiEntry": false, "unique": true}],
                 "records": [{"key": 7, "value": {"id": 7, "n": "seven"}}]},
                {"name": "outOfLineAuto", "autoIncrement": true, "keyGenerator": 3, "indexes": [],
                 "records": [{"key": 1, "value": "one"}, {"key": 2, "value": "two"}]}
            ]}
        ]
    }))
    .unwrap();
    let mut state = state_with("spa");
    state.origins.insert(0, origin);
    state
}

/// The second snapshot of `spa.example`: a sessionStorage value, a record's value and a
/// compound key changed, and a store dropped, so the two snapshots differ in every part.
fn idb_second() -> BrowserState {
    let mut second = idb_state(2);
    std::sync::Arc::make_mut(second.origins[0].indexed_db.as_mut().unwrap())[1]
        .stores
        .retain(|s| s.name != "outOfLineAuto");
    second
}

/// The health definition of the format-3 fixture's `health.example`.
pub fn golden_health() -> HealthDefinition {
    HealthDefinition {
        url: "https://app.example.com/home".into(),
        expect: vec![
            Expectation::Cookie {
                name: "sid".into(),
                domain: Some("app.example.com".into()),
            },
            Expectation::UrlNot {
                regex: "/login".into(),
            },
            Expectation::Selector {
                css: "#user-menu".into(),
            },
        ],
    }
}

/// A logged-in state of `health.example` (its `sid` cookie expires in 2030) or, without
/// `sid`, a logged-out one; `tag` makes each state's content distinct.
pub fn health_state(logged_in: bool, tag: &str) -> BrowserState {
    let mut s = state_with(tag);
    s.cookies.retain(|c| c.name != "sid");
    if logged_in {
        s.cookies.push(
            serde_json::from_value(json!({
                "name": "sid", "value": format!("session-{tag}"), "domain": "app.example.com",
                "path": "/", "expires": 1_900_000_000.0, "httpOnly": true, "secure": true
            }))
            .unwrap(),
        );
    }
    s
}

/// Builds the format-3 golden vault in `dir` (deterministically): the format-2 content, and
/// `health.example`, whose history shows the logout guard at work (retention 3):
/// 1 import, logged in (current) · 2 and 3 session saves that logged out, marked · 4 a
/// checkpoint that logged out, marked: retention removes 2 (above the current snapshot, from
/// the middle), never 1 · `accept 3` makes 3 current; 4 stays marked. Its last check found it
/// logged out.
fn build_format3(dir: &Path) {
    let v = build_format2_content(dir, SEED_FORMAT3);
    let h = "health.example";
    v.create_profile(h, Some("login health"), &SessionSettings::default())
        .unwrap();
    v.set_health(h, Some(&golden_health())).unwrap();
    v.append_snapshot(h, &health_state(true, "h1"), SnapshotKind::Import)
        .unwrap();
    v.record_health(
        h,
        &golden_health(),
        HealthResult {
            status: HealthStatus::Healthy,
            checked_at: 1_767_226_000_000,
            since: 1_767_226_000_000,
            snapshot_seq: Some(1),
            final_url: Some("https://app.example.com/home".into()),
            http_status: Some(200),
            failed: vec![],
        },
    )
    .unwrap();
    for (tag, kind, session) in [
        ("h2", SnapshotKind::SessionSave, "sess-h2"),
        ("h3", SnapshotKind::SessionSave, "sess-h3"),
        ("h4", SnapshotKind::Checkpoint, "sess-h4"),
    ] {
        let a = v
            .append_guarded(h, &health_state(false, tag), kind, Some(session), true)
            .unwrap();
        assert!(a.info.logged_out && a.current.map(|c| c.seq) == Some(1));
    }
    v.accept(h, Some("3")).unwrap();
    v.record_health(
        h,
        &golden_health(),
        HealthResult {
            status: HealthStatus::LoggedOut,
            checked_at: 1_767_227_000_000,
            since: 1_767_227_000_000,
            snapshot_seq: Some(3),
            final_url: Some("https://app.example.com/login?next=%2Fhome".into()),
            http_status: Some(200),
            failed: vec![HealthFailure {
                expectation: "url_not /login".into(),
                reason: "the final URL matches".into(),
            }],
        },
    )
    .unwrap();
}

/// The content of the format-2 golden vault, written by this build into `dir` from `seed`.
/// Retention 3, so the history of `chain.example` exercises every way the chain changes: a
/// checkpoint collapsed from the middle (its successor relinked), retention pruning (the
/// anchor moves), a discarded session's checkpoint at the head, and a session loading the
/// profile.
fn build_format2_content(dir: &Path, seed: [u8; 32]) -> Vault {
    let opts = CreateOptions {
        kdf_target: None,
        retention: 3,
        kdf_params: Some(KdfParams::OWASP_MINIMUM),
    };
    let v =
        Vault::create_deterministic_for_test_vectors(dir, &pass(GOLDEN_PASS), &opts, seed).unwrap();
    v.set_keyfile(&golden_keyfile()).unwrap();
    v.create_profile(
        "spa.example",
        Some("IndexedDB + sessionStorage ✓"),
        &SessionSettings::default(),
    )
    .unwrap();
    v.create_profile("plain", None, &SessionSettings::default())
        .unwrap();
    v.append_snapshot("spa.example", &idb_state(1), SnapshotKind::Import)
        .unwrap();
    v.append_snapshot_for_session(
        "spa.example",
        &idb_second(),
        SnapshotKind::SessionSave,
        "sess-2",
    )
    .unwrap();
    v.append_snapshot("plain", &rich_state("四"), SnapshotKind::Capture)
        .unwrap();
    v.create_profile("chain.example", None, &SessionSettings::default())
        .unwrap();
    let c = "chain.example";
    v.append_snapshot(c, &state_with("c1"), SnapshotKind::Import)
        .unwrap();
    v.append_snapshot_for_session(c, &state_with("c2"), SnapshotKind::Checkpoint, "sess-a")
        .unwrap();
    v.append_snapshot(c, &state_with("c3"), SnapshotKind::Import)
        .unwrap();
    // Collapses checkpoint 2 from the middle: 3 is relinked to 1.
    v.append_snapshot_for_session(c, &state_with("c4"), SnapshotKind::SessionSave, "sess-a")
        .unwrap();
    // Retention keeps 3, 4, 5: 1 is pruned and becomes the anchor.
    v.append_snapshot(c, &state_with("c5"), SnapshotKind::Capture)
        .unwrap();
    // Keeps 4, 5, 6: 3 is pruned; then the discarded session's checkpoint 6 (the head) goes.
    v.append_snapshot_for_session(c, &state_with("c6"), SnapshotKind::Checkpoint, "sess-b")
        .unwrap();
    assert_eq!(v.discard_session_checkpoints(c, "sess-b").unwrap(), 1);
    v.touch_profile(c).unwrap();
    v
}

/// Everything a reader can get out of a vault, as JSON: the shape of `expected.json`.
pub fn dump(v: &Vault) -> Value {
    let page = v.list_profiles(0, 100).unwrap();
    let profiles: Vec<Value> = page
        .profiles
        .iter()
        .map(|p| {
            let history = v.history(&p.name).unwrap();
            let snapshots: Vec<Value> = history
                .iter()
                .map(|i| {
                    let s = v.read_snapshot(&p.name, Some(&i.id)).unwrap();
                    json!({ "info": s.info, "state": s.state })
                })
                .collect();
            json!({ "profile": p, "snapshots": snapshots })
        })
        .collect();
    json!({ "vault_id": v.vault_id(), "profiles": profiles })
}

/// The `expected.json` of a fixture directory.
pub fn expected_in(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap()
}

/// What a schema-1 snapshot info reads as today: the counts schema 2 added are 0 (their info
/// never had them; the members default).
pub fn with_zero_v2_counts(mut v: Value) -> Value {
    fn fix(info: &mut Value) {
        if let Some(o) = info.as_object_mut() {
            o.insert("session_storage_key_count".into(), json!(0));
            o.insert("indexed_db_record_count".into(), json!(0));
        }
    }
    for p in v["profiles"].as_array_mut().unwrap() {
        if p["profile"].get("latest").is_some() {
            fix(&mut p["profile"]["latest"]);
        }
        for s in p["snapshots"].as_array_mut().unwrap() {
            fix(&mut s["info"]);
        }
    }
    v
}

/// `vault.format_version` of the vault in `dir`.
pub fn format_version(dir: &Path) -> i64 {
    raw(dir)
        .query_row("SELECT format_version FROM vault", [], |r| r.get(0))
        .unwrap()
}

/// Opens a copy of a format-1 or format-2 fixture, checks it upgrades at the first unlock to
/// exactly `expected` with a clean verify, and returns the upgraded copy.
fn assert_upgrades_to(name: &str, expected: &Value) -> (tempfile::TempDir, PathBuf) {
    let (t, dir) = copy_vault(&fixture_dir(name));
    let before = rows(&dir);
    let from = format_version(&dir);
    let v = Vault::open(&dir).unwrap();
    // Opening alone changes nothing: the upgrade needs the keys.
    assert!(from == 1 || from == 2);
    assert_eq!(rows(&dir), before);
    v.unlock(&pass(GOLDEN_PASS)).unwrap();
    assert_eq!(format_version(&dir), 3);
    assert_eq!(&dump(&v), expected);
    let report = v.verify().unwrap();
    assert_eq!(report.findings, Vec::new());
    // Same content through the key-file slot and a fresh handle; no second upgrade.
    let after = rows(&dir);
    let v = Vault::open(&dir).unwrap();
    v.unlock(&golden_keyfile()).unwrap();
    assert_eq!(&dump(&v), expected);
    assert_eq!(rows(&dir), after);
    (t, dir)
}

#[test]
fn format1_schema1_fixture_upgrades_to_identical_content() {
    let expected = with_zero_v2_counts(expected_in(&fixture_dir(FORMAT1_SCHEMA1)));
    let (_t, dir) = assert_upgrades_to(FORMAT1_SCHEMA1, &expected);
    assert_eq!(snapshot_schemas(&dir), [1]);
}

#[test]
fn format1_schema2_fixture_upgrades_to_identical_content() {
    let expected = expected_in(&fixture_dir(FORMAT1_SCHEMA2));
    let (_t, dir) = assert_upgrades_to(FORMAT1_SCHEMA2, &expected);
    assert_eq!(snapshot_schemas(&dir), [2]);
    // The content is what it claims to be: the schema-2 parts are there, and counted.
    let v = reopen_with(&dir, GOLDEN_PASS);
    let newest = v.read_snapshot("spa.example", None).unwrap();
    assert_eq!(newest.state, idb_second());
    assert_eq!(newest.info.session_storage_key_count, 2);
    assert_eq!(newest.info.indexed_db_record_count, 26);
    let first = v.read_snapshot("spa.example", Some("1")).unwrap();
    assert_eq!(first.state, idb_state(1));
    assert_eq!(first.info.indexed_db_record_count, 28);
}

#[test]
fn format2_fixture_upgrades_to_identical_content() {
    let expected = expected_in(&fixture_dir(FORMAT2));
    let (_t, dir) = assert_upgrades_to(FORMAT2, &expected);
    assert_eq!(snapshot_schemas(&dir), [2]);
    // Nothing was marked before format 3: every head is current.
    let v = reopen_with(&dir, GOLDEN_PASS);
    for p in v.list_profiles(0, 10).unwrap().profiles {
        assert_eq!((p.current, &p.health), (None, &None), "{}", p.name);
    }
    assert_eq!(
        v.read_snapshot("chain.example", None).unwrap().state,
        state_with("c5")
    );
}

#[test]
fn format1_and_format2_fixtures_are_frozen() {
    for (dir, files) in FROZEN {
        for (file, hash) in files {
            let bytes = std::fs::read(fixture_dir(dir).join(file)).unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                hash,
                "{file} of the {dir} golden fixture changed; it must never be regenerated"
            );
        }
    }
}

#[test]
fn format3_fixture_decrypts_to_exact_content() {
    let expected = expected_in(&fixture_dir(FORMAT3));
    let (_t, dir) = copy_vault(&fixture_dir(FORMAT3));
    assert_eq!(format_version(&dir), 3);
    let before = rows(&dir);
    let v = reopen_with(&dir, GOLDEN_PASS);
    assert_eq!(dump(&v), expected);
    assert_eq!(v.verify().unwrap().findings, Vec::new());
    let v = Vault::open(&dir).unwrap();
    v.unlock(&golden_keyfile()).unwrap();
    assert_eq!(dump(&v), expected);
    // Reading changes nothing.
    assert_eq!(rows(&dir), before);
    let spa = v.read_snapshot("spa.example", None).unwrap();
    assert_eq!(spa.state, idb_second());
    // The chain profile: seqs 4 and 5 kept, 6 discarded, 1-3 gone; last used is set.
    let c = v.profile("chain.example").unwrap();
    let seqs: Vec<u64> = v
        .history("chain.example")
        .unwrap()
        .iter()
        .map(|i| i.seq)
        .collect();
    assert_eq!((seqs, c.snapshot_count), (vec![5, 4], 2));
    assert!(c.last_used_at.is_some());
    assert_eq!(
        v.read_snapshot("chain.example", None).unwrap().state,
        state_with("c5")
    );
    // The guarded profile: 1 kept below the current 3 (retention never removes the current
    // snapshot; it removed 2 from the middle instead), 4 marked and the newest.
    let h = v.profile("health.example").unwrap();
    let hist = v.history("health.example").unwrap();
    let marks: Vec<(u64, bool)> = hist.iter().map(|i| (i.seq, i.logged_out)).collect();
    assert_eq!(marks, vec![(4, true), (3, false), (1, false)]);
    assert_eq!((h.current, h.latest.map(|l| l.seq)), (Some(3), Some(4)));
    assert_eq!(h.health, Some(golden_health()));
    let result = h.health_result.unwrap();
    assert_eq!(
        (result.status, result.snapshot_seq),
        (HealthStatus::LoggedOut, Some(3))
    );
    assert_eq!(
        v.read_snapshot("health.example", None).unwrap().state,
        health_state(false, "h3")
    );
    assert_eq!(
        v.read_snapshot("health.example", Some("latest"))
            .unwrap()
            .state,
        health_state(false, "h4")
    );
}

#[test]
fn format3_fixture_is_written_with_schema_2() {
    let (_t, dir) = copy_vault(&fixture_dir(FORMAT3));
    assert_eq!(snapshot_schemas(&dir), [2]);
    // And it is valid import content: what this build writes, it would also accept.
    let state = idb_state(1);
    let idb = serde_json::to_value(&state.origins[0].indexed_db).unwrap();
    pvault_model::import_databases(&idb, "origins[0].indexedDB").unwrap();
}

/// Every stored column of every row, in a stable order.
pub fn rows(dir: &Path) -> Vec<(String, Vec<Value>)> {
    let db = raw(dir);
    let mut out = Vec::new();
    for (table, order) in [
        ("vault", "singleton"),
        ("keyslots", "slot_kind"),
        ("profiles", "profile_id"),
        ("snapshots", "snapshot_id"),
    ] {
        let mut stmt = db
            .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .unwrap();
        let n = stmt.column_count();
        let r: Vec<Vec<Value>> = stmt
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Null => Value::Null,
                        rusqlite::types::ValueRef::Integer(x) => json!(x),
                        rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                        rusqlite::types::ValueRef::Blob(b) => json!(hex::encode(b)),
                        rusqlite::types::ValueRef::Real(f) => json!(f),
                    })
                    .collect())
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for row in r {
            out.push((table.to_owned(), row));
        }
    }
    out
}

#[test]
fn format3_fixture_is_reproduced_byte_for_byte() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("v");
    build_format3(&dir);
    let (_t2, fixture) = copy_vault(&fixture_dir(FORMAT3));
    assert_eq!(rows(&dir), rows(&fixture));
}

#[test]
#[ignore = "rewrites the checked-in format-3 golden fixture; run only for an intended format change"]
fn regenerate_format3_fixture() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("v");
    build_format3(&dir);
    let v = reopen_with(&dir, GOLDEN_PASS);
    let expected = serde_json::to_string_pretty(&dump(&v)).unwrap() + "\n";
    drop(v);
    // Fold the WAL into the main file so the fixture is a single self-contained file.
    raw(&dir)
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    raw(&dir)
        .execute_batch("PRAGMA journal_mode = DELETE;")
        .unwrap();
    let out = fixture_dir(FORMAT3);
    std::fs::create_dir_all(&out).unwrap();
    for f in ["vault.db", "vault.db-wal", "vault.db-shm"] {
        let _ = std::fs::remove_file(out.join(f));
    }
    std::fs::copy(dir.join("vault.db"), out.join("vault.db")).unwrap();
    std::fs::write(out.join("expected.json"), expected).unwrap();
}

fn reopen_with(dir: &Path, pw: &str) -> Vault {
    let v = Vault::open(dir).unwrap();
    v.unlock(&pass(pw)).unwrap();
    v
}

/// The distinct `snapshots.schema_version` values of the vault in `dir`.
fn snapshot_schemas(dir: &std::path::Path) -> Vec<i64> {
    raw(dir)
        .prepare("SELECT DISTINCT schema_version FROM snapshots")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}
