//! Secrets carried in requests (passphrases, key files).
//!
//! Both types zeroize their buffer on drop and print nothing in `Debug`. This is best effort:
//! serde_json's parse buffers and the socket buffers are not ours to wipe, but nothing in this
//! crate keeps a second copy, and nothing can log a secret by accident.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// A passphrase: UTF-8 text, used exactly as given (no trimming). On the wire a JSON string.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a passphrase.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(Zeroizing::new(s.into()))
    }
    /// The passphrase. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Moves the passphrase out, still zeroized on drop.
    pub fn into_zeroizing(self) -> Zeroizing<String> {
        self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Secret(Zeroizing::new(String::deserialize(d)?)))
    }
}

/// Secret bytes (a key file's contents). On the wire a standard base64 string (with padding).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps key-file bytes.
    pub fn new(b: impl Into<Vec<u8>>) -> SecretBytes {
        SecretBytes(Zeroizing::new(b.into()))
    }
    /// The bytes. Do not log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// Moves the bytes out, still zeroized on drop.
    pub fn into_zeroizing(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let enc = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*self.0));
        s.serialize_str(&enc)
    }
}

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(|v| SecretBytes(Zeroizing::new(v)))
            .map_err(|_| serde::de::Error::custom("key_file is not valid standard base64"))
    }
}

/// How a request proves it may open the vault: `{"passphrase": "…"}` or
/// `{"key_file": "<base64 of the file's bytes>"}`.
///
/// The client reads key files and passphrase files itself and sends their *contents*: the
/// daemon never opens a path named by a client, so a client cannot make the daemon read a
/// file the client itself could not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Credential {
    /// A passphrase.
    Passphrase(Secret),
    /// The raw bytes of a key file (at least 32 bytes).
    KeyFile(SecretBytes),
}
