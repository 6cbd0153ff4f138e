//! Browser sessions: `session.start/list/show/stop/capture/load/attach`, their
//! events, the crash watch, the checkpoints of `save` sessions, and stopping every
//! session at shutdown. Chrome is driven only through `pvault-browser`.
//!
//! Modules: [`registry`] (running sessions, single-writer claims), `checkpoint` (crash-safe
//! checkpoints while a `save` session runs), `recover` (on-disk session records and the
//! cleanup of a killed daemon's leftovers at start), `start` (launch and attach),
//! `stop` (stop, crash, the browser closing itself, and the shared end path), `timeout` (the
//! inactivity timeout),
//! `transfer` (capture, load, lock checkpoint). Clients reach a session's browser only through
//! the CDP relay ([`crate::relay`]).
//! The semantics, error code per case, are in `protocol.md`, section Sessions.

pub(crate) mod check;
mod checkpoint;
mod recover;
mod registry;
mod start;
mod stop;
mod timeout;
mod transfer;

use std::path::PathBuf;
use std::sync::Arc;

use pvault_browser::BrowserError;
use pvault_protocol::{
    ErrorBody, ErrorCode, SessionList, SessionListResponse, SessionShow, SessionShowResponse,
};

use crate::state::Daemon;
pub use registry::Registry;
pub(crate) use transfer::checkpoint_before_lock;

pub(crate) use check::{check, run_check};
pub(crate) use start::{attach, start};
pub(crate) use stop::stop;
pub(crate) use transfer::{capture, load};

/// `session.list`: every running session, oldest first.
pub(crate) async fn list(
    d: &Arc<Daemon>,
    _: SessionList,
) -> Result<SessionListResponse, ErrorBody> {
    Ok(SessionListResponse {
        sessions: d
            .sessions
            .all_running()
            .iter()
            .map(|e| e.running_info())
            .collect(),
    })
}

/// `session.show`: a running or recently ended session.
pub(crate) async fn show(
    d: &Arc<Daemon>,
    p: SessionShow,
) -> Result<SessionShowResponse, ErrorBody> {
    d.sessions
        .show(&p.session_id)
        .map(|session| SessionShowResponse { session })
}

/// At daemon start: kills the Chromes and removes the session directories (and browser
/// import copies) that a previous daemon on this runtime directory left behind (it was killed
/// before it could stop them).
pub async fn recover(d: &Arc<Daemon>) {
    let d = d.clone();
    let _ = tokio::task::spawn_blocking(move || {
        // Taken first, so a daemon starting meanwhile on the same runtime directory sees us.
        let mine = owner_lock(&d);
        let run = runtime_dir(&d);
        recover::cleanup(&run.join("sessions"));
        recover::remove_stale_owner_locks(&run.join(OWNERS_DIR), mine.as_deref());
        crate::handlers::remove_stale_copies(&run);
    })
    .await;
}

/// Where the daemons of a runtime directory keep their owner locks (see `recover`).
const OWNERS_DIR: &str = "owners";

/// This daemon's owner lock (taken on first use and held until the daemon exits), for the
/// session records. `None` if it cannot be created: records then name only the pid.
fn owner_lock(d: &Daemon) -> Option<PathBuf> {
    d.sessions
        .owner
        .get_or_init(|| {
            match recover::OwnerLock::take(&runtime_dir(d).join(OWNERS_DIR)) {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot create the daemon's owner lock; a restart after a crash may leave browsers behind");
                    None
                }
            }
        })
        .as_ref()
        .map(|l| l.path.clone())
}

/// The profile `name`, created (empty, default settings) if it does not exist; the bool says
/// whether it was created here. A profile created by someone else between the two calls is
/// used as found.
pub(crate) fn profile_or_create(
    v: &pvault_vault::Vault,
    name: &str,
) -> Result<(pvault_model::ProfileInfo, bool), ErrorBody> {
    use crate::handlers::vault_err;
    use pvault_vault::VaultError;
    match v.profile(name) {
        Ok(p) => Ok((p, false)),
        Err(VaultError::ProfileNotFound { .. }) => {
            match v.create_profile(name, None, &Default::default()) {
                Ok(p) => Ok((p, true)),
                Err(VaultError::NameTaken { .. }) => {
                    Ok((v.profile(name).map_err(vault_err)?, false))
                }
                Err(e) => Err(vault_err(e)),
            }
        }
        Err(e) => Err(vault_err(e)),
    }
}

