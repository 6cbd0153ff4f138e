//! Chromium's cookie value encryption on Linux, with the parameters of its source
//! (`components/os_crypt`: the fallback, freedesktop-secret and secret-portal key providers,
//! and `net/extras/sqlite/sqlite_persistent_cookie_store.cc` for the host digest).
//!
//! The scheme is chosen per value by its 3-byte prefix, never by `Local State`:
//! - `v10`: AES-128-CBC, IV = 16 spaces, PKCS#7; key = PBKDF2-HMAC-SHA1(password `peanuts`,
//!   salt `saltysalt`, 1 iteration, 16 bytes) — what `--password-store=basic` writes;
//! - `v11`: the same with the password from the desktop keyring;
//! - `v12`: AES-256-GCM, value = nonce (12) ‖ ciphertext ‖ tag (16); key =
//!   HKDF-SHA256(secret from the secret portal, salt `fdo_portal_secret_salt`,
//!   info `HKDF-SHA-256 AES-256-GCM`, 32 bytes).
//!
//! For `v10` and `v11` the key derived from the empty password is tried too: a Chromium bug
//! wrote some values with it. From cookie database version 24 on, the plaintext starts with
//! SHA-256 of the cookie's `host_key`; it is checked and stripped ([`strip_host_digest`]).

use aes_gcm::aead::{Aead as _, KeyInit as _};
use cbc::cipher::{BlockDecryptMut as _, KeyIvInit as _, block_padding::Pkcs7};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// The first cookie database version whose values carry the SHA-256(host_key) digest.
pub const HOST_DIGEST_VERSION: i64 = 24;

/// A 16-byte AES-128 key, wiped on drop.
pub type CbcKey = Zeroizing<[u8; 16]>;
/// A 32-byte AES-256 key, wiped on drop.
pub type GcmKey = Zeroizing<[u8; 32]>;

/// PBKDF2-HMAC-SHA1(`password`, `saltysalt`, 1 iteration, 16 bytes): the `v10`/`v11` key.
pub fn cbc_key(password: &[u8]) -> CbcKey {
    let mut key = Zeroizing::new([0u8; 16]);
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, b"saltysalt", 1, key.as_mut());
    key
}

/// The `v10` key: [`cbc_key`] of `peanuts`.
pub fn v10_key() -> CbcKey {
    cbc_key(b"peanuts")
}

/// HKDF-SHA256 of the secret portal's secret: the `v12` key.
pub fn gcm_key(secret: &[u8]) -> GcmKey {
    let mut key = Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<Sha256>::new(Some(b"fdo_portal_secret_salt"), secret)
        .expand(b"HKDF-SHA-256 AES-256-GCM", key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 length");
    key
}

/// Decrypts a `v10`/`v11` body (after the prefix). `None` when the length or the padding
/// is wrong (a wrong key, almost always).
pub fn decrypt_cbc(key: &[u8; 16], body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if body.is_empty() || !body.len().is_multiple_of(16) {
        return None;
    }
    let iv = [b' '; 16];
    cbc::Decryptor::<aes::Aes128>::new(key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(body)
        .ok()
        .map(Zeroizing::new)
}

/// Decrypts a `v12` body (after the prefix): nonce ‖ ciphertext ‖ tag. `None` when it does
/// not authenticate.
pub fn decrypt_gcm(key: &[u8; 32], body: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if body.len() < 12 + 16 {
        return None;
    }
    let (nonce, ct) = body.split_at(12);
    aes_gcm::Aes256Gcm::new(key.into())
        .decrypt(aes_gcm::Nonce::from_slice(nonce), ct)
        .ok()
        .map(Zeroizing::new)
}

/// Why a decrypted value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestError {
    /// Shorter than the 32-byte digest.
    TooShort,
    /// The first 32 bytes are not SHA-256 of the cookie's host: a wrong key, or a value
    /// copied from another host's row.
    Mismatch,
}

/// From database version 24 on, checks that `plain` starts with SHA-256(`host_key`) and
/// returns what follows (empty when `plain` is exactly the digest: an empty cookie).
/// Before 24, returns `plain` unchanged.
pub fn strip_host_digest<'a>(
    plain: &'a [u8],
    host_key: &str,
    db_version: i64,
) -> Result<&'a [u8], DigestError> {
    if db_version < HOST_DIGEST_VERSION {
        return Ok(plain);
    }
    if plain.len() < 32 {
        return Err(DigestError::TooShort);
    }
    let digest = Sha256::digest(host_key.as_bytes());
    if plain[..32] != digest[..] {
        return Err(DigestError::Mismatch);
    }
    Ok(&plain[32..])
}

/// Encrypts like Chromium's `v10`/`v11` (tests and vector generation only).
pub fn encrypt_cbc(key: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    use cbc::cipher::BlockEncryptMut as _;
    let iv = [b' '; 16];
    cbc::Encryptor::<aes::Aes128>::new(key.into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plain)
}

/// Encrypts like Chromium's `v12` with the given nonce (tests and vector generation only).
pub fn encrypt_gcm(key: &[u8; 32], nonce: &[u8; 12], plain: &[u8]) -> Vec<u8> {
    let ct = aes_gcm::Aes256Gcm::new(key.into())
        .encrypt(aes_gcm::Nonce::from_slice(nonce), plain)
        .expect("AES-GCM encryption of a short value cannot fail");
    [nonce.as_slice(), &ct].concat()
}

/// The plaintext Chromium encrypts for a cookie: SHA-256(`host_key`) ‖ value from database
/// version 24 on, the bare value before (tests and vector generation only).
pub fn with_host_digest(host_key: &str, value: &[u8], db_version: i64) -> Vec<u8> {
    if db_version < HOST_DIGEST_VERSION {
        return value.to_vec();
    }
    [Sha256::digest(host_key.as_bytes()).as_slice(), value].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v10_key_is_chromiums_constant() {
        // The constant every importer checks against (`fd621fe5…`).
        let k = v10_key();
        let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "fd621fe5a2b402539dfa147ca9272778");
    }

    #[test]
    fn digest_is_checked_and_stripped() {
        let p = with_host_digest(".example.com", b"v", 24);
        assert_eq!(strip_host_digest(&p, ".example.com", 24), Ok(&b"v"[..]));
        assert_eq!(
            strip_host_digest(&p, "example.com", 24),
            Err(DigestError::Mismatch)
        );
        let empty = with_host_digest("a.test", b"", 24);
        assert_eq!(strip_host_digest(&empty, "a.test", 24), Ok(&b""[..]));
        assert_eq!(
            strip_host_digest(b"short", "a.test", 24),
            Err(DigestError::TooShort)
        );
        assert_eq!(strip_host_digest(b"raw", "a.test", 23), Ok(&b"raw"[..]));
    }

    #[test]
    fn cbc_and_gcm_round_trip_and_refuse_a_wrong_key() {
        let k = cbc_key(b"secret");
        let c = encrypt_cbc(&k, b"hello");
        assert_eq!(decrypt_cbc(&k, &c).unwrap().as_slice(), b"hello");
        let g = gcm_key(b"portal");
        let c = encrypt_gcm(&g, &[7; 12], b"hello");
        assert_eq!(decrypt_gcm(&g, &c).unwrap().as_slice(), b"hello");
        assert!(decrypt_gcm(&gcm_key(b"other"), &c).is_none());
    }
}
