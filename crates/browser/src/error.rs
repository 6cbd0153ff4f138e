//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while driving a browser. Each variant names what failed and,
/// where it helps, what to do about it. Never carries cookie or storage values.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// No Chrome/Chromium executable was found.
    #[error(
        "no Chrome or Chromium found (tried: {}); install chromium or set PVAULT_CHROME to the browser executable",
        tried.join(", ")
    )]
    NotFound {
        /// Every path or name that was tried, in order.
        tried: Vec<String>,
    },
    /// The caller asked for something impossible (bad option combination, bad URL...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Starting the browser process failed.
    #[error("could not start {executable}: {source}")]
    Spawn {
        /// The executable that was started.
        executable: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The browser started but never answered over CDP (exited, or no answer in time).
    #[error("{executable} did not answer over CDP: {detail}")]
    Startup {
        /// The executable that was started.
        executable: PathBuf,
        /// What happened instead (exit status, timeout, last stderr lines).
        detail: String,
    },
    /// The browser did not answer on `--remote-debugging-pipe` and the port fallback is off.
    #[error(
        "{executable} did not answer over --remote-debugging-pipe: {detail}. A browser that cannot \
         do pipe mode (an old Chromium, a wrapper script that closes file descriptors 3 and 4) can \
         run with a debugging port instead: set allow_port_fallback = true under [browser] in \
         pvault's config.toml; any local user can then reach that session's browser while it runs"
    )]
    PipeUnsupported {
        /// The executable that was started.
        executable: PathBuf,
        /// What happened (exit status, timeout, last stderr lines).
        detail: String,
    },
    /// Connecting to the DevTools websocket failed.
    #[error("could not connect to the browser at {url}: {detail}")]
    Connect {
        /// The websocket URL (carries no secret: Chrome's own random path).
        url: String,
        /// Underlying error.
        detail: String,
    },
    /// A CDP command failed.
    #[error("CDP command {method} failed: {detail}")]
    Cdp {
        /// The CDP method, e.g. `Storage.setCookies`.
        method: String,
        /// The error Chrome or the connection reported.
        detail: String,
    },
    /// Writing Chrome's on-disk localStorage database failed.
    #[error("could not write localStorage database under {path}: {detail}")]
    LocalStorageDb {
        /// The database directory.
        path: PathBuf,
        /// Underlying error.
        detail: String,
    },
    /// An operation did not finish within its deadline.
    #[error("timed out after {ms} ms while {what}")]
    Timeout {
        /// What was being waited for.
        what: String,
        /// The deadline in milliseconds.
        ms: u64,
    },
    /// The browser is gone (exited, crashed or the connection dropped).
    #[error("the browser is no longer running or connected ({0})")]
    Gone(String),
    /// Other I/O failure.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl BrowserError {
    /// Stable error code for the protocol: `not_found`, `invalid_argument` or `browser_error`.
    pub fn code(&self) -> &'static str {
        match self {
            BrowserError::NotFound { .. } => "not_found",
            BrowserError::InvalidArgument(_) => "invalid_argument",
            _ => "browser_error",
        }
    }

    pub(crate) fn cdp(method: &str, err: impl std::fmt::Display) -> Self {
        BrowserError::Cdp {
            method: method.to_owned(),
            detail: err.to_string(),
        }
    }
}
