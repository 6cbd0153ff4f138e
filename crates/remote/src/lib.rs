//! The remote store: pvault profiles shared through a PostgreSQL database that sees only
//! ciphertext, with one writer at a time across machines. Async (tokio-postgres), used by
//! the daemon. The format is specified normatively in `remote-format.md` at the repository
//! root; section numbers below refer to it.
//!
//! - [`connect`]: URLs, passwords, TLS (section 2);
//! - [`crypto`]: the team key, AADs, sealing (section 4);
//! - [`keyfile`]: the team-key export file (4.2);
//! - `schema`: creating, recognising and migrating the store (3);
//! - `store`: [`Remote`], profiles, pull and push with the chain checks (5, 7);
//! - `chain`: the chain rules and the plan of a push (7.1, 7.2);
//! - `lease`: the single-writer lease with fencing numbers (6).

mod chain;
pub mod connect;
pub mod crypto;
mod error;
pub mod keyfile;
mod lease;
mod schema;
mod store;

pub use connect::{Target, Tls};
pub use crypto::{Id, Key};
pub use error::{RemoteError, Result, Tamper};
pub use lease::{Lease, LeaseInfo};
pub use schema::{SCHEMA_VERSION, schema_sql};
pub use store::{KeyChoice, Memory, NewSnapshot, Pulled, Remote, RemoteProfile, StoreStatus};

use pvault_model::SnapshotKind;
use serde::{Deserialize, Serialize};

/// Who writes or holds a lease: shown to other machines in `busy` (sealed on the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    /// The machine's host name.
    pub host: String,
    /// The session id, if a session holds it.
    pub session: Option<String>,
    /// The holding vault's id (hex), so a daemon recognises its own lease after a restart.
    pub vault: String,
}

/// A snapshot named by its seq and the hash of its body (`vault-format.md` 7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Position in the remote history.
    pub seq: u64,
    /// Lowercase hex SHA-256 of the body plaintext.
    pub content_hash: String,
}

/// The sealed head of a remote profile (section 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// The profile's name.
    pub name: String,
    /// The seq the next snapshot gets; only grows.
    pub next_seq: u64,
    /// The newest snapshot.
    pub latest: Option<Link>,
    /// The number of snapshot rows.
    pub snapshot_count: u64,
    /// The last snapshot retention removed.
    pub anchor: Option<Link>,
    /// Time of the write (equals the row's `updated_at`).
    pub updated_at: i64,
    /// Who wrote it.
    pub writer: Holder,
}

/// The sealed info of a remote snapshot: the vault's format-2 info (`vault-format.md` 6)
/// with the remote's id, seq and chain link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteInfo {
    /// hex(snapshot_id on the remote).
    pub id: String,
    /// Position in the remote history.
    pub seq: u64,
    /// Creation time (as the snapshot was made, on whichever machine).
    pub created_at: i64,
    /// How it was made.
    pub kind: SnapshotKind,
    /// SHA-256 of the body plaintext.
    pub content_hash: String,
    /// Body plaintext length.
    pub size_bytes: u64,
    /// Counts, as the vault's info.
    pub cookie_count: u64,
    /// Origins.
    pub origin_count: u64,
    /// localStorage keys.
    pub local_storage_key_count: u64,
    /// sessionStorage keys.
    pub session_storage_key_count: u64,
    /// IndexedDB records.
    pub indexed_db_record_count: u64,
    /// The session that made it.
    pub session_id: Option<String>,
    /// The link to the snapshot below it.
    pub prev: Option<Link>,
}

impl RemoteInfo {
    /// This snapshot as a link.
    pub fn link(&self) -> Link {
        Link {
            seq: self.seq,
            content_hash: self.content_hash.clone(),
        }
    }

    /// The vault's public view of it (with the remote's id and seq).
    pub fn public(&self) -> pvault_model::SnapshotInfo {
        pvault_model::SnapshotInfo {
            id: self.id.clone(),
            seq: self.seq,
            created_at: self.created_at,
            kind: self.kind,
            content_hash: self.content_hash.clone(),
            size_bytes: self.size_bytes,
            cookie_count: self.cookie_count,
            origin_count: self.origin_count,
            local_storage_key_count: self.local_storage_key_count,
            session_storage_key_count: self.session_storage_key_count,
            indexed_db_record_count: self.indexed_db_record_count,
            // The remote store has no logout guard: nothing it holds is marked.
            logged_out: false,
        }
    }
}

/// Version byte of a head plaintext.
pub const HEAD_VERSION: u8 = 1;
/// Version byte of a snapshot info plaintext (the vault's format-2 info).
pub const INFO_VERSION: u8 = 2;
/// Version byte of a holder plaintext.
pub const HOLDER_VERSION: u8 = 1;

/// `version ‖ compact JSON`.
pub(crate) fn encode_versioned<T: Serialize>(version: u8, v: &T) -> Vec<u8> {
    let mut out = vec![version];
    serde_json::to_writer(&mut out, v).expect("our record types always serialize");
    out
}

/// The inverse of [`encode_versioned`]; `None` on another version or bad JSON.
pub(crate) fn decode_versioned<T: for<'de> Deserialize<'de>>(version: u8, b: &[u8]) -> Option<T> {
    match b.split_first() {
        Some((v, rest)) if *v == version => serde_json::from_slice(rest).ok(),
        _ => None,
    }
}

/// Current time, Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
