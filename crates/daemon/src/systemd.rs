//! systemd integration without touching the environment after threads exist: socket
//! activation fds and the notify socket are read in `main` before the runtime starts (see
//! [`take_from_env`]), and the variables are removed so browsers started later never inherit
//! them.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// What systemd handed us.
#[derive(Debug, Default)]
pub struct Activation {
    /// The listening socket passed as fd 3 (`LISTEN_FDS=1`, `LISTEN_PID` = our pid).
    pub listener: Option<OwnedFd>,
    /// `NOTIFY_SOCKET`, where `READY=1` goes.
    pub notify_socket: Option<String>,
}

/// Reads and removes `LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES` and `NOTIFY_SOCKET`.
///
/// # Safety
/// Must be called while the process has a single thread (it edits the environment).
pub unsafe fn take_from_env() -> std::io::Result<Activation> {
    let mut fds = sd_notify::listen_fds()?;
    // SAFETY: sd_notify checked LISTEN_PID is ours, so fd 3 was passed to us to own.
    let listener = fds.next().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    let notify_socket = std::env::var("NOTIFY_SOCKET")
        .ok()
        .filter(|s| !s.is_empty());
    for k in [
        "LISTEN_FDS",
        "LISTEN_PID",
        "LISTEN_FDNAMES",
        "NOTIFY_SOCKET",
    ] {
        // SAFETY: the caller guarantees there is only one thread.
        unsafe { std::env::remove_var(k) };
    }
    Ok(Activation {
        listener,
        notify_socket,
    })
}

/// Sends `READY=1` to the notify socket, if any (`@name` = abstract namespace).
pub fn notify_ready(socket: Option<&str>) -> std::io::Result<()> {
    let Some(path) = socket else { return Ok(()) };
    let sock = UnixDatagram::unbound()?;
    let addr = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())?
        }
        None => SocketAddr::from_pathname(path)?,
    };
    sock.send_to_addr(b"READY=1\n", &addr)?;
    Ok(())
}
