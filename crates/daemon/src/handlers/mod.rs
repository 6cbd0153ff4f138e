//! Request handlers: one function per method. [`route`] is the method table (handler and
//! vault activity per method); [`dispatch`] serves a request through it and encodes the
//! response line. Vault calls are synchronous and run on tokio's blocking pool so a slow KDF
//! or a large import never stalls other connections.

pub(crate) mod health;
mod import_browser;
mod profile;
mod remote;
pub(crate) mod vault;

pub(crate) use import_browser::remove_stale_copies;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use pvault_protocol::frame::{encode_error, encode_result};
use pvault_protocol::{
    Ack, DaemonShutdown, ErrorBody, ErrorCode, Method, PROTOCOL_MAJOR, PROTOCOL_MINOR,
    ProtocolVersion, Request, Status, StatusResponse,
};
use pvault_vault::VaultError;
use serde_json::value::RawValue;

use crate::sessions;
use crate::state::Daemon;

/// Parses `params` into a request type. The error message never quotes the client's values
/// (they may be secrets or cookie values), only field names and positions.
pub(crate) fn parse<R: Request>(params: &str) -> Result<R, ErrorBody> {
    serde_json::from_str(params).map_err(|e| {
        ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!(
                "invalid params for {}: {}",
                R::METHOD,
                redact_quoted(&e.to_string())
            ),
        )
    })
}

/// Replaces every `"…"`-quoted span with `"…"`: serde quotes offending *values* that way,
/// while field names are in backticks.
pub(crate) fn redact_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut inside = false;
    for c in msg.chars() {
        if c == '"' {
            if inside {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// Runs a vault operation on the blocking pool and maps its error to the protocol's codes.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ErrorBody> + Send + 'static,
) -> Result<T, ErrorBody> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "vault operation panicked");
            Err(ErrorBody::new(
                ErrorCode::Internal,
                "internal error in the vault operation (see the daemon log)",
            ))
        }
    }
}

/// [`dispatch`], answering `internal` if the handler panics: a bug in one request must neither
/// leave its client waiting forever nor take down the daemon. (The panic itself is printed by
/// the panic hook; locks it poisoned are taken anyway, see `crate::sync`.)
pub(crate) async fn dispatch_guarded(
    d: &Arc<Daemon>,
    id: u64,
    method: Method,
    params: &RawValue,
) -> Vec<u8> {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe(dispatch(d, id, method, params))
        .catch_unwind()
        .await
    {
        Ok(line) => line,
        Err(_) => {
            tracing::error!(%method, "a request handler panicked; answered internal");
            encode_error(
                Some(id),
                &ErrorBody::new(
                    ErrorCode::Internal,
                    format!(
                        "internal error in pvaultd while handling {method} (see the daemon log); other requests are not affected"
                    ),
                ),
            )
        }
    }
}

/// The hint of every `locked` answer: the one thing that helps.
pub(crate) const UNLOCK_HINT: &str = "run `pvault unlock` first";

/// Maps a vault error to an error body. Every kind is named, so a kind added to the vault
/// does not build until it has its protocol code here.
pub(crate) fn vault_err(e: VaultError) -> ErrorBody {
    let code = match &e {
        VaultError::Locked => {
            return ErrorBody::new(ErrorCode::Locked, "the vault is locked").with_hint(UNLOCK_HINT);
        }
        VaultError::AuthFailed => ErrorCode::AuthFailed,
        VaultError::ProfileNotFound { .. }
        | VaultError::SnapshotNotFound { .. }
        | VaultError::NoVault { .. } => ErrorCode::NotFound,
        VaultError::NameTaken { .. } | VaultError::AlreadyExists { .. } => ErrorCode::Conflict,
        VaultError::InvalidName { .. } | VaultError::InvalidArgument { .. } => {
            ErrorCode::InvalidArgument
        }
        VaultError::TooLarge { .. } => ErrorCode::TooLarge,
        VaultError::UnsupportedVersion { .. } | VaultError::KdfParamsRejected { .. } => {
            ErrorCode::Unsupported
        }
        VaultError::DecryptionFailed { .. }
        | VaultError::Corrupt { .. }
        | VaultError::Storage { .. }
        | VaultError::Io { .. } => {
            tracing::error!(error = %e, "vault error");
            ErrorCode::Internal
        }
    };
    ErrorBody::new(code, e.to_string())
}

/// Parses `params` as `R` and encodes `f`'s answer as the response line.
async fn run<R, F, Fut>(id: u64, params: &RawValue, f: F) -> Vec<u8>
where
    R: Request,
    F: FnOnce(R) -> Fut,
    Fut: Future<Output = Result<R::Response, ErrorBody>>,
{
    let p = match parse::<R>(params.get()) {
        Ok(p) => p,
        Err(e) => return encode_error(Some(id), &e),
    };
    match f(p).await {
        Ok(r) => encode_result(id, &r),
        Err(e) => encode_error(Some(id), &e),
    }
}

