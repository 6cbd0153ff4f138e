//! The registry of sessions: running ones by id, the single-writer claims (profile id → the
//! `save` session holding it), and a short memory of ended sessions for `session.show`.
//!
//! Locking: the registry's own mutex is a plain `std` mutex, never held across an `.await`
//! and never held while calling out of the registry.
//! Each session's browser sits behind its own async mutex ([`Entry::slot`]) so a capture, a
//! load and a stop of the same session run one at a time, while other sessions proceed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pvault_browser::Session;
use pvault_protocol::{CdpTransport, ErrorBody, ErrorCode, SessionInfo, SessionState};

use crate::relay::{Relay, RelayTarget};
use crate::sync::MutexExt as _;

/// Ended sessions remembered for `session.show` (oldest forgotten first).
const ENDED_KEPT: usize = 64;

/// The profile a session has loaded: its id (stable across renames; writes use it) and the
/// name it had when loaded (for display).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProfileRef {
    /// Profile id (hex).
    pub id: String,
    /// Profile name at load time.
    pub name: String,
}

/// What a session does with a profile, fixed at start.
#[derive(Debug)]
pub(crate) enum Role {
    /// Saves nothing. A profile loaded at start, or later by `session.load`, is only shown.
    ReadOnly {
        /// The profile loaded, if any.
        loaded: Mutex<Option<ProfileRef>>,
    },
    /// Saves into its profile when it ends, and checkpoints while it runs; holds the
    /// profile's writer claim for its whole life.
    Save {
        /// The profile it saves into.
        profile: ProfileRef,
        /// Checkpoint counters for `session.show`.
        checkpoints: Mutex<pvault_protocol::CheckpointStats>,
    },
}

/// How the daemon holds a session's browser, fixed at start.
#[derive(Debug)]
pub(crate) enum Launch {
    /// The daemon launched it: the end closes it and removes its directory.
    Launched {
        /// Browser process id.
        pid: u32,
        /// Pipe, or the configured port fallback (shown: a port is reachable by others).
        transport: pvault_browser::Transport,
        /// `<runtime>/sessions/<id>`: holds Chrome's user-data-dir (cookies in the clear), so
        /// it is removed whenever the session ends.
        dir: PathBuf,
        /// Inactivity timeout; `None` for a headful session started without one, since a
        /// person at the window is activity the relay cannot see.
        timeout: Option<Duration>,
    },
    /// The user's own browser: the end detaches from it, never closes it, and it never times
    /// out for want of clients.
    Attached,
}

/// One running session.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Session id (random, not a secret: the vault stores it in plaintext).
    pub id: String,
    /// Read-only or saving into a profile.
    pub role: Role,
    /// Launched by the daemon or attached.
    pub launch: Launch,
    /// Start time, Unix milliseconds, for `session.show` and the list's order.
    pub started_at: i64,
    /// What clients connect to: the relay URL (holds the session's token).
    pub cdp_ws_url: String,
    /// The session's registration with the CDP relay; unregistered when the session ends.
    pub relay: RelayTarget,
    /// The browser's product string, for `session.show`.
    pub product: String,
    /// The browser; `None` once the session has ended (stopped, detached or crashed).
    pub slot: tokio::sync::Mutex<Option<Session>>,
    /// Set while a stop is saving and closing, for `session.show`.
    pub stopping: std::sync::atomic::AtomicBool,
    /// The newest state a checkpoint captured (written or not): what a `save` session saves
    /// when its browser closes on its own (a person closed the window), since by then Chrome
    /// can no longer be asked.
    pub latest: Mutex<Option<LatestState>>,
    /// Whether the logout guard judges this session's snapshots: a `save` session not
    /// started with `accept_logout`.
    pub guard: bool,
}

/// A captured state kept in memory; its `Debug` prints nothing (it holds cookie values).
pub(crate) struct LatestState(pub Arc<pvault_model::BrowserState>);

impl std::fmt::Debug for LatestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LatestState(..)")
    }
}

impl Entry {
    /// Records the newest captured state.
    pub fn set_latest(&self, state: Arc<pvault_model::BrowserState>) {
        *self.latest.locked() = Some(LatestState(state));
    }

    /// Counts one checkpoint capture that took `ms` (and was `written` when it differed).
    pub fn count_checkpoint(&self, ms: u64, written: bool) {
        if let Role::Save { checkpoints, .. } = &self.role {
            let mut c = checkpoints.locked();
            c.captures += 1;
            c.written += written as u64;
            c.last_capture_at = Some(super::now_ms());
            c.last_capture_ms = Some(ms);
            c.total_capture_ms += ms;
        }
    }

