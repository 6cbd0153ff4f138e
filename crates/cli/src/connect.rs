//! Reaching the daemon: resolving the socket, connecting with the `hello` handshake, and
//! starting `pvaultd` in the background when nothing answers (as gpg-agent and rbw do).
//!
//! Readiness is a condition, not a delay: after spawning, the CLI polls until a connection
//! *and* its `hello` succeed, or the deadline passes, or the child has died.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pvault_protocol::client::{Client, ClientError};

use crate::exit::{CliError, CliResult};
use crate::output::Output;

/// How long `pvaultd` may take from spawn to answering `hello`.
const START_DEADLINE: Duration = Duration::from_secs(15);
/// How long `daemon stop` waits for the socket to go quiet (the daemon stops browser
/// sessions, saving those that asked, before it exits).
const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// How long a connection plus `hello` may take.
const HELLO_DEADLINE: Duration = Duration::from_secs(10);
/// For how long a daemon that exited without answering is started again (see
/// [`start_and_wait`]); a daemon that cannot start at all is reported after this.
const RESPAWN_WINDOW: Duration = Duration::from_secs(3);
/// Name of the daemon's binary.
const DAEMON_BIN: &str = "pvaultd";
/// Name of the daemon's log file, next to the socket, when the CLI started it.
const LOG_FILE: &str = "pvaultd.log";

/// Where and how to reach the daemon, from the global flags.
#[derive(Debug, Clone)]
pub struct Target {
    /// Absolute socket path.
    pub socket: PathBuf,
    /// Whether a missing daemon may be started.
    pub autostart: bool,
}

impl Target {
    /// From `--socket`/`$PVAULT_SOCKET` (else the default path) and `--no-autostart`.
    pub fn new(socket: Option<&Path>, no_autostart: bool) -> CliResult<Target> {
        let socket = match socket.filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p.to_owned(),
            None => pvault_protocol::paths::socket_path(),
        };
        Ok(Target {
            socket: absolute(&socket)?,
            autostart: !no_autostart,
        })
    }
}

/// Makes `p` absolute against the current directory: the daemon and the CLI must name the
/// same file even if the daemon later changes directory.
pub fn absolute(p: &Path) -> CliResult<PathBuf> {
    std::path::absolute(p)
        .map_err(|e| CliError::usage(format!("cannot resolve the path {}: {e}", p.display())))
}

/// Maps a client error to a CLI error, naming the socket when it is unreachable.
pub fn map_client_error(e: ClientError, socket: &Path) -> CliError {
    match e {
        ClientError::Remote {
            code,
            message,
            hint,
        } => CliError::remote(code, message).with_hint(hint),
        ClientError::Connect { source, .. } => CliError::unreachable(format!(
            "pvaultd does not answer at {} ({source}): start it with `pvault daemon start`, or \
             drop --no-autostart / PVAULT_NO_AUTOSTART",
            socket.display()
        )),
        ClientError::Closed { reason } => CliError::unreachable(format!(
            "lost the connection to pvaultd at {} ({reason}): check `pvault status` and the \
             daemon's log",
            socket.display()
        )),
        ClientError::Protocol { method, detail } => CliError::other(format!(
            "pvaultd sent an unreadable reply to {method} ({detail}): pvault and pvaultd may be \
             different versions; run `pvault daemon stop` and retry"
        )),
    }
}

/// Connects and says `hello`, bounded by [`HELLO_DEADLINE`]: a process that accepts but never
/// answers (a wedged daemon, or something else on the path) must not hang the CLI.
async fn dial(socket: &Path) -> Result<Client, ClientError> {
    match tokio::time::timeout(HELLO_DEADLINE, Client::connect(socket)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Closed {
            reason: format!("no answer to hello within {}s", HELLO_DEADLINE.as_secs()),
        }),
    }
}