/// Whether a request counts as use of the vault for the auto-lock countdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activity {
    /// It uses the vault or a session: the countdown restarts when it starts and when it
    /// ends, so a long operation is never locked out from under itself.
    Vault,
    /// It does not: a monitor polling `status` cannot keep the vault open forever.
    Idle,
}

/// How one method is served: whether it is vault activity, and the handler's answer.
pub(crate) struct Route<'a> {
    /// Whether the request restarts the auto-lock countdown.
    pub activity: Activity,
    /// The handler, not yet polled; it yields the encoded response line(s).
    pub serve: BoxFuture<'a, Vec<u8>>,
}

/// The daemon's method table: for every method, the handler that serves it and whether it
/// counts as vault activity. The match is exhaustive, so a method added to the protocol does
/// not build until it is routed here.
pub(crate) fn route<'a>(
    d: &'a Arc<Daemon>,
    id: u64,
    method: Method,
    params: &'a RawValue,
) -> Route<'a> {
    use Activity::{Idle, Vault};
    let (activity, serve) = match method {
        // The connection answers hello and subscribe itself (they change its state); what
        // reaches this table is a repeated hello.
        Method::Hello => (Idle, already_said_hello(id).boxed()),
        Method::Subscribe => (Idle, served_by_the_connection(id, method).boxed()),
        Method::Status => (Idle, run(id, params, |_: Status| status(d)).boxed()),
        Method::DaemonShutdown => (
            Idle,
            run(id, params, |_: DaemonShutdown| shutdown(d)).boxed(),
        ),
        Method::VaultInit => (Vault, run(id, params, |p| vault::init(d, p)).boxed()),
        Method::VaultUnlock => (Vault, run(id, params, |p| vault::unlock(d, p)).boxed()),
        Method::VaultLock => (Vault, run(id, params, |p| vault::lock(d, p)).boxed()),
        Method::VaultPasswd => (Vault, run(id, params, |p| vault::passwd(d, p)).boxed()),
        Method::VaultVerify => (Vault, run(id, params, |p| vault::verify(d, p)).boxed()),
        Method::VaultBackup => (Vault, run(id, params, |p| vault::backup(d, p)).boxed()),
        Method::ProfileCreate => (Vault, run(id, params, |p| profile::create(d, p)).boxed()),
        Method::ProfileList => (Vault, run(id, params, |p| profile::list(d, p)).boxed()),
        Method::ProfileShow => (Vault, run(id, params, |p| profile::show(d, p)).boxed()),
        Method::ProfileRename => (Vault, run(id, params, |p| profile::rename(d, p)).boxed()),
        Method::ProfileUpdate => (Vault, run(id, params, |p| profile::update(d, p)).boxed()),
        Method::ProfileDelete => (Vault, run(id, params, |p| profile::delete(d, p)).boxed()),
        Method::ProfileImport => (Vault, run(id, params, |p| profile::import(d, p)).boxed()),
        Method::ProfileImportBrowser => (
            Vault,
            run(id, params, |p| import_browser::import_browser(d, p)).boxed(),
        ),
        // Chunked: several frames in one buffer, so it encodes its own response.
        Method::ProfileExport => (Vault, profile::export_frames(d, id, params).boxed()),
        Method::ProfileHistory => (Vault, run(id, params, |p| profile::history(d, p)).boxed()),
        Method::ProfileDiff => (Vault, run(id, params, |p| profile::diff(d, p)).boxed()),
        Method::ProfileRestore => (Vault, run(id, params, |p| profile::restore(d, p)).boxed()),
        Method::ProfileHealthSet => (Vault, run(id, params, |p| health::set(d, p)).boxed()),
        Method::ProfileHealthShow => (Vault, run(id, params, |p| health::show(d, p)).boxed()),
        Method::ProfileHealthClear => (Vault, run(id, params, |p| health::clear(d, p)).boxed()),
        Method::ProfileCheck => (Vault, run(id, params, |p| sessions::check(d, p)).boxed()),
        Method::ProfileAccept => (Vault, run(id, params, |p| health::accept(d, p)).boxed()),
        Method::SessionStart => (Vault, run(id, params, |p| sessions::start(d, p)).boxed()),
        Method::SessionList => (Vault, run(id, params, |p| sessions::list(d, p)).boxed()),
        Method::SessionShow => (Vault, run(id, params, |p| sessions::show(d, p)).boxed()),
        Method::SessionStop => (Vault, run(id, params, |p| sessions::stop(d, p)).boxed()),
        Method::SessionCapture => (Vault, run(id, params, |p| sessions::capture(d, p)).boxed()),
        Method::SessionLoad => (Vault, run(id, params, |p| sessions::load(d, p)).boxed()),
        Method::SessionAttach => (Vault, run(id, params, |p| sessions::attach(d, p)).boxed()),
        Method::RemoteAdd => (Vault, run(id, params, |p| remote::add(d, p)).boxed()),
        Method::RemoteList => (Vault, run(id, params, |p| remote::list(d, p)).boxed()),
        Method::RemoteRemove => (Vault, run(id, params, |p| remote::remove(d, p)).boxed()),
        Method::RemoteStatus => (Vault, run(id, params, |p| remote::status(d, p)).boxed()),
        Method::RemoteExportKey => (Vault, run(id, params, |p| remote::export_key(d, p)).boxed()),
        Method::ProfileLink => (Vault, run(id, params, |p| remote::link(d, p)).boxed()),
        Method::ProfilePull => (Vault, run(id, params, |p| remote::pull(d, p)).boxed()),
    };
    Route { activity, serve }
}

