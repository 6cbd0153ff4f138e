//! `pvault run [session options] -- CMD [ARGS…]`: starts a session, runs CMD with
//! `PVAULT_CDP_URL` and `PVAULT_SESSION_ID` in its environment, ends the session when CMD
//! exits (saving it with `--save`), and exits with CMD's exit code (128 + N when a signal N
//! killed it).
//!
//! Signals: pvault installs handlers for SIGINT, SIGTERM, SIGHUP and SIGQUIT *before* the
//! session starts, so Ctrl-C never kills pvault ahead of CMD (which would leave the session
//! running and unsaved). Handlers, unlike an ignored disposition, are reset by `exec`, so CMD
//! still gets the default behaviour. A signal is forwarded to CMD, except a SIGINT/SIGQUIT
//! while pvault is the terminal's foreground job: the terminal has then already sent it to
//! CMD (same process group), and a second copy would turn one Ctrl-C into two. Then pvault
//! waits for CMD and stops the session cleanly.
//!
//! stdout belongs to CMD: pvault prints nothing there, `--json` or not; notices and errors go
//! to stderr.

use std::os::unix::process::ExitStatusExt;

use clap::Args;
use pvault_protocol::{SessionStartResponse, SessionStop};
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::Ctx;
use super::session::{
    SessionOpts, describe_guard, describe_stop, warn_capture_failures, warn_load_failures,
};
use crate::exit::{CliError, CliResult};

/// Exit code when CMD cannot be found (as shells use).
const EXIT_NOT_FOUND: i32 = 127;
/// Exit code when CMD exists but cannot be executed.
const EXIT_CANNOT_EXEC: i32 = 126;

/// `run`'s command line.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Session options, as for `session start`.
    #[command(flatten)]
    pub session: SessionOpts,
    /// The command to run and its arguments (after `--`).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<std::ffi::OsString>,
}

/// The signals pvault catches while CMD runs.
struct Signals {
    /// SIGINT (Ctrl-C).
    int: Signal,
    /// SIGTERM.
    term: Signal,
    /// SIGHUP (terminal closed).
    hup: Signal,
    /// SIGQUIT (Ctrl-\).
    quit: Signal,
}

impl Signals {
    fn install() -> CliResult<Signals> {
        let one = |kind: SignalKind| {
            signal(kind)
                .map_err(|e| CliError::other(format!("cannot install a signal handler: {e}")))
        };
        Ok(Signals {
            int: one(SignalKind::interrupt())?,
            term: one(SignalKind::terminate())?,
            hup: one(SignalKind::hangup())?,
            quit: one(SignalKind::quit())?,
        })
    }

    /// The next signal's number.
    async fn next(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.term.recv() => libc::SIGTERM,
            _ = self.hup.recv() => libc::SIGHUP,
            _ = self.quit.recv() => libc::SIGQUIT,
        }
    }
}

