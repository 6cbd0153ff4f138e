//! The record each session keeps on disk, and the cleanup at daemon start: a daemon killed
//! with `kill -9` leaves its Chromes running and their user-data-dirs (profiles in the clear)
//! on disk. They are found by these records — never by process name — and removed.
//!
//! `<runtime>/sessions/<id>/session.json`: `{"session_id", "daemon_pid", "owner_lock",
//! "browser_pid", "user_data_dir"}`, written (0600) before Chrome starts and again once its pid
//! is known.
//!
//! Whether the daemon that wrote a record still runs is decided by its owner lock, never by its
//! pid: each daemon holds an exclusive `flock` on `<runtime>/owners/<random>.lock` for its whole
//! life, and the kernel drops it the moment the process dies. A pid says nothing reliable: a
//! killed daemon stays in `/proc` as a zombie until its parent reaps it (in a container whose
//! init reaps slowly, or never, that is forever), and a recycled pid names another process.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the record inside a session directory.
const RECORD: &str = "session.json";

/// What a session directory records about its session.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Record {
    /// Session id.
    pub session_id: String,
    /// The daemon that owns the session (for people reading the record; liveness is decided
    /// by `owner_lock`).
    pub daemon_pid: u32,
    /// The owner lock of the daemon that owns the session: held while that daemon lives.
    /// Absent in records written by a pvaultd older than the owner lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_lock: Option<PathBuf>,
    /// Chrome's pid once launched.
    pub browser_pid: Option<u32>,
    /// Chrome's `--user-data-dir` (also how a pid is confirmed to still be that Chrome).
    pub user_data_dir: PathBuf,
}

