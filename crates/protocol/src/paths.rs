//! Where the socket and the vault live, shared by the daemon and every client so they agree.
//!
//! Socket: `$PVAULT_SOCKET`, else `$XDG_RUNTIME_DIR/pvault/pvaultd.sock`, else
//! `/tmp/pvault-<uid>/pvaultd.sock`. Home (vault and `config.toml`): `$PVAULT_HOME`, else
//! `$XDG_DATA_HOME/pvault`, else `$HOME/.local/share/pvault`. Empty variables count as unset;
//! relative values are refused by the daemon's callers being handed absolute paths only.

use std::ffi::OsString;
use std::path::PathBuf;

/// File name of the socket inside the runtime directory.
pub const SOCKET_FILE: &str = "pvaultd.sock";

/// Neither `$PVAULT_HOME`, `$XDG_DATA_HOME` nor `$HOME` is set.
#[derive(Debug, thiserror::Error)]
#[error("cannot find the vault directory: set PVAULT_HOME (or XDG_DATA_HOME or HOME)")]
pub struct NoHomeError;

fn var(get: &dyn Fn(&str) -> Option<OsString>, name: &str) -> Option<PathBuf> {
    get(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The socket path from the process environment.
pub fn socket_path() -> PathBuf {
    socket_path_from(&|k| std::env::var_os(k), euid())
}

/// The socket path from an arbitrary environment (testable).
pub fn socket_path_from(get: &dyn Fn(&str) -> Option<OsString>, uid: u32) -> PathBuf {
    if let Some(p) = var(get, "PVAULT_SOCKET") {
        return p;
    }
    match var(get, "XDG_RUNTIME_DIR") {
        Some(d) => d.join("pvault").join(SOCKET_FILE),
        None => PathBuf::from(format!("/tmp/pvault-{uid}")).join(SOCKET_FILE),
    }
}

/// The vault directory from the process environment.
pub fn home_dir() -> Result<PathBuf, NoHomeError> {
    home_dir_from(&|k| std::env::var_os(k))
}

/// The vault directory from an arbitrary environment (testable).
pub fn home_dir_from(get: &dyn Fn(&str) -> Option<OsString>) -> Result<PathBuf, NoHomeError> {
    if let Some(p) = var(get, "PVAULT_HOME") {
        return Ok(p);
    }
    if let Some(d) = var(get, "XDG_DATA_HOME") {
        return Ok(d.join("pvault"));
    }
    var(get, "HOME")
        .map(|h| h.join(".local/share/pvault"))
        .ok_or(NoHomeError)
}
