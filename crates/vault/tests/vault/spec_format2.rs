//! The independent reader (`spec.rs`), format 2: the chain rules of vault-format.md section 7
//! checked from the document alone, on the format-2 fixture, on upgraded format-1 fixtures,
//! and on copies with one row deleted (the head, the oldest: the anchor then mismatches).

use std::collections::BTreeMap;

use pvault_vault::Vault;
use serde_json::{Value, json};

use crate::common::*;
use crate::golden::{
    FORMAT1_SCHEMA1, FORMAT1_SCHEMA2, FORMAT2, FORMAT3, GOLDEN_PASS, fixture_dir,
    with_zero_v2_counts,
};
use crate::spec::{expected_in, read_independently, read_vault_file};

/// A link as the document defines it: `{"seq", "content_hash"}` or null.
fn link(v: &Value) -> Option<(u64, String)> {
    (!v.is_null()).then(|| {
        (
            v["seq"].as_u64().unwrap(),
            v["content_hash"].as_str().unwrap().to_owned(),
        )
    })
}

/// Section 7, "Chain": every problem of one profile's history, given its decrypted metadata
/// and the decrypted infos of all its rows. Empty when the head is the newest row, each
/// info's `prev` names the next row below it by seq and content hash, the oldest row's `prev`
/// is the anchor, no row is newer than the head or at/after `next_seq`, and the number of rows
/// is `snapshot_count`.
pub fn chain_problems(meta: &Value, infos: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    let rows: BTreeMap<u64, (String, Option<(u64, String)>)> = infos
        .iter()
        .map(|i| {
            (
                i["seq"].as_u64().unwrap(),
                (
                    i["content_hash"].as_str().unwrap().to_owned(),
                    link(&i["prev"]),
                ),
            )
        })
        .collect();
    if rows.len() as u64 != meta["snapshot_count"].as_u64().unwrap() {
        out.push(format!(
            "{} rows, snapshot_count {}",
            rows.len(),
            meta["snapshot_count"]
        ));
    }
    let next_seq = meta["next_seq"].as_u64().unwrap();
    let anchor = link(&meta["anchor"]);
    let head = link(&meta["latest"]);
    let newest = rows.iter().next_back().map(|(s, (h, _))| (*s, h.clone()));
    if newest != head {
        out.push(format!("newest row {newest:?} is not the head {head:?}"));
    }
    // Format 3 (section 7.5): `current` names the newest row whose info is not marked
    // `logged_out`.
    if let Some(current) = meta.get("current") {
        let newest_unmarked = infos
            .iter()
            .filter(|i| i["logged_out"] != json!(true))
            .max_by_key(|i| i["seq"].as_u64().unwrap())
            .map(|i| {
                (
                    i["seq"].as_u64().unwrap(),
                    i["content_hash"].as_str().unwrap().to_owned(),
                )
            });
        if link(current) != newest_unmarked {
            out.push(format!(
                "current {:?} is not the newest unmarked row {newest_unmarked:?}",
                link(current)
            ));
        }
    }
    let seqs: Vec<&u64> = rows.keys().collect();
    for (i, seq) in seqs.iter().enumerate() {
        if **seq >= next_seq {
            out.push(format!("seq {seq} is not below next_seq {next_seq}"));
        }
        let expected_prev = match i {
            0 => anchor.clone(),
            _ => Some((*seqs[i - 1], rows[seqs[i - 1]].0.clone())),
        };
        if rows[*seq].1 != expected_prev {
            out.push(format!(
                "seq {seq} links to {:?}, expected {expected_prev:?}",
                rows[*seq].1
            ));
        }
    }
    out
}

#[test]
fn independent_reader_decrypts_format2_fixture() {
    let got = read_independently(&fixture_dir(FORMAT2));
    assert_eq!(got, expected_in(&fixture_dir(FORMAT2)));
}

/// Format 3 (sections 6 and 7.5): the marks, the current snapshot and the sealed health read
/// by the independent reader, and the current rule checked.
#[test]
fn independent_reader_decrypts_format3_fixture() {
    let got = read_independently(&fixture_dir(FORMAT3));
    assert_eq!(got, expected_in(&fixture_dir(FORMAT3)));
}

/// The format-2 fixture upgraded to format 3 reads independently as the same content.
#[test]
fn independent_reader_reads_the_upgraded_format2_fixture() {
    let (_t, dir) = copy_vault(&fixture_dir(FORMAT2));
    let v = Vault::open(&dir).unwrap();
    v.unlock(&pass(GOLDEN_PASS)).unwrap();
    drop(v);
    let (got, problems) = read_vault_file(&dir);
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(got, expected_in(&fixture_dir(FORMAT2)));
}

#[test]
fn independent_reader_reads_upgraded_format1_fixtures() {
    for (name, expected) in [
        (
            FORMAT1_SCHEMA1,
            with_zero_v2_counts(expected_in(&fixture_dir(FORMAT1_SCHEMA1))),
        ),
        (FORMAT1_SCHEMA2, expected_in(&fixture_dir(FORMAT1_SCHEMA2))),
    ] {
        let (_t, dir) = copy_vault(&fixture_dir(name));
        let v = Vault::open(&dir).unwrap();
        v.unlock(&pass(GOLDEN_PASS)).unwrap();
        drop(v);
        let (got, problems) = read_vault_file(&dir);
        assert_eq!(problems, Vec::<String>::new(), "{name}");
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn independent_chain_check_flags_deleted_rows() {
    let chain = "(SELECT profile_id FROM profiles ORDER BY created_at LIMIT 1 OFFSET 2)";
    for (defect, expect) in [
        (
            format!("DELETE FROM snapshots WHERE profile_id = {chain} AND seq = 5"),
            "is not the head",
        ),
        (
            format!("DELETE FROM snapshots WHERE profile_id = {chain} AND seq = 4"),
            "expected Some((3,",
        ),
        (
            format!("DELETE FROM snapshots WHERE profile_id = {chain} AND seq = 4"),
            "1 rows, snapshot_count 2",
        ),
    ] {
        let (_t, dir) = copy_vault(&fixture_dir(FORMAT2));
        raw(&dir).execute_batch(&defect).unwrap();
        let (_, problems) = read_vault_file(&dir);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "{defect}: {problems:?}"
        );
    }
}

#[test]
fn live_vault_uses_wal_and_the_documented_schema() {
    let (t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    let db = raw(&vault_dir(&t));
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let app_id: i64 = db
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app_id, 0x7076_6c74);
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tables, ["keyslots", "profiles", "snapshots", "vault"]);
    let version: i64 = db
        .query_row("SELECT format_version FROM vault", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
}
