//! pvaultd as a library: owns the vault on behalf of one user and serves it over a Unix
//! socket with the `pvault-protocol` JSON-lines protocol. `main.rs` is a thin wrapper; tests
//! and benchmarks run [`serve`] in-process on temporary sockets.
//!
//! Modules: [`socket`] (runtime directory, lock file, bind/adopt), [`config`] (`config.toml`
//! and its reload), [`state`] (the shared [`Daemon`]: vault handle, auto-lock, events),
//! `connection` (framing, handshake, pipelining), `handlers` (one function per method),
//! [`sessions`] (browser sessions), [`relay`] (the guarded CDP relay),
//! [`keyfile`] (unattended unlock at start), `remote` (remote stores on PostgreSQL),
//! [`hardening`] and [`systemd`].

pub mod config;
mod connection;
mod handlers;
pub mod hardening;
mod heads;
mod health_schedule;
pub mod keyfile;
pub mod relay;
mod remote;
pub mod sessions;
pub mod socket;
pub mod state;
mod sync;
pub mod systemd;
#[cfg(feature = "test-hooks")]
mod test_hooks;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::traits::tokio::Listener as _;
use pvault_protocol::LockReason;
pub use state::{Daemon, Options};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `$PVAULT_HOME` could not be created.
    #[error("cannot create the vault directory {path}: {source}")]
    Home {
        /// The directory.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `config.toml` is invalid at start (there is no previous config to keep).
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The existing vault could not be opened.
    #[error("cannot open the vault in {path}: {message}")]
    Vault {
        /// The directory.
        path: std::path::PathBuf,
        /// The vault's error.
        message: String,
    },
}

/// How long shutdown waits for in-flight requests whose clients stopped reading.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `listener` until `shutdown` completes or a client sends `daemon.shutdown`. Then it
/// stops accepting, lets in-flight requests finish and their responses be written, stops
/// browser sessions, locks the vault (keys zeroized) and returns.
pub async fn serve(listener: Listener, daemon: Arc<Daemon>, shutdown: impl Future<Output = ()>) {
    let tracker = tokio_util::task::TaskTracker::new();
    // Chromes and session directories a killed predecessor left behind.
    sessions::recover(&daemon).await;
    let timer = tokio::spawn(daemon.clone().auto_lock_task());
    remote::spawn_worker(&daemon);
    let schedule = tokio::spawn(health_schedule::run(daemon.clone()));
    let _watcher = if daemon.opts.watch_config {
        let d = Arc::downgrade(&daemon);
        let (kick_tx, mut kick_rx) = tokio::sync::mpsc::channel::<()>(1);
        let w = config::watch(&daemon.opts.home, move || {
            let _ = kick_tx.try_send(());
        });
        match w {
            Ok(w) => {
                tokio::spawn(async move {
                    while kick_rx.recv().await.is_some() {
                        let Some(d) = d.upgrade() else { return };
                        d.reload_config();
                    }
                });
                Some(w)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch config.toml; changes need a restart");
                None
            }
        }
    } else {
        None
    };

    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            _ = daemon.shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok(stream) => {
                let n = daemon.connections.fetch_add(1, Ordering::Relaxed) + 1;
                let guard = connection::ConnGuard(daemon.clone());
                if n as usize > daemon.opts.max_connections {
                    tracing::warn!(
                        max = daemon.opts.max_connections,
                        "connection cap reached; refusing a client"
                    );
                    let max = daemon.opts.max_connections;
                    tracker.spawn(async move {
                        connection::refuse_busy(stream, max).await;
                        drop(guard);
                    });
                } else {
                    tracker.spawn(connection::serve_connection(daemon.clone(), stream, guard));
                }
            }
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    tracing::info!("shutting down: no new connections; finishing requests in flight");
    daemon.shutdown.cancel();
    drop(listener);
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some clients did not read their responses; closing them");
    }
    sessions::shutdown(&daemon).await;
    let _ = timer.await;
    // A scheduled check in flight ends with its browser closed; the schedule then sees the
    // shutdown.
    let _ = schedule.await;
    // A check in flight ends; a killed check browser's exit and directory removal go on
    // after its answer: wait until they are done.
    sessions::check::end_kept_browser(&daemon).await;
    daemon.check_cleanups.close();
    daemon.check_cleanups.wait().await;
    {
        let _g = daemon.lifecycle.lock().await;
        daemon.lock_vault(LockReason::Shutdown);
    }
    tracing::info!("shutdown complete");
}
