//! The encrypted on-disk vault: profiles, their immutable snapshot history, and the key
//! hierarchy that seals them. Synchronous (no tokio); the format is specified normatively in
//! `vault-format.md` at the repository root.
//!
//! API CONTRACT (the daemon is written against this; the implementation fills it in).
//!
//! Concurrency: a [`Vault`] is `Send + Sync`; every method takes `&self`. Writes are
//! serialized on one writer connection; reads use their own connections, so readers never
//! wait for the writer (SQLite WAL). Several `Vault` handles (or processes) may open the same
//! file; at most one should write at a time (the daemon guarantees it).

use std::path::Path;

use pvault_model::{BrowserState, ProfileInfo, SessionSettings, SnapshotInfo, SnapshotKind};

/// A secret that unlocks a keyslot. `Debug` prints nothing of the secret.
pub enum Credential {
    /// A passphrase (UTF-8, used as given: no trimming or normalization).
    Passphrase(zeroize::Zeroizing<String>),
    /// The raw bytes of a key file (at least 32 bytes).
    KeyFile(zeroize::Zeroizing<Vec<u8>>),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Passphrase(_) => f.write_str("Credential::Passphrase(<redacted>)"),
            Credential::KeyFile(_) => f.write_str("Credential::KeyFile(<redacted>)"),
        }
    }
}

/// Options for [`Vault::create`].
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Target Argon2id time; parameters are calibrated up from the RFC 9106 floor until one
    /// derivation takes about this long. `None` = the floor parameters as they are (tests).
    pub kdf_target: Option<std::time::Duration>,
    /// Snapshots kept per profile (the newest is always kept).
    pub retention: u32,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions { kdf_target: Some(std::time::Duration::from_millis(700)), retention: 20 }
    }
}

/// One page of [`Vault::list_profiles`].
#[derive(Debug, Clone)]
pub struct ProfilePage {
    /// Profiles on this page, ordered by name.
    pub profiles: Vec<ProfileInfo>,
    /// Total number of profiles in the vault.
    pub total: u64,
}

/// Changes for [`Vault::update_profile`]; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    /// Replaces the default session settings.
    pub settings: Option<SessionSettings>,
}

/// A snapshot with its content.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Metadata.
    pub info: SnapshotInfo,
    /// The decrypted state.
    pub state: BrowserState,
}

/// Result of [`Vault::verify`].
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Records that authenticated.
    pub ok: u64,
    /// Every record that failed, named precisely (table, row id, profile/snapshot id, kind).
    pub failures: Vec<String>,
}

/// Time spent in [`Vault::unlock`], split so the benchmark can report the non-KDF part.
#[derive(Debug, Clone, Copy)]
pub struct UnlockTiming {
    /// Time in Argon2id (zero for a key-file slot).
    pub kdf: std::time::Duration,
    /// Everything else.
    pub other: std::time::Duration,
}

/// Errors of the vault. [`VaultError::code`] maps each to the protocol's stable code.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Placeholder until implemented.
    #[error("not implemented")]
    Unimplemented,
}

impl VaultError {
    /// The protocol's stable error code: `invalid_argument`, `not_found`, `conflict`,
    /// `locked`, `auth_failed`, `too_large`, `unsupported` or `internal`.
    pub fn code(&self) -> &'static str {
        "internal"
    }
}

/// Result alias.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;

/// An open vault file. Starts locked (from [`Vault::open`]) or unlocked (from
/// [`Vault::create`]).
#[derive(Debug)]
pub struct Vault {
    _private: (),
}

#[allow(unused_variables)]
impl Vault {
    /// File name of the vault database inside its directory.
    pub const FILE_NAME: &'static str = "vault.db";

