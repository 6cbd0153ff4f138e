//! Helpers for the session tests: a daemon with Chromium configured and an event reader. The
//! test site, the CDP client (standing in for Playwright) and the user's own Chromium come
//! from `pvault-testkit`, shared with the end-to-end suites.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use pvault_testkit::{Cdp, SID, TOKEN, TestServer, UserChrome, chrome};

use crate::harness::{Daemon, Env, Raw};

/// Starts pvaultd on `env` with Chromium configured and extra environment.
pub fn start_daemon(env: &Env, extra: &[(&str, &str)]) -> Daemon {
    let mut c = env.command();
    c.env("PVAULT_CHROME", chrome());
    for (k, v) in extra {
        c.env(k, v);
    }
    Daemon::spawn(c, &env.socket)
}

/// A daemon with an unlocked vault and a connection that said hello.
pub fn ready(env: &Env) -> (Daemon, Raw) {
    let d = start_daemon(env, &[]);
    let mut c = d.session();
    c.init();
    (d, c)
}

/// `<runtime>/sessions`: where session directories live.
pub fn sessions_dir(env: &Env) -> PathBuf {
    env.socket.parent().unwrap().join("sessions")
}

/// Names of the session directories that exist now.
pub fn session_dirs(env: &Env) -> Vec<String> {
    match std::fs::read_dir(sessions_dir(env)) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Pids whose command line names `dir` and contains `needle`.
pub fn chrome_processes(dir: &Path, needle: &str) -> Vec<u32> {
    let dir = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|b| {
                let s = String::from_utf8_lossy(&b);
                s.contains(&dir) && s.contains(needle)
            })
        })
        .collect()
}

/// Holds the session's Chrome still (SIGSTOP) before its daemon is killed. On its pipe,
/// Chrome exits by itself when the daemon's end closes, but how soon depends on the machine's
/// load; a frozen browser stands for one that is busy or hung and outlives its daemon, which
/// is what the restarted daemon must find and kill (SIGKILL ends a stopped process too).
pub fn freeze(pid: u32) {
    // SAFETY: kill(2) on the pid of a browser this test's daemon started.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
}

/// Whether process `pid` is alive (not gone and not a zombie).
pub fn alive(pid: u32) -> bool {
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

/// A subscribed connection; `next_event` reads until an event with the given name arrives.
pub struct Events(pub Raw);

impl Events {
    pub fn subscribe(d: &Daemon) -> Events {
        let mut r = d.session();
        r.ok("subscribe", json!({}));
        Events(r)
    }

    /// The next event called `name` whose `data.session_id` is `session` (others skipped).
    pub fn next(&mut self, name: &str, session: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "no {name} event for {session}");
            let v = self.0.recv().expect("event connection closed");
            if v["event"] == name {
                let sid = v["data"]["session_id"]
                    .as_str()
                    .or_else(|| v["data"]["session"]["session_id"].as_str());
                if sid == Some(session) {
                    return v["data"].clone();
                }
            }
        }
    }
}
