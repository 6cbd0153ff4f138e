//! `session.*` requests: browser sessions launched or attached by the daemon. The
//! semantics (errors per case, single writer, locking) are in `protocol.md`, section Sessions.

use std::path::PathBuf;

use pvault_model::{SnapshotInfo, Viewport};
use serde::{Deserialize, Serialize};

/// A running (or attached) browser session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Session id: `s` + 12 lowercase hex digits.
    pub session_id: String,
    /// The daemon's CDP relay URL for this session (`ws://127.0.0.1:PORT/devtools/browser/TOKEN`),
    /// for `connectOverCDP` / Puppeteer's `connect`. The token is a secret: whoever holds the
    /// URL controls the browser. Chrome's own debugging URL never leaves the daemon.
    pub cdp_ws_url: String,
    /// The browser's process id; `null` for an attached browser.
    pub pid: Option<u32>,
    /// The profile loaded into it, if any.
    pub profile: Option<String>,
    /// Whether stopping it saves its state into `profile`.
    pub save: bool,
    /// Whether the daemon attached to a browser it did not start.
    #[serde(default)]
    pub attached: bool,
    /// How the daemon speaks CDP to the browser (1.7; absent from older daemons): `pipe` (no
    /// listening socket in the browser), `port` (the configured fallback: Chrome's debugging
    /// port, reachable by any local process while the session runs) or `attached`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<CdpTransport>,
    /// Start time, Unix milliseconds.
    pub started_at: i64,
    /// Where the session is in its life; `running` for every session `session.list` returns.
    #[serde(default)]
    pub state: SessionState,
    /// When it ended or crashed, Unix milliseconds; `null` while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    /// The browser's product string (`Chrome/156.0.8078.79`), when it reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// CDP clients connected through the relay now (running sessions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<u64>,
    /// The inactivity timeout in force, seconds; absent for attached sessions (no timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Seconds left before the session ends for want of a connected CDP client; absent while
    /// a client is connected, for attached sessions, and once the session ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_left_secs: Option<u64>,
    /// Checkpoints of a `save` session (absent for other sessions): how often the state was
    /// captured while running and how many of those were written (only changes are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<CheckpointStats>,
}

/// What the checkpoints of a running `save` session did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointStats {
    /// Captures made (each compared with the last checkpoint written).
    pub captures: u64,
    /// Checkpoints written (captures that differed).
    pub written: u64,
    /// When the newest capture finished, Unix milliseconds; `null` before the first.
    pub last_capture_at: Option<i64>,
    /// How long the newest capture took (CDP capture, compare, and the write if any), ms.
    pub last_capture_ms: Option<u64>,
    /// Total time spent in captures so far, ms (for cost accounting).
    pub total_capture_ms: u64,
}

/// How the daemon reaches a session's browser over CDP. Clients must show an unknown value as
/// it is (`Unknown` here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CdpTransport {
    /// `--remote-debugging-pipe`: the browser listens on no socket; clients reach it only
    /// through the daemon's token-guarded relay.
    Pipe,
    /// `--remote-debugging-port` on 127.0.0.1 (`[browser] allow_port_fallback`): any local
    /// process can reach the port while the session runs.
    Port,
    /// A browser the user started with a debugging port, attached with `session.attach`.
    Attached,
    /// A value this client does not know (a newer daemon).
    #[serde(other)]
    Unknown,
}

/// The life of a session. Clients must treat an unknown value like `ended`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// The browser runs and is usable.
    #[default]
    Running,
    /// `session.stop` (or daemon shutdown) is saving and closing it.
    Stopping,
    /// It was stopped (or detached) on request, at shutdown, or its attached browser went away.
    Ended,
    /// The browser exited unexpectedly (crash or kill).
    Crashed,
}

/// Why a session ended (the `session.ended` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// `session.stop` (saving when it was a `save` session).
    Stopped,
    /// `session.stop` with `discard`.
    Discarded,
    /// `session.stop` of an attached session: the daemon let go, the browser runs on.
    Detached,
    /// The daemon shut down.
    Shutdown,
    /// The CDP connection to an attached browser closed (the user closed that browser).
    Disconnected,
    /// No CDP client was connected through the relay for the session's `timeout_secs`
    /// (saving first when it was a `save` session).
    TimedOut,
    /// The browser exited cleanly on its own: a person closed its last window, or a client
    /// sent `Browser.close`. A `save` session saves its newest checkpointed state.
    BrowserClosed,
}

