//! The negative corpus (`tests/vectors/negative.json`, in the spirit of age's test vectors):
//! each vector applies one defect to a copy of the golden fixture and states the layer that
//! must reject it (open, unlock or the named operation) and the exact error; defects caught
//! at the operation layer must also show up in `verify`. A vector may name another fixture
//! (`"fixture": "golden-v2"`, the schema-2 one) and may re-seal a snapshot body with valid
//! keys (`"reseal"`), for defects that only a writer holding the keys could make.

use std::path::Path;

use pvault_vault::{Vault, VaultError};
use serde_json::Value;

use crate::common::*;
use crate::golden::{GOLDEN_PASS, fixture_dir, fixture_v2_dir};

const P1: &str = "(SELECT profile_id FROM profiles ORDER BY created_at LIMIT 1)";
const P2: &str = "(SELECT profile_id FROM profiles ORDER BY created_at LIMIT 1 OFFSET 1)";

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

fn apply(dir: &Path, v: &Value) {
    if let Some(sql) = v["sql"].as_str() {
        raw(dir)
            .execute_batch(&sql.replace("P1", P1).replace("P2", P2))
            .unwrap();
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

/// Runs one vector; returns the error it produced at the expected layer.
fn run(vector: &Value) -> VaultError {
    let name = vector["name"].as_str().unwrap();
    let fixture = match vector.get("fixture").and_then(Value::as_str) {
        None | Some("golden") => fixture_dir(),
        Some("golden-v2") => fixture_v2_dir(),
        Some(f) => panic!("{name}: unknown fixture {f}"),
    };
    let (_t, dir) = copy_vault(&fixture);
    if let Some(r) = vector.get("reseal") {
        let v = Vault::open(&dir).unwrap();
        v.unlock(&pass(GOLDEN_PASS)).unwrap();
        let mut body = vec![1u8];
        body.extend_from_slice(r["body"].to_string().as_bytes());
        v.rewrite_snapshot_for_test_vectors(
            r["profile"].as_str().unwrap(),
            r["snapshot"].as_str().unwrap(),
            r["schema"].as_u64().unwrap() as u16,
            &body,
        )
        .unwrap();
    }
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
        !report.failures.is_empty(),
        "{name}: verify did not report the defect"
    );
    err
}

#[test]
fn every_negative_vector_is_rejected_at_its_layer() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/negative.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 20);
    for vector in vectors {
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
    let (_t, dir) = copy_vault(&fixture_dir());
    let v = Vault::open(&dir).unwrap();
    v.unlock(&pass(GOLDEN_PASS)).unwrap();
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
