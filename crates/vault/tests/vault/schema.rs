//! Snapshot schema versions (vault-format.md sections 6 and 8): new snapshots are written with
//! schema 2 (sessionStorage, typed IndexedDB, the two new counts); schema-1 snapshots keep
//! reading, their verbatim `indexedDB` decoded with import's validation or, when that fails,
//! kept as `indexedDBUnparsed`; schema 2 has no such leniency.

use pvault_model::{OriginState, SnapshotKind};
use pvault_vault::VaultError;
use serde_json::{Value, json};

use crate::common::*;
use crate::golden::idb_state;

fn schema_column(t: &tempfile::TempDir) -> Vec<i64> {
    raw(&vault_dir(t))
        .prepare("SELECT schema_version FROM snapshots ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn body(v: &Value) -> Vec<u8> {
    let mut b = vec![1u8];
    b.extend_from_slice(v.to_string().as_bytes());
    b
}

/// A schema-1 body as the build before schema 2 wrote it: Playwright's `indexedDB` verbatim
/// (in-line records without keys), one valid origin and one whose `indexedDB` is not valid.
fn v1_body() -> Value {
    json!({
        "cookies": [],
        "origins": [
            {"origin": "https://ok.example", "localStorage": [{"name": "k", "value": "v"}],
             "sessionStorage": [{"name": "s", "value": "t"}],
             "indexedDB": [{"name": "firebaseLocalStorageDb", "version": 1, "stores": [
                {"name": "firebaseLocalStorage", "keyPath": "fbase_key", "autoIncrement": false,
                 "indexes": [], "records": [
                    {"value": {"fbase_key": "firebase:authUser:k", "value": {"uid": "u"}}}]}]}]},
            {"origin": "https://bad.example", "localStorage": [],
             "indexedDB": [{"name": "db", "version": "one", "stores": [
                {"name": "s", "records": [{"value": 1, "mystery": true}]}]}]}
        ]
    })
}

#[test]
fn new_snapshots_are_written_with_schema_2_and_counted() {
    let (t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    let info = v
        .append_snapshot("p", &idb_state(1), SnapshotKind::Import)
        .unwrap();
    assert_eq!(schema_column(&t), [2]);
    assert_eq!(info.session_storage_key_count, 2);
    assert_eq!(info.indexed_db_record_count, 28);
    let back = v.read_snapshot("p", None).unwrap();
    assert_eq!(back.state, idb_state(1));
    assert_eq!(back.info, info);
    assert_eq!(v.profile("p").unwrap().latest, Some(info));
}

#[test]
fn schema_1_indexeddb_decodes_typed_or_is_kept_unparsed() {
    let (t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    v.append_snapshot("p", &state_with("a"), SnapshotKind::Import)
        .unwrap();
    v.rewrite_snapshot_for_test_vectors("p", "1", 1, &body(&v1_body()))
        .unwrap();
    assert_eq!(schema_column(&t), [1]);
    let s = reopen(&vault_dir(&t))
        .read_snapshot("p", Some("1"))
        .unwrap();
    // Schema-1 infos had no schema-2 counts: they read as 0.
    assert_eq!(
        (
            s.info.session_storage_key_count,
            s.info.indexed_db_record_count
        ),
        (0, 0)
    );
    let ok = &s.state.origins[0];
    assert!(ok.extra.is_empty(), "{:?}", ok.extra.keys());
    let store = &ok.databases()[0].stores[0];
    // The in-line record got the key its key path selects, as an import would give it.
    assert_eq!(store.records[0].key, Some(json!("firebase:authUser:k")));
    assert_eq!(ok.session_items().len(), 1);
    let bad: &OriginState = &s.state.origins[1];
    assert_eq!(bad.indexed_db, None);
    assert_eq!(
        bad.extra.get("indexedDBUnparsed"),
        Some(&v1_body()["origins"][1]["indexedDB"]),
        "kept verbatim, under its own name"
    );
    assert_eq!(v.verify().unwrap().failures, Vec::<String>::new());

    // Restoring it writes a schema-2 copy that keeps the unparsed member (nothing lost).
    v.restore("p", "1").unwrap();
    assert_eq!(schema_column(&t), [1, 2]);
    let copy = v.read_snapshot("p", None).unwrap();
    assert_eq!(copy.state, s.state);
    assert_eq!(copy.info.indexed_db_record_count, 1);
}

#[test]
fn schema_2_bodies_get_no_leniency() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    v.append_snapshot("p", &state_with("a"), SnapshotKind::Import)
        .unwrap();
    v.rewrite_snapshot_for_test_vectors("p", "1", 2, &body(&v1_body()))
        .unwrap();
    let e = v.read_snapshot("p", Some("1")).unwrap_err();
    assert!(matches!(e, VaultError::Corrupt { .. }), "{e:?}");
    assert_eq!(v.verify().unwrap().failures.len(), 1);
}

#[test]
fn snapshot_above_the_protocol_frame_cap_saves_and_reads_back() {
    // 70 MiB of content: more than the old 64 MiB body cap and one 64 MiB protocol frame.
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    let mut s = state_with("big");
    s.origins[0].local_storage[0].value = "x".repeat(70 * 1024 * 1024);
    let info = v.append_snapshot("p", &s, SnapshotKind::Capture).unwrap();
    assert!(info.size_bytes > 70 * 1024 * 1024);
    assert_eq!(v.read_snapshot("p", None).unwrap().state, s);
}

#[test]
fn duplicate_members_are_refused_known_or_not_in_either_schema() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    v.append_snapshot("p", &state_with("a"), SnapshotKind::Import)
        .unwrap();
    let c = serde_json::to_string(&cookie("c", "v", "a.example")).unwrap();
    let c = c.strip_suffix('}').unwrap();
    // `@` marks where the duplicate goes; each body reads without it.
    let cases = [
        // An unknown cookie member (kept in `extra`).
        (2, format!(r#"{{"cookies":[{c},"future":1@}}],"origins":[]}}"#), r#","future":2"#),
        // An unknown origin member.
        (
            2,
            r#"{"cookies":[],"origins":[{"origin":"https://o.example","localStorage":[],"x":1@}]}"#
                .to_owned(),
            r#","x":1"#,
        ),
        // An unknown member at the top level (ignored when read).
        (2, r#"{"cookies":[],"origins":[],"x":1@}"#.to_owned(), r#","x":2"#),
        // Schema 1 decodes through a `Value`: a known member, an unknown one, and one in an
        // `indexedDB` kept verbatim.
        (1, format!(r#"{{"cookies":[{c}@}}]}}"#), r#","path":"/x""#),
        (1, format!(r#"{{"cookies":[{c},"future":1@}}]}}"#), r#","future":1"#),
        (
            1,
            r#"{"origins":[{"origin":"https://o.example","indexedDB":[{"name":"db","version":"one","mystery":1@}]}]}"#
                .to_owned(),
            r#","mystery":2"#,
        ),
    ];
    for (schema, text, dup) in cases {
        let read = |text: &str| {
            v.rewrite_snapshot_for_test_vectors(
                "p",
                "1",
                schema,
                &[b"\x01", text.as_bytes()].concat(),
            )
            .unwrap();
            v.read_snapshot("p", Some("1"))
        };
        let clean = text.replace('@', "");
        read(&clean).unwrap_or_else(|e| panic!("{clean}: {e:?}"));
        let bad = text.replace('@', dup);
        let e = read(&bad).unwrap_err();
        assert!(matches!(e, VaultError::Corrupt { .. }), "{bad}: {e:?}");
        assert_eq!(v.verify().unwrap().failures.len(), 1, "{bad}");
    }
}

#[test]
fn a_state_whose_record_would_not_read_back_is_refused_at_write_and_nothing_is_written() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    v.append_snapshot("p", &idb_state(1), SnapshotKind::Capture)
        .unwrap();
    let bad: OriginState = serde_json::from_value(json!({
        "origin": "https://app.example.com",
        "localStorage": [],
        "indexedDB": [{"name": "db", "version": 1, "stores": [
            {"name": "s", "autoIncrement": false, "indexes": [], "records": [
                {"key": 1, "valueEncoded": {"a": [{"ref": 7}], "id": 1}}
            ]}
        ]}]
    }))
    .unwrap();
    let mut state = idb_state(2);
    let at = state.origins.len();
    state.origins.push(bad);
    let e = v
        .append_snapshot("p", &state, SnapshotKind::Capture)
        .unwrap_err();
    assert!(matches!(e, VaultError::InvalidArgument { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "origins[{at}].indexedDB[0].stores[0].records[0].valueEncoded"
        )),
        "names the record: {msg}"
    );
    assert!(!msg.contains("import"), "{msg}");
    // Only the first snapshot, which still reads.
    assert_eq!(v.history("p").unwrap().len(), 1);
    assert_eq!(v.read_snapshot("p", None).unwrap().state, idb_state(1));
}
