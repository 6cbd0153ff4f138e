//! `vault.verify` over the protocol: a vault file edited behind the daemon's back is reported
//! as typed findings (profile, snapshot and seq, record, kind, column), each with its line of
//! text, and the response decodes into the protocol crate's types.

use pvault_protocol::{FindingKind, FindingRecord, VaultVerifyResponse};
use serde_json::json;

use crate::harness::{Env, storage_state};

#[test]
fn an_edited_vault_file_is_reported_as_typed_findings() {
    let env = Env::new();
    let d = env.start();
    let mut c = d.session();
    c.init();
    for tag in ["1", "2", "3"] {
        c.ok(
            "profile.import",
            json!({"name": "p", "state": storage_state(tag), "create": true}),
        );
    }
    let clean: VaultVerifyResponse =
        serde_json::from_value(c.ok("vault.verify", json!({}))).unwrap();
    assert!(clean.ok && clean.findings.is_empty(), "{clean:?}");
    let id = c.ok("profile.show", json!({"name": "p"}))["profile"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // An attacker with write access: a plaintext column edited, the middle snapshot deleted.
    let db = rusqlite::Connection::open(env.home.join("vault.db")).unwrap();
    let by_id = "lower(hex(profile_id)) = ?1";
    let edited = db
        .execute(
            &format!("UPDATE profiles SET last_used_at = 1 WHERE {by_id}"),
            [&id],
        )
        .unwrap();
    let deleted = db
        .execute(
            &format!("DELETE FROM snapshots WHERE seq = 2 AND {by_id}"),
            [&id],
        )
        .unwrap();
    assert_eq!((edited, deleted), (1, 1));
    drop(db);

    let raw = c.ok("vault.verify", json!({}));
    let v: VaultVerifyResponse = serde_json::from_value(raw.clone()).unwrap();
    assert!(!v.ok, "{raw}");
    let lines: Vec<&str> = v.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(v.failures, lines, "one line per finding, in order");
    let kinds: Vec<(FindingRecord, FindingKind, Option<u64>)> = v
        .findings
        .iter()
        .map(|f| (f.record, f.kind, f.seq))
        .collect();
    assert_eq!(
        kinds,
        [
            (FindingRecord::Meta, FindingKind::Edited, None),
            (FindingRecord::History, FindingKind::Missing, Some(2)),
            (FindingRecord::History, FindingKind::CountMismatch, None),
        ],
        "{raw}"
    );
    assert!(
        v.findings
            .iter()
            .all(|f| f.profile == id && f.snapshot.is_none())
    );
    assert_eq!(v.findings[0].column.as_deref(), Some("last_used_at"));
    // On the wire: snake_case kinds and records, optional members left out when empty.
    assert_eq!(raw["findings"][0]["kind"], "edited", "{raw}");
    assert_eq!(raw["findings"][0]["record"], "meta", "{raw}");
    assert_eq!(raw["findings"][1]["kind"], "missing", "{raw}");
    assert!(raw["findings"][1].get("column").is_none(), "{raw}");
}
