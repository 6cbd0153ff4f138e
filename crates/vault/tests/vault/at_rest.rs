//! Confidentiality at rest and shredding: marker values never appear in the raw `.db`,
//! `-wal` or `-shm` bytes; after a passphrase change, a key-file replacement or a profile
//! deletion the old wrapped-key bytes appear nowhere; files are 0600 in a 0700 directory.

use std::os::unix::fs::PermissionsExt;

use pvault_model::{OriginState, SnapshotKind, StorageItem};
use pvault_vault::{Credential, ProfileUpdate, Vault};
use serde_json::Map;
use zeroize::Zeroizing;

use crate::common::*;

const MARKERS: [&str; 14] = [
    "MARKER-SS-KEY",
    "MARKER-SS-VALUE",
    "MARKER-IDB-DATABASE",
    "MARKER-IDB-STORE",
    "MARKER-IDB-KEY",
    "MARKER-IDB-VALUE",
    "MarkerProfileName",
    "MARKER-COOKIE-NAME",
    "MARKER-COOKIE-VALUE",
    "markerdomain.example",
    "markerorigin.example",
    "MARKER-LS-KEY",
    "MARKER-LS-VALUE",
    "MARKER-DESCRIPTION",
];

#[test]
fn marker_values_never_reach_the_files() {
    let (t, v) = new_vault();
    let dir = vault_dir(&t);
    v.create_profile(
        "MarkerProfileName",
        Some("MARKER-DESCRIPTION"),
        &Default::default(),
    )
    .unwrap();
    let mut s = state_with("x");
    s.cookies.push(cookie(
        "MARKER-COOKIE-NAME",
        "MARKER-COOKIE-VALUE",
        ".markerdomain.example",
    ));
    s.origins.push(OriginState {
        origin: "https://markerorigin.example".into(),
        local_storage: vec![StorageItem {
            name: "MARKER-LS-KEY".into(),
            value: "MARKER-LS-VALUE".into(),
        }],
        session_storage: Some(vec![StorageItem {
            name: "MARKER-SS-KEY".into(),
            value: "MARKER-SS-VALUE".into(),
        }]),
        indexed_db: Some(
            serde_json::from_value(serde_json::json!([{
                "name": "MARKER-IDB-DATABASE", "version": 1, "stores": [{
                    "name": "MARKER-IDB-STORE", "indexes": [], "records": [
                        {"key": "MARKER-IDB-KEY", "valueEncoded": {"bi": "1"}},
                        {"key": 1, "value": {"token": "MARKER-IDB-VALUE"}}]}]}]))
            .unwrap(),
        ),
        extra: Map::new(),
    });
    for _ in 0..3 {
        v.append_snapshot("MarkerProfileName", &s, SnapshotKind::Capture)
            .unwrap();
    }
    v.update_profile(
        "MarkerProfileName",
        &ProfileUpdate {
            description: Some(None),
            settings: None,
        },
    )
    .unwrap();
    v.touch_profile("MarkerProfileName").unwrap();
    // The WAL holds the recent commits: scan it before any checkpoint, then after a restart.
    assert!(
        std::fs::metadata(dir.join("vault.db-wal")).unwrap().len() > 0,
        "the test must scan a live WAL"
    );
    for m in MARKERS {
        assert_eq!(
            files_containing(&dir, m.as_bytes()),
            Vec::<String>::new(),
            "marker {m} found"
        );
    }
    drop(v);
    let v = reopen(&dir);
    assert_eq!(v.read_snapshot("MarkerProfileName", None).unwrap().state, s);
    for m in MARKERS {
        assert_eq!(
            files_containing(&dir, m.as_bytes()),
            Vec::<String>::new(),
            "marker {m} found after reopen"
        );
    }
}

