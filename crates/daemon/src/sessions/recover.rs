//! The record each session keeps on disk, and the cleanup at daemon start: a daemon killed
//! with `kill -9` leaves its Chromes running and their user-data-dirs (profiles in the clear)
//! on disk. They are found by these records — never by process name — and removed.
//!
//! `<runtime>/sessions/<id>/session.json`: `{"session_id", "daemon_pid", "browser_pid",
//! "user_data_dir"}`, written (0600) before Chrome starts and again once its pid is known.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name of the record inside a session directory.
const RECORD: &str = "session.json";

/// What a session directory records about its session.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Record {
    /// Session id.
    pub session_id: String,
    /// The daemon that owns the session.
    pub daemon_pid: u32,
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
        if let Some(r) = &rec
            && r.daemon_pid != std::process::id()
            && alive(r.daemon_pid)
        {
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

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
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
