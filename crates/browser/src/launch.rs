//! Launch options, Chrome's command line, and the child process with its exit watch.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pvault_model::{BrowserState, SessionSettings};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{oneshot, watch};

use crate::BrowserError;
use crate::endpoint::Transport;
use crate::mux::Mux;

/// How long Chrome may take to answer over CDP after it was started. Generous on purpose: a
/// first start on a fresh, busy 2-core machine was seen taking more than 30 s, and a slow start
/// must not be reported as a browser that cannot do pipe mode (Playwright's `launch` waits up
/// to 180 s for the same reason).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

/// How localStorage of `LaunchOptions::state` is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocalStorageLoad {
    /// Chrome's on-disk database when the Chrome major version is verified, else the stub page.
    #[default]
    Auto,
    /// Always the stub-page method (after launch, over CDP).
    StubPage,
}

/// Everything needed to start a browser for a session.
#[derive(Clone)]
pub struct LaunchOptions {
    /// The browser executable (see [`crate::discover_chrome`]).
    pub executable: PathBuf,
    /// A fresh, empty directory owned by the caller; Chrome's whole profile lives there.
    pub user_data_dir: PathBuf,
    /// Show a window (needs `DISPLAY` or `WAYLAND_DISPLAY`); headless otherwise.
    pub headful: bool,
    /// Full-screen kiosk window; requires `headful`.
    pub kiosk: bool,
    /// Page opened at start; `None` starts with no window (headless) or a blank tab (headful).
    pub start_url: Option<String>,
    /// Proxy, viewport, user agent and locale.
    pub settings: SessionSettings,
    /// Unpacked extension directories to load.
    pub extensions: Vec<PathBuf>,
    /// More command-line arguments, passed verbatim (write `--flag=value`).
    pub extra_args: Vec<String>,
    /// State to load before the session is handed out.
    pub state: Option<BrowserState>,
    /// How to load localStorage; `Auto` unless a test or a diagnosis needs the stub page.
    pub local_storage_load: LocalStorageLoad,
    /// When the browser does not answer on `--remote-debugging-pipe` (a wrapper script that
    /// closes fds 3 and 4, a Chromium too old for pipe mode), start it again with a
    /// `--remote-debugging-port` instead of failing. Off by default: while such a session
    /// runs, any local process of any user can reach the port and read every cookie.
    pub allow_port_fallback: bool,
}

impl std::fmt::Debug for LaunchOptions {
    // Hand-written: `state` holds cookie and storage values, which are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaunchOptions")
            .field("executable", &self.executable)
            .field("user_data_dir", &self.user_data_dir)
            .field("headful", &self.headful)
            .field("kiosk", &self.kiosk)
            .field("start_url", &self.start_url)
            .field("settings", &self.settings)
            .field("extensions", &self.extensions)
            .field("extra_args", &self.extra_args)
            .field("state", &self.state.as_ref().map(|_| "<redacted>"))
            .field("local_storage_load", &self.local_storage_load)
            .field("allow_port_fallback", &self.allow_port_fallback)
            .finish()
    }
}

impl LaunchOptions {
    /// Options for a headless browser with nothing loaded.
    pub fn new(executable: PathBuf, user_data_dir: PathBuf) -> Self {
        LaunchOptions {
            executable,
            user_data_dir,
            headful: false,
            kiosk: false,
            start_url: None,
            settings: SessionSettings::default(),
            extensions: Vec::new(),
            extra_args: Vec::new(),
            state: None,
            local_storage_load: LocalStorageLoad::Auto,
            allow_port_fallback: false,
        }
    }