    /// Takes the newest captured state, if any.
    pub fn take_latest(&self) -> Option<Arc<pvault_model::BrowserState>> {
        self.latest.locked().take().map(|l| l.0)
    }

    /// The profile a `save` session saves into; `None` for a read-only session.
    pub fn save_profile(&self) -> Option<&ProfileRef> {
        match &self.role {
            Role::Save { profile, .. } => Some(profile),
            Role::ReadOnly { .. } => None,
        }
    }

    /// Whether the session saves into a profile.
    pub fn is_save(&self) -> bool {
        matches!(self.role, Role::Save { .. })
    }

    /// The profile shown for the session: the one it saves into, or the one loaded.
    pub fn profile(&self) -> Option<ProfileRef> {
        match &self.role {
            Role::Save { profile, .. } => Some(profile.clone()),
            Role::ReadOnly { loaded } => loaded.locked().clone(),
        }
    }

    /// Records the profile `session.load` put into a read-only session. A `save` session's
    /// profile is fixed at start (the load refuses it as `conflict` before loading).
    pub fn set_loaded(&self, profile: ProfileRef) {
        if let Role::ReadOnly { loaded } = &self.role {
            *loaded.locked() = Some(profile);
        }
    }

    /// The session's directory, for a launched session.
    pub fn dir(&self) -> Option<&Path> {
        match &self.launch {
            Launch::Launched { dir, .. } => Some(dir),
            Launch::Attached => None,
        }
    }

    /// The inactivity timeout, for a launched session that has one.
    pub fn timeout(&self) -> Option<Duration> {
        match &self.launch {
            Launch::Launched { timeout, .. } => *timeout,
            Launch::Attached => None,
        }
    }

    /// The protocol's view of this session in `state`.
    pub fn info(&self, state: SessionState, ended_at: Option<i64>) -> SessionInfo {
        let running = ended_at.is_none();
        let activity = self.relay.activity();
        let timeout = self.timeout();
        let left = match (timeout, activity.idle_since) {
            (Some(t), Some(since)) if running => Some(
                (since + t)
                    .saturating_duration_since(tokio::time::Instant::now())
                    .as_secs(),
            ),
            _ => None,
        };
        let (pid, attached, transport) = match &self.launch {
            Launch::Launched { pid, transport, .. } => (
                Some(*pid),
                false,
                match transport {
                    pvault_browser::Transport::Pipe => CdpTransport::Pipe,
                    pvault_browser::Transport::Port => CdpTransport::Port,
                    pvault_browser::Transport::Attached => CdpTransport::Attached,
                },
            ),
            Launch::Attached => (None, true, CdpTransport::Attached),
        };
        SessionInfo {
            session_id: self.id.clone(),
            cdp_ws_url: self.cdp_ws_url.clone(),
            pid,
            profile: self.profile().map(|p| p.name),
            save: self.is_save(),
            attached,
            transport: Some(transport),
            started_at: self.started_at,
            state,
            ended_at,
            browser: (!self.product.is_empty()).then(|| self.product.clone()),
            clients: running.then_some(activity.clients as u64),
            timeout_secs: timeout.map(|t| t.as_secs()),
            timeout_left_secs: left,
            checkpoints: match &self.role {
                Role::Save { checkpoints, .. } => Some(*checkpoints.locked()),
                Role::ReadOnly { .. } => None,
            },
        }
    }

    /// The view of a running session (or one being stopped).
    pub fn running_info(&self) -> SessionInfo {
        let state = if self.stopping.load(std::sync::atomic::Ordering::Relaxed) {
            SessionState::Stopping
        } else {
            SessionState::Running
        };
        self.info(state, None)
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Running sessions by id.
    running: BTreeMap<String, Arc<Entry>>,
    /// Single writer: profile id → id of the `save` session holding it (claimed before the
    /// browser is launched, so two starts racing cannot both win).
    writers: HashMap<String, String>,
    /// Recently ended sessions, oldest first.
    ended: VecDeque<SessionInfo>,
    /// Set when the daemon shuts down: no new session may register.
    closed: bool,
}

/// Browser sessions of this daemon.
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<Inner>,
    /// The CDP relay, started with the first session.
    relay: tokio::sync::OnceCell<Relay>,
    /// This daemon's owner lock, named in every session record.
    pub(super) owner: std::sync::OnceLock<Option<super::recover::OwnerLock>>,
}