#[test]
fn files_are_private() {
    let (t, v) = new_vault();
    let dir = vault_dir(&t);
    v.create_profile("p", None, &Default::default()).unwrap();
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for f in ["vault.db", "vault.db-wal", "vault.db-shm"] {
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    // A directory others can read is refused.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(Vault::open(&dir).unwrap_err().code(), "invalid_argument");
}

fn blob(dir: &std::path::Path, sql: &str) -> Vec<u8> {
    raw(dir).query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn passphrase_change_shreds_the_old_wrap() {
    let (t, v) = new_vault();
    let dir = vault_dir(&t);
    v.create_profile("p", None, &Default::default()).unwrap();
    v.append_snapshot("p", &state_with("a"), SnapshotKind::Import)
        .unwrap();
    let old = blob(&dir, "SELECT wrapped_mk FROM keyslots WHERE slot_kind = 1");
    let old_salt = blob(&dir, "SELECT salt FROM keyslots WHERE slot_kind = 1");
    assert!(
        !files_containing(&dir, &old).is_empty(),
        "the scan must be able to see the wrap"
    );
    assert!(matches!(
        v.change_passphrase(&pass("nope"), &pass("new one")),
        Err(pvault_vault::VaultError::AuthFailed)
    ));
    let params = |dir: &std::path::Path| -> (i64, i64, i64) {
        raw(dir)
            .query_row(
                "SELECT m_kib, t, p FROM keyslots WHERE slot_kind = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    };
    let before = params(&dir);
    v.change_passphrase(&pass(PASS), &pass("new one")).unwrap();
    // Same cost parameters, new salt (checked below), master key re-wrapped only.
    assert_eq!(params(&dir), before);
    assert_eq!(files_containing(&dir, &old), Vec::<String>::new());
    assert_eq!(files_containing(&dir, &old_salt), Vec::<String>::new());
    drop(v);
    let v = Vault::open(&dir).unwrap();
    assert_eq!(v.unlock(&pass(PASS)).unwrap_err().code(), "auth_failed");
    v.unlock(&pass("new one")).unwrap();
    assert_eq!(v.read_snapshot("p", None).unwrap().state, state_with("a"));
}

#[test]
fn keyfile_unlock_and_replacement_shreds_the_old_slot() {
    let (t, v) = new_vault();
    let dir = vault_dir(&t);
    v.create_profile("p", None, &Default::default()).unwrap();
    let k1 = Credential::KeyFile(Zeroizing::new(vec![1u8; 64]));
    let k2 = Credential::KeyFile(Zeroizing::new(vec![2u8; 32]));
    assert_eq!(
        v.set_keyfile(&Credential::KeyFile(Zeroizing::new(vec![1u8; 16])))
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
    v.set_keyfile(&k1).unwrap();
    let old = blob(&dir, "SELECT wrapped_mk FROM keyslots WHERE slot_kind = 2");
    let v2 = Vault::open(&dir).unwrap();
    let timing = v2.unlock(&k1).unwrap();
    assert!(timing.kdf < std::time::Duration::from_secs(1));
    assert_eq!(v2.profile("p").unwrap().name, "p");
    v.set_keyfile(&k2).unwrap();
    assert_eq!(files_containing(&dir, &old), Vec::<String>::new());
    let v3 = Vault::open(&dir).unwrap();
    assert_eq!(v3.unlock(&k1).unwrap_err().code(), "auth_failed");
    v3.unlock(&k2).unwrap();
    v3.unlock(&pass(PASS)).unwrap();
    // Locked handles refuse to add a key file.
    v3.lock();
    assert_eq!(v3.set_keyfile(&k1).unwrap_err().code(), "locked");
}

#[test]
fn profile_deletion_shreds_its_key_and_records() {
    let (t, v) = new_vault();
    let dir = vault_dir(&t);
    v.create_profile("keep", None, &Default::default()).unwrap();
    let info = v.create_profile("gone", None, &Default::default()).unwrap();
    v.append_snapshot("gone", &state_with("g"), SnapshotKind::Import)
        .unwrap();
    v.append_snapshot("keep", &state_with("k"), SnapshotKind::Import)
        .unwrap();
    let sel = |col: &str| {
        format!(
            "SELECT {col} FROM profiles WHERE hex(profile_id) = '{}'",
            info.id.to_uppercase()
        )
    };
    let dk = blob(&dir, &sel("wrapped_dk"));
    let meta = blob(&dir, &sel("meta"));
    let body = blob(
        &dir,
        &format!(
            "SELECT body FROM snapshots WHERE hex(profile_id) = '{}'",
            info.id.to_uppercase()
        ),
    );
    assert!(!files_containing(&dir, &dk).is_empty());
    v.delete_profile("gone").unwrap();
    for (what, b) in [("wrapped_dk", &dk), ("meta", &meta), ("body", &body)] {
        assert_eq!(
            files_containing(&dir, b),
            Vec::<String>::new(),
            "{what} survived deletion"
        );
    }
    assert_eq!(v.profile("gone").unwrap_err().code(), "not_found");
    assert_eq!(v.profile(&info.id).unwrap_err().code(), "not_found");
    assert_eq!(
        reopen(&dir).read_snapshot("keep", None).unwrap().state,
        state_with("k")
    );
}

/// Keys derived for uses outside the file: stable across unlocks, distinct per label, never
/// one of the vault's own labels, never available while locked.
#[test]
fn derived_keys_are_stable_distinct_and_fenced() {
    let (t, v) = new_vault();
    let a = v.derived_key("pvault/remote/v1/local-state").unwrap();
    let b = v.derived_key("pvault/other/v1/x").unwrap();
    assert_ne!(*a, *b, "two labels, two keys");
    for bad in [
        "pvault/v1/name-index",
        "pvault/v1/anything",
        "remote/v1/local-state",
    ] {
        assert!(v.derived_key(bad).is_err(), "{bad} must be refused");
    }
    v.lock();
    assert!(matches!(
        v.derived_key("pvault/remote/v1/local-state"),
        Err(pvault_vault::VaultError::Locked)
    ));
    drop(v);
    let again = Vault::open(&vault_dir(&t)).unwrap();
    again.unlock(&pass(PASS)).unwrap();
    assert_eq!(
        *again.derived_key("pvault/remote/v1/local-state").unwrap(),
        *a
    );
}