/// Handles one request through [`route`] and returns the encoded response line, restarting
/// the auto-lock countdown around it when it is vault activity.
pub(crate) async fn dispatch(
    d: &Arc<Daemon>,
    id: u64,
    method: Method,
    params: &RawValue,
) -> Vec<u8> {
    #[cfg(feature = "test-hooks")]
    crate::test_hooks::maybe_panic(d, method);
    let route = route(d, id, method, params);
    if route.activity == Activity::Vault {
        d.touch();
    }
    let line = route.serve.await;
    if route.activity == Activity::Vault {
        d.touch();
    }
    line
}

/// The answer for a method name this protocol version does not define.
pub(crate) fn unknown_method(method: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::InvalidArgument,
        format!(
            "unknown method {:?}: see protocol.md for the list",
            method.chars().take(64).collect::<String>()
        ),
    )
}

async fn already_said_hello(id: u64) -> Vec<u8> {
    encode_error(
        Some(id),
        &ErrorBody::new(
            ErrorCode::InvalidArgument,
            "hello was already done on this connection",
        ),
    )
}

/// `subscribe` changes the connection (it starts forwarding events), so the connection's
/// read loop answers it before routing; a caller without a connection gets this.
async fn served_by_the_connection(id: u64, method: Method) -> Vec<u8> {
    encode_error(
        Some(id),
        &ErrorBody::new(
            ErrorCode::InvalidArgument,
            format!("{method} is answered by the connection, not routed"),
        ),
    )
}

async fn shutdown(d: &Arc<Daemon>) -> Result<Ack, ErrorBody> {
    tracing::info!("shutdown requested by a client");
    d.request_shutdown();
    Ok(Ack {})
}

async fn status(d: &Arc<Daemon>) -> Result<StatusResponse, ErrorBody> {
    let cfg = d.config_state();
    let vault = d.vault_handle();
    let locked = !vault.as_ref().is_some_and(|v| v.is_unlocked());
    let profile_count = match vault {
        Some(v) if !locked => blocking(move || {
            v.list_profiles(0, 0)
                .map(|p| Some(p.total))
                .map_err(vault_err)
        })
        .await
        .unwrap_or(None),
        _ => None,
    };
    Ok(StatusResponse {
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol: ProtocolVersion {
            major: PROTOCOL_MAJOR,
            minor: PROTOCOL_MINOR,
        },
        socket: d.opts.socket.clone(),
        home: d.opts.home.clone(),
        vault_path: d.opts.home.join(pvault_vault::Vault::FILE_NAME),
        vault_exists: d.vault_handle().is_some(),
        locked,
        auto_lock_secs: cfg.config.auto_lock_secs,
        auto_lock_remaining_secs: d.auto_lock_remaining(),
        uptime_secs: d.started.elapsed().as_secs(),
        profile_count,
        retention: cfg.config.retention,
        connections: d.connection_count(),
        sessions: d.sessions.len() as u64,
        config_reloads: cfg.reloads,
        health_schedule: pvault_protocol::HealthSchedule {
            interval_secs: cfg.config.health.interval_secs,
            rounds: d.health_schedule.rounds.load(Ordering::Relaxed),
            checks: d.health_schedule.checks.load(Ordering::Relaxed),
            skipped_locked: d.health_schedule.skipped_locked.load(Ordering::Relaxed),
        },
        config_error: cfg.error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// protocol.md §5: `status` never counts as vault activity (a monitor polling it must not
    /// keep the vault open), nor do the connection's own methods or `daemon.shutdown`; every
    /// `vault.*`, `profile.*` and `session.*` method does.
    #[tokio::test]
    async fn only_status_shutdown_and_the_connections_methods_leave_the_auto_lock_alone() {
        let dir = tempfile::tempdir().unwrap();
        let d = Daemon::new(crate::Options::new(dir.path().join("home"))).unwrap();
        let params = RawValue::from_string("{}".to_owned()).unwrap();
        for &m in Method::ALL {
            let idle = matches!(
                m,
                Method::Hello | Method::Subscribe | Method::Status | Method::DaemonShutdown
            );
            let expected = if idle {
                Activity::Idle
            } else {
                Activity::Vault
            };
            assert_eq!(route(&d, 1, m, &params).activity, expected, "{m}");
        }
    }
}
