//! The vault's error type. Messages say what went wrong and what to do; decryption failures
//! say little on purpose (like age), naming only *which* record failed, never why.

/// Errors of the vault. [`VaultError::code`] maps each to the protocol's stable code.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// An operation needed the keys but the vault is locked.
    #[error("the vault is locked: unlock it first (pvault unlock)")]
    Locked,
    /// No keyslot opened with the given credential.
    #[error("wrong passphrase or key file: no keyslot of this vault opens with it")]
    AuthFailed,
    /// A sealed record did not authenticate (tampered, damaged or moved).
    #[error(
        "record {record} failed authentication: the vault is damaged or was tampered with; run `pvault verify` and restore from a backup"
    )]
    DecryptionFailed {
        /// Which record (table, ids, kind).
        record: String,
    },
    /// No profile has this name or id.
    #[error("no profile named {name:?}: see `pvault profile list`")]
    ProfileNotFound {
        /// The name or id asked for.
        name: String,
    },
    /// The profile has no such snapshot.
    #[error(
        "profile {profile:?} has no snapshot {snapshot:?}: see `pvault profile history {profile}`"
    )]
    SnapshotNotFound {
        /// Profile name or id as asked.
        profile: String,
        /// Snapshot selector as asked (`latest` for the newest).
        snapshot: String,
    },
    /// The profile name is already used.
    #[error("a profile named {name:?} already exists: choose another name or delete it first")]
    NameTaken {
        /// The name.
        name: String,
    },
    /// The profile name is not allowed.
    #[error("invalid profile name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why.
        reason: String,
    },
    /// No vault in that directory.
    #[error("no vault at {path}: create one first (pvault init)")]
    NoVault {
        /// Where one was expected.
        path: String,
    },
    /// A vault (or backup target) is already there.
    #[error("{path} already exists: refusing to overwrite it")]
    AlreadyExists {
        /// The existing path.
        path: String,
    },
    /// A format or record version this build cannot read.
    #[error("unsupported {what} version {found} (this build supports {supported}): upgrade pvault")]
    UnsupportedVersion {
        /// What carries the version.
        what: &'static str,
        /// The version found.
        found: u64,
        /// The version(s) supported.
        supported: String,
    },
    /// Stored or requested Argon2id parameters are outside the accepted range.
    #[error("key-derivation parameters rejected: {reason}")]
    KdfParamsRejected {
        /// Which parameter and the bound it violates.
        reason: String,
    },
    /// Structural damage that authentication could not catch (e.g. a plaintext column that
    /// disagrees with the sealed copy).
    #[error("vault is corrupt: {reason}; run `pvault verify` and restore from a backup")]
    Corrupt {
        /// What is inconsistent.
        reason: String,
    },
    /// SQLite failed.
    #[error("vault storage error during {op}: {source}")]
    Storage {
        /// The operation that failed.
        op: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// A filesystem operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Something exceeds a size limit.
    #[error("{what} is too large (limit {limit} bytes)")]
    TooLarge {
        /// What is too large.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A caller-supplied argument is invalid.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// Why it is invalid and what is expected.
        reason: String,
    },
}

impl VaultError {
    /// The protocol's stable error code: `invalid_argument`, `not_found`, `conflict`,
    /// `locked`, `auth_failed`, `too_large`, `unsupported` or `internal`.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::Locked => "locked",
            VaultError::AuthFailed => "auth_failed",
            VaultError::ProfileNotFound { .. }
            | VaultError::SnapshotNotFound { .. }
            | VaultError::NoVault { .. } => "not_found",
            VaultError::NameTaken { .. } | VaultError::AlreadyExists { .. } => "conflict",
            VaultError::InvalidName { .. } | VaultError::InvalidArgument { .. } => {
                "invalid_argument"
            }
            VaultError::TooLarge { .. } => "too_large",
            VaultError::UnsupportedVersion { .. } | VaultError::KdfParamsRejected { .. } => {
                "unsupported"
            }
            VaultError::DecryptionFailed { .. }
            | VaultError::Corrupt { .. }
            | VaultError::Storage { .. }
            | VaultError::Io { .. } => "internal",
        }
    }

    /// Wraps a SQLite error with the operation it happened in.
    pub(crate) fn storage(op: &'static str) -> impl FnOnce(rusqlite::Error) -> VaultError {
        move |source| VaultError::Storage { op, source }
    }

    /// Wraps an I/O error with its path.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> VaultError + '_ {
        move |source| VaultError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// Shorthand for [`VaultError::Corrupt`].
    pub(crate) fn corrupt(reason: impl Into<String>) -> VaultError {
        VaultError::Corrupt {
            reason: reason.into(),
        }
    }
}

/// Result alias.
pub type Result<T, E = VaultError> = std::result::Result<T, E>;
