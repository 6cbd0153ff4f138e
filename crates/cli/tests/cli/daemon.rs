//! The daemon's lifecycle as the CLI drives it: autostart on first use, `--no-autostart` and
//! `PVAULT_NO_AUTOSTART=1` (exit 69), `daemon start` / `daemon stop` (idempotent), and the
//! daemon's log next to the socket.

use crate::support::{Env, pid_alive};

#[test]
fn a_command_starts_the_daemon_when_none_answers() {
    let env = Env::new();
    assert!(!env.socket.exists());
    let st = env.json(&["status"]);
    let pid = st["pid"].as_u64().unwrap() as u32;
    assert!(
        pid_alive(pid),
        "the daemon outlives the command that started it"
    );
    assert!(env.socket.exists());
    // The runtime directory is private and holds the daemon's log.
    let run_dir = env.socket.parent().unwrap();
    assert_eq!(crate::support::mode(run_dir) & 0o077, 0);
    assert!(run_dir.join("pvaultd.log").exists());
    // The next command talks to the same daemon.
    assert_eq!(env.json(&["status"])["pid"].as_u64().unwrap() as u32, pid);
}

#[test]
fn no_autostart_exits_69() {
    let env = Env::new();
    let out = env.run(&["--json", "--no-autostart", "status"]);
    out.assert_error(69, Some("unreachable"));
    assert!(
        out.stderr.contains(env.socket.to_str().unwrap()),
        "names the socket: {out:?}"
    );

    let mut cmd = env.cmd(&["--json", "profile", "list"]);
    cmd.env("PVAULT_NO_AUTOSTART", "1");
    env.run_with(cmd, None)
        .assert_error(69, Some("unreachable"));
    assert!(!env.socket.exists(), "nothing was started");

    // The global flags are accepted after the subcommand too.
    env.run(&["status", "--no-autostart", "--json"])
        .assert_error(69, Some("unreachable"));
}

#[test]
fn daemon_start_and_stop_are_idempotent() {
    let env = Env::new();
    let v = env.json(&["daemon", "start"]);
    assert_eq!(v["started"], true, "{v}");
    let pid = v["pid"].as_u64().unwrap();
    assert_eq!(v["socket"].as_str().unwrap(), env.socket.to_str().unwrap());
    assert!(!v["version"].as_str().unwrap().is_empty());

    let v = env.json(&["daemon", "start"]);
    assert_eq!(v["started"], false, "{v}");
    assert_eq!(v["pid"].as_u64().unwrap(), pid);

    let v = env.json(&["daemon", "stop"]);
    assert_eq!(v, serde_json::json!({"stopped": true, "pid": pid}));
    // Stop returns only once the socket is quiet.
    env.run(&["--no-autostart", "status"])
        .assert_error(69, None);

    let v = env.json(&["daemon", "stop"]);
    assert_eq!(v, serde_json::json!({"stopped": false, "pid": null}));
}

#[test]
fn stopping_keeps_the_vault_and_a_restart_comes_up_locked() {
    let env = Env::with_vault();
    env.json(&["profile", "create", "kept"]);
    env.json(&["daemon", "stop"]);
    // Autostart again: a new daemon, the vault still there, locked.
    let st = env.json(&["status"]);
    assert_eq!(st["vault_exists"], true);
    assert_eq!(st["locked"], true);
    env.run(&["--json", "profile", "show", "kept"])
        .assert_error(6, Some("locked"));
}

#[test]
fn racing_autostarts_end_with_one_daemon() {
    let env = Env::new();
    let kids: Vec<_> = (0..3)
        .map(|_| crate::support::spawn(env.cmd(&["--json", "status"]), false))
        .collect();
    let outs: Vec<_> = kids
        .into_iter()
        .map(|c| crate::support::finish(c, None))
        .collect();
    let pids: Vec<u64> = outs
        .iter()
        .map(|o| {
            assert_eq!(o.code, 0, "{o:?}");
            o.json()["pid"].as_u64().unwrap()
        })
        .collect();
    assert!(
        pids.iter().all(|p| *p == pids[0]),
        "one daemon answered everyone: {pids:?}"
    );
}

#[test]
fn a_daemon_that_cannot_start_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    // A runtime directory open to others: the daemon must refuse it.
    let run_dir = env.socket.parent().unwrap();
    std::fs::create_dir(run_dir).unwrap();
    std::fs::set_permissions(run_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.run(&["--json", "status"]);
    out.assert_error(69, Some("unreachable"));
    assert!(
        out.stderr.contains("exited"),
        "says the daemon exited: {out:?}"
    );
    assert!(out.stderr.contains("chmod 700"), "says what to do: {out:?}");
    assert!(
        !run_dir.join("pvaultd.log").exists(),
        "no log in a directory open to others"
    );
}

#[test]
fn a_daemon_that_exits_is_reported_with_its_log() {
    let env = Env::new();
    // A vault directory that is a file: the daemon starts, fails, and says why in its log.
    std::fs::write(&env.home, b"not a directory").unwrap();
    let out = env.run(&["--json", "status"]);
    out.assert_error(69, Some("unreachable"));
    assert!(
        out.stderr.contains("pvaultd.log"),
        "points at the log: {out:?}"
    );
    assert!(!out.stderr.contains('\u{1b}'), "no colour codes: {out:?}");
    assert!(!out.stderr.contains("Stack backtrace"), "{out:?}");
}

#[test]
fn a_silent_listener_does_not_hang_the_cli() {
    let env = Env::new();
    std::fs::create_dir(env.socket.parent().unwrap()).unwrap();
    // Something accepts on the socket but never says hello back.
    let listener = std::os::unix::net::UnixListener::bind(&env.socket).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    let out = env.run(&["--json", "status"]);
    out.assert_error(69, Some("unreachable"));
    assert!(out.stderr.contains("hello"), "{out:?}");
    // No daemon of ours to stop: spare the harness's own status probe the same wait.
    std::fs::remove_file(&env.socket).unwrap();
}

#[test]
fn a_relative_pvault_home_means_the_callers_directory() {
    let env = Env::new();
    let mut cmd = env.cmd(&["--json", "status"]);
    cmd.current_dir(env.dir.path())
        .env("PVAULT_HOME", "rel-home");
    let out = env.run_with(cmd, None);
    assert_eq!(out.code, 0, "{out:?}");
    let home = env.dir.path().join("rel-home");
    assert_eq!(out.json()["home"].as_str().unwrap(), home.to_str().unwrap());
}

#[test]
fn a_command_right_after_kill_9_of_the_daemon_succeeds_20_times_in_a_row() {
    // The command connects while the killed daemon is still being torn down: its connection
    // is refused, or reset before the hello reply. Either means "no daemon": the CLI starts a
    // new one and the command succeeds.
    let env = crate::support::Env::with_vault();
    let pass = env.file("pass-again", crate::support::PASS.as_bytes());
    let mut last = None;
    for i in 0..20 {
        let pid = env.daemon_pid().expect("a daemon runs");
        assert_ne!(Some(pid), last, "try {i}: a new daemon every time");
        last = Some(pid);
        // SAFETY: kill(2) on the pid of the daemon this test started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        let out = env.run(&[
            "--json",
            "unlock",
            "--passphrase-file",
            pass.to_str().unwrap(),
        ]);
        assert_eq!(out.code, 0, "try {i}: {out:?}");
    }
}
