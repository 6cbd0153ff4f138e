//! Request handlers: one function per method. [`dispatch`] routes a parsed request to its
//! handler and encodes the response line. Vault calls are synchronous and run on tokio's
//! blocking pool so a slow KDF or a large import never stalls other connections.

mod profile;
mod vault;

use std::sync::Arc;

use pvault_protocol::frame::{encode_error, encode_result};
use pvault_protocol::{
    Ack, DaemonShutdown, ErrorBody, ErrorCode, PROTOCOL_MAJOR, PROTOCOL_MINOR, ProfileCreate,
    ProfileDelete, ProfileDiff, ProfileExport, ProfileHistory, ProfileImport, ProfileList,
    ProfileRename, ProfileRestore, ProfileShow, ProfileUpdate, ProtocolVersion, Request, Status,
    StatusResponse, VaultBackup, VaultInit, VaultLock, VaultPasswd, VaultUnlock, VaultVerify,
};
use serde_json::value::RawValue;

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
    method: &str,
    params: &RawValue,
) -> Vec<u8> {
    use futures::FutureExt as _;
    match std::panic::AssertUnwindSafe(dispatch(d, id, method, params))
        .catch_unwind()
        .await
    {
        Ok(line) => line,
        Err(_) => {
            let method = method.chars().take(64).collect::<String>();
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

/// Maps a vault error to an error body.
pub(crate) fn vault_err(e: pvault_vault::VaultError) -> ErrorBody {
    let code = ErrorCode::from_wire(e.code()).unwrap_or(ErrorCode::Internal);
    if code == ErrorCode::Internal {
        tracing::error!(error = %e, "vault error");
    }
    ErrorBody::new(code, e.to_string())
}

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

/// Whether a method counts as use of the vault for the auto-lock countdown. `status` does
/// not, so a monitor polling it cannot keep the vault open forever.
pub(crate) fn is_vault_activity(method: &str) -> bool {
    method.starts_with("profile.") || method.starts_with("vault.") || method.starts_with("session.")
}

/// Handles one request (other than `hello` and `subscribe`, which belong to the connection)
/// and returns the encoded response line.
pub(crate) async fn dispatch(d: &Arc<Daemon>, id: u64, method: &str, params: &RawValue) -> Vec<u8> {
    #[cfg(feature = "test-hooks")]
    crate::test_hooks::maybe_panic(d, method);
    match method {
        Status::METHOD => run(id, params, |_: Status| status(d)).await,
        DaemonShutdown::METHOD => {
            run(id, params, |_: DaemonShutdown| async {
                tracing::info!("shutdown requested by a client");
                d.request_shutdown();
                Ok(Ack {})
            })
            .await
        }
        VaultInit::METHOD => run(id, params, |p| vault::init(d, p)).await,
        VaultUnlock::METHOD => run(id, params, |p| vault::unlock(d, p)).await,
        VaultLock::METHOD => run(id, params, |p| vault::lock(d, p)).await,
        VaultPasswd::METHOD => run(id, params, |p| vault::passwd(d, p)).await,
        VaultVerify::METHOD => run(id, params, |p| vault::verify(d, p)).await,
        VaultBackup::METHOD => run(id, params, |p| vault::backup(d, p)).await,
        ProfileCreate::METHOD => run(id, params, |p| profile::create(d, p)).await,
        ProfileList::METHOD => run(id, params, |p| profile::list(d, p)).await,
        ProfileShow::METHOD => run(id, params, |p| profile::show(d, p)).await,
        ProfileRename::METHOD => run(id, params, |p| profile::rename(d, p)).await,
        ProfileUpdate::METHOD => run(id, params, |p| profile::update(d, p)).await,
        ProfileDelete::METHOD => run(id, params, |p| profile::delete(d, p)).await,
        ProfileImport::METHOD => run(id, params, |p| profile::import(d, p)).await,
        ProfileExport::METHOD => profile::export_frames(d, id, params).await,
        ProfileHistory::METHOD => run(id, params, |p| profile::history(d, p)).await,
        ProfileDiff::METHOD => run(id, params, |p| profile::diff(d, p)).await,
        ProfileRestore::METHOD => run(id, params, |p| profile::restore(d, p)).await,
        m if crate::sessions::is_session_method(m) => {
            match crate::sessions::handle(d, m, params).await {
                Ok(v) => encode_result(id, &v),
                Err(e) => encode_error(Some(id), &e),
            }
        }
        _ => encode_error(
            Some(id),
            &ErrorBody::new(
                ErrorCode::InvalidArgument,
                format!(
                    "unknown method {:?}: see protocol.md for the list",
                    method.chars().take(64).collect::<String>()
                ),
            ),
        ),
    }
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
        config_error: cfg.error,
    })
}
