//! Events pushed to connections that sent `subscribe`:
//! `{"event": "<name>", "data": {...}}`, one per line, interleaved with responses.

use pvault_model::SnapshotInfo;
use serde::{Deserialize, Serialize};

/// Why the vault was locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockReason {
    /// A `vault.lock` request.
    Request,
    /// The auto-lock timer after the configured idle time.
    Idle,
    /// The daemon is shutting down.
    Shutdown,
}

/// An event. Clients must ignore event names they do not know (added in minor versions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data")]
pub enum Event {
    /// The vault was locked; keys are gone.
    #[serde(rename = "vault.locked")]
    VaultLocked {
        /// Why.
        reason: LockReason,
    },
    /// The vault was unlocked (or created).
    #[serde(rename = "vault.unlocked")]
    VaultUnlocked {
        /// The vault's id.
        vault_id: String,
    },
    /// A snapshot was appended to a profile's history.
    #[serde(rename = "snapshot.saved")]
    SnapshotSaved {
        /// Profile name.
        profile: String,
        /// Profile id.
        profile_id: String,
        /// The snapshot (id, seq, kind, counts; never content).
        snapshot: SnapshotInfo,
    },
}
