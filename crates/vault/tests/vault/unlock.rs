//! The edge rules of unlock (vault-format.md 5.2) that need a key file or a re-sealed
//! master-key wrap: which of a key-file slot's columns are read, the order of the KDF-id and
//! parameter checks, the key file's size bounds, and a wrap that opens to a key of the wrong
//! length. (The passphrase slot's rules are negative vectors.)

use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use pvault_model::SnapshotKind;
use pvault_vault::{Credential, Vault, VaultError};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::common::*;

const KEY_FILE: [u8; 40] = [9u8; 40];

fn keyfile_of(bytes: &[u8]) -> Credential {
    Credential::KeyFile(Zeroizing::new(bytes.to_vec()))
}

/// A vault with a key-file slot and one profile with one snapshot.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let (t, v) = new_vault();
    v.set_keyfile(&keyfile_of(&KEY_FILE)).unwrap();
    v.create_profile("p", None, &Default::default()).unwrap();
    v.append_snapshot("p", &state_with("a"), SnapshotKind::Import)
        .unwrap();
    let dir = vault_dir(&t);
    (t, dir)
}

fn unlock_kf(dir: &Path, file: &[u8]) -> Result<Vault, VaultError> {
    let v = Vault::open(dir).unwrap();
    v.unlock(&keyfile_of(file)).map(|_| v)
}

