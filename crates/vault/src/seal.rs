//! Sealed blobs and their associated data.
//!
//! Every sealed value on disk is `nonce(24) ‖ ciphertext ‖ tag(16)` under XChaCha20-Poly1305
//! with a fresh random nonce per write (192-bit nonces make random nonces safe). The associated
//! data is a fixed binary encoding, never JSON: an ASCII domain label, a zero byte, then
//! fixed-width big-endian fields, so that a blob only opens in the one place it was written for.

use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use crate::error::{Result, VaultError};
use crate::kdf::KdfParams;
use crate::keys::{Env, Id, KEY_LEN, SecretKey};

/// Nonce length.
pub const NONCE_LEN: usize = 24;
/// Tag length.
pub const TAG_LEN: usize = 16;
/// Overhead of a sealed blob over its plaintext.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Domain label of a master-key wrap.
pub const LABEL_MK: &[u8] = b"pvault/v1/mk-wrap";
/// Domain label of a data-key wrap.
pub const LABEL_DK: &[u8] = b"pvault/v1/dk-wrap";
/// Domain label of a record.
pub const LABEL_RECORD: &[u8] = b"pvault/v1/record";
/// Label of the name-index key derived from the master key.
pub const LABEL_NAME_INDEX: &[u8] = b"pvault/v1/name-index";

/// Kind of a sealed record, bound in its AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// Profile metadata (`profiles.meta`).
    ProfileMeta = 1,
    /// Snapshot content (`snapshots.body`).
    SnapshotBody = 2,
    /// Snapshot metadata (`snapshots.info`).
    SnapshotInfo = 3,
}

impl RecordKind {
    /// Name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::ProfileMeta => "profile-meta",
            RecordKind::SnapshotBody => "snapshot-body",
            RecordKind::SnapshotInfo => "snapshot-info",
        }
    }
}

/// AAD of a master-key wrap:
/// `"pvault/v1/mk-wrap" ‖ 0x00 ‖ vault_id(16) ‖ slot_id(16) ‖ slot_kind(u8) ‖ kdf_id(u8) ‖
/// m_kib(u32) ‖ t(u32) ‖ p(u32) ‖ salt_len(u8) ‖ salt`. For a key-file slot m, t, p are 0.
pub fn aad_mk(
    vault_id: &Id,
    slot_id: &Id,
    slot_kind: u8,
    kdf_id: u8,
    params: Option<KdfParams>,
    salt: &[u8],
) -> Vec<u8> {
    let mut a = Vec::with_capacity(96);
    a.extend_from_slice(LABEL_MK);
    a.push(0);
    a.extend_from_slice(vault_id);
    a.extend_from_slice(slot_id);
    a.push(slot_kind);
    a.push(kdf_id);
    let p = params.unwrap_or(KdfParams {
        m_kib: 0,
        t: 0,
        p: 0,
    });
    a.extend_from_slice(&p.m_kib.to_be_bytes());
    a.extend_from_slice(&p.t.to_be_bytes());
    a.extend_from_slice(&p.p.to_be_bytes());
    a.push(salt.len() as u8);
    a.extend_from_slice(salt);
    a
}

/// AAD of a data-key wrap: `"pvault/v1/dk-wrap" ‖ 0x00 ‖ vault_id(16) ‖ profile_id(16) ‖
/// key_version(u32)`.
pub fn aad_dk(vault_id: &Id, profile_id: &Id, key_version: u32) -> Vec<u8> {
    let mut a = Vec::with_capacity(64);
    a.extend_from_slice(LABEL_DK);
    a.push(0);
    a.extend_from_slice(vault_id);
    a.extend_from_slice(profile_id);
    a.extend_from_slice(&key_version.to_be_bytes());
    a
}

/// AAD of a record: `"pvault/v1/record" ‖ 0x00 ‖ vault_id(16) ‖ profile_id(16) ‖
/// snapshot_id(16; zeros for profile metadata) ‖ kind(u8) ‖ schema_version(u16)`.
pub fn aad_record(
    vault_id: &Id,
    profile_id: &Id,
    snapshot_id: &Id,
    kind: RecordKind,
    schema_version: u16,
) -> Vec<u8> {
    let mut a = Vec::with_capacity(72);
    a.extend_from_slice(LABEL_RECORD);
    a.push(0);
    a.extend_from_slice(vault_id);
    a.extend_from_slice(profile_id);
    a.extend_from_slice(snapshot_id);
    a.push(kind as u8);
    a.extend_from_slice(&schema_version.to_be_bytes());
    a
}

/// Seals `plaintext` under `key` with a fresh nonce from `env`.
pub fn seal(env: &Env, key: &SecretKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    env.fill(&mut nonce)?;
    seal_with_nonce(key, &nonce, aad, plaintext)
}

/// Seals with a given nonce (used by [`seal`]; exposed for known-answer tests).
pub fn seal_with_nonce(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    // Encrypt in place in the output buffer: one copy of the plaintext, no temporary
    // ciphertext (snapshots are hundreds of KiB).
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(XNonce::from_slice(nonce), aad, &mut out[NONCE_LEN..])
        .map_err(|_| VaultError::corrupt("encryption failed"))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a sealed blob. `None` if it is too short or does not authenticate; callers turn that
/// into [`VaultError::DecryptionFailed`] naming the record.
pub fn open(key: &SecretKey, aad: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    open_with(key.expose(), aad, blob)
}

/// [`open`] with raw key bytes (a data key a listing holds only for the moment it needs it).
pub fn open_with(key: &[u8; KEY_LEN], aad: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if blob.len() < OVERHEAD {
        return None;
    }
    let (nonce, ct) = blob.split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

/// Opens a sealed key (a blob of exactly `OVERHEAD + KEY_LEN` bytes) into a zeroizing buffer
/// on the stack: no allocation and no `mlock`, for keys used once and dropped (a listing
/// opens 10,000 profiles; locking each data key's page costs more than decrypting it).
/// `None` if the blob has another length or does not authenticate.
pub fn open_key(key: &[u8; KEY_LEN], aad: &[u8], blob: &[u8]) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    if blob.len() != OVERHEAD + KEY_LEN {
        return None;
    }
    let (nonce, rest) = blob.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(KEY_LEN);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(ct);
    XChaCha20Poly1305::new(key.into())
        .decrypt_in_place_detached(XNonce::from_slice(nonce), aad, &mut out[..], tag.into())
        .ok()?;
    Some(out)
}
