//! `pvault profile health …`, `profile check` and the logout guard from the command line,
//! against the test site and the autostarted daemon's real Chromium: bad definitions exit 2
//! naming the option, a check exits 0 healthy and 9 logged out with its evidence (also in
//! `--json`), a save session that logs out says so and how to accept, history shows the mark,
//! `accept` makes it current.

use pvault_testkit::TestServer;

use crate::support::{Env, Out};

/// A `--save` session of profile `acct` that opens `path` on the test site and waits for the
/// site's request of `done`; returns what `session stop` printed.
fn save_session_visiting(env: &Env, srv: &TestServer, path: &str, done: &str) -> Out {
    let out = env.json(&[
        "session",
        "start",
        "--profile",
        "acct",
        "--save",
        "--start-url",
        &srv.url(path),
    ]);
    srv.wait(done, 1);
    let id = out["session_id"].as_str().unwrap().to_owned();
    let out = env.run(&["session", "stop", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    out
}

#[test]
fn definitions_checks_and_the_logout_guard_from_the_command_line() {
    let env = Env::with_vault();
    let srv = TestServer::start();
    assert_eq!(env.run(&["profile", "create", "acct"]).code, 0);
    save_session_visiting(&env, &srv, "/login", "/done");

    // Bad input: exit 2, the option named.
    let out = env.run(&[
        "profile",
        "health",
        "set",
        "acct",
        "--url",
        &srv.url("/account"),
    ]);
    out.assert_error(2, None);
    assert!(out.stderr.contains("at least one expectation"), "{out:?}");
    let out = env.run(&[
        "--json",
        "profile",
        "health",
        "set",
        "acct",
        "--url",
        &srv.url("/account"),
        "--expect-url-not",
        "/login(",
    ]);
    out.assert_error(2, Some("invalid_argument"));
    assert!(out.stderr.contains("--expect-url-not"), "{out:?}");
    let account = srv.url("/account");
    for bad in [
        &["--expect-selector", "div["][..],
        &["--expect-local-storage", "https://a.example/x", "token"],
    ] {
        let mut args = vec!["profile", "health", "set", "acct", "--url", &account];
        args.extend_from_slice(bad);
        let out = env.run(&args);
        out.assert_error(2, None);
        assert!(out.stderr.contains(bad[0]), "{out:?}");
    }

    let out = env.run(&[
        "profile",
        "health",
        "set",
        "acct",
        "--url",
        &srv.url("/account"),
        "--expect-cookie",
        "sid",
        "--expect-selector",
        "#user-menu",
        "--expect-url-not",
        "/login",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = env.run(&["profile", "show", "acct"]);
    assert!(out.stdout.contains("health:      unchecked"), "{out:?}");

    // Healthy: exit 0.
    let out = env.run(&["profile", "check", "acct"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("acct: healthy"), "{out:?}");
    assert!(out.stdout.contains("HTTP status: 200"), "{out:?}");
    let out = env.run(&["profile", "list"]);
    assert!(
        out.stdout.contains("healthy 0s ago") || out.stdout.contains("healthy "),
        "{out:?}"
    );

    // Expired server-side: exit 9, evidence on stdout, in --json too.
    srv.expire_sessions();
    let out = env.run(&["profile", "check", "acct", "--timeout", "5"]);
    out.assert_error(9, None);
    assert!(out.stdout.contains("/login-page?next=/account"), "{out:?}");
    assert!(
        out.stdout.contains("failed:      url_not /login"),
        "{out:?}"
    );
    let out = env.run(&["--json", "profile", "check", "acct", "--timeout", "5"]);
    assert_eq!(out.code, 9, "{out:?}");
    let v = out.json();
    assert_eq!(v["result"]["status"], "logged_out");
    assert_eq!(v["result"]["http_status"], 200);
    let out = env.run(&["profile", "show", "acct"]);
    assert!(out.stdout.contains("logged out since"), "{out:?}");
    let out = env.json(&["profile", "show", "acct"]);
    assert_eq!(out["profile"]["health_result"]["status"], "logged_out");

    // A save session that logs out: the guard keeps it marked and says how to accept.
    let out = save_session_visiting(&env, &srv, "/logout", "/logged-out");
    assert!(out.stderr.contains("logout guard"), "{out:?}");
    assert!(
        out.stderr.contains("pvault profile accept acct 2"),
        "{out:?}"
    );
    let out = env.run(&["profile", "history", "acct"]);
    assert!(out.stdout.contains("logged_out"), "{out:?}");
    let out = env.run(&["profile", "show", "acct"]);
    assert!(out.stdout.contains("current:     #1"), "{out:?}");
    let out = env.run(&["profile", "accept", "acct"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("snapshot #2 of acct accepted"),
        "{out:?}"
    );
    let out = env.json(&["profile", "show", "acct"]);
    assert_eq!(out["profile"].get("current"), None, "{out}");
    let out = env.run(&["profile", "health", "clear", "acct"]);
    assert_eq!(out.code, 0, "{out:?}");
}

/// `pvault run --save` whose session logs out: CMD's own output and exit code are kept, and
/// stderr says the guard kept the snapshot marked and how to accept it; `--accept-logout`
/// makes the logout the current state with no notice.
#[test]
fn pvault_run_that_logs_out_says_so_on_stderr() {
    let env = Env::with_vault();
    let srv = TestServer::start();
    assert_eq!(env.run(&["profile", "create", "acct"]).code, 0);
    save_session_visiting(&env, &srv, "/login", "/done");
    let out = env.run(&[
        "profile",
        "health",
        "set",
        "acct",
        "--url",
        &srv.url("/account"),
        "--expect-cookie",
        "sid",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    // CMD waits until the test has seen the session's logout page load (a flag file).
    let run_logging_out = |flag: &str, nth: usize, extra: &[&str]| {
        let flag = env.dir.path().join(flag);
        let script = format!(
            "while [ ! -e '{}' ]; do sleep 0.05; done; echo cmd-done",
            flag.display()
        );
        let logout = srv.url("/logout");
        let mut args = vec!["run", "--profile", "acct", "--save", "--start-url", &logout];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "sh", "-c", &script]);
        let child = env
            .cmd(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        srv.wait("/logged-out", nth);
        std::fs::write(&flag, b"").unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run_logging_out("go-1", 1, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "cmd-done");
    assert!(stderr.contains("logout guard"), "{stderr}");
    // The marked snapshot is #2, or #3 when a checkpoint caught the logged-out state before
    // the stop (the final snapshot then replaces it): the hint names the one in the history.
    let history = env.json(&["profile", "history", "acct"]);
    let marked: Vec<u64> = history["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["logged_out"] == true)
        .map(|s| s["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(marked.len(), 1, "{history}");
    assert!(
        stderr.contains(&format!("pvault profile accept acct {}", marked[0])),
        "{stderr}"
    );
    let out = env.run(&["profile", "show", "acct"]);
    assert!(out.stdout.contains("current:     #1"), "{out:?}");

    // With --accept-logout: no guard, the logged-out state is current.
    let (code, stdout, stderr) = run_logging_out("go-2", 2, &["--accept-logout"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.trim(), "cmd-done");
    assert!(!stderr.contains("logout guard"), "{stderr}");
    let out = env.json(&["profile", "show", "acct"]);
    assert_eq!(out["profile"].get("current"), None, "{out}");
    let out = env.run(&["profile", "history", "acct"]);
    let marked = out
        .stdout
        .lines()
        .filter(|l| l.starts_with('#') && l.ends_with("logged_out"));
    assert_eq!(marked.count(), 1, "only the guarded run is marked: {out:?}");
}