    /// Checks option combinations and the environment before anything is started.
    pub(crate) fn validate(&self) -> Result<(), BrowserError> {
        if self.headful
            && std::env::var_os("DISPLAY").is_none_or(|v| v.is_empty())
            && std::env::var_os("WAYLAND_DISPLAY").is_none_or(|v| v.is_empty())
        {
            return Err(BrowserError::InvalidArgument(
                "--headful needs a display but neither DISPLAY nor WAYLAND_DISPLAY is set; \
                 run from a desktop session or under Xvfb, or drop --headful"
                    .into(),
            ));
        }
        if self.kiosk && !self.headful {
            return Err(BrowserError::InvalidArgument(
                "--kiosk needs --headful (a kiosk window must be shown)".into(),
            ));
        }
        if let Some(v) = self.settings.viewport
            && (v.width == 0 || v.height == 0 || v.width > 10_000 || v.height > 10_000)
        {
            return Err(BrowserError::InvalidArgument(format!(
                "viewport {}x{} is out of range (1..=10000 each)",
                v.width, v.height
            )));
        }
        if let Some(flag) = self
            .extra_args
            .iter()
            .find(|a| a.starts_with("--remote-debugging-"))
        {
            return Err(BrowserError::InvalidArgument(format!(
                "{} is pvault's to set: a launched browser speaks CDP to pvaultd over a pipe and \
                 clients reach it through the session's cdp_ws_url; remove it from the extra \
                 flags (to attach to a browser of your own with a port, use session attach)",
                flag.split('=').next().unwrap_or(flag)
            )));
        }
        let empty = std::fs::read_dir(&self.user_data_dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(BrowserError::InvalidArgument(format!(
                "user-data-dir {} must be an existing empty directory (a fresh one per session)",
                self.user_data_dir.display()
            )));
        }
        Ok(())
    }