    /// Whether `dir` holds a vault.
    pub fn exists(dir: &Path) -> bool { unimplemented!() }
    /// Creates a new vault in `dir` (made 0700 if missing) with one keyslot for `cred`;
    /// returns it unlocked. `AlreadyExists` (code `conflict`) if one is there.
    pub fn create(dir: &Path, cred: &Credential, opts: &CreateOptions) -> Result<Vault> { unimplemented!() }
    /// Opens an existing vault, locked. Checks format version and runs `quick_check`.
    pub fn open(dir: &Path) -> Result<Vault> { unimplemented!() }
    /// Path of the vault database file.
    pub fn path(&self) -> &Path { unimplemented!() }
    /// The vault's random id (hex).
    pub fn vault_id(&self) -> String { unimplemented!() }
    /// Unlocks with a passphrase or key file; `auth_failed` if no slot opens.
    pub fn unlock(&self, cred: &Credential) -> Result<UnlockTiming> { unimplemented!() }
    /// Forgets every key (zeroized). Idempotent.
    pub fn lock(&self) { unimplemented!() }
    /// Whether keys are loaded.
    pub fn is_unlocked(&self) -> bool { unimplemented!() }
    /// Replaces the passphrase keyslot; `old` must open a slot. Re-wraps the master key only.
    pub fn change_passphrase(&self, old: &Credential, new: &Credential) -> Result<()> { unimplemented!() }
    /// Adds (or replaces) the key-file keyslot. Requires unlocked.
    pub fn set_keyfile(&self, keyfile: &Credential) -> Result<()> { unimplemented!() }
    /// Snapshots kept per profile from now on (min 1).
    pub fn set_retention(&self, keep: u32) -> Result<()> { unimplemented!() }

    /// Creates an empty profile. `conflict` on a duplicate name, `invalid_argument` on a bad one.
    pub fn create_profile(&self, name: &str, description: Option<&str>, settings: &SessionSettings) -> Result<ProfileInfo> { unimplemented!() }
    /// A profile by name, or by id (32 hex digits) when no profile has that name.
    pub fn profile(&self, name_or_id: &str) -> Result<ProfileInfo> { unimplemented!() }
    /// Profiles ordered by name, `limit` from `offset`.
    pub fn list_profiles(&self, offset: u64, limit: u64) -> Result<ProfilePage> { unimplemented!() }
    /// Renames; `conflict` if the new name is taken.
    pub fn rename_profile(&self, name_or_id: &str, new_name: &str) -> Result<ProfileInfo> { unimplemented!() }
    /// Changes description or default settings.
    pub fn update_profile(&self, name_or_id: &str, update: &ProfileUpdate) -> Result<ProfileInfo> { unimplemented!() }
    /// Deletes the profile and shreds its data key.
    pub fn delete_profile(&self, name_or_id: &str) -> Result<()> { unimplemented!() }
    /// Records that a session loaded the profile now.
    pub fn touch_profile(&self, name_or_id: &str) -> Result<()> { unimplemented!() }

    /// Appends a snapshot as the newest, applying retention, in one transaction.
    pub fn append_snapshot(&self, name_or_id: &str, state: &BrowserState, kind: SnapshotKind) -> Result<SnapshotInfo> { unimplemented!() }
    /// The history, newest first.
    pub fn history(&self, name_or_id: &str) -> Result<Vec<SnapshotInfo>> { unimplemented!() }
    /// Reads a snapshot; `snapshot` is a seq number, a full id or a unique id prefix of at least
    /// 6 hex digits, or `None` for the newest (`not_found` if the history is empty).
    pub fn read_snapshot(&self, name_or_id: &str, snapshot: Option<&str>) -> Result<Snapshot> { unimplemented!() }
    /// Appends a copy of an older snapshot as the newest (kind `restore`).
    pub fn restore(&self, name_or_id: &str, snapshot: &str) -> Result<SnapshotInfo> { unimplemented!() }

    /// Authenticates every sealed record; lists every failure.
    pub fn verify(&self) -> Result<VerifyReport> { unimplemented!() }
    /// Writes a consistent copy of the vault to `dest` (a new file) while it stays in use.
    pub fn backup(&self, dest: &Path) -> Result<()> { unimplemented!() }
}
