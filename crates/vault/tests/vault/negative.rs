//! The negative corpus (`tests/vectors/negative.json`, in the spirit of age's test vectors):
//! each vector applies one defect to a copy of a golden fixture and states the layer that
//! must reject it (open, unlock or the named operation) and the exact error; defects caught
//! at the operation layer must also show up in `verify` as the finding the vector states: its
//! kind, and the profile, snapshot (seq and row id) and record it must name, so a `verify`
//! that blamed another record fails. A vector names its fixture (format 1 ones may be upgraded to format
//! 2 first), may re-seal a snapshot body or a profile's metadata with valid keys (`"reseal"`,
//! `"reseal_meta"`) for defects only a writer holding the keys could make, and may keep rows
//! from before a vault operation (`"before"`, `"act"`) to put them back as an attacker with
//! an older copy of the file would.

use std::collections::HashMap;
use std::path::Path;

use pvault_model::SnapshotKind;
use pvault_vault::{Finding, Problem, Vault, VaultError};
use serde_json::Value;

use crate::common::*;
use crate::golden::{FORMAT1_SCHEMA1, GOLDEN_PASS, fixture_dir, format_version};

const P1: &str = "(SELECT profile_id FROM profiles ORDER BY created_at LIMIT 1)";
const P2: &str = "(SELECT profile_id FROM profiles ORDER BY created_at LIMIT 1 OFFSET 1)";
const P3: &str = "(SELECT profile_id FROM profiles ORDER BY created_at LIMIT 1 OFFSET 2)";

/// The name of a finding's problem, as vectors state it.
fn problem_name(p: &Problem) -> &'static str {
    match p {
        Problem::Unreadable { .. } => "Unreadable",
        Problem::NotCheckable { .. } => "NotCheckable",
        Problem::Edited { .. } => "Edited",
        Problem::Missing { .. } => "Missing",
        Problem::Reordered { .. } => "Reordered",
        Problem::RolledBack { .. } => "RolledBack",
        Problem::Unexpected => "Unexpected",
        Problem::ContentMismatch { .. } => "ContentMismatch",
        Problem::AnchorMismatch => "AnchorMismatch",
        Problem::CountMismatch { .. } => "CountMismatch",
        Problem::CurrentMismatch { .. } => "CurrentMismatch",
    }
}

fn variant(e: &VaultError) -> &'static str {
    match e {
        VaultError::Locked => "Locked",
        VaultError::AuthFailed => "AuthFailed",
        VaultError::DecryptionFailed { .. } => "DecryptionFailed",
        VaultError::ProfileNotFound { .. } => "ProfileNotFound",
        VaultError::SnapshotNotFound { .. } => "SnapshotNotFound",
        VaultError::NameTaken { .. } => "NameTaken",
        VaultError::InvalidName { .. } => "InvalidName",
        VaultError::NoVault { .. } => "NoVault",
        VaultError::AlreadyExists { .. } => "AlreadyExists",
        VaultError::UnsupportedVersion { .. } => "UnsupportedVersion",
        VaultError::KdfParamsRejected { .. } => "KdfParamsRejected",
        VaultError::Corrupt { .. } => "Corrupt",
        VaultError::Storage { .. } => "Storage",
        VaultError::Io { .. } => "Io",
        VaultError::TooLarge { .. } => "TooLarge",
        VaultError::InvalidArgument { .. } => "InvalidArgument",
    }
}

fn sql(dir: &Path, sql: &str) {
    raw(dir)
        .execute_batch(&sql.replace("P1", P1).replace("P2", P2).replace("P3", P3))
        .unwrap();
}

/// Applies a vector's defect (`sql`, then `patch`) to the vault in `dir`.
pub fn apply(dir: &Path, v: &Value) {
    if let Some(s) = v["sql"].as_str() {
        sql(dir, s);
    }
    if let Some(p) = v.get("patch") {
        let f = dir.join(Vault::FILE_NAME);
        let mut b = std::fs::read(&f).unwrap();
        b[p["offset"].as_u64().unwrap() as usize] ^= p["xor"].as_u64().unwrap() as u8;
        std::fs::write(&f, b).unwrap();
    }
}

fn run_op(v: &Vault, op: &str) -> Result<(), VaultError> {
    let parts: Vec<&str> = op.split(' ').collect();
    match parts.as_slice() {
        ["profile", name] => v.profile(name).map(|_| ()),
        ["list"] => v.list_profiles(0, 100).map(|_| ()),
        ["history", name] => v.history(name).map(|_| ()),
        ["read", name, sel] => v.read_snapshot(name, Some(sel)).map(|_| ()),
        _ => panic!("unknown op {op}"),
    }
}

/// Opens and unlocks `dir` with the golden passphrase.
fn unlocked(dir: &Path) -> Vault {
    let v = Vault::open(dir).unwrap();
    v.unlock(&pass(GOLDEN_PASS)).unwrap();
    v
}

/// The fixture a vector applies to.
pub fn fixture_of(vector: &Value) -> &str {
    vector["fixture"].as_str().unwrap_or(FORMAT1_SCHEMA1)
}

