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
#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::{SecretKey, open, seal_with_nonce};

    /// SHA-256 of `nonce ‖ ciphertext ‖ tag` for a plaintext of each length, byte `i` being
    /// `(31 i + 7) mod 251`, key bytes 0..=31, nonce bytes 100..=123, AAD `pvault-kat`. The
    /// lengths fall on each side of the SIMD backends' block groups (64 B blocks, 4 or 16 at
    /// a time) up to a large snapshot body. The digests were computed with chacha20poly1305
    /// 0.10 on its AVX2 backend and agree with its portable backend and with 0.11's AVX-512
    /// one: whichever backend the CPU selects at run time must produce exactly these bytes.
    const SEALED_DIGESTS: [(usize, &str); 14] = [
        (
            0,
            "021fbead7897d9874d44ba0bee85d0903b2f486397932f245ae46ef8ddae5135",
        ),
        (
            1,
            "c6d016fea49a37633d6cc656c175330b6b782f2024330be14f6e456846c668f2",
        ),
        (
            63,
            "94ee619da5f97510157b2184548163fffec21932df84bac9285f5e45a887840a",
        ),
        (
            64,
            "8e795532763d7931c2a15839dcffb3aa885fc885f9281410fac44fdff4c892dd",
        ),
        (
            65,
            "fe7f4c9af965fd1a27951d592f1ae547ce259ec5d7dc16941549a73310ca6cd0",
        ),
        (
            255,
            "8459d6b90bf6b8e62d5b1c12307a5d4f6f42837260e6b3c494ad3e0d511716b1",
        ),
        (
            256,
            "4a136b263ece9773f820f7f1b23bdfa8e000da939e89353030331a96b9bac10b",
        ),
        (
            257,
            "26b4b4dcb9991b8395fe827c783e4b1a52f1132dbe5219161c197f1dca86d324",
        ),
        (
            1023,
            "fdd6e5f8816c363cc0d1d9e3182c144507dc7d3cb2bd90797fa4192f999bb31a",
        ),
        (
            1024,
            "00edae14ea9c2fd96eb03399197e6e3f275c8d1369b3e7f63cde8e25c58a5b73",
        ),
        (
            1025,
            "e2b2c61ecf0e7e9e2ab7cc4493e8ec63ae74ae725fee218380214a3e5d37e612",
        ),
        (
            4109,
            "44c1f3deb494fb380b837962492183ff3152e8a01c64eb5e22239a02942ebe25",
        ),
        (
            65537,
            "0fe24e353e21de47c7fdbc0e24a307e7ae3cb0229f0a8a7fe38a79caaeb12e41",
        ),
        (
            378_883,
            "849f47226063d535b67842ab5d351eb783bdc3baeb8aed2d415e7189b8c433ba",
        ),
    ];

    #[test]
    fn sealing_matches_reference_bytes_at_every_length_class_and_opens_again() {
        let mut key_bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        let key = SecretKey::from_bytes(&mut key_bytes);
        let nonce: [u8; 24] = std::array::from_fn(|i| 100 + i as u8);
        for (len, want) in SEALED_DIGESTS {
            let plaintext: Vec<u8> = (0..len).map(|i| ((i * 31 + 7) % 251) as u8).collect();
            let sealed = seal_with_nonce(&key, &nonce, b"pvault-kat", &plaintext).unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&sealed)),
                want,
                "sealed bytes of a {len}-byte plaintext"
            );
            let opened = open(&key, b"pvault-kat", &sealed).expect("opens");
            assert_eq!(*opened, plaintext, "{len} bytes round trip");
            let mut flipped = sealed.clone();
            let last = flipped.len() - 1;
            flipped[last] ^= 1;
            assert!(
                open(&key, b"pvault-kat", &flipped).is_none(),
                "{len}: a flipped tag bit opens"
            );
        }
    }
}
