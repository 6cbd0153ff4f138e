//! The listening socket: a private runtime directory, one daemon per socket (lock file), a
//! stale socket reclaimed only when no daemon answers on it, and the socket created 0600 (the
//! mode is set before `bind`, so there is no window where others can connect).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use interprocess::local_socket::tokio::Listener;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use interprocess::os::unix::local_socket::ListenerOptionsExt as _;

/// Why the socket could not be set up. Each names the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The socket path has no parent directory.
    #[error("socket path {0} has no parent directory")]
    NoParent(PathBuf),
    /// The runtime directory is unsafe to use.
    #[error(
        "refusing runtime directory {path}: {reason}; remove it or fix it (it must be a directory owned by uid {uid} with mode 0700)"
    )]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// Our uid.
        uid: u32,
    },
    /// Another daemon holds the lock.
    #[error("another pvaultd is already running on {socket} (lock {lock} is held)")]
    AlreadyRunning {
        /// The socket.
        socket: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// Something other than a socket sits at the socket path.
    #[error("{0} exists and is not a socket; remove it or choose another PVAULT_SOCKET")]
    NotASocket(PathBuf),
    /// An I/O failure, with the operation and path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SocketError + 'a {
    move |source| SocketError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// A bound listener plus the lock that makes it ours. Keep the guard alive while serving.
#[derive(Debug)]
pub struct BoundSocket {
    /// The listener (removes its socket file when dropped).
    pub listener: Listener,
    /// The held lock file; released when dropped.
    pub lock: LockGuard,
}

/// An exclusively locked `<socket>.lock` file.
#[derive(Debug)]
pub struct LockGuard {
    /// Held open: the lock lasts as long as the file descriptor.
    _file: File,
}

/// Creates `dir` with mode 0700 if missing (parents too, also 0700), else checks it is a real
/// directory, owned by `uid`, with no group or other permission bits.
pub fn ensure_private_dir(dir: &Path, uid: u32) -> Result<(), SocketError> {
    match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) => return Err(io("creating", dir)(e)),
    }
    let unsafe_dir = |reason: String| SocketError::UnsafeDir {
        path: dir.to_owned(),
        reason,
        uid,
    };
    let md = std::fs::symlink_metadata(dir).map_err(io("inspecting", dir))?;
    if md.file_type().is_symlink() {
        return Err(unsafe_dir("it is a symbolic link".into()));
    }
    if !md.is_dir() {
        return Err(unsafe_dir("it is not a directory".into()));
    }
    if md.uid() != uid {
        return Err(unsafe_dir(format!("it is owned by uid {}", md.uid())));
    }
    if md.mode() & 0o077 != 0 {
        return Err(unsafe_dir(format!(
            "its mode is {:04o}, open to group or others",
            md.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Binds the daemon's socket at `path` (see the module doc for the rules).
pub fn bind(path: &Path) -> Result<BoundSocket, SocketError> {
    let uid = pvault_protocol::paths::euid();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| SocketError::NoParent(path.to_owned()))?;
    ensure_private_dir(dir, uid)?;

    let mut lock_name = path.as_os_str().to_owned();
    lock_name.push(".lock");
    let lock_path = PathBuf::from(lock_name);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io("opening lock file", &lock_path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(SocketError::AlreadyRunning {
                socket: path.to_owned(),
                lock: lock_path,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io("locking", &lock_path)(e)),
    }
    // For people reading the lock file; the lock itself is what counts.
    let _ = file
        .set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()));

    // We hold the lock, so no live pvaultd owns this path; a socket still there is stale
    // unless some other program answers on it.
    match std::fs::symlink_metadata(path) {
        Ok(md) => {
            use std::os::unix::fs::FileTypeExt;
            if !md.file_type().is_socket() {
                return Err(SocketError::NotASocket(path.to_owned()));
            }
            match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => {
                    return Err(SocketError::AlreadyRunning {
                        socket: path.to_owned(),
                        lock: lock_path,
                    });
                }
                Err(_) => {
                    tracing::info!(socket = %path.display(), "removing stale socket left by a previous daemon");
                    std::fs::remove_file(path).map_err(io("removing stale socket", path))?;
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("inspecting", path)(e)),
    }

    let name = path
        .to_fs_name::<GenericFilePath>()
        .map_err(io("naming", path))?;
    // Never `try_overwrite`: it would delete a live daemon's socket.
    let listener = ListenerOptions::new()
        .name(name)
        .mode(0o600)
        .create_tokio()
        .map_err(io("binding", path))?;
    Ok(BoundSocket {
        listener,
        lock: LockGuard { _file: file },
    })
}

/// Adopts a listening socket passed by systemd. Its file belongs to systemd and is not
/// removed when the daemon exits. Must run inside a tokio runtime.
pub fn adopt(fd: OwnedFd) -> std::io::Result<Listener> {
    let l = interprocess::os::unix::uds_local_socket::tokio::Listener::try_from(fd)?;
    Ok(l.into())
}
