//! Integrity and context binding: wrong credentials, every single-bit flip and every
//! truncation of sealed blobs of each kind, blobs moved to another profile, snapshot or
//! record kind, tampered or oversized KDF parameters, and nonce uniqueness.

use std::path::{Path, PathBuf};

use pvault_model::SnapshotKind;
use pvault_vault::{CreateOptions, Credential, KdfParams, Vault, VaultError};
use rusqlite::params;
use zeroize::Zeroizing;

use crate::common::*;

fn keyfile() -> Credential {
    Credential::KeyFile(Zeroizing::new((0u8..64).collect()))
}

/// A vault with a key-file slot (fast unlocks), profiles alpha and beta with two snapshots
/// each. Returns the guard and the vault directory.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let (t, v) = new_vault();
    v.set_keyfile(&keyfile()).unwrap();
    for p in ["alpha", "beta"] {
        v.create_profile(p, Some("d"), &Default::default()).unwrap();
        v.append_snapshot(p, &state_with(&format!("{p}1")), SnapshotKind::Import)
            .unwrap();
        v.append_snapshot(p, &state_with(&format!("{p}2")), SnapshotKind::Capture)
            .unwrap();
    }
    let dir = vault_dir(&t);
    (t, dir)
}

fn open_kf(dir: &Path) -> Vault {
    let v = Vault::open(dir).unwrap();
    v.unlock(&keyfile()).unwrap();
    v
}

fn blob(dir: &Path, sql: &str) -> Vec<u8> {
    raw(dir).query_row(sql, [], |r| r.get(0)).unwrap()
}

fn set_blob(dir: &Path, sql: &str, b: &[u8]) {
    assert_eq!(raw(dir).execute(sql, params![b]).unwrap(), 1, "{sql}");
}

/// Runs `check` on every single-bit flip and every truncation of the blob `get` selects
/// (written back with `put`), then restores the original and checks it reads again.
fn every_flip_and_truncation(
    dir: &Path,
    get: &str,
    put: &str,
    check: impl Fn() -> Result<(), VaultError>,
) {
    let orig = blob(dir, get);
    // One tampering connection; no fsync per edit (the vault's own connections keep FULL).
    let db = raw(dir);
    db.execute_batch("PRAGMA synchronous = OFF").unwrap();
    let set = |b: &[u8]| assert_eq!(db.execute(put, params![b]).unwrap(), 1, "{put}");
    let mut rejected = 0;
    for bit in 0..orig.len() * 8 {
        let mut b = orig.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        set(&b);
        let err = check().expect_err(&format!("flip of bit {bit} in {get} was accepted"));
        assert!(
            matches!(
                err,
                VaultError::AuthFailed | VaultError::DecryptionFailed { .. }
            ),
            "bit {bit}: unexpected {err:?}"
        );
        rejected += 1;
    }
    for len in 0..orig.len() {
        set(&orig[..len]);
        let err = check().expect_err(&format!("truncation to {len} bytes accepted"));
        assert!(
            matches!(
                err,
                VaultError::AuthFailed | VaultError::DecryptionFailed { .. }
            ),
            "{err:?}"
        );
        rejected += 1;
    }
    assert_eq!(rejected, orig.len() * 9);
    set(&orig);
    check().expect("original blob must still open");
}

#[test]
fn wrong_passphrase_is_auth_failed() {
    let (t, v) = new_vault();
    drop(v);
    let v = Vault::open(&vault_dir(&t)).unwrap();
    let err = v.unlock(&pass("wrong")).unwrap_err();
    assert!(matches!(err, VaultError::AuthFailed));
    assert_eq!(err.code(), "auth_failed");
    assert!(!v.is_unlocked());
    // No key-file slot exists yet: a key file cannot open anything either.
    assert!(matches!(
        v.unlock(&keyfile()).unwrap_err(),
        VaultError::AuthFailed
    ));
    assert_eq!(v.profile("x").unwrap_err().code(), "locked");
}