/// What loading a profile into a browser did; nothing is dropped silently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadReport {
    /// The snapshot loaded.
    pub snapshot: Option<SnapshotInfo>,
    /// Cookies the browser accepted.
    pub cookies_loaded: u64,
    /// Origins whose localStorage was written.
    pub origins_loaded: u64,
    /// Origins whose sessionStorage the session hands to each new tab that first lands there.
    #[serde(default)]
    pub session_storage_origins: u64,
    /// IndexedDB databases written.
    #[serde(default)]
    pub indexed_db_databases: u64,
    /// IndexedDB records written.
    #[serde(default)]
    pub indexed_db_records: u64,
    /// Everything that could not be loaded, named (cookie name@domain; origin and part:
    /// localStorage, sessionStorage, IndexedDB database/store and record) with the reason.
    pub failures: Vec<String>,
}

/// What capturing a browser's state did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureReport {
    /// Cookies captured.
    pub cookies: u64,
    /// Origins with any web storage captured.
    pub origins: u64,
    /// Origins with sessionStorage captured.
    #[serde(default)]
    pub session_storage_origins: u64,
    /// IndexedDB databases captured.
    #[serde(default)]
    pub indexed_db_databases: u64,
    /// IndexedDB records captured.
    #[serde(default)]
    pub indexed_db_records: u64,
    /// Records whose values hold something that cannot be serialized (Blob, File…): kept in
    /// the snapshot by type name only and never loaded, named by origin, database and store.
    #[serde(default)]
    pub unsupported: Vec<String>,
    /// Everything that could not be captured, named, with the reason.
    pub failures: Vec<String>,
}

/// `session.start`: launches a browser, optionally with a profile loaded. Unset options fall
/// back to the profile's settings, then the config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionStart {
    /// Profile to load (name or id); `None` = an empty browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Save the final state into `profile` when the session stops (single writer: `busy`).
    #[serde(default)]
    pub save: bool,
    /// Show a window.
    #[serde(default)]
    pub headful: bool,
    /// Kiosk mode (implies headful).
    #[serde(default)]
    pub kiosk: bool,
    /// First page to open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    /// Viewport size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewport: Option<Viewport>,
    /// Proxy server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// User-Agent override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Browser locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Unpacked extension directories (absolute).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<PathBuf>,
    /// Inactivity timeout: the session ends (saving when `save`) once no CDP client has been
    /// connected through the relay for this many seconds (10 to 259,200); `None` = the
    /// config's `[session] timeout_secs` (300 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// (1.8) Turns the logout guard off for this session: its snapshots become current even
    /// when they look logged out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accept_logout: bool,
}

/// Result of `session.start` and `session.attach`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStartResponse {
    /// The session.
    pub session: SessionInfo,
    /// What loading the profile did; `null` without a profile.
    pub load: Option<LoadReport>,
    /// Whether the session's `save` profile did not exist and was created for it (1.3).
    #[serde(default)]
    pub profile_created: bool,
    /// For a profile linked to a remote (1.9): whether the snapshot loaded came from the
    /// remote or, the remote being unreachable, from the local vault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::SessionRemote>,
}

/// `session.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionList {}

/// Result of `session.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionListResponse {
    /// Running sessions, oldest first.
    pub sessions: Vec<SessionInfo>,
}

/// `session.show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionShow {
    /// Session id.
    pub session_id: String,
}

/// Result of `session.show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionShowResponse {
    /// The session.
    pub session: SessionInfo,
}

/// `session.stop`: a `save` session captures its final state before the browser closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionStop {
    /// Session id.
    pub session_id: String,
    /// End without saving.
    #[serde(default)]
    pub discard: bool,
}

/// Result of `session.stop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStopResponse {
    /// Session id.
    pub session_id: String,
    /// The snapshot saved, if the session saved.
    pub snapshot: Option<SnapshotInfo>,
    /// What the final capture did, if one ran.
    pub capture: Option<CaptureReport>,
    /// For a profile linked to a remote (1.9): whether the final save was pushed, is pending
    /// (remote unreachable) or diverged (the lease was lost and the remote moved on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::SessionRemote>,
    /// (1.8) Set when the logout guard marked the saved snapshot `logged_out`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logout_guard: Option<crate::LogoutGuard>,
}

/// `session.capture`: snapshots a running session into a profile (created if missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCapture {
    /// Session id.
    pub session_id: String,
    /// Target profile name.
    pub into: String,
}

/// Result of `session.capture`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCaptureResponse {
    /// The profile written.
    pub profile: String,
    /// The snapshot appended.
    pub snapshot: SnapshotInfo,
    /// What the capture did.
    pub capture: CaptureReport,
}

/// `session.load`: loads a profile into a running session that has none (`conflict` otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionLoad {
    /// Session id.
    pub session_id: String,
    /// Profile name or id.
    pub profile: String,
}

/// Result of `session.load`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLoadResponse {
    /// What loading did.
    pub load: LoadReport,
}

/// `session.attach`: registers a browser started by the user with `--remote-debugging-port`.
/// Stopping it detaches and leaves the browser running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionAttach {
    /// `http://host:port` or a `ws://…/devtools/browser/…` URL (loopback only).
    pub cdp_url: String,
}