/// A copy of the vector's fixture with every step before its defect done (the upgrade, the
/// re-sealing and the vault operations, which need pvault as the writer holding the keys);
/// [`apply`] then applies the defect itself (`sql`, `patch`).
pub fn prepare(vector: &Value) -> (tempfile::TempDir, std::path::PathBuf) {
    let name = vector["name"].as_str().unwrap();
    let (t, dir) = copy_vault(&fixture_dir(fixture_of(vector)));
    if vector["upgraded"].as_bool() == Some(true) {
        drop(unlocked(&dir));
        assert_eq!(format_version(&dir), 3, "{name}: not upgraded");
    }
    if let Some(r) = vector.get("reseal") {
        // A JSON string is the body's text as it is (for what a JSON value cannot hold, such
        // as a duplicate member); anything else is encoded.
        let text = match &r["body"] {
            Value::String(text) => text.clone(),
            body => body.to_string(),
        };
        let mut body = vec![1u8];
        body.extend_from_slice(text.as_bytes());
        unlocked(&dir)
            .rewrite_snapshot_for_test_vectors(
                r["profile"].as_str().unwrap(),
                r["snapshot"].as_str().unwrap(),
                r["schema"].as_u64().unwrap() as u16,
                &body,
            )
            .unwrap();
    }
    if let Some(r) = vector.get("reseal_meta") {
        unlocked(&dir)
            .reseal_profile_meta_for_test_vectors(r["profile"].as_str().unwrap(), &r["set"])
            .unwrap();
    }
    if let Some(before) = vector["before"].as_str() {
        sql(&dir, before);
    }
    if let Some(acts) = vector["act"].as_array() {
        let v = unlocked(&dir);
        for act in acts {
            match act
                .as_str()
                .unwrap()
                .split(' ')
                .collect::<Vec<_>>()
                .as_slice()
            {
                ["append", profile] => {
                    v.append_snapshot(profile, &state_with("act"), SnapshotKind::Capture)
                        .unwrap();
                }
                other => panic!("{name}: unknown act {other:?}"),
            }
        }
    }
    (t, dir)
}

/// Runs one vector; returns the error it produced at the expected layer.
fn run(vector: &Value) -> VaultError {
    let name = vector["name"].as_str().unwrap();
    let fixture = fixture_of(vector);
    let (_t, dir) = prepare(vector);
    let before = rows_by_position(&dir);
    apply(&dir, vector);
    let layer = vector["layer"].as_str().unwrap();
    let opened = Vault::open(&dir);
    if layer == "open" {
        return opened.expect_err(&format!("{name}: open accepted the defect"));
    }
    let v = opened.unwrap_or_else(|e| panic!("{name}: open failed early: {e:?}"));
    let unlocked = v.unlock(&pass(GOLDEN_PASS));
    if layer == "unlock" {
        return unlocked.expect_err(&format!("{name}: unlock accepted the defect"));
    }
    unlocked.unwrap_or_else(|e| panic!("{name}: unlock failed early: {e:?}"));
    let err = run_op(&v, vector["op"].as_str().unwrap())
        .expect_err(&format!("{name}: op accepted the defect"));
    let report = v.verify().unwrap();
    assert!(
        !report.findings.is_empty(),
        "{name}: verify did not report the defect"
    );
    let expected = match &vector["finding"] {
        Value::Array(all) => all.iter().collect(),
        Value::Object(_) => vec![&vector["finding"]],
        _ => panic!("{name}: an op vector must state the finding verify reports"),
    };
    let ids = profile_ids(fixture);
    let after = rows_by_position(&dir);
    for want in expected {
        let profile = &ids[want["profile"].as_str().unwrap()];
        let seq = want["seq"].as_u64();
        let record = want["record"].as_str().unwrap();
        // A finding on a snapshot record names the row at that position: as it was before
        // the defect (an edited seq is reported under the sealed one) or, for a row the
        // defect moved there, as it is after.
        let snapshot = (record.starts_with("snapshot-")).then(|| {
            let key = (
                profile.clone(),
                seq.expect("a snapshot finding names a seq"),
            );
            before
                .get(&key)
                .or_else(|| after.get(&key))
                .unwrap_or_else(|| panic!("{name}: no row at {key:?}"))
                .clone()
        });
        let is = |f: &Finding| {
            problem_name(&f.problem) == want["problem"].as_str().unwrap()
                && f.profile == *profile
                && f.seq == seq
                && f.snapshot == snapshot
                && f.record.name() == record
                && want["column"]
                    .as_str()
                    .is_none_or(|c| matches!(f.problem, Problem::Edited { column } if column == c))
        };
        assert!(
            report.findings.iter().any(is),
            "{name}: verify did not report {want} (profile {profile}, snapshot {snapshot:?}); it reported {:#?}",
            report.failures
        );
    }
    err
}

/// Profile ids (hex) by name, as the fixture's `expected.json` states them.
pub fn profile_ids(fixture: &str) -> HashMap<String, String> {
    let path = fixture_dir(fixture).join("expected.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = &p["profile"];
            (
                p["name"].as_str().unwrap().to_owned(),
                p["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Snapshot row ids (hex) by `(profile id hex, seq)`, as the rows of `dir` stand.
fn rows_by_position(dir: &Path) -> HashMap<(String, u64), String> {
    let db = raw(dir);
    let mut stmt = db
        .prepare("SELECT lower(hex(profile_id)), seq, lower(hex(snapshot_id)) FROM snapshots")
        .unwrap();
    stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every vector of `tests/vectors/negative.json`.
pub fn vectors() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/negative.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

#[test]
fn every_negative_vector_is_rejected_at_its_layer() {
    let vectors = vectors();
    assert!(vectors.len() >= 20);
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        let err = run(vector);
        assert_eq!(
            variant(&err),
            vector["error"].as_str().unwrap(),
            "{name}: {err}"
        );
        assert_eq!(err.code(), vector["code"].as_str().unwrap(), "{name}");
    }
}

#[test]
fn the_unmodified_fixture_passes_every_layer() {
    let (_t, dir) = copy_vault(&fixture_dir(FORMAT1_SCHEMA1));
    let v = unlocked(&dir);
    for op in [
        "profile work-github",
        "list",
        "history work-github",
        "read work-github 4",
        "read personal.mail latest",
    ] {
        run_op(&v, op).unwrap_or_else(|e| panic!("{op}: {e:?}"));
    }
}