/// Runs `pvault run`. Returns only on success with CMD exiting 0; otherwise exits the process
/// with CMD's code (or returns the error that prevented running it).
pub async fn run(ctx: &Ctx, args: RunArgs) -> CliResult {
    let mut signals = Signals::install()?;
    let req = args.session.request()?;
    let client = ctx.client().await?;

    // A signal during the launch is remembered: the session is then ended without running CMD.
    let started = {
        let _spin = ctx.out.spinner("starting Chromium");
        let call = ctx.call(&client, &req);
        tokio::pin!(call);
        let mut early: Option<i32> = None;
        let res = loop {
            tokio::select! {
                res = &mut call => break res?,
                sig = signals.next(), if early.is_none() => early = Some(sig),
            }
        };
        (res, early)
    };
    let (res, early): (SessionStartResponse, Option<i32>) = started;
    if let Some(load) = &res.load {
        warn_load_failures(load);
    }
    // On stderr in every mode: stdout is CMD's.
    if let Some(created) = super::session::created_profile(&res) {
        eprintln!("pvault: created profile {created} (it did not exist; --save saves into it)");
    }
    let session_id = res.session.session_id.clone();
    drop(client);

    let outcome = match early {
        Some(sig) => Outcome::NotRun(128 + sig),
        None => run_child(&args.command, &res, &mut signals).await,
    };

    // CMD is gone: end the session, saving if it was started with --save (and CMD ran).
    let discard = matches!(outcome, Outcome::NotRun(_) | Outcome::SpawnFailed(..));
    let stopped = {
        let _spin = ctx.out.spinner("stopping the session");
        // A fresh connection: CMD may have run longer than the daemon keeps an idle one open.
        match ctx.client().await {
            Ok(c) => {
                ctx.call(
                    &c,
                    &SessionStop {
                        session_id,
                        discard,
                    },
                )
                .await
            }
            Err(e) => Err(e),
        }
    };
    let code = match outcome {
        Outcome::Exited(code) | Outcome::NotRun(code) => code,
        Outcome::SpawnFailed(e, code) => {
            // The session was only for CMD: report why it did not run after cleaning up, with
            // the shell's exit codes rather than the CLI's.
            if let Err(stop_err) = stopped {
                eprintln!("{}", stop_err.report());
            }
            if ctx.out.json {
                let _ = crate::output::write_stdout(format!("{}\n", e.to_json()).as_bytes());
            }
            eprintln!("{}", e.report());
            std::process::exit(code);
        }
    };
    match stopped {
        Ok(res) => {
            if let Some(c) = &res.capture {
                warn_capture_failures(c);
            }
            if res.snapshot.is_some() && !ctx.out.json {
                eprintln!("pvault: {}", describe_stop(&res));
            }
            // Said on stderr even with --json: stdout belongs to CMD.
            if let Some(g) = &res.logout_guard {
                eprintln!("pvault: {}", describe_guard(g));
            }
        }
        // CMD succeeded but its session could not be saved: that failure is the result.
        Err(e) if code == 0 => return Err(e),
        // CMD's own failure comes first; the stop error is still said.
        Err(e) => eprintln!("{}", e.report()),
    }
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

/// How CMD ended.
enum Outcome {
    /// CMD ran; its exit code (128 + N if signal N killed it).
    Exited(i32),
    /// CMD was never started (a signal arrived while the browser launched).
    NotRun(i32),
    /// CMD could not be started: why, and the exit code (127 not found, 126 otherwise).
    SpawnFailed(CliError, i32),
}

/// Spawns CMD with the session in its environment and waits for it, forwarding signals.
async fn run_child(
    command: &[std::ffi::OsString],
    res: &SessionStartResponse,
    signals: &mut Signals,
) -> Outcome {
    let (program, rest) = command.split_first().expect("clap requires CMD");
    let mut child = match tokio::process::Command::new(program)
        .args(rest)
        .env("PVAULT_CDP_URL", &res.session.cdp_ws_url)
        .env("PVAULT_SESSION_ID", &res.session.session_id)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            let name = program.to_string_lossy();
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                EXIT_NOT_FOUND
            } else {
                EXIT_CANNOT_EXEC
            };
            return Outcome::SpawnFailed(CliError::other(format!("cannot run {name}: {e}")), code);
        }
    };
    let pid = child.id();
    loop {
        tokio::select! {
            status = child.wait() => {
                return Outcome::Exited(match status {
                    Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
                    Err(e) => {
                        eprintln!("pvault: cannot wait for {}: {e}", program.to_string_lossy());
                        1
                    }
                });
            }
            sig = signals.next() => {
                if let Some(pid) = pid
                    && !terminal_already_sent(sig)
                {
                    // SAFETY: kill(2) on our own child's pid, which has not been reaped
                    // (we are still waiting for it), so the pid cannot have been reused.
                    unsafe { libc::kill(pid as i32, sig) };
                }
            }
        }
    }
}

/// Whether the terminal delivered `sig` to CMD itself: keyboard signals (SIGINT, SIGQUIT) go
/// to the whole foreground process group, which CMD shares with pvault.
fn terminal_already_sent(sig: i32) -> bool {
    if sig != libc::SIGINT && sig != libc::SIGQUIT {
        return false;
    }
    // SAFETY: plain queries with no pointers.
    let (fg, own) = unsafe { (libc::tcgetpgrp(libc::STDIN_FILENO), libc::getpgrp()) };
    fg > 0 && fg == own
}
