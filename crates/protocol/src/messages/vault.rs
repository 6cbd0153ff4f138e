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
    /// True when `failures` (and `findings`) are empty.
    pub ok: bool,
    /// Records that authenticated.
    pub records: u64,
    /// Every problem as one line of text: the `message` of each finding, in the same order
    /// (what clients of protocol 1.4 and older show).
    pub failures: Vec<String>,
    /// Every problem, typed (1.5): which profile, snapshot and record, and what kind of
    /// problem. Absent from older daemons, read as empty: such a daemon's `failures` still
    /// say it all.
    #[serde(default)]
    pub findings: Vec<VerifyFinding>,
}

/// One problem `vault.verify` found (1.5): one per defective record, edited column, or
/// snapshot missing from, out of place in, or foreign to a profile's history
/// (vault-format.md §11), and one per profile whose history went back below what the
/// daemon remembers (§11.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyFinding {
    /// The profile's id (32 hex digits).
    pub profile: String,
    /// The snapshot's id, when the finding is about one snapshot row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The snapshot's seq (the sealed one when its info opened), or the seq the history names
    /// for a snapshot that is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Which record: what to look at or restore from a backup.
    pub record: FindingRecord,
    /// What is wrong with it.
    pub kind: FindingKind,
    /// For `edited`: the plaintext column that disagrees with its sealed copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// For `unreadable`: the stable error code reading the record gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The finding in one line for people (the same text as its line in `failures`).
    pub message: String,
}

/// The record a [`VerifyFinding`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingRecord {
    /// The profile's wrapped data key (`profiles.wrapped_dk`).
    WrappedDk,
    /// The profile's sealed metadata and the plaintext columns copied from it.
    Meta,
    /// The profile's name-index entry (`profiles.name_hash`).
    NameHash,
    /// A snapshot's sealed info and the plaintext columns copied from it.
    SnapshotInfo,
    /// A snapshot's sealed content.
    SnapshotBody,
    /// The profile's history as a whole (its rows against the chain, or the daemon's memory
    /// of its head).
    History,
    /// A record a newer daemon names; show the message.
    #[serde(other)]
    Other,
}

/// What is wrong, in a [`VerifyFinding`]. Clients must treat an unknown kind (a newer
/// daemon's) as a problem like any other and show its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The record does not open (authentication, size cap or version refused); `code` says
    /// as little as the read error.
    Unreadable,
    /// Not checkable: it depends on a record that failed (named in the message).
    NotCheckable,
    /// A plaintext column disagrees with its sealed copy (`column`).
    Edited,
    /// A snapshot the history names (its head, or a row's predecessor) has no row (`seq`).
    Missing,
    /// A row's seq column holds another row's sealed seq (rows swapped), or a predecessor
    /// that does not point downwards.
    Reordered,
    /// The sealed metadata is older than the rows: a snapshot newer than the head it names.
    RolledBack,
    /// A row the history does not reach (a removed snapshot put back, or one inserted).
    Unexpected,
    /// A row holds another version of the snapshot its successor names.
    ContentMismatch,
    /// The oldest snapshot does not link to what retention recorded as removed.
    AnchorMismatch,
    /// The number of snapshot rows differs from the count the sealed metadata binds.
    CountMismatch,
    /// (1.8) The current snapshot the sealed metadata names is not the newest one the logout
    /// guard did not mark.
    CurrentMismatch,
    /// The whole vault file went back to an older copy: the profile's next seq is below what
    /// this daemon saw before (§11.1, outside the file).
    WentBack,
    /// A kind a newer daemon reports; show the message.
    #[serde(other)]
    Other,
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
