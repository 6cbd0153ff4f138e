//! The registry of sessions: running ones by id, the single-writer claims (profile id → the
//! `save` session holding it), and a short memory of ended sessions for `session.show`.
//!
//! Locking: the registry's own mutex is a plain `std` mutex, never held across an `.await`
//! and never held while calling out of the registry.
//! Each session's browser sits behind its own async mutex ([`Entry::slot`]) so a capture, a
//! load and a stop of the same session run one at a time, while other sessions proceed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pvault_browser::Session;
use pvault_protocol::{ErrorBody, ErrorCode, SessionInfo, SessionState};

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

/// One running session.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Session id (random, not a secret: the vault stores it in plaintext).
    pub id: String,
    /// Whether stopping saves into the profile (and the session holds its writer claim).
    pub save: bool,
    /// Whether the daemon attached to a browser it did not start.
    pub attached: bool,
    /// Start time, Unix milliseconds.
    pub started_at: i64,
    /// Browser process id (launched sessions only).
    pub pid: Option<u32>,
    /// What clients connect to: the relay URL (holds the session's token).
    pub cdp_ws_url: String,
    /// The session's registration with the CDP relay; unregistered when the session ends.
    pub relay: RelayTarget,
    /// Inactivity timeout (launched sessions); `None` for attached ones.
    pub timeout: Option<std::time::Duration>,
    /// The browser's product string.
    pub product: String,
    /// `<runtime>/sessions/<id>`: holds Chrome's user-data-dir; removed when the session ends.
    pub dir: Option<PathBuf>,
    /// The profile loaded, if any (set at start or by `session.load`).
    pub profile: Mutex<Option<ProfileRef>>,
    /// The browser; `None` once the session has ended (stopped, detached or crashed).
    pub slot: tokio::sync::Mutex<Option<Session>>,
    /// Set while a stop is saving and closing, for `session.show`.
    pub stopping: std::sync::atomic::AtomicBool,
    /// The newest state a checkpoint captured (written or not): what a `save` session saves
    /// when its browser closes on its own (a person closed the window), since by then Chrome
    /// can no longer be asked.
    pub latest: Mutex<Option<LatestState>>,
    /// Checkpoint counters for `session.show` (`Some` for `save` sessions only).
    pub checkpoints: Mutex<Option<pvault_protocol::CheckpointStats>>,
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
        if let Some(c) = self.checkpoints.locked().as_mut() {
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

    /// The profile loaded, if any.
    pub fn profile(&self) -> Option<ProfileRef> {
        self.profile.locked().clone()
    }

    /// The protocol's view of this session in `state`.
    pub fn info(&self, state: SessionState, ended_at: Option<i64>) -> SessionInfo {
        let running = ended_at.is_none();
        let activity = self.relay.activity();
        let left = match (self.timeout, activity.idle_since) {
            (Some(t), Some(since)) if running => Some(
                (since + t)
                    .saturating_duration_since(tokio::time::Instant::now())
                    .as_secs(),
            ),
            _ => None,
        };
        SessionInfo {
            session_id: self.id.clone(),
            cdp_ws_url: self.cdp_ws_url.clone(),
            pid: self.pid,
            profile: self.profile().map(|p| p.name),
            save: self.save,
            attached: self.attached,
            started_at: self.started_at,
            state,
            ended_at,
            browser: (!self.product.is_empty()).then(|| self.product.clone()),
            clients: running.then_some(activity.clients as u64),
            timeout_secs: self.timeout.map(|t| t.as_secs()),
            timeout_left_secs: left,
            checkpoints: *self.checkpoints.locked(),
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