#[test]
fn every_bit_of_keyfile_mk_wrap() {
    let (_t, dir) = setup();
    every_flip_and_truncation(
        &dir,
        "SELECT wrapped_mk FROM keyslots WHERE slot_kind = 2",
        "UPDATE keyslots SET wrapped_mk = ?1 WHERE slot_kind = 2",
        || Vault::open(&dir).unwrap().unlock(&keyfile()).map(|_| ()),
    );
}

#[test]
fn sampled_bits_of_passphrase_mk_wrap() {
    // Each attempt costs one Argon2id run, so flip one bit per byte (position varies).
    let (_t, dir) = setup();
    let orig = blob(&dir, "SELECT wrapped_mk FROM keyslots WHERE slot_kind = 1");
    for byte in 0..orig.len() {
        let mut b = orig.clone();
        b[byte] ^= 1 << (byte % 8);
        set_blob(
            &dir,
            "UPDATE keyslots SET wrapped_mk = ?1 WHERE slot_kind = 1",
            &b,
        );
        let err = Vault::open(&dir).unwrap().unlock(&pass(PASS)).unwrap_err();
        assert!(
            matches!(err, VaultError::AuthFailed),
            "byte {byte}: {err:?}"
        );
    }
}

#[test]
fn every_bit_of_data_key_wrap() {
    let (_t, dir) = setup();
    let pid = hex_id(&dir, "alpha");
    every_flip_and_truncation(
        &dir,
        &format!("SELECT wrapped_dk FROM profiles WHERE hex(profile_id) = '{pid}'"),
        &format!("UPDATE profiles SET wrapped_dk = ?1 WHERE hex(profile_id) = '{pid}'"),
        // A fresh handle each time: no cached data key.
        || open_kf(&dir).read_snapshot("alpha", None).map(|_| ()),
    );
}

#[test]
fn every_bit_of_profile_meta() {
    let (_t, dir) = setup();
    let v = open_kf(&dir);
    let pid = hex_id(&dir, "beta");
    every_flip_and_truncation(
        &dir,
        &format!("SELECT meta FROM profiles WHERE hex(profile_id) = '{pid}'"),
        &format!("UPDATE profiles SET meta = ?1 WHERE hex(profile_id) = '{pid}'"),
        || v.profile("beta").map(|_| ()),
    );
}

