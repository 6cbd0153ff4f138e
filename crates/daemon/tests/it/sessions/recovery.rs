//! Recovery after `kill -9` of the daemon, in the cases where the dead daemon's pid still
//! looks alive: the new daemon must decide by the old one's owner lock, which the kernel
//! releases at death, and remove the old Chrome and its directory at once.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::support::*;
use crate::harness::{Env, wait_for, wait_for_with};

/// How long after the new daemon's start the old session may still be around.
const RECOVERY_BUDGET: Duration = Duration::from_secs(5);

/// `Some(state letter)` of process `pid` from `/proc/PID/stat`.
fn proc_state(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit(')').next()?.trim_start().chars().next()
}

/// Number of threads of process `pid` still in its task list.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |rd| rd.count())
}

/// Starts a daemon and one session; returns the daemon, the browser's pid and the session's
/// record file.
fn daemon_with_a_session(env: &Env) -> (crate::harness::Daemon, u32, std::path::PathBuf) {
    let (d, mut c) = ready(env);
    let s = c.ok("session.start", json!({}));
    let pid = s["session"]["pid"].as_u64().unwrap() as u32;
    let id = s["session"]["session_id"].as_str().unwrap().to_owned();
    let record = sessions_dir(env).join(id).join("session.json");
    assert!(record.exists(), "the session keeps a record");
    (d, pid, record)
}

/// Starts a new daemon on `env` and asserts that within [`RECOVERY_BUDGET`] of its start the
/// old browser `pid` is dead and no session directory is left.
fn assert_recovered_promptly(env: &Env, pid: u32) -> crate::harness::Daemon {
    let t0 = Instant::now();
    let d2 = start_daemon(env, &[]);
    wait_for_with(
        "the old session to be gone after the new daemon started",
        RECOVERY_BUDGET.saturating_sub(t0.elapsed()),
        || {
            format!(
                "browser alive {}, dirs {:?}; log:\n{}",
                alive(pid),
                session_dirs(env),
                env.log()
            )
        },
        || !alive(pid) && session_dirs(env).is_empty(),
    );
    d2
}

#[test]
fn a_killed_daemon_that_is_still_an_unreaped_zombie_is_recovered_from() {
    let env = Env::new();
    let (mut d, pid, _) = daemon_with_a_session(&env);
    let daemon_pid = d.pid() as u32;
    // This test is the daemon's parent and does not wait for it: it stays a zombie, in
    // /proc with its pid, as under an init that reaps slowly.
    freeze(pid);
    d.signal(libc::SIGKILL);
    // A zombie whose threads have all exited: the leader alone in its task list. (A leader
    // shows `Z` as soon as it exits itself, while its other threads may still be tearing down
    // and holding its files, locks included.)
    wait_for(
        "the killed daemon to be a zombie",
        Duration::from_secs(20),
        || proc_state(daemon_pid) == Some('Z') && threads(daemon_pid) == 1,
    );
    assert!(alive(pid), "Chrome outlives kill -9 of its daemon");
    let _d2 = assert_recovered_promptly(&env, pid);
    assert_eq!(
        proc_state(daemon_pid),
        Some('Z'),
        "the old daemon was a zombie throughout"
    );
    assert_eq!(d.wait(), None);
}

#[test]
fn a_record_whose_pid_is_another_live_process_is_recovered_from() {
    let env = Env::new();
    let (mut d, pid, record) = daemon_with_a_session(&env);
    freeze(pid);
    d.signal(libc::SIGKILL);
    assert_eq!(d.wait(), None);
    // The dead daemon's pid recycled: the record now names a live process (this test).
    let mut rec: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    rec["daemon_pid"] = json!(std::process::id());
    std::fs::write(&record, rec.to_string()).unwrap();
    assert!(alive(pid), "Chrome outlives kill -9 of its daemon");
    let _d2 = assert_recovered_promptly(&env, pid);
}

#[test]
fn a_live_daemon_on_another_socket_keeps_its_session() {
    // Two daemons share one runtime directory (two sockets): the second one's start must not
    // touch the first one's running session.
    let env = Env::new();
    let (_d, pid, record) = daemon_with_a_session(&env);
    let other = Env::new();
    let mut c = env.command();
    c.env("PVAULT_CHROME", chrome())
        .env("PVAULT_HOME", other.home.clone())
        .env("PVAULT_SOCKET", env.socket.with_file_name("other.sock"));
    let child = c.spawn().unwrap();
    let d2 = crate::harness::Daemon {
        child: Some(child),
        socket: env.socket.with_file_name("other.sock"),
    };
    wait_for(
        "the second daemon to answer",
        Duration::from_secs(20),
        || crate::harness::Raw::try_connect(&d2.socket).is_some(),
    );
    // Its recovery has run before it answered.
    d2.session().status();
    assert!(alive(pid), "the first daemon's browser still runs");
    assert!(
        record.exists(),
        "the first daemon's session directory is kept"
    );
}