    /// Chrome's command line, each flag measured on Chromium 156; chromiumoxide's defaults
    /// (`--enable-automation`...) are not used since we spawn Chrome ourselves.
    pub(crate) fn args(&self, transport: Transport) -> Vec<String> {
        let mut a: Vec<String> = vec![
            if transport == Transport::Port {
                "--remote-debugging-port=0".into()
            } else {
                // No listening socket: CDP over fds 3 and 4, owned by whoever started us.
                "--remote-debugging-pipe".into()
            },
            format!("--user-data-dir={}", self.user_data_dir.display()),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            // Without these Chromium keeps calling Google hosts.
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--disable-dev-shm-usage".into(),
            "--password-store=basic".into(),
        ];
        if running_as_root() {
            // Chromium refuses to start as root with its sandbox; never disabled otherwise.
            a.push("--no-sandbox".into());
        }
        if !self.headful {
            a.push("--headless".into());
            a.push("--disable-gpu".into());
            if self.start_url.is_none() {
                // Halves the time to a usable CDP connection.
                a.push("--no-startup-window".into());
            }
        }
        if self.kiosk {
            a.push("--kiosk".into());
        }
        if let Some(p) = &self.settings.proxy {
            a.push(format!("--proxy-server={p}"));
        }
        if let Some(v) = self.settings.viewport {
            a.push(format!("--window-size={},{}", v.width, v.height));
        }
        if let Some(ua) = &self.settings.user_agent {
            a.push(format!("--user-agent={ua}"));
        }
        if let Some(l) = &self.settings.locale {
            a.push(format!("--lang={l}"));
            a.push(format!("--accept-lang={l}"));
        }
        if !self.extensions.is_empty() {
            let list = self
                .extensions
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(",");
            a.push(format!("--disable-extensions-except={list}"));
            a.push(format!("--load-extension={list}"));
        }
        a.extend(self.extra_args.iter().cloned());
        if let Some(u) = &self.start_url {
            a.push(u.clone());
        }
        a
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// How a browser session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserExit {
    /// The browser process exited; `signal` is set when it was killed by one (a crash or kill).
    Exited {
        /// Exit code, when it exited normally.
        code: Option<i32>,
        /// Terminating signal, when it was killed.
        signal: Option<i32>,
    },
    /// The CDP connection of an attached browser closed (the process is not ours to watch).
    Disconnected,
}

/// Handle on a Chrome process we started.
#[derive(Debug)]
pub(crate) struct ChildProcess {
    /// OS process id.
    pub pid: u32,
    /// Asks the watcher task to SIGKILL the process; dropping it without sending leaves the
    /// process running.
    pub kill: Option<oneshot::Sender<()>>,
}

/// Writes `Default/Preferences` = `{"session":{"restore_on_startup":1}}` unless Chrome's
/// profile already has one. Without it Chrome 156 deletes every session cookie the moment its
/// last page closes (a person closing a headful window, a client closing its last page), so
/// the capture a checkpointer makes in that instant would miss them (measured: 20/20 runs
/// without, 0/20 with). In a fresh user-data-dir there is no previous session to restore.
fn keep_session_cookies(user_data_dir: &std::path::Path) -> Result<(), BrowserError> {
    let dir = user_data_dir.join("Default");
    let prefs = dir.join("Preferences");
    if prefs.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&prefs, br#"{"session":{"restore_on_startup":1}}"#))
        .map_err(|source| BrowserError::Io {
            what: format!("writing Chrome's preferences {}", prefs.display()),
            source,
        })
}

/// Places inside the user-data-dir where Chrome's process environment points every place it
/// would otherwise write outside it, so that removing the user-data-dir removes all of it.
/// Measured on Chromium 156 (a session's browser and a renderer crashed with SIGSEGV, under a
/// sandboxed `$HOME`): without them, crashpad keeps its database and minidumps (process
/// memory: cookies and tokens in the clear) in `$XDG_CONFIG_HOME/chromium/Crash Reports`
/// whatever `--disable-breakpad`, `--disable-crash-reporter` or `--crash-dumps-dir` say, never
/// removed; the process-singleton directory `org.chromium.Chromium.*` lands in `$TMPDIR`
/// (`/tmp`) and outlives a killed browser; dconf writes `$XDG_CACHE_HOME/dconf/user`. With
/// `BREAKPAD_DUMP_LOCATION`, `TMPDIR` and `XDG_CACHE_HOME` pointing in here, nothing else was
/// written under `$HOME`, the XDG directories or `/tmp`, headless or headful. `HOME` and
/// `XDG_CONFIG_HOME` stay the user's: a headful window keeps the user's fonts and GTK settings.
const PRIVATE_DIRS: [(&str, &str); 3] = [
    // Short: see SINGLETON_SOCKET_SUFFIX.
    ("TMPDIR", ".t"),
    ("XDG_CACHE_HOME", ".xdg-cache"),
    ("BREAKPAD_DUMP_LOCATION", ".crash"),
];

/// What Chrome appends to `$TMPDIR` for its process-singleton socket. A Unix socket path holds
/// at most 107 bytes, and Chrome aborts at start (`Socket path too long`) when
/// `$TMPDIR` + this is longer.
const SINGLETON_SOCKET_SUFFIX: &str = "/org.chromium.Chromium.XXXXXX/SingletonSocket";

/// The environment variables of [`PRIVATE_DIRS`] for a user-data-dir, with their directories.
/// `TMPDIR` is left out (Chrome then uses the inherited one, and its singleton directory
/// outlives a killed browser there) only when the user-data-dir's path is too long for the
/// singleton socket.
fn private_dirs(user_data_dir: &std::path::Path) -> Vec<(&'static str, std::path::PathBuf)> {
    PRIVATE_DIRS
        .iter()
        .map(|(var, name)| (*var, user_data_dir.join(name)))
        .filter(|(var, dir)| {
            *var != "TMPDIR" || dir.as_os_str().len() + SINGLETON_SOCKET_SUFFIX.len() <= 107
        })
        .collect()
}

/// Creates the [`PRIVATE_DIRS`] directories (0700).
fn make_private_dirs(user_data_dir: &std::path::Path) -> Result<(), BrowserError> {
    use std::os::unix::fs::DirBuilderExt;
    let dirs = private_dirs(user_data_dir);
    if !dirs.iter().any(|(var, _)| *var == "TMPDIR") {
        tracing::warn!(user_data_dir = %user_data_dir.display(), "the user-data-dir's path is too long for Chrome's singleton socket inside it; Chrome keeps its temporary files in the inherited TMPDIR");
    }
    for (_, dir) in dirs {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|source| BrowserError::Io {
                what: format!("creating Chrome's private directory {}", dir.display()),
                source,
            })?;
    }
    Ok(())
}