impl Registry {
    /// The CDP relay, started on first use; it stops with `stop`.
    pub(crate) async fn relay(
        &self,
        stop: &tokio_util::sync::CancellationToken,
    ) -> Result<&Relay, ErrorBody> {
        self.relay
            .get_or_try_init(|| Relay::start(stop.clone()))
            .await
            .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))
    }

    /// Number of running sessions.
    pub fn len(&self) -> usize {
        self.inner.locked().running.len()
    }

    /// Whether no session runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Claims the single-writer slot of `profile_id` for `session_id`; on failure returns the
    /// id of the session that holds it.
    pub(crate) fn claim_writer(&self, profile_id: &str, session_id: &str) -> Result<(), String> {
        let mut g = self.inner.locked();
        match g.writers.get(profile_id) {
            Some(holder) if holder != session_id => Err(holder.clone()),
            _ => {
                g.writers
                    .insert(profile_id.to_owned(), session_id.to_owned());
                Ok(())
            }
        }
    }

    /// Releases `profile_id`'s writer claim if `session_id` holds it.
    pub(crate) fn release_writer(&self, profile_id: &str, session_id: &str) {
        let mut g = self.inner.locked();
        if g.writers.get(profile_id).is_some_and(|h| h == session_id) {
            g.writers.remove(profile_id);
        }
    }

    /// The session holding `profile_id`'s writer claim, if any.
    pub(crate) fn writer_of(&self, profile_id: &str) -> Option<String> {
        self.inner.locked().writers.get(profile_id).cloned()
    }

    /// Registers a started session; refused once shutdown has begun.
    pub(crate) fn insert(&self, e: Arc<Entry>) -> Result<(), Arc<Entry>> {
        let mut g = self.inner.locked();
        if g.closed {
            return Err(e);
        }
        g.running.insert(e.id.clone(), e);
        Ok(())
    }

    /// Whether shutdown has begun.
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.locked().closed
    }

    /// The running session `id`, or `not_found` (saying so when it already ended).
    pub(crate) fn running(&self, id: &str) -> Result<Arc<Entry>, ErrorBody> {
        let g = self.inner.locked();
        if let Some(e) = g.running.get(id) {
            return Ok(e.clone());
        }
        let msg = match g.ended.iter().rev().find(|s| s.session_id == id) {
            Some(s) => format!(
                "session {id} is no longer running (it {}); see `pvault session list`",
                match s.state {
                    SessionState::Crashed => "crashed",
                    _ => "ended",
                }
            ),
            None => format!("no session {id}; see `pvault session list`"),
        };
        Err(ErrorBody::new(ErrorCode::NotFound, msg))
    }

    /// Every running session, oldest first.
    pub(crate) fn all_running(&self) -> Vec<Arc<Entry>> {
        let mut v: Vec<_> = self
            .inner
            .lock()
            .unwrap()
            .running
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
        v
    }

    /// A running or recently ended session.
    pub(crate) fn show(&self, id: &str) -> Result<SessionInfo, ErrorBody> {
        if let Ok(e) = self.running(id) {
            return Ok(e.running_info());
        }
        let g = self.inner.locked();
        g.ended
            .iter()
            .rev()
            .find(|s| s.session_id == id)
            .cloned()
            .ok_or_else(|| {
                ErrorBody::new(
                    ErrorCode::NotFound,
                    format!("no session {id}; see `pvault session list`"),
                )
            })
    }

    /// Moves a session from running to ended, releasing its writer claim, then unregisters it
    /// from the relay (its token stops working and relayed clients are disconnected). Returns
    /// its final info, or `None` if it had already been removed.
    ///
    /// Nothing outside the registry is called while its lock is held (the relay and the
    /// entry's own locks are used before or after), so no other component can stall or
    /// deadlock every session call.
    pub(crate) fn remove(
        &self,
        e: &Entry,
        state: SessionState,
        ended_at: i64,
    ) -> Option<SessionInfo> {
        let info = e.info(state, Some(ended_at));
        let profile = e.profile();
        {
            let mut g = self.inner.locked();
            g.running.remove(&e.id)?;
            if let Some(p) = &profile
                && g.writers.get(&p.id).is_some_and(|h| *h == e.id)
            {
                g.writers.remove(&p.id);
            }
            g.ended.push_back(info.clone());
            while g.ended.len() > ENDED_KEPT {
                g.ended.pop_front();
            }
        }
        e.relay.unregister();
        Some(info)
    }

    /// Tests only: panics while holding the registry's lock, as a bug in a handler would.
    #[cfg(feature = "test-hooks")]
    pub(crate) fn panic_while_locked(&self) {
        let _g = self.inner.locked();
        panic!("fault injected by PVAULT_TEST_PANIC_METHOD");
    }

    /// Marks the registry closed (shutdown) and returns every running session.
    pub(crate) fn close(&self) -> Vec<Arc<Entry>> {
        self.inner.locked().closed = true;
        self.all_running()
    }
}
