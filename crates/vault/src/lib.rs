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

mod chain;
mod codec;
mod error;
mod health;
mod kdf;
mod keys;
mod listing;
mod profile_rows;
mod profiles;
mod report;
mod seal;
mod slots;
mod snapshot_rows;
mod snapshots;
mod store;
mod strict_json;
mod upgrade;
mod vault;
mod verify;

#[doc(hidden)]
pub mod fuzz_support;

use pvault_model::{BrowserState, ProfileInfo, SessionSettings, SnapshotInfo};

pub use error::{Result, VaultError};
pub use kdf::{KdfParams, MAX_M_KIB, MAX_P, MAX_T};
pub use report::{Finding, Problem, RecordRef};
pub use snapshots::Appended;
pub use vault::Vault;

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
    /// Fixed Argon2id parameters; when set, calibration is skipped. Tests, fixtures and the
    /// daemon's test mode use [`KdfParams::OWASP_MINIMUM`]. Parameters below that are refused.
    pub kdf_params: Option<KdfParams>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            kdf_target: Some(std::time::Duration::from_millis(700)),
            retention: 20,
            kdf_params: None,
        }
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
    /// Every defect, one line each (the rendering of [`VerifyReport::findings`], in order).
    pub failures: Vec<String>,
    /// Every defect, typed: which profile, snapshot and record, and what is wrong with it
    /// (unreadable, an edited column, a missing, reordered, rolled-back or unexpected row).
    pub findings: Vec<Finding>,
}

/// The head of one profile's history, as its sealed metadata states it (see
/// [`Vault::heads`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileHead {
    /// Profile id (hex).
    pub id: String,
    /// The seq the next snapshot will get; it only grows.
    pub next_seq: u64,
    /// Last change to the profile or its history; it never decreases.
    pub updated_at: i64,
    /// Last time a session loaded the profile; it never decreases.
    pub last_used_at: Option<i64>,
    /// When the kept health result was checked; it never decreases while `updated_at` stays
    /// (a new health definition, which moves `updated_at`, clears the result).
    pub health_checked_at: Option<i64>,
}

/// Time spent in [`Vault::unlock`], split so the benchmark can report the non-KDF part.
#[derive(Debug, Clone, Copy)]
pub struct UnlockTiming {
    /// Time in Argon2id (zero for a key-file slot).
    pub kdf: std::time::Duration,
    /// Everything else.
    pub other: std::time::Duration,
}

/// The encodings of snapshot bodies, shared with the remote store (`remote-format.md` 5: a
/// body on the remote is exactly the vault's body plaintext, so a snapshot's content hash is
/// the same everywhere).
pub mod body {
    /// The sealed info of a snapshot (format 2) and its chain link: the remote store seals
    /// exactly this info too (`remote-format.md` 5), so both stores share one type.
    pub use crate::codec::{ChainedInfo, Link};
    pub use crate::codec::{content_hash, decode_state, encode_state};
    /// The snapshot schema this build writes (`vault-format.md` 6.1).
    pub const SCHEMA_VERSION: u16 = crate::codec::RECORD_SCHEMA_VERSION;
}

impl Vault {
    /// A key for a purpose outside the vault file, derived from the master key:
    /// HMAC-SHA256(key = MK, message = `label`). `label` must start with `pvault/` and must
    /// not be a label the vault itself uses (`vault-format.md` 5); the remote store's local
    /// state uses `pvault/remote/v1/local-state`. `Locked` when locked.
    pub fn derived_key(&self, label: &str) -> Result<zeroize::Zeroizing<[u8; 32]>> {
        if !label.starts_with("pvault/") || label.starts_with("pvault/v1/") {
            return Err(VaultError::InvalidArgument {
                what: "derived key label",
                reason: "must start with pvault/ and not be one of the vault's own".into(),
            });
        }
        self.with_keys(|k| {
            Ok(zeroize::Zeroizing::new(
                *k.mk.derive(label.as_bytes()).expose(),
            ))
        })
    }
}