/// Writes (replaces) the record in `dir`.
pub(super) fn write(dir: &Path, rec: &Record) -> std::io::Result<()> {
    let tmp = dir.join(format!("{RECORD}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&serde_json::to_vec(rec).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, dir.join(RECORD))
}

/// This daemon's owner lock: an exclusively locked, uniquely named file, held open for the
/// daemon's life. Its descriptor is close-on-exec, so no Chrome inherits (and prolongs) it.
#[derive(Debug)]
pub(crate) struct OwnerLock {
    /// Where the lock file is (recorded in every session record).
    pub path: PathBuf,
    /// Held open: the lock lasts as long as the descriptor.
    _file: File,
}

impl OwnerLock {
    /// Creates and locks `<owners>/<random>.lock` (the directory 0700, the file 0600).
    pub(super) fn take(owners: &Path) -> std::io::Result<OwnerLock> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(owners)?;
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(std::io::Error::other)?;
        let name = hex::encode(b);
        // Locked under a name the stale-lock sweep ignores, then renamed: another daemon's
        // sweep must never see this file unlocked and remove it.
        let tmp = owners.join(format!("{name}.tmp"));
        let path = owners.join(format!("{name}.lock"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::Error(e) => e,
            std::fs::TryLockError::WouldBlock => {
                std::io::Error::other("a fresh owner lock file is locked by someone else")
            }
        })?;
        // For people reading the file; the lock itself is what counts.
        let _ = writeln!(file, "{}", std::process::id());
        std::fs::rename(&tmp, &path)?;
        Ok(OwnerLock { path, _file: file })
    }
}

/// Whether the daemon that wrote `rec` still runs.
fn owner_alive(rec: &Record) -> bool {
    match &rec.owner_lock {
        Some(path) => lock_held(path),
        // A record from before owner locks: its pid is all there is. A zombie counts as dead.
        None => rec.daemon_pid != std::process::id() && running(rec.daemon_pid),
    }
}

/// Whether some process holds the lock on `path`. A missing file means its owner is gone
/// (its leftovers are being or were cleaned); a file that cannot be opened is assumed held, so
/// that a doubt never kills a live daemon's browser.
fn lock_held(path: &Path) -> bool {
    match File::open(path) {
        Ok(f) => match f.try_lock_shared() {
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(e)) => {
                tracing::warn!(lock = %path.display(), error = %e, "cannot test a daemon's owner lock; assuming it runs");
                true
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            tracing::warn!(lock = %path.display(), error = %e, "cannot open a daemon's owner lock; assuming it runs");
            true
        }
    }
}

/// Removes the owner lock files in `owners` that no process holds (their daemons died).
pub(super) fn remove_stale_owner_locks(owners: &Path, mine: Option<&Path>) {
    let Ok(rd) = std::fs::read_dir(owners) else {
        return;
    };
    for ent in rd.flatten() {
        let path = ent.path();
        let is_lock = path.extension().is_some_and(|x| x == "lock");
        if is_lock && Some(path.as_path()) != mine && !lock_held(&path) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Removes the session directories of daemons that are gone, killing their Chromes first.
/// Directories of a live daemon (another socket in the same runtime directory) are left alone.
pub(super) fn cleanup(base: &Path) {
    let Ok(rd) = std::fs::read_dir(base) else {
        return;
    };
    for ent in rd.flatten() {
        let dir = ent.path();
        let rec: Option<Record> = std::fs::read(dir.join(RECORD))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if rec.as_ref().is_some_and(owner_alive) {
            continue;
        }
        if let Some(r) = &rec {
            // The recorded Chrome and its helpers (zygotes, renderers): every process whose
            // command line names this session's recorded user-data-dir. Helpers outlive a
            // killed main process for a while and keep writing into the directory.
            let pids = processes_using(&r.user_data_dir);
            for pid in &pids {
                // SAFETY: kill(2) on pids confirmed to run with this session's user-data-dir.
                unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
            }
            if !pids.is_empty() {
                tracing::warn!(browser_pid = ?r.browser_pid, processes = pids.len(), dir = %dir.display(), "killed the browser of a session left by a previous daemon");
            }
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while pids.iter().any(|p| running(*p)) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        match remove_all(&dir) {
            Ok(()) => {
                tracing::warn!(dir = %dir.display(), "removed a session directory left by a previous daemon")
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a leftover session directory")
            }
        }
    }
}

/// Removes a session directory, retried for up to 5 s. Before each try, every process still
/// running with the session's user-data-dir (`<dir>/chrome`) is killed: after Chrome's main
/// process dies (crash, kill, a window closed) its helpers (zygotes, the storage and network
/// services) live on for a moment and keep writing into the directory, and on a loaded
/// machine that moment can outlast a plain retry.
pub(super) fn remove_all(dir: &Path) -> std::io::Result<()> {
    let udd = dir.join("chrome");
    let mut last = Ok(());
    for _ in 0..100 {
        for pid in processes_using(&udd) {
            // SAFETY: kill(2) on pids confirmed to run with this session's user-data-dir.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        last = std::fs::remove_dir_all(dir);
        match &last {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
    last
}

/// Whether `pid` exists and is not a zombie.
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Every process running with `--user-data-dir=<udd>`.
fn processes_using(udd: &Path) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| is_that_chrome(*pid, udd))
        .collect()
}

/// Whether `pid` runs with `--user-data-dir=<udd>` (so a recycled pid is never killed).
fn is_that_chrome(pid: u32, udd: &Path) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| names_user_data_dir(&cmdline, udd))
}

/// Whether a `/proc/PID/cmdline` holds the argument `--user-data-dir=<udd>`. Chrome's helper
/// processes (zygotes, the network and storage services, renderers) rewrite their process
/// title, so their cmdline is ONE string of space-separated arguments rather than
/// NUL-separated ones: the argument may end at a NUL, a space, or the end. (The session's
/// directory names are unique random ids, so a longer path cannot share the prefix.)
fn names_user_data_dir(cmdline: &[u8], udd: &Path) -> bool {
    let want = format!("--user-data-dir={}", udd.display());
    let want = want.as_bytes();
    let mut from = 0;
    while let Some(at) = cmdline[from..]
        .windows(want.len())
        .position(|w| w == want)
        .map(|i| i + from)
    {
        let starts = at == 0 || matches!(cmdline[at - 1], 0 | b' ');
        let ends = matches!(cmdline.get(at + want.len()), None | Some(0) | Some(b' '));
        if starts && ends {
            return true;
        }
        from = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::names_user_data_dir;
    use std::path::Path;

    #[test]
    fn finds_the_argument_in_both_cmdline_shapes() {
        let udd = Path::new("/run/pvault/sessions/s0123456789ab/chrome");
        // The browser process: NUL-separated arguments.
        assert!(names_user_data_dir(
            b"/usr/lib/chromium/chromium\0--user-data-dir=/run/pvault/sessions/s0123456789ab/chrome\0--x\0",
            udd
        ));
        // A helper with a rewritten title: one string, spaces between arguments.
        assert!(names_user_data_dir(
            b"/usr/lib/chromium/chromium --type=utility --user-data-dir=/run/pvault/sessions/s0123456789ab/chrome --y\0",
            udd
        ));
        assert!(names_user_data_dir(
            b"chromium --user-data-dir=/run/pvault/sessions/s0123456789ab/chrome",
            udd
        ));
        // Another session, a longer path, or the path inside another argument: no.
        assert!(!names_user_data_dir(
            b"chromium --user-data-dir=/run/pvault/sessions/s0123456789ab/chrome2\0",
            udd
        ));
        assert!(!names_user_data_dir(
            b"chromium --user-data-dir=/run/pvault/sessions/sffffffffffff/chrome\0",
            udd
        ));
        assert!(!names_user_data_dir(
            b"tool --x--user-data-dir=/run/pvault/sessions/s0123456789ab/chrome\0",
            udd
        ));
    }
}
