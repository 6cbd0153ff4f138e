//! Remote stores (`remote-format.md`): the vault's remotes and links, one PostgreSQL
//! connection per remote, the leases this daemon holds, and the background pusher. The
//! `remote.*` handlers are in `crate::handlers::remote`; sessions of linked profiles call
//! [`session`].
//!
//! Modules: `local` (the sealed `remotes.seal`), `sync` (pull into the vault, push pending
//! saves, the background worker), [`session`] (session start and end of linked profiles).

pub(crate) mod local;
pub(crate) mod session;
pub(crate) mod sync;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pvault_protocol::{ErrorBody, ErrorCode};
use pvault_remote::{Holder, KeyChoice, Lease, Remote, RemoteError, Target};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use crate::handlers::blocking;
use crate::state::Daemon;
use crate::sync::MutexExt as _;
use local::{LocalState, RemoteEntry};

/// A connection to a remote store, shared by the handlers, the pusher and lease renewals.
pub(crate) type Conn = Arc<tokio::sync::Mutex<Remote>>;

/// The remote side of one daemon.
#[derive(Default)]
pub(crate) struct Remotes {
    /// The local state, read on first use after an unlock and forgotten at lock (it holds
    /// team keys and passwords); `None` until then.
    state: Mutex<Option<LocalState>>,
    /// Serializes writes of `remotes.seal`, each writing the state current when it runs.
    write: tokio::sync::Mutex<()>,
    /// One open connection per remote name, reused until it closes.
    conns: tokio::sync::Mutex<HashMap<String, Conn>>,
    /// Leases this daemon holds, by local profile id.
    leases: Mutex<HashMap<String, Held>>,
    /// Serializes pulls and pushes: one sync of the vault's links at a time, so a pending
    /// save is never pushed twice.
    pub(crate) sync: tokio::sync::Mutex<()>,
    /// Wakes the background pusher (a save was written locally).
    kick: Notify,
}

impl std::fmt::Debug for Remotes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remotes").finish_non_exhaustive()
    }
}

/// A lease this daemon holds for a `--save` session (or kept after it ended, while its
/// final save waits to be pushed).
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// The lease.
    pub lease: Lease,
    /// The connection it was taken on (renewals keep using it even after a lock).
    pub conn: Conn,
    /// The session that holds it.
    pub session: String,
    /// Whether the session still runs; an ended session's lease is released after its
    /// last push.
    pub running: bool,
    /// Stops its renewal.
    pub renew: CancellationToken,
}

impl Remotes {
    /// Forgets everything read from the sealed state (team keys, passwords, connections):
    /// called when the vault locks. Leases of running sessions keep their connection.
    pub(crate) fn forget(&self) {
        *self.state.locked() = None;
        if let Ok(mut c) = self.conns.try_lock() {
            c.clear();
        }
    }

    /// Asks the background pusher to run now.
    pub(crate) fn kick(&self) {
        self.kick.notify_one();
    }

    /// A held lease of local profile `profile_id`.
    pub(crate) fn held(&self, profile_id: &str) -> Option<Held> {
        self.leases.locked().get(profile_id).cloned()
    }

    /// Records a held lease.
    pub(crate) fn hold(&self, profile_id: &str, h: Held) {
        if let Some(old) = self.leases.locked().insert(profile_id.to_owned(), h) {
            old.renew.cancel();
        }
    }

    /// Removes the held lease of `profile_id` (if it is still `lease`).
    pub(crate) fn unhold(&self, profile_id: &str, lease: &Lease) -> Option<Held> {
        let mut l = self.leases.locked();
        if l.get(profile_id).is_some_and(|h| h.lease == *lease) {
            let h = l.remove(profile_id);
            if let Some(h) = &h {
                h.renew.cancel();
            }
            return h;
        }
        None
    }

    /// Sessions of this daemon holding a lease on profiles of remote `name`.
    pub(crate) fn running_on(&self, links: &[String]) -> Vec<String> {
        self.leases
            .locked()
            .iter()
            .filter(|(p, h)| h.running && links.contains(p))
            .map(|(_, h)| h.session.clone())
            .collect()
    }
}

/// Maps a remote-store error to the protocol's error (its code is the protocol's).
pub(crate) fn remote_err(e: RemoteError) -> ErrorBody {
    let code = ErrorCode::from_wire(e.code()).unwrap_or(ErrorCode::Internal);
    if code == ErrorCode::Internal {
        tracing::error!(error = %e, "remote store error");
    }
    ErrorBody::new(code, e.to_string())
}

