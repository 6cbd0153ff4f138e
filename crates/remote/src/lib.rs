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
//! - `lease`: the single-writer lease with fencing numbers (6);
//! - [`local`]: the sealed local state file of a vault's remotes (8).

mod chain;
pub mod connect;
pub mod crypto;
mod error;
pub mod keyfile;
mod lease;
pub mod local;
mod schema;
mod store;

pub use connect::{Target, Tls};
pub use crypto::{Id, Key};
pub use error::{RemoteError, Result, Tamper};
pub use lease::{Lease, LeaseInfo};
pub use schema::{SCHEMA_VERSION, schema_sql};
pub use store::{KeyChoice, Memory, NewSnapshot, Pulled, Remote, RemoteProfile, StoreStatus};

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

/// A snapshot named by its seq and the hash of its body, and the sealed info of a remote
/// snapshot: the vault's own types (`vault-format.md` 6, 7.1). On the remote, the info's `id`
/// is the remote snapshot id, `seq` the position in the remote history and `prev` the remote
/// chain's link (`remote-format.md` 5).
pub use pvault_vault::body::{ChainedInfo, Link};

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

/// Version byte of a head plaintext.
pub const HEAD_VERSION: u8 = 1;
/// Version byte of a snapshot info plaintext: the vault's format-3 info (format 2's members
/// and `logged_out`, always false here: a snapshot the logout guard marked is never pushed).
pub const INFO_VERSION: u8 = 3;
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
