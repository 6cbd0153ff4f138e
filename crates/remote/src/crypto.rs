//! Sealing on the remote (`remote-format.md` 4): the team key, per-profile data keys, and the
//! associated data of every blob. Blobs are `nonce(24) ‖ ciphertext ‖ tag(16)` under
//! XChaCha20-Poly1305 with a fresh random nonce, exactly as in the vault; the AADs are a
//! domain label, a zero byte and fixed-width big-endian fields, never JSON.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{RemoteError, Result};

/// An id: 16 random bytes.
pub type Id = [u8; 16];
/// Nonce length.
pub const NONCE_LEN: usize = 24;
/// Tag length.
pub const TAG_LEN: usize = 16;

/// Domain labels (`remote-format.md` 4.1).
pub const LABEL_KEY_CHECK: &[u8] = b"pvault/remote/v1/key-check";
/// Label of a profile data-key wrap.
pub const LABEL_DK: &[u8] = b"pvault/remote/v1/dk-wrap";
/// Label of a head record.
pub const LABEL_HEAD: &[u8] = b"pvault/remote/v1/head";
/// Label of snapshot records.
pub const LABEL_RECORD: &[u8] = b"pvault/remote/v1/record";
/// Label of a lease holder.
pub const LABEL_HOLDER: &[u8] = b"pvault/remote/v1/holder";
/// Label of the team-key export file (AAD and HKDF info).
pub const LABEL_EXPORT: &[u8] = b"pvault/remote/v1/key-export";
/// Label of the name-index key.
pub const LABEL_NAME_INDEX: &[u8] = b"pvault/remote/v1/name-index";
/// Plaintext of `key_check`.
pub const KEY_CHECK_PLAINTEXT: &[u8] = b"pvault-remote-store";

/// Record type of a snapshot body in its AAD.
pub const RECORD_BODY: u8 = 2;
/// Record type of a snapshot info in its AAD.
pub const RECORD_INFO: u8 = 3;

/// A 32-byte key, zeroized on drop; `Debug` prints nothing.
#[derive(Clone)]
pub struct Key(pub(crate) Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Key {
    /// A fresh random key.
    pub fn random() -> Result<Key> {
        let mut k = Zeroizing::new([0u8; 32]);
        getrandom::fill(k.as_mut()).map_err(|e| RemoteError::Random(e.to_string()))?;
        Ok(Key(k))
    }

    /// From exactly 32 bytes.
    pub fn from_slice(b: &[u8]) -> Option<Key> {
        let arr: [u8; 32] = b.try_into().ok()?;
        Some(Key(Zeroizing::new(arr)))
    }

    /// The bytes (to wrap them under another key).
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA256(key = self, message).
    pub fn hmac(&self, parts: &[&[u8]]) -> [u8; 32] {
        hmac_sha256(self.expose(), parts)
    }
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// A fresh random id.
pub fn random_id() -> Result<Id> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| RemoteError::Random(e.to_string()))?;
    Ok(id)
}

fn label(l: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(l.len() + 80);
    v.extend_from_slice(l);
    v.push(0);
    v
}

/// AAD of `pvault_store.key_check`.
pub fn aad_key_check(store: &Id) -> Vec<u8> {
    let mut a = label(LABEL_KEY_CHECK);
    a.extend_from_slice(store);
    a
}

/// AAD of `pvault_profiles.wrapped_dk`.
pub fn aad_dk(store: &Id, profile: &Id, key_version: u32) -> Vec<u8> {
    let mut a = label(LABEL_DK);
    a.extend_from_slice(store);
    a.extend_from_slice(profile);
    a.extend_from_slice(&key_version.to_be_bytes());
    a
}

/// AAD of `pvault_profiles.head`.
pub fn aad_head(store: &Id, profile: &Id, head_id: &Id, fence: u64) -> Vec<u8> {
    let mut a = label(LABEL_HEAD);
    a.extend_from_slice(store);
    a.extend_from_slice(profile);
    a.extend_from_slice(head_id);
    a.extend_from_slice(&fence.to_be_bytes());
    a
}

/// AAD of a snapshot's body (`RECORD_BODY`) or info (`RECORD_INFO`).
pub fn aad_record(store: &Id, profile: &Id, snapshot: &Id, record: u8, schema: u16) -> Vec<u8> {
    let mut a = label(LABEL_RECORD);
    a.extend_from_slice(store);
    a.extend_from_slice(profile);
    a.extend_from_slice(snapshot);
    a.push(record);
    a.extend_from_slice(&schema.to_be_bytes());
    a
}

/// AAD of `pvault_leases.holder`.
pub fn aad_holder(store: &Id, profile: &Id, holder_id: &Id, fence: u64) -> Vec<u8> {
    let mut a = label(LABEL_HOLDER);
    a.extend_from_slice(store);
    a.extend_from_slice(profile);
    a.extend_from_slice(holder_id);
    a.extend_from_slice(&fence.to_be_bytes());
    a
}

/// The name-index hash of a profile name.
pub fn name_hash(team: &Key, name: &str) -> [u8; 32] {
    let nk = team.hmac(&[LABEL_NAME_INDEX]);
    hmac_sha256(&nk, &[name.as_bytes()])
}

/// Seals with a fresh random nonce.
pub fn seal(key: &Key, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| RemoteError::Random(e.to_string()))?;
    Ok(seal_with_nonce(key, &nonce, aad, plaintext))
}

/// Seals with a given nonce (test vectors; every writer uses [`seal`]).
pub fn seal_with_nonce(
    key: &Key,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(XNonce::from_slice(nonce), aad, &mut out[NONCE_LEN..])
        .expect("XChaCha20-Poly1305 seals any length we write");
    out.extend_from_slice(&tag);
    out
}

/// Opens a blob; `None` when it is too short or does not authenticate (callers say which
/// record, never why: decryption errors say little on purpose).
pub fn open(key: &Key, aad: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if blob.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let (nonce, rest) = blob.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut buf = Zeroizing::new(ct.to_vec());
    cipher
        .decrypt_in_place_detached(XNonce::from_slice(nonce), aad, &mut buf, tag.into())
        .ok()?;
    Some(buf)
}

/// Opens a wrapped 32-byte key.
pub fn open_key(key: &Key, aad: &[u8], blob: &[u8]) -> Option<Key> {
    let pt = open(key, aad, blob)?;
    Key::from_slice(&pt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_opens_only_under_its_own_aad() {
        let k = Key::random().unwrap();
        let s = [1u8; 16];
        let p = [2u8; 16];
        let blob = seal(&k, &aad_dk(&s, &p, 1), b"x").unwrap();
        assert_eq!(&open(&k, &aad_dk(&s, &p, 1), &blob).unwrap()[..], b"x");
        assert!(open(&k, &aad_dk(&s, &p, 2), &blob).is_none());
        assert!(open(&k, &aad_dk(&p, &s, 1), &blob).is_none());
        assert!(open(&k, &aad_dk(&s, &p, 1), &blob[..blob.len() - 1]).is_none());
        assert!(format!("{k:?}").contains("redacted"));
    }
}
