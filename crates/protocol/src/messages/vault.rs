//! `vault.*` requests: create, unlock, lock, change passphrase, verify, back up.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Credential;

/// `vault.init`: creates the vault and leaves it unlocked. `conflict` if one exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultInit {
    /// The first keyslot's secret.
    pub credential: Credential,
}

/// Result of `vault.init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultInitResponse {
    /// The new vault's random id (hex).
    pub vault_id: String,
    /// The vault database file.
    pub vault_path: PathBuf,
}

/// `vault.unlock`: loads the keys. `auth_failed` if no keyslot opens, `not_found` if there is
/// no vault. Unlocking an unlocked vault checks the credential again and succeeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultUnlock {
    /// Passphrase or key file.
    pub credential: Credential,
}

/// Result of `vault.unlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultUnlockResponse {
    /// The vault's id.
    pub vault_id: String,
    /// Milliseconds spent in the key-derivation function.
    pub kdf_ms: u64,
    /// Seconds of idleness before the vault locks itself again.
    pub auto_lock_secs: u64,
}

/// `vault.lock`: forgets the keys (zeroized). Idempotent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultLock {}

/// `vault.passwd`: replaces the passphrase keyslot (when `new` is a passphrase) or adds/replaces
/// the key-file keyslot (when `new` is a key file). `old` must open a slot (`auth_failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultPasswd {
    /// A secret that opens the vault now.
    pub old: Credential,
    /// The new secret.
    pub new: Credential,
}

/// `vault.verify`: authenticates every record. Requires unlocked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultVerify {}

/// Result of `vault.verify`. A failed verification is a *result* (`ok: false`), not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultVerifyResponse {
    /// True when `failures` is empty.
    pub ok: bool,
    /// Records that authenticated.
    pub records: u64,
    /// Every record that failed, named precisely.
    pub failures: Vec<String>,
}

/// `vault.backup`: the daemon writes a consistent copy of the vault file to `path`.
///
/// The path must be absolute (the daemon's working directory is not the client's) and must
/// not exist (`conflict`); the copy is as encrypted as the vault itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultBackup {
    /// Absolute destination path; its parent directory must exist.
    pub path: PathBuf,
}

/// Result of `vault.backup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultBackupResponse {
    /// Where the copy was written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size_bytes: u64,
}