/// Whether a connect error means "no daemon here" (so starting one is right), as opposed to
/// e.g. a permission problem, where a new daemon would fail the same way. A connection reset
/// or closed before the `hello` reply counts: that is a daemon that was dying (`kill -9`)
/// when the kernel queued our connection.
fn nobody_home(e: &ClientError) -> bool {
    match e {
        ClientError::Connect { source, .. } => matches!(
            source.kind(),
            ErrorKind::NotFound
                | ErrorKind::ConnectionRefused
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

/// Pauses between tries to reach a daemon that is going away, without autostart: a daemon
/// restarted by someone else (systemd, another `pvault`) gets a moment to answer.
const DYING_DAEMON_BACKOFF: [Duration; 4] = [
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
];

/// Connects to the daemon, starting it first when nothing answers and autostart is on.
///
/// Only the connection and its `hello` are ever retried: no request has been sent yet, so a
/// retry can never run a command twice.
pub async fn connect(target: &Target, out: Output) -> CliResult<Client> {
    let mut backoff = DYING_DAEMON_BACKOFF.iter();
    loop {
        match dial(&target.socket).await {
            Ok(c) => return Ok(c),
            Err(e) if target.autostart && nobody_home(&e) => {
                let (client, _pid) = start_and_wait(target, out).await?;
                return Ok(client);
            }
            Err(e) if dying(&e) => match backoff.next() {
                Some(pause) => tokio::time::sleep(*pause).await,
                None => return Err(map_client_error(e, &target.socket)),
            },
            Err(e) => return Err(map_client_error(e, &target.socket)),
        }
    }
}

/// Whether a connect error is a daemon going away (refused, or reset before `hello`) rather
/// than no daemon ever having been there (no socket file).
fn dying(e: &ClientError) -> bool {
    nobody_home(e)
        && !matches!(e, ClientError::Connect { source, .. } if source.kind() == ErrorKind::NotFound)
}

/// Connects without ever starting a daemon; `Ok(None)` when nothing answers.
pub async fn try_connect(target: &Target) -> CliResult<Option<Client>> {
    match dial(&target.socket).await {
        Ok(c) => Ok(Some(c)),
        Err(e) if nobody_home(&e) => Ok(None),
        Err(e) => Err(map_client_error(e, &target.socket)),
    }
}

/// Spawns `pvaultd` detached and waits until it answers `hello`. Returns the connection and
/// the spawned process id.
///
/// A spawned daemon that exits without answering usually lost the socket's lock to another
/// one: a racing client's (about to answer) or a stopping one's (about to release it). So the
/// CLI keeps polling and respawns for [`RESPAWN_WINDOW`] before it reports the failure.
pub async fn start_and_wait(target: &Target, out: Output) -> CliResult<(Client, u32)> {
    let _spin = out.spinner("starting pvaultd");
    let deadline = Instant::now() + START_DEADLINE;
    let (mut child, log) = spawn_daemon(&target.socket)?;
    let respawn_until = Instant::now() + RESPAWN_WINDOW;
    let mut pause = Duration::from_millis(5);
    loop {
        match dial(&target.socket).await {
            Ok(c) => return Ok((c, child.id())),
            Err(e) if nobody_home(&e) || matches!(e, ClientError::Closed { .. }) => {}
            Err(e) => return Err(map_client_error(e, &target.socket)),
        }
        let now = Instant::now();
        if let Ok(Some(status)) = child.try_wait() {
            if now >= respawn_until || now >= deadline {
                return Err(CliError::unreachable(format!(
                    "pvaultd exited ({status}) without answering at {}{}",
                    target.socket.display(),
                    where_to_look(&target.socket, log.as_ref())
                )));
            }
            child = spawn_daemon(&target.socket)?.0;
        } else if now >= deadline {
            return Err(CliError::unreachable(format!(
                "pvaultd did not answer at {} within {}s{}",
                target.socket.display(),
                START_DEADLINE.as_secs(),
                where_to_look(&target.socket, log.as_ref())
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// The end of a start-failure message: the log's path and its new lines, or why there is no
/// log.
fn where_to_look(socket: &Path, log: Option<&(PathBuf, u64)>) -> String {
    let dir = socket.parent().unwrap_or(Path::new("/"));
    match log {
        Some((path, start)) => {
            format!(
                ": see its log {}{}",
                path.display(),
                log_excerpt(path, *start)
            )
        }
        None if !is_private_dir(dir) => format!(
            ": its runtime directory {} is not a private directory of yours, which pvaultd \
             refuses: `chmod 700` it if it is yours, or remove it",
            dir.display()
        ),
        None => ": run `pvaultd` in a terminal to see why".to_owned(),
    }
}

/// A real directory (not a symlink) owned by us with no group/other permissions: the only
/// kind of directory the CLI writes the daemon's log into, and the only kind the daemon uses.
fn is_private_dir(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(dir).is_ok_and(|m| {
        m.is_dir() && m.uid() == pvault_protocol::paths::euid() && m.mode() & 0o077 == 0
    })
}

/// What the daemon wrote to its log since `from` (the log's length before the spawn): its
/// last 5 lines, without a Rust backtrace, indented, for an error message.
fn log_excerpt(log: &Path, from: u64) -> String {
    let Ok(bytes) = std::fs::read(log) else {
        return String::new();
    };
    let new = bytes.get(from as usize..).unwrap_or(&[]);
    let text = strip_ansi(&String::from_utf8_lossy(new));
    let text = text.split("Stack backtrace:").next().unwrap_or("");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut s = String::new();
    for l in &lines[lines.len().saturating_sub(5)..] {
        s.push_str("\n  ");
        s.push_str(l);
    }
    s
}

/// Removes terminal colour sequences (`ESC [ … letter`) that a log may hold.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Finds `pvaultd`: next to this executable first (an installed or freshly built pair
/// matches in version), then on `PATH`.
pub fn find_daemon() -> CliResult<PathBuf> {
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let cand = dir.join(DAEMON_BIN);
        if is_executable(&cand) {
            return Ok(cand);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let cand = dir.join(DAEMON_BIN);
            if is_executable(&cand) {
                return Ok(cand);
            }
        }
    }
    Err(CliError::unreachable(
        "pvaultd does not answer and its binary was found neither next to pvault nor on PATH: \
         install it (cargo install --path crates/daemon)",
    ))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Spawns the daemon in its own session (no controlling terminal, so closing the shell does
/// not kill it), stdin/stdout to /dev/null, stderr appended to a log next to the socket.
///
/// Returns the child, and the log's path with its length before the spawn (the log is
/// appended to across runs), or `None` when there is no log.
fn spawn_daemon(socket: &Path) -> CliResult<(Child, Option<(PathBuf, u64)>)> {
    let bin = find_daemon()?;
    let dir = socket.parent().unwrap_or(Path::new("/"));
    // The daemon creates its runtime directory 0700 too; doing it here lets the log live
    // there. An existing directory is left as is: the daemon checks its ownership and mode.
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                CliError::other(format!(
                    "cannot create the runtime directory {}: {e}",
                    dir.display()
                ))
            })?;
    }
    // Only in a private directory: in someone else's (e.g. a planted /tmp/pvault-<uid>), the
    // log could be a symlink to one of our files. O_NOFOLLOW covers a planted final link.
    let log = dir.join(LOG_FILE);
    let opened = if is_private_dir(dir) {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&log)
            .ok()
    } else {
        None
    };
    let (stderr, log) = match opened {
        Some(f) => {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            (Stdio::from(f), Some((log, len)))
        }
        None => (Stdio::null(), None),
    };
    let mut cmd = Command::new(&bin);
    // pvaultd takes its socket from the environment only; the CLI's `--socket` reaches it
    // this way, as an absolute path.
    cmd.arg("--foreground")
        .env("PVAULT_SOCKET", socket)
        // A long-lived process must not pin the directory the user happened to be in.
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    // ...so a relative PVAULT_HOME is resolved here, against the user's directory.
    if let Some(home) = std::env::var_os("PVAULT_HOME").filter(|h| !h.is_empty()) {
        cmd.env("PVAULT_HOME", absolute(Path::new(&home))?);
    }
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent; it is the only
    // call between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| CliError::other(format!("cannot start {}: {e}", bin.display())))?;
    Ok((child, log))
}

/// Waits until nothing answers on the socket any more and the daemon's process `pid` has
/// exited (after `daemon.shutdown`): a daemon may close its socket before it releases its lock
/// file, and a `pvault` started right after `daemon stop` must not find the old one still
/// holding it.
pub async fn wait_gone(target: &Target, pid: u32) -> CliResult {
    let deadline = Instant::now() + STOP_DEADLINE;
    let mut pause = Duration::from_millis(5);
    loop {
        let quiet = matches!(dial(&target.socket).await, Err(e) if nobody_home(&e));
        if quiet && !pid_alive(pid) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CliError::other(format!(
                "pvaultd (pid {pid}) is still running {}s after it was asked to stop",
                STOP_DEADLINE.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Whether process `pid` exists (signal 0 probes without sending anything).
fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) with signal 0 only checks that the process exists; no memory involved.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
