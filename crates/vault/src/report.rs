//! What `verify` reports: one [`Finding`] per defective record, typed, so callers (and tests)
//! can tell a missing record from an edited column, a reordering or a rollback.

use std::fmt;

/// What is wrong with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The record does not open: it failed authentication, or its size or version was
    /// refused. Says as little as the read error does.
    Unreadable {
        /// The error's message.
        error: String,
        /// The error's stable code.
        code: &'static str,
    },
    /// A record could not be checked because the key or record it depends on failed.
    NotCheckable {
        /// What it depends on.
        because: &'static str,
    },
    /// A plaintext column disagrees with its sealed copy.
    Edited {
        /// The column.
        column: &'static str,
    },
    /// A snapshot the chain names (as a predecessor, or as the head) has no row.
    Missing {
        /// Its seq.
        seq: u64,
    },
    /// Two rows carry each other's position: the `seq` column holds another snapshot's
    /// sealed seq.
    Reordered {
        /// The seq the row's sealed info says.
        sealed_seq: u64,
        /// The seq its column says.
        column_seq: i64,
    },
    /// The sealed profile metadata is older than the history it describes: a snapshot is
    /// newer than the head it names (the metadata was put back from an older copy).
    RolledBack {
        /// The head seq the sealed metadata names (0: none).
        head_seq: u64,
    },
    /// A row the chain does not reach (put back from an older copy, or inserted).
    Unexpected,
    /// A link names the right seq but another content hash (the row was replaced by an older
    /// or foreign version of that snapshot).
    ContentMismatch {
        /// The seq linked to.
        seq: u64,
    },
    /// The oldest kept snapshot's predecessor is not the anchor the metadata records for
    /// what retention removed.
    AnchorMismatch,
    /// The snapshot the sealed metadata names as current (format 3) is not the newest one
    /// the logout guard did not mark.
    CurrentMismatch {
        /// The seq the metadata names (`None`: none).
        sealed: Option<u64>,
    },
    /// The number of snapshot rows differs from the count the sealed metadata binds.
    CountMismatch {
        /// The sealed count.
        sealed: u64,
        /// Rows found.
        found: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unreadable { error, .. } => write!(f, "{error}"),
            Problem::NotCheckable { because } => write!(f, "not checkable without {because}"),
            Problem::Edited { column } => {
                write!(
                    f,
                    "column {column} was edited (disagrees with the sealed copy)"
                )
            }
            Problem::Missing { seq } => write!(f, "snapshot seq {seq} is missing (deleted)"),
            Problem::Reordered {
                sealed_seq,
                column_seq,
            } => write!(
                f,
                "reordered: the row at seq {column_seq} is sealed as seq {sealed_seq}"
            ),
            Problem::RolledBack { head_seq } => write!(
                f,
                "rolled back: the profile metadata names seq {head_seq} as its newest snapshot, this one is newer"
            ),
            Problem::Unexpected => {
                write!(
                    f,
                    "not part of the profile's history (put back or inserted)"
                )
            }
            Problem::ContentMismatch { seq } => write!(
                f,
                "snapshot seq {seq} is not the one its successor names (replaced by another version)"
            ),
            Problem::AnchorMismatch => write!(
                f,
                "the oldest snapshot does not link to what retention recorded as removed"
            ),
            Problem::CurrentMismatch { sealed } => write!(
                f,
                "the sealed metadata names {} as the current snapshot, which is not the newest unmarked one",
                sealed.map_or("no snapshot".to_owned(), |s| format!("seq {s}"))
            ),
            Problem::CountMismatch { sealed, found } => write!(
                f,
                "{found} snapshot row(s), the sealed metadata counts {sealed}"
            ),
        }
    }
}

/// Which record a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordRef {
    /// `profiles.wrapped_dk`.
    DataKey,
    /// `profiles.meta` and the profile row's plaintext columns.
    ProfileMeta,
    /// `profiles.name_hash`.
    NameIndex,
    /// `snapshots.info` and the snapshot row's plaintext columns.
    SnapshotInfo,
    /// `snapshots.body`.
    SnapshotBody,
    /// The profile's history as a whole (rows and chain).
    History,
}

impl RecordRef {
    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            RecordRef::DataKey => "wrapped_dk",
            RecordRef::ProfileMeta => "meta",
            RecordRef::NameIndex => "name_hash",
            RecordRef::SnapshotInfo => "snapshot-info",
            RecordRef::SnapshotBody => "snapshot-body",
            RecordRef::History => "history",
        }
    }
}

/// One defect `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Profile id (hex).
    pub profile: String,
    /// Snapshot id (hex), for a snapshot record.
    pub snapshot: Option<String>,
    /// The snapshot's seq (the sealed one when its info opened, else the column), when known.
    pub seq: Option<u64>,
    /// The record.
    pub record: RecordRef,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.snapshot, self.record) {
            (Some(s), r) => write!(f, "snapshots[{}/{s}].{}", self.profile, r.name())?,
            (None, RecordRef::History) => write!(f, "profiles[{}].history", self.profile)?,
            (None, r) => write!(f, "profiles[{}].{}", self.profile, r.name())?,
        }
        if let (None, Some(seq)) = (&self.snapshot, self.seq) {
            write!(f, " (seq {seq})")?;
        }
        write!(f, ": {}", self.problem)
    }
}