#[test]
fn every_bit_of_snapshot_info_and_body() {
    let (_t, dir) = setup();
    let v = open_kf(&dir);
    let first_id: Vec<u8> = raw(&dir)
        .query_row(
            "SELECT profile_id FROM snapshots WHERE seq = 1 ORDER BY profile_id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let first = hex::encode(first_id);
    for col in ["info", "body"] {
        every_flip_and_truncation(
            &dir,
            &format!("SELECT {col} FROM snapshots WHERE seq = 1 ORDER BY profile_id LIMIT 1"),
            &format!(
                "UPDATE snapshots SET {col} = ?1 WHERE snapshot_id =
                 (SELECT snapshot_id FROM snapshots WHERE seq = 1 ORDER BY profile_id LIMIT 1)"
            ),
            || v.read_snapshot(&first, Some("1")).map(|_| ()),
        );
    }
}

fn hex_id(dir: &Path, name: &str) -> String {
    open_kf(dir).profile(name).unwrap().id.to_uppercase()
}

#[test]
fn blobs_moved_between_profiles_snapshots_and_kinds_are_rejected() {
    let (_t, dir) = setup();
    let (a, b) = (hex_id(&dir, "alpha"), hex_id(&dir, "beta"));
    let db = raw(&dir);
    let get = |sql: &str| -> Vec<u8> { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let snap = |p: &str, seq: i64, col: &str| {
        get(&format!(
            "SELECT {col} FROM snapshots WHERE hex(profile_id) = '{p}' AND seq = {seq}"
        ))
    };
    let put_snap = |p: &str, seq: i64, col: &str, v: &[u8]| {
        db.execute(
            &format!(
                "UPDATE snapshots SET {col} = ?1 WHERE hex(profile_id) = '{p}' AND seq = {seq}"
            ),
            [v],
        )
        .unwrap();
    };
    let decryption_failed = |r: Result<(), VaultError>, what: &str| match r {
        Err(VaultError::DecryptionFailed { record }) => record,
        other => panic!("{what}: expected DecryptionFailed, got {other:?}"),
    };

    // Body of snapshot 1 moved onto snapshot 2 of the same profile.
    let (b1, b2) = (snap(&a, 1, "body"), snap(&a, 2, "body"));
    put_snap(&a, 2, "body", &b1);
    let rec = decryption_failed(
        open_kf(&dir).read_snapshot("alpha", Some("2")).map(|_| ()),
        "moved snapshot",
    );
    assert!(rec.contains("snapshot-body"), "{rec}");
    put_snap(&a, 2, "body", &b2);

    // Body moved to another profile's snapshot with the same seq.
    let bb1 = snap(&b, 1, "body");
    put_snap(&b, 1, "body", &b1);
    decryption_failed(
        open_kf(&dir).read_snapshot("beta", Some("1")).map(|_| ()),
        "moved profile",
    );
    put_snap(&b, 1, "body", &bb1);

    // Info sealed as kind snapshot-info placed in the body column (kind swap), and back.
    let i1 = snap(&a, 1, "info");
    put_snap(&a, 1, "body", &i1);
    decryption_failed(
        open_kf(&dir).read_snapshot("alpha", Some("1")).map(|_| ()),
        "info as body",
    );
    put_snap(&a, 1, "body", &b1);
    put_snap(&a, 1, "info", &b1);
    decryption_failed(open_kf(&dir).history("alpha").map(|_| ()), "body as info");
    put_snap(&a, 1, "info", &i1);

    // Profile metadata and data-key wraps swapped between profiles.
    for col in ["meta", "wrapped_dk"] {
        let ma = get(&format!(
            "SELECT {col} FROM profiles WHERE hex(profile_id) = '{a}'"
        ));
        let mb = get(&format!(
            "SELECT {col} FROM profiles WHERE hex(profile_id) = '{b}'"
        ));
        db.execute(
            &format!("UPDATE profiles SET {col} = ?1 WHERE hex(profile_id) = '{a}'"),
            [&mb],
        )
        .unwrap();
        let r = open_kf(&dir).profile(&a.to_lowercase()).map(|_| ());
        decryption_failed(r, col);
        db.execute(
            &format!("UPDATE profiles SET {col} = ?1 WHERE hex(profile_id) = '{a}'"),
            [&ma],
        )
        .unwrap();
    }
    let v = open_kf(&dir);
    assert_eq!(
        v.read_snapshot("alpha", Some("1")).unwrap().state,
        state_with("alpha1")
    );
    assert_eq!(v.verify().unwrap().failures, Vec::<String>::new());
}

#[test]
fn tampered_kdf_params_are_refused_before_derivation() {
    let (_t, dir) = setup();
    let db = raw(&dir);
    let cases: [(&str, i64, bool); 7] = [
        ("m_kib", 1 << 40, true),                                // not even a u32
        ("m_kib", i64::from(pvault_vault::MAX_M_KIB) + 1, true), // just above the cap
        ("m_kib", 8 * 1024, true),                               // below the minimum
        ("t", 1_000_000, true),
        ("p", 0, true),
        ("p", 255, true),
        ("t", 3, false), // valid but not what was sealed: the AAD catches it
    ];
    for (col, val, rejected_early) in cases {
        let orig: i64 = db
            .query_row(
                &format!("SELECT {col} FROM keyslots WHERE slot_kind = 1"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        db.execute(
            &format!("UPDATE keyslots SET {col} = ?1 WHERE slot_kind = 1"),
            [val],
        )
        .unwrap();
        let err = Vault::open(&dir).unwrap().unlock(&pass(PASS)).unwrap_err();
        if rejected_early {
            assert!(
                matches!(err, VaultError::KdfParamsRejected { .. }),
                "{col}={val}: {err:?}"
            );
            assert_eq!(err.code(), "unsupported");
        } else {
            assert!(
                matches!(err, VaultError::AuthFailed),
                "{col}={val}: {err:?}"
            );
        }
        db.execute(
            &format!("UPDATE keyslots SET {col} = ?1 WHERE slot_kind = 1"),
            [orig],
        )
        .unwrap();
    }
    // Salt and vault id are authenticated too.
    let salt: Vec<u8> = db
        .query_row("SELECT salt FROM keyslots WHERE slot_kind = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut bad = salt.clone();
    bad[0] ^= 1;
    db.execute("UPDATE keyslots SET salt = ?1 WHERE slot_kind = 1", [&bad])
        .unwrap();
    assert!(matches!(
        Vault::open(&dir).unwrap().unlock(&pass(PASS)),
        Err(VaultError::AuthFailed)
    ));
    db.execute("UPDATE keyslots SET salt = ?1 WHERE slot_kind = 1", [&salt])
        .unwrap();
    db.execute("UPDATE vault SET vault_id = randomblob(16)", [])
        .unwrap();
    assert!(matches!(
        Vault::open(&dir).unwrap().unlock(&pass(PASS)),
        Err(VaultError::AuthFailed)
    ));
    assert!(matches!(
        Vault::open(&dir).unwrap().unlock(&keyfile()),
        Err(VaultError::AuthFailed)
    ));
}

#[test]
fn weak_or_huge_params_refused_at_create() {
    let t = tempfile::tempdir().unwrap();
    for params in [
        KdfParams {
            m_kib: 8 * 1024,
            t: 2,
            p: 1,
        },
        KdfParams {
            m_kib: 19 * 1024,
            t: 1,
            p: 1,
        },
        KdfParams {
            m_kib: u32::MAX,
            t: 2,
            p: 1,
        },
        KdfParams {
            m_kib: 19 * 1024,
            t: 2,
            p: 64,
        },
    ] {
        let opts = CreateOptions {
            kdf_params: Some(params),
            ..fast_opts()
        };
        let err = Vault::create(&t.path().join("v"), &pass(PASS), &opts).unwrap_err();
        assert!(
            matches!(err, VaultError::KdfParamsRejected { .. }),
            "{params:?}: {err:?}"
        );
    }
    assert!(!Vault::exists(&t.path().join("v")));
}

#[test]
fn nonces_are_distinct() {
    let (t, v) = new_vault();
    v.create_profile("n", None, &Default::default()).unwrap();
    let s = state_with("same");
    for _ in 0..50 {
        v.append_snapshot("n", &s, SnapshotKind::Capture).unwrap();
    }
    let db = raw(&vault_dir(&t));
    let mut nonces: Vec<Vec<u8>> = Vec::new();
    let mut stmt = db
        .prepare("SELECT substr(info, 1, 24), substr(body, 1, 24) FROM snapshots")
        .unwrap();
    for row in stmt
        .query_map([], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .unwrap()
    {
        let (a, b) = row.unwrap();
        nonces.push(a);
        nonces.push(b);
    }
    nonces.push(
        db.query_row("SELECT substr(meta, 1, 24) FROM profiles", [], |r| r.get(0))
            .unwrap(),
    );
    nonces.push(
        db.query_row("SELECT substr(wrapped_dk, 1, 24) FROM profiles", [], |r| {
            r.get(0)
        })
        .unwrap(),
    );
    let n = nonces.len();
    assert_eq!(n, 40 + 2); // retention 20 × 2 records, meta, data key
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), n, "a nonce was reused");
}

proptest::proptest! {
    /// The record decoder (the fuzz target's entry point) never panics on arbitrary input,
    /// including inputs that start like a real plaintext.
    #[test]
    fn record_decoder_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512), json in ".{0,64}") {
        pvault_vault::fuzz_support::decode_record(&data);
        let mut framed = vec![1u8];
        framed.extend_from_slice(json.as_bytes());
        pvault_vault::fuzz_support::decode_record(&framed);
    }
}
