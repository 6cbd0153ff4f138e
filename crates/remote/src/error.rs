//! What can go wrong with a remote store, each with the protocol's stable error code
//! (`remote-format.md` 11). Messages name what was wrong and what to do; they never carry a
//! password, a key, or a sealed record's content.

/// Result alias.
pub type Result<T, E = RemoteError> = std::result::Result<T, E>;

/// What a tampered remote showed (`remote-format.md` 7.1, 7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// A record does not open (edited, moved, or sealed under another key).
    Unreadable,
    /// A snapshot the chain names has no row.
    Missing,
    /// Rows are out of the chain's order (swapped, or a `prev` that does not point down).
    Reordered,
    /// The head is older than one this vault has seen.
    RolledBack,
    /// A row the chain does not reach.
    Unexpected,
    /// A body whose hash is not its info's.
    ContentMismatch,
    /// The lowest row does not link to the anchor.
    AnchorMismatch,
    /// The number of rows is not the head's count.
    CountMismatch,
    /// A plaintext column differs from its sealed copy.
    Edited,
}

impl Tamper {
    /// Snake-case name, as shown.
    pub fn name(self) -> &'static str {
        match self {
            Tamper::Unreadable => "unreadable",
            Tamper::Missing => "missing",
            Tamper::Reordered => "reordered",
            Tamper::RolledBack => "rolled_back",
            Tamper::Unexpected => "unexpected",
            Tamper::ContentMismatch => "content_mismatch",
            Tamper::AnchorMismatch => "anchor_mismatch",
            Tamper::CountMismatch => "count_mismatch",
            Tamper::Edited => "edited",
        }
    }
}

/// Errors of the remote store.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The URL is not one pvault accepts.
    #[error("invalid remote URL: {reason}")]
    InvalidUrl {
        /// What is wrong (never the URL's password).
        reason: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("the remote at {target} is unreachable: {detail}")]
    Unreachable {
        /// Host and port (no credentials).
        target: String,
        /// The OS or driver error.
        detail: String,
    },
    /// The server refused the role's password (or has no entry for this role and host).
    #[error("the PostgreSQL server at {target} refused the password for role {role}: {detail}")]
    WrongPassword {
        /// Host and port.
        target: String,
        /// The role.
        role: String,
        /// The server's message.
        detail: String,
    },
    /// The database named in the URL does not exist.
    #[error("database {db} does not exist on {target}: create it first (createdb {db})")]
    NoDatabase {
        /// Host and port.
        target: String,
        /// Database name.
        db: String,
    },
    /// A key that does not open the store, or a key file that does not open.
    #[error("{what}")]
    WrongKey {
        /// What did not open, and what to do.
        what: String,
    },
    /// The database holds another tool's tables, or a `pvault_store` that is not ours.
    #[error(
        "the database is not a pvault remote store: {detail}; give pvault an empty database (or schema) of its own"
    )]
    NotAStore {
        /// What was found (table names only).
        detail: String,
    },
    /// The store was created or migrated by a newer pvault.
    #[error(
        "the remote store has schema version {found}; this pvault knows up to {known}: upgrade pvault on this machine"
    )]
    NewerSchema {
        /// The store's version.
        found: i32,
        /// Ours.
        known: i32,
    },
    /// The lease is held by another holder.
    #[error("profile {profile} is being saved on {} (session {}) until its lease expires in {} s; try again later, or start without --save", holder.host, holder.session.as_deref().unwrap_or("-"), expires_in_ms.div_ceil(1000))]
    Busy {
        /// The profile (name or id as the caller named it).
        profile: String,
        /// Who holds it.
        holder: crate::Holder,
        /// Milliseconds until the lease expires (server clock).
        expires_in_ms: u64,
    },
    /// The caller's lease expired or was taken: its write is refused (fencing).
    #[error(
        "the lease on profile {profile} expired or was taken (fencing number {fence} is stale): another machine may have written; the save is kept locally"
    )]
    LeaseLost {
        /// The profile.
        profile: String,
        /// The stale fencing number.
        fence: u64,
    },
    /// The remote head moved since it was read: the write would overwrite a newer save.
    #[error(
        "the remote history of profile {profile} moved since this vault last read it; the save is kept locally and not pushed (pull, then save again)"
    )]
    HeadMoved {
        /// The profile.
        profile: String,
    },
    /// A profile name already on the remote.
    #[error(
        "profile {name} already exists on the remote; pull it instead (pvault profile pull {name} --remote …)"
    )]
    NameTaken {
        /// The name.
        name: String,
    },
    /// No such profile on the remote.
    #[error("profile {name} is not on the remote")]
    ProfileNotFound {
        /// Name or id.
        name: String,
    },
    /// The server showed something no honest server would (`remote-format.md` 7).
    #[error("the remote store is not trustworthy for profile {profile}: {} ({detail}); the local copy is kept unchanged", kind.name())]
    Tampered {
        /// The profile.
        profile: String,
        /// What kind of defect.
        kind: Tamper,
        /// Details (ids, seqs; never content).
        detail: String,
    },
    /// A team-key file that is not one.
    #[error("invalid team-key file: {reason}")]
    BadKeyFile {
        /// What is wrong.
        reason: String,
    },
    /// Argon2id parameters of a key file outside the caps.
    #[error("the key file's KDF parameters are refused: {reason}")]
    KdfRefused {
        /// Which bound.
        reason: String,
    },
    /// Another database error (a bug, or privileges).
    #[error("PostgreSQL error: {detail}")]
    Database {
        /// The server's message and SQLSTATE (never a value).
        detail: String,
    },
    /// Encoding or decoding a snapshot body.
    #[error(transparent)]
    Vault(#[from] pvault_vault::VaultError),
    /// The OS random generator failed.
    #[error("the OS random generator failed: {0}")]
    Random(String),
}

impl RemoteError {
    /// The protocol's stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            RemoteError::InvalidUrl { .. }
            | RemoteError::BadKeyFile { .. }
            | RemoteError::NoDatabase { .. } => "invalid_argument",
            RemoteError::Unreachable { .. } => "remote_unavailable",
            RemoteError::WrongPassword { .. } | RemoteError::WrongKey { .. } => "auth_failed",
            RemoteError::NotAStore { .. } | RemoteError::NameTaken { .. } => "conflict",
            RemoteError::HeadMoved { .. } => "conflict",
            RemoteError::NewerSchema { .. } | RemoteError::KdfRefused { .. } => "unsupported",
            RemoteError::Busy { .. } | RemoteError::LeaseLost { .. } => "busy",
            RemoteError::ProfileNotFound { .. } => "not_found",
            RemoteError::Tampered { .. } => "remote_tampered",
            RemoteError::Vault(e) => e.code(),
            RemoteError::Database { .. } | RemoteError::Random(_) => "internal",
        }
    }

    /// Whether retrying later may succeed without anyone changing anything (the remote was
    /// unreachable): pending pushes stay pending on these and only these.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, RemoteError::Unreachable { .. })
    }

    pub(crate) fn tampered(profile: &str, kind: Tamper, detail: impl Into<String>) -> RemoteError {
        RemoteError::Tampered {
            profile: profile.to_owned(),
            kind,
            detail: detail.into(),
        }
    }
}