fn sql(dir: &Path, sql: &str) {
    raw(dir).execute_batch(sql).unwrap();
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// The key-file slot's KEK (HKDF-SHA256, one block) and its wrap's AAD (4.1), computed from
/// the file as an independent reader would, and the wrap as stored.
fn keyfile_slot(dir: &Path) -> ([u8; 32], Vec<u8>, Vec<u8>) {
    let db = raw(dir);
    let vault_id: Vec<u8> = db
        .query_row("SELECT vault_id FROM vault", [], |r| r.get(0))
        .unwrap();
    let (slot_id, salt, wrapped): (Vec<u8>, Vec<u8>, Vec<u8>) = db
        .query_row(
            "SELECT slot_id, salt, wrapped_mk FROM keyslots WHERE slot_kind = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let prk = hmac(&salt, &[&KEY_FILE]);
    let kek = hmac(&prk, &[b"pvault/v1/keyfile-kek", &[1]]);
    let mut aad = b"pvault/v1/mk-wrap\0".to_vec();
    aad.extend_from_slice(&vault_id);
    aad.extend_from_slice(&slot_id);
    aad.extend_from_slice(&[2, 2]);
    aad.extend_from_slice(&[0; 12]);
    aad.push(salt.len() as u8);
    aad.extend_from_slice(&salt);
    (kek, aad, wrapped)
}

fn seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce = [5u8; 24];
    let ct = XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .unwrap();
    [&nonce[..], &ct].concat()
}

#[test]
fn a_keyfile_slot_never_reads_its_stored_kdf_parameters() {
    let (_t, dir) = setup();
    // Valid Argon2id parameters, then values no passphrase slot could hold: neither is read
    // (the AAD encodes zeros whatever the columns hold).
    for set in [
        "m_kib = 19456, t = 2, p = 1",
        "m_kib = 4294967296, t = -1, p = 0",
    ] {
        sql(
            &dir,
            &format!("UPDATE keyslots SET {set} WHERE slot_kind = 2"),
        );
        unlock_kf(&dir, &KEY_FILE).unwrap_or_else(|e| panic!("{set}: {e:?}"));
    }
}

#[test]
fn a_keyfile_slot_with_another_kdf_id_fails_the_parameters_first_then_the_id() {
    let (_t, dir) = setup();
    // Relabelled as Argon2id (or unknown), its zeros fail the parameter caps before the id
    // is compared with the credential.
    for id in [1, 9] {
        sql(
            &dir,
            &format!("UPDATE keyslots SET kdf_id = {id} WHERE slot_kind = 2"),
        );
        let e = unlock_kf(&dir, &KEY_FILE).unwrap_err();
        assert!(
            matches!(e, VaultError::KdfParamsRejected { .. }),
            "{id}: {e:?}"
        );
        assert_eq!(e.code(), "unsupported");
    }
    // With parameters that pass the caps, the id itself is refused, and before the key
    // file's size is looked at.
    for id in [1, 9] {
        sql(
            &dir,
            &format!(
                "UPDATE keyslots SET kdf_id = {id}, m_kib = 19456, t = 2, p = 1 WHERE slot_kind = 2"
            ),
        );
        for file in [&KEY_FILE[..], &[0u8; 31][..]] {
            let e = unlock_kf(&dir, file).unwrap_err();
            assert!(
                matches!(e, VaultError::UnsupportedVersion { .. }),
                "{id}: {e:?}"
            );
        }
    }
    // Put back, it opens again.
    sql(
        &dir,
        "UPDATE keyslots SET kdf_id = 2, m_kib = 0, t = 0, p = 0 WHERE slot_kind = 2",
    );
    unlock_kf(&dir, &KEY_FILE).unwrap();
}

#[test]
fn the_key_file_size_bounds_hold_at_unlock() {
    let (_t, dir) = setup();
    let e = unlock_kf(&dir, &[9u8; 31]).unwrap_err();
    assert!(matches!(e, VaultError::InvalidArgument { .. }), "{e:?}");
    assert_eq!(e.code(), "invalid_argument");
    let e = unlock_kf(&dir, &vec![9u8; 1024 * 1024 + 1]).unwrap_err();
    assert!(matches!(e, VaultError::TooLarge { .. }), "{e:?}");
    assert_eq!(e.code(), "too_large");
    // At the bounds the size is accepted: the wrong file is a wrong credential.
    for len in [32, 1024 * 1024] {
        let e = unlock_kf(&dir, &vec![9u8; len]).unwrap_err();
        assert!(matches!(e, VaultError::AuthFailed), "{len}: {e:?}");
    }
}

#[test]
fn a_master_key_wrap_that_opens_to_another_length_is_auth_failed() {
    let (_t, dir) = setup();
    let (kek, aad, wrapped) = keyfile_slot(&dir);
    let (nonce, ct) = wrapped.split_at(24);
    let mk = XChaCha20Poly1305::new((&kek).into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
        .expect("the test's KEK and AAD open the stored wrap");
    assert_eq!(mk.len(), 32);
    let put = |plain: &[u8]| {
        let blob = seal(&kek, &aad, plain);
        raw(&dir)
            .execute(
                "UPDATE keyslots SET wrapped_mk = ?1 WHERE slot_kind = 2",
                [&blob],
            )
            .unwrap();
    };
    for plain in [&mk[..31], &[&mk[..], &[0]].concat(), &[]] {
        put(plain);
        let e = unlock_kf(&dir, &KEY_FILE).unwrap_err();
        assert!(
            matches!(e, VaultError::AuthFailed),
            "{}: {e:?}",
            plain.len()
        );
    }
    // The same master key re-sealed by the test opens: only the length was refused.
    put(&mk);
    let v = unlock_kf(&dir, &KEY_FILE).unwrap();
    v.read_snapshot("p", None).unwrap();

    // A data-key wrap that opens to another length is damage, not a wrong credential.
    let (vault_id, pid, dk_wrap): (Vec<u8>, Vec<u8>, Vec<u8>) = raw(&dir)
        .query_row(
            "SELECT (SELECT vault_id FROM vault), profile_id, wrapped_dk FROM profiles",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let mut dk_aad = b"pvault/v1/dk-wrap\0".to_vec();
    dk_aad.extend_from_slice(&vault_id);
    dk_aad.extend_from_slice(&pid);
    dk_aad.extend_from_slice(&1u32.to_be_bytes());
    let mk: [u8; 32] = mk.as_slice().try_into().unwrap();
    let (nonce, ct) = dk_wrap.split_at(24);
    let dk = XChaCha20Poly1305::new((&mk).into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: &dk_aad,
            },
        )
        .expect("the test's data-key AAD opens the stored wrap");
    raw(&dir)
        .execute(
            "UPDATE profiles SET wrapped_dk = ?1",
            [seal(&mk, &dk_aad, &[&dk[..], &[0]].concat())],
        )
        .unwrap();
    let v = unlock_kf(&dir, &KEY_FILE).unwrap();
    let e = v.profile("p").unwrap_err();
    assert!(matches!(e, VaultError::DecryptionFailed { .. }), "{e:?}");
    assert_eq!(e.code(), "internal");
}