fn state_err(e: local::LocalStateError) -> ErrorBody {
    match e {
        local::LocalStateError::Vault(v) => crate::handlers::vault_err(v),
        e => {
            tracing::error!(error = %e, "remote state");
            ErrorBody::new(ErrorCode::Internal, e.to_string())
        }
    }
}

/// Runs `f` on the local state (read from `remotes.seal` first if needed). Needs an unlocked
/// vault.
pub(crate) async fn with_state<T>(
    d: &Daemon,
    f: impl FnOnce(&mut LocalState) -> T,
) -> Result<T, ErrorBody> {
    let v = d.unlocked_vault()?;
    if d.remotes.state.locked().is_none() {
        let home = d.opts.home.clone();
        let loaded = blocking(move || local::load(&home, &v).map_err(state_err)).await?;
        let mut g = d.remotes.state.locked();
        if g.is_none() {
            *g = Some(loaded);
        }
    }
    let mut g = d.remotes.state.locked();
    let s = g.as_mut().ok_or_else(|| {
        ErrorBody::new(ErrorCode::Locked, "the vault is locked")
            .with_hint(crate::handlers::UNLOCK_HINT)
    })?;
    Ok(f(s))
}

/// Writes the current local state to `remotes.seal`.
pub(crate) async fn persist(d: &Daemon) -> Result<(), ErrorBody> {
    let _w = d.remotes.write.lock().await;
    let v = d.unlocked_vault()?;
    let Some(s) = d.remotes.state.locked().clone() else {
        return Err(ErrorBody::new(ErrorCode::Locked, "the vault is locked"));
    };
    let home = d.opts.home.clone();
    blocking(move || local::save(&home, &v, &s).map_err(state_err)).await
}

/// The remote named `name`, or `not_found`.
pub(crate) async fn entry(d: &Daemon, name: &str) -> Result<RemoteEntry, ErrorBody> {
    with_state(d, |s| s.remote(name).cloned())
        .await?
        .ok_or_else(|| not_found(name))
}

pub(crate) fn not_found(name: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, format!("no remote named {name}"))
        .with_hint("see `pvault remote list`, or add it with `pvault remote add NAME URL`")
}

/// The open connection to remote `name`, connecting (and checking its key) if needed.
pub(crate) async fn conn(d: &Daemon, name: &str) -> Result<Conn, RemoteError> {
    let mut conns = d.remotes.conns.lock().await;
    if let Some(c) = conns.get(name)
        && !c.lock().await.is_closed()
    {
        return Ok(c.clone());
    }
    let e = entry(d, name)
        .await
        .map_err(|e| RemoteError::Database { detail: e.message })?;
    let target = Target::parse(&e.url)?;
    let key = e.key().ok_or_else(|| RemoteError::WrongKey {
        what: "the team key in the local state is damaged".into(),
    })?;
    let (r, _) = Remote::connect(
        &target,
        e.password.clone().map(Zeroizing::new),
        KeyChoice::Existing(key),
    )
    .await?;
    let c = Arc::new(tokio::sync::Mutex::new(r));
    conns.insert(name.to_owned(), c.clone());
    Ok(c)
}

/// Drops the cached connection to `name` (it failed; the next use connects again).
pub(crate) async fn drop_conn(d: &Daemon, name: &str) {
    d.remotes.conns.lock().await.remove(name);
}

/// Stores a fresh connection (made by `remote.add`).
pub(crate) async fn put_conn(d: &Daemon, name: &str, r: Remote) {
    d.remotes
        .conns
        .lock()
        .await
        .insert(name.to_owned(), Arc::new(tokio::sync::Mutex::new(r)));
}

/// Who this daemon is, as other machines see it in `busy`.
pub(crate) fn holder(d: &Daemon, session: Option<&str>) -> Holder {
    Holder {
        host: host_name(),
        session: session.map(str::to_owned),
        vault: d.vault_handle().map(|v| v.vault_id()).unwrap_or_default(),
    }
}

/// The machine's host name (`gethostname`).
pub(crate) fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "unknown-host".into();
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Starts the background pusher: pending saves are pushed every 10 s and whenever a save is
/// written (`remote-format.md` 8).
pub(crate) fn spawn_worker(d: &Arc<Daemon>) {
    let weak = Arc::downgrade(d);
    let stop = d.shutdown.clone();
    tokio::spawn(async move {
        loop {
            let Some(d) = weak.upgrade() else { return };
            let kicked = d.remotes.kick.notified();
            tokio::select! {
                _ = kicked => {}
                _ = tokio::time::sleep(sync::RETRY_EVERY) => {}
                _ = stop.cancelled() => return,
            }
            if d.is_unlocked() {
                sync::push_all(&d, None).await;
            }
        }
    });
}