/// Everything done on disk and with subprocesses before Chrome starts, in ONE task on tokio's
/// blocking pool so no runtime thread waits on it: checking the options (reads the
/// user-data-dir), asking the executable its version (`chrome --version`, a subprocess),
/// writing localStorage into Chrome's LevelDB when that version is verified, writing
/// `Preferences`, and creating the [`PRIVATE_DIRS`] directories. Returns how localStorage gets
/// loaded and the origins written on disk.
pub(crate) async fn prepare(
    opts: &LaunchOptions,
    origins: Vec<pvault_model::OriginState>,
) -> Result<(crate::report::LoadMethod, Vec<String>), BrowserError> {
    let opts = opts.clone();
    let work = move || {
        use crate::report::LoadMethod;
        opts.validate()?;
        let mut method = LoadMethod::StubPage;
        let mut written = Vec::new();
        if !origins.is_empty()
            && opts.local_storage_load == LocalStorageLoad::Auto
            && crate::discover::chrome_major_version(&opts.executable)
                .is_some_and(|m| crate::leveldb::VERIFIED_MAJORS.contains(&m))
        {
            written = crate::leveldb::write_local_storage(&opts.user_data_dir, &origins)?;
            method = LoadMethod::OnDisk;
        }
        keep_session_cookies(&opts.user_data_dir)?;
        make_private_dirs(&opts.user_data_dir)?;
        Ok((method, written))
    };
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BrowserError::Io {
            what: "preparing the browser's launch".into(),
            source: std::io::Error::other(e.to_string()),
        })?
}

/// How the engine reaches a browser it just started.
pub(crate) enum Upstream {
    /// The multiplexer of its `--remote-debugging-pipe`.
    Pipe(Mux),
    /// Its DevTools websocket URL (port mode).
    Port(String),
}

/// Lines of Chrome's stderr kept for a startup error.
const STDERR_TAIL: usize = 10;

