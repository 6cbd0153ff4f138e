//! `pvaultd`: runs in the foreground (as systemd and the CLI's autostart expect). All settings
//! come from the environment: `PVAULT_HOME`, `PVAULT_SOCKET`, `PVAULT_LOG` (a tracing filter,
//! default `info,chromiumoxide=off`), `PVAULT_TEST_FAST_KDF=1` (tests only: cheap KDF for new vaults).

use anyhow::Context as _;
use pvault_daemon::{Daemon, Options, serve, socket, systemd};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    if let Some(a) = args.next() {
        match a.as_str() {
            "--version" | "-V" => {
                println!("pvaultd {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            // Accepted for clarity in unit files and autostart; pvaultd never daemonizes.
            "--foreground" => {}
            _ => {
                eprintln!(
                    "usage: pvaultd [--foreground | --version]\nconfigured by PVAULT_HOME, PVAULT_SOCKET, PVAULT_LOG"
                );
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = pvault_daemon::hardening::apply() {
        eprintln!("pvaultd: warning: cannot disable core dumps: {e}");
    }
    // SAFETY: no other thread exists yet (the runtime is built below).
    let activation = unsafe { systemd::take_from_env() }.context("reading LISTEN_FDS")?;
    let fast_kdf = std::env::var_os("PVAULT_TEST_FAST_KDF").is_some_and(|v| v == "1");
    init_logging();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let home = pvault_protocol::paths::home_dir()?;
        let socket_path = pvault_protocol::paths::socket_path();
        let mut opts = Options::new(home);
        opts.fast_kdf = fast_kdf;
        if fast_kdf {
            tracing::warn!(
                "PVAULT_TEST_FAST_KDF=1: new vaults get cheap KDF parameters (tests only)"
            );
        }
        let (listener, _lock) = match activation.listener {
            Some(fd) => {
                tracing::info!("using the socket passed by systemd");
                (
                    socket::adopt(fd).context("adopting the socket-activated listener")?,
                    None,
                )
            }
            None => {
                let bound = socket::bind(&socket_path)?;
                opts.socket = Some(socket_path.clone());
                (bound.listener, Some(bound.lock))
            }
        };
        let daemon = Daemon::new(opts)?;
        // Before READY=1 and the first accept: clients find the vault already unlocked.
        pvault_daemon::keyfile::unlock_at_start(&daemon).await;
        tracing::info!(pid = std::process::id(), socket = %socket_path.display(), "pvaultd ready");
        if let Err(e) = systemd::notify_ready(activation.notify_socket.as_deref()) {
            tracing::warn!(error = %e, "sd_notify READY failed");
        }
        serve(listener, daemon, signals()).await;
        anyhow::Ok(())
    })?;
    Ok(())
}

async fn signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

fn init_logging() {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("PVAULT_LOG")
        // chromiumoxide logs every event Chrome 156 sends that its generated types do not
        // know, and an error each time a browser closes; the browser crate reports what
        // matters itself. `PVAULT_LOG=chromiumoxide=debug` brings them back.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,chromiumoxide=off"));
    let journald = std::env::var_os("JOURNAL_STREAM").and_then(|_| tracing_journald::layer().ok());
    let registry = tracing_subscriber::registry().with(filter);
    match journald {
        Some(j) => registry.with(j).init(),
        None => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .init(),
    }
}
