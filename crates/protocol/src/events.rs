//! Events pushed to connections that sent `subscribe`:
//! `{"event": "<name>", "data": {...}}`, one per line, interleaved with responses.

use pvault_model::SnapshotInfo;

use crate::messages::{EndReason, SessionInfo};
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
    /// A browser session started (or a browser was attached).
    #[serde(rename = "session.started")]
    SessionStarted {
        /// The session, as `session.show` reports it.
        session: SessionInfo,
    },
    /// A session wrote a snapshot: its final save, a `session.capture`, or the checkpoint
    /// taken when the vault is locked under a running `save` session. A `snapshot.saved`
    /// event for the same snapshot is sent too.
    #[serde(rename = "session.saved")]
    SessionSaved {
        /// Session id.
        session_id: String,
        /// Profile name written.
        profile: String,
        /// Profile id written.
        profile_id: String,
        /// The snapshot (its `kind` says session_save, capture or checkpoint).
        snapshot: SnapshotInfo,
        /// (1.8) Set when the logout guard marked the snapshot `logged_out`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        logout_guard: Option<crate::LogoutGuard>,
    },
    /// A session ended on request, at shutdown, or because its attached browser went away.
    #[serde(rename = "session.ended")]
    SessionEnded {
        /// Session id.
        session_id: String,
        /// Why.
        reason: EndReason,
        /// The final snapshot it saved, if any.
        #[serde(default)]
        snapshot: Option<SnapshotInfo>,
        /// What a person should know, e.g. why a `save` session could not save at shutdown.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A session's browser exited unexpectedly; its user-data-dir has been removed and changes
    /// since its last saved snapshot are lost.
    #[serde(rename = "session.crashed")]
    SessionCrashed {
        /// Session id.
        session_id: String,
        /// The profile it had loaded, if any.
        #[serde(default)]
        profile: Option<String>,
        /// How the browser exited (exit code or signal).
        detail: String,
    },
    /// (1.8) A health check's result differs from the profile's previous one (sent on every
    /// change, never for a repeat of the same status).
    #[serde(rename = "profile.health")]
    ProfileHealth {
        /// Profile name.
        profile: String,
        /// Profile id.
        profile_id: String,
        /// The new result, with its evidence.
        result: pvault_model::HealthResult,
        /// The previous status (`None`: never checked since the definition was set).
        previous: Option<pvault_model::HealthStatus>,
    },
}