/// Spawns Chrome with `transport` (`Pipe` or `Port`) and waits until it answers over CDP:
/// in pipe mode its first answer on the pipe, in port mode the DevTools address it prints on
/// stderr. Fails when it exits first or takes longer than [`STARTUP_TIMEOUT`], with the tail
/// of its stderr in the error.
pub(crate) async fn spawn(
    opts: &LaunchOptions,
    transport: Transport,
    exit_tx: watch::Sender<Option<BrowserExit>>,
) -> Result<(ChildProcess, Upstream), BrowserError> {
    use command_fds::{CommandFdExt, FdMapping};
    let io_err = |what: &str, source| BrowserError::Io {
        what: what.into(),
        source,
    };
    let mut cmd = tokio::process::Command::new(&opts.executable);
    cmd.args(opts.args(transport))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // systemd's socket-activation and notify variables belong to the daemon, not Chrome.
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_FDNAMES")
        .envs(private_dirs(&opts.user_data_dir))
        // If the runtime that owns the watcher task shuts down (a test that panicked, the
        // daemon exiting), the child is dropped with it: kill it rather than orphan it.
        .kill_on_drop(true);
    // Pipe mode: Chrome reads commands from fd 3 and writes to fd 4. Our ends are opened
    // close-on-exec, so no other child inherits them.
    let mut our_ends = None;
    if transport == Transport::Pipe {
        let (chrome_reads, we_write) =
            std::io::pipe().map_err(|e| io_err("creating the CDP pipe", e))?;
        let (we_read, chrome_writes) =
            std::io::pipe().map_err(|e| io_err("creating the CDP pipe", e))?;
        cmd.fd_mappings(vec![
            FdMapping {
                parent_fd: chrome_reads.into(),
                child_fd: 3,
            },
            FdMapping {
                parent_fd: chrome_writes.into(),
                child_fd: 4,
            },
        ])
        .map_err(|_| {
            io_err(
                "mapping the CDP pipe to fds 3 and 4",
                std::io::Error::other("fd collision"),
            )
        })?;
        our_ends = Some((we_write, we_read));
    }
    let spawned = cmd.spawn();
    // The command holds Chrome's ends of the pipe: closing them here lets us see the pipe
    // close when Chrome exits.
    drop(cmd);
    let mut child = spawned.map_err(|source| BrowserError::Spawn {
        executable: opts.executable.clone(),
        source,
    })?;
    let pid = child.id().unwrap_or(0);
    let stderr = child.stderr.take().expect("stderr is piped");
    let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let (url_tx, url_rx) = oneshot::channel::<String>();
    {
        // Drains stderr for the whole life of the process, so Chrome never blocks on a full
        // pipe; keeps the last lines for a startup error and passes the DevTools address on.
        let tail = tail.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut url_tx = Some(url_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(i) = line.find("ws://")
                    && line.contains("DevTools listening on")
                    && let Some(tx) = url_tx.take()
                {
                    let _ = tx.send(line[i..].trim().to_owned());
                    continue;
                }
                tracing::trace!(target: "pvault_browser::chrome", "{line}");
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                t.push_back(line);
                if t.len() > STDERR_TAIL {
                    t.pop_front();
                }
            }
        });
    }
    let ready = async {
        match our_ends {
            Some((we_write, we_read)) => {
                let to_chrome = tokio::net::unix::pipe::Sender::from_owned_fd(we_write.into())
                    .map_err(|e| format!("cannot use the CDP pipe: {e}"))?;
                let from_chrome = tokio::net::unix::pipe::Receiver::from_owned_fd(we_read.into())
                    .map_err(|e| format!("cannot use the CDP pipe: {e}"))?;
                let mux = Mux::start(to_chrome, from_chrome);
                match mux.call("Browser.getVersion", serde_json::json!({})).await {
                    Ok(_) => Ok(Upstream::Pipe(mux)),
                    Err(e) => Err(format!("no answer on --remote-debugging-pipe ({e})")),
                }
            }
            None => url_rx
                .await
                .map(Upstream::Port)
                .map_err(|_| "stderr closed before the DevTools address".to_owned()),
        }
    };
    let outcome = tokio::select! {
        r = tokio::time::timeout(STARTUP_TIMEOUT, ready) => match r {
            Ok(r) => r,
            Err(_) => Err(format!("no CDP answer within {} s", STARTUP_TIMEOUT.as_secs())),
        },
        status = child.wait() => Err(format!("exited ({}) before answering over CDP",
            status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()))),
    };
    let upstream = match outcome {
        Ok(u) => u,
        Err(detail) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let tail = tail.lock().unwrap_or_else(|p| p.into_inner());
            let tail = tail
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" | ");
            return Err(BrowserError::Startup {
                executable: opts.executable.clone(),
                detail: format!("{detail}; stderr tail: {tail}"),
            });
        }
    };
    let (kill_tx, kill_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let status = tokio::select! {
            s = child.wait() => s,
            r = kill_rx => {
                if r.is_ok() {
                    let _ = child.start_kill();
                }
                child.wait().await
            }
        };
        use std::os::unix::process::ExitStatusExt;
        let exit = match status {
            Ok(s) => BrowserExit::Exited {
                code: s.code(),
                signal: s.signal(),
            },
            Err(_) => BrowserExit::Exited {
                code: None,
                signal: None,
            },
        };
        let _ = exit_tx.send(Some(exit));
    });
    Ok((
        ChildProcess {
            pid,
            kill: Some(kill_tx),
        },
        upstream,
    ))
}

/// Removes the process-singleton files a killed Chrome leaves in its user-data-dir, so that
/// a second start in the same directory (the port fallback after a failed pipe start) is not
/// refused as "profile in use".
pub(crate) fn remove_singleton_files(user_data_dir: &std::path::Path) {
    for name in ["SingletonLock", "SingletonSocket", "SingletonCookie"] {
        let _ = std::fs::remove_file(user_data_dir.join(name));
    }
}

#[cfg(test)]
mod tests {
    use super::private_dirs;
    use std::path::Path;

    #[test]
    fn tmpdir_moves_inside_unless_the_singleton_socket_path_would_be_too_long() {
        let vars = |udd: &str| -> Vec<&str> {
            private_dirs(Path::new(udd))
                .into_iter()
                .map(|(v, _)| v)
                .collect()
        };
        let short = "/run/user/1000/pvault/sessions/s0123456789ab/chrome";
        assert_eq!(
            vars(short),
            ["TMPDIR", "XDG_CACHE_HOME", "BREAKPAD_DUMP_LOCATION"]
        );
        let long = format!("/home/someone/{}/chrome", "x".repeat(60));
        assert_eq!(vars(&long), ["XDG_CACHE_HOME", "BREAKPAD_DUMP_LOCATION"]);
    }
}
