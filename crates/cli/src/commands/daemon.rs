//! `pvault daemon start|stop`: explicit control of the background daemon. Both are idempotent:
//! starting a running daemon and stopping a stopped one succeed and say so.

use pvault_protocol::DaemonShutdown;
use serde_json::json;

use super::Ctx;
use crate::cli::DaemonCmd;
use crate::connect;
use crate::exit::CliResult;

/// Dispatches `daemon …`.
pub async fn run(ctx: &Ctx, cmd: DaemonCmd) -> CliResult {
    match cmd {
        DaemonCmd::Start => start(ctx).await,
        DaemonCmd::Stop => stop(ctx).await,
    }
}

/// Starts the daemon unless one answers already (`--no-autostart` does not apply: starting is
/// what was asked).
async fn start(ctx: &Ctx) -> CliResult {
    let (client, started) = match connect::try_connect(&ctx.target).await? {
        Some(c) => (c, false),
        None => (connect::start_and_wait(&ctx.target, ctx.out).await?.0, true),
    };
    let d = client.daemon();
    if ctx.out.json {
        return ctx.out.json(&json!({
            "started": started,
            "pid": d.pid,
            "version": d.daemon_version,
            "socket": ctx.target.socket,
        }));
    }
    let what = if started {
        "started"
    } else {
        "already running:"
    };
    ctx.out.line(format!(
        "{what} pvaultd {} (pid {}) on {}",
        d.daemon_version,
        d.pid,
        ctx.target.socket.display()
    ))
}

/// Asks the daemon to shut down and waits until its socket no longer answers.
async fn stop(ctx: &Ctx) -> CliResult {
    let Some(client) = connect::try_connect(&ctx.target).await? else {
        if ctx.out.json {
            return ctx.out.json(&json!({"stopped": false, "pid": null}));
        }
        return ctx.out.line(format!(
            "pvaultd is not running on {}",
            ctx.target.socket.display()
        ));
    };
    let pid = client.daemon().pid;
    {
        let _spin = ctx.out.spinner("stopping pvaultd");
        match client.call(&DaemonShutdown {}).await {
            Ok(_) => {}
            // The daemon may close the connection as it stops, before our answer is read.
            Err(pvault_protocol::client::ClientError::Closed { .. }) => {}
            Err(e) => return Err(connect::map_client_error(e, &ctx.target.socket)),
        }
        drop(client);
        connect::wait_gone(&ctx.target, pid).await?;
    }
    if ctx.out.json {
        return ctx.out.json(&json!({"stopped": true, "pid": pid}));
    }
    ctx.out.line(format!("stopped pvaultd (pid {pid})"))
}