/// Stops every session at daemon shutdown: `save` sessions save first (when the vault is
/// unlocked); attached ones are detached. Runs them in parallel; returns when all ended.
pub async fn shutdown(d: &Arc<Daemon>) {
    let entries = d.sessions.close();
    if entries.is_empty() {
        return;
    }
    tracing::info!(sessions = entries.len(), "stopping browser sessions");
    let mut set = tokio::task::JoinSet::new();
    for e in entries {
        let d = d.clone();
        set.spawn(async move { stop::end_at_shutdown(&d, &e).await });
    }
    while set.join_next().await.is_some() {}
}

/// Maps a browser error to the protocol. "No Chrome found" is a browser problem for the
/// client (`browser_error`, which the CLI turns into exit code 8), not a missing resource.
pub(crate) fn browser_err(e: BrowserError) -> ErrorBody {
    let code = match e {
        BrowserError::InvalidArgument(_) => ErrorCode::InvalidArgument,
        _ => ErrorCode::BrowserError,
    };
    ErrorBody::new(code, e.to_string())
}

/// The daemon's private runtime directory (where its socket lives).
pub(crate) fn runtime_dir(d: &Daemon) -> PathBuf {
    let sock = d
        .opts
        .socket
        .clone()
        .unwrap_or_else(pvault_protocol::paths::socket_path);
    sock.parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join(format!("pvault-{}", d.euid)))
}

/// A fresh session id: `s` + 12 lowercase hex digits. Not a secret: the relay token in
/// `cdp_ws_url` is what guards the browser.
fn new_session_id() -> String {
    let mut b = [0u8; 6];
    if getrandom::fill(&mut b).is_err() {
        // Only uniqueness matters here; the clock and pid are unique enough.
        let n = now_ms() as u64 ^ ((std::process::id() as u64) << 40);
        b.copy_from_slice(&n.to_le_bytes()[..6]);
    }
    format!("s{}", hex::encode(b))
}

/// Now, Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The protocol's load report: counts plus every failure, named (never a value).
fn load_report(
    r: &pvault_browser::LoadReport,
    snapshot: Option<pvault_model::SnapshotInfo>,
) -> pvault_protocol::LoadReport {
    let mut failures: Vec<String> = r
        .cookies_rejected
        .iter()
        .map(|(name, domain, why)| format!("cookie {name}@{domain}: {why}"))
        .collect();
    failures.extend(
        r.origins_failed
            .iter()
            .map(|(origin, why)| format!("{origin}: {why}")),
    );
    pvault_protocol::LoadReport {
        snapshot,
        cookies_loaded: r.cookies_loaded as u64,
        origins_loaded: r.origins_loaded as u64,
        session_storage_origins: r.session_storage_origins as u64,
        indexed_db_databases: r.indexed_db_databases as u64,
        indexed_db_records: r.indexed_db_records as u64,
        failures,
    }
}

/// The protocol's capture report.
fn capture_report(
    state: &pvault_model::BrowserState,
    r: &pvault_browser::CaptureReport,
) -> pvault_protocol::CaptureReport {
    let mut failures: Vec<String> = r
        .cookies_failed
        .iter()
        .map(|(name, domain, why)| format!("cookie {name}@{domain}: {why}"))
        .collect();
    failures.extend(
        r.origins_failed
            .iter()
            .map(|(origin, why)| format!("{origin}: {why} (its last known content was kept)")),
    );
    pvault_protocol::CaptureReport {
        cookies: state.cookies.len() as u64,
        origins: state.origins.len() as u64,
        session_storage_origins: r.session_storage_origins as u64,
        indexed_db_databases: r.indexed_db_databases as u64,
        indexed_db_records: r.indexed_db_records as u64,
        unsupported: r.unsupported.clone(),
        failures,
    }
}
