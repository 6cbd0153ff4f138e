//! The Node (packaging/npm) and Python (packaging/python) clients against the real pvaultd, and
//! the packaging around them. The clients' own suites run as subprocesses with a fixture
//! daemon's environment: every protocol method once per client, error mapping, `too_large`,
//! and a Playwright login saved in one session and found in the next. Each test asserts that
//! the named tests actually ran and passed (parsed from the runners' output), not only that
//! the runner exited 0. Also: `systemd-analyze verify` on the systemd units, and the shell
//! completions and man page in packaging/ match what the CLI generates.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use pvault_testkit::{self as http, TestServer, wait_for};

use crate::support;
use crate::support::daemon::Daemon;

/// The repository root.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Runs `cmd` in the repository root with the daemon's environment plus `extra`.
fn run(mut cmd: Command, d: &Daemon, extra: &[(&str, String)]) -> Output {
    cmd.current_dir(repo())
        .envs(d.env())
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null());
    let shown = format!("{cmd:?}");
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {shown}: {e} (is it installed? .ci/run installs it)")
    })
}

fn text(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asks the daemon directly whether it serves `session.*` yet: until then the
/// clients' session tests skip themselves, and these tests expect exactly that skip.
fn sessions_supported(d: &Daemon) -> bool {
    let mut s = UnixStream::connect(d.socket()).expect("connect to pvaultd");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(
        b"{\"id\":1,\"method\":\"hello\",\"params\":{\"protocol\":1}}\n\
          {\"id\":2,\"method\":\"session.list\",\"params\":{}}\n",
    )
    .unwrap();
    for line in BufReader::new(s).lines() {
        let line = line.expect("read from pvaultd");
        if line.starts_with("{\"id\":2,") {
            return !line.contains("\"code\":\"unsupported\"");
        }
    }
    panic!("pvaultd closed the connection without answering session.list");
}

/// Node's TAP output: the result line of each top-level test, by name.
fn node_results(out: &Output) -> Vec<(String, &'static str)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (ok, rest) = if let Some(r) = l.strip_prefix("ok ") {
                (true, r)
            } else {
                (false, l.strip_prefix("not ok ")?)
            };
            let (_, name) = rest.split_once(" - ")?;
            Some(match name.split_once(" # SKIP") {
                Some((n, _)) => (n.to_owned(), "skipped"),
                None => (name.to_owned(), if ok { "passed" } else { "failed" }),
            })
        })
        .collect()
}

/// unittest's verbose output (stderr): `test_x (module.Class...) ... ok|skipped '…'|FAIL|ERROR`.
/// A warning printed during a test splits its line: the verdict is then on a later line.
fn python_results(out: &Output) -> Vec<(String, &'static str)> {
    fn verdict(s: &str) -> Option<&'static str> {
        match s.trim_end() {
            "ok" => Some("passed"),
            "FAIL" | "ERROR" => Some("failed"),
            v if v.starts_with("skipped") => Some("skipped"),
            v if v.starts_with("expected failure") || v.starts_with("unexpected success") => {
                Some("failed")
            }
            _ => None,
        }
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let mut results = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some((name, rest)) = l.split_once(" ... ") else {
            continue;
        };
        let Some(name) = name
            .split_whitespace()
            .next()
            .filter(|n| n.starts_with("test"))
        else {
            continue;
        };
        let v = verdict(rest)
            .or_else(|| lines[i + 1..].iter().take(20).find_map(|l| verdict(l)))
            .unwrap_or("failed");
        results.push((name.to_owned(), v));
    }
    results
}

/// Asserts the runner succeeded, nothing failed, and each `(name, verdict)` is as expected.
fn check(runner: &str, out: &Output, results: &[(String, &'static str)], want: &[(&str, &str)]) {
    assert!(
        out.status.success() && results.iter().all(|(_, v)| *v != "failed"),
        "{runner} failed ({}):\n{}",
        out.status,
        text(out)
    );
    for (name, verdict) in want {
        let got = results.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert_eq!(
            got,
            Some(*verdict),
            "{runner}: test {name:?} should be {verdict}, is {got:?}:\n{}",
            text(out)
        );
    }
}

fn node_test(d: &Daemon, extra: &[(&str, String)]) -> Output {
    let mut cmd = Command::new("node");
    cmd.args(["--test", "--test-timeout=180000", "packaging/npm/test/"]);
    run(cmd, d, extra)
}

fn python_test(d: &Daemon, extra: &[(&str, String)]) -> Output {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "unittest", "discover", "-v", "packaging/python/tests"]);
    run(cmd, d, extra)
}

/// The fixture daemon exited (the suites end with `daemon.shutdown`) with status 0.
fn assert_shut_down(d: &mut Daemon) {
    let child = d.child.as_mut().expect("daemon was running");
    let status = wait_for(
        "pvaultd to exit after daemon.shutdown",
        Duration::from_secs(20),
        || child.try_wait().expect("try_wait"),
    );
    assert!(
        status.success(),
        "pvaultd exited with {status} after daemon.shutdown"
    );
    d.child = None;
}

fn session_verdict(d: &Daemon) -> &'static str {
    if sessions_supported(d) {
        "passed"
    } else {
        "skipped"
    }
}

#[test]
fn node_client_every_method_errors_and_too_large() {
    let mut d = Daemon::start();
    let sessions = session_verdict(&d);
    let out = node_test(&d, &[("PVAULT_TEST_DAEMON", "1".into()), node_path()]);
    let results = node_results(&out);
    check(
        "node --test",
        &out,
        &results,
        &[
            ("socket discovery follows the CLI rules", "passed"),
            ("every protocol method has a camelCase function", "passed"),
            (
                "pipelined requests are matched by id, whatever the answer order",
                "passed",
            ),
            (
                "an incoming line over the cap fails with too_large before it is buffered whole",
                "passed",
            ),
            (
                "a chunked export is reassembled from its chunk frames, whatever arrives between them",
                "passed",
            ),
            (
                "withProfile drives a real browser and ends the session when the callback throws",
                "passed",
            ),
            ("connect and hello", "passed"),
            ("status, and vault.unlock without a vault", "passed"),
            (
                "vault.init, conflict, lock, locked, auth_failed, unlock",
                "passed",
            ),
            ("profile methods", "passed"),
            (
                "profile.export formats: left_out names what Playwright cannot hold, pvault keeps it",
                "passed",
            ),
            (
                "pipelining: 64 requests in flight on one connection",
                "passed",
            ),
            (
                "vault verify reports an edited vault file as typed findings",
                "passed",
            ),
            (
                "vaultVerify gives typed findings, and none from a daemon older than 1.5",
                "passed",
            ),
            ("vault verify, backup, passwd with a key file", "passed"),
            ("session methods", sessions),
            ("a message over the size limit gives too_large", "passed"),
            ("daemon.shutdown", "passed"),
            (
                "log in with save, then find the login in the next session",
                "skipped",
            ),
        ],
    );
    assert_shut_down(&mut d);
}

#[test]
fn python_client_every_method_errors_and_too_large() {
    let mut d = Daemon::start();
    let sessions = session_verdict(&d);
    let out = python_test(&d, &[("PVAULT_TEST_DAEMON", "1".into())]);
    let results = python_results(&out);
    check(
        "python3 -m unittest",
        &out,
        &results,
        &[
            ("test_socket_discovery_follows_the_cli_rules", "passed"),
            ("test_every_method_exists_in_both_clients", "passed"),
            ("test_pipelined_answers_in_reverse_order", "passed"),
            ("test_default_limit_accepts_lines_over_64_kib", "passed"),
            ("test_chunked_export_is_reassembled", "passed"),
            ("test_async_chunked_export_is_reassembled", "passed"),
            ("test_sync_session", "passed"),
            ("test_async_session", "passed"),
            ("test_1_sync_client_every_method", sessions),
            ("test_2_async_client_every_method", sessions),
            ("test_3_too_large", "passed"),
            (
                "test_3a_verify_reports_an_edited_vault_file_as_typed_findings",
                "passed",
            ),
            ("test_verify_findings_sync_client", "passed"),
            ("test_verify_findings_async_client", "passed"),
            ("test_4_daemon_shutdown", "passed"),
            ("test_1_sync_login_with_save", "skipped"),
        ],
    );
    assert_shut_down(&mut d);
}

/// Where Node finds playwright-core (tests/node, installed by `npm ci`).
fn node_path() -> (&'static str, String) {
    (
        "NODE_PATH",
        pvault_testkit::node_dir()
            .join("node_modules")
            .display()
            .to_string(),
    )
}

/// The environment of the Playwright suites: the login server and where playwright-core is.
fn login_env(server: &TestServer) -> Vec<(&'static str, String)> {
    vec![
        ("PVAULT_TEST_LOGIN_ORIGIN", server.origin.clone()),
        ("PVAULT_TEST_LOGIN_SID", http::SID.to_owned()),
        ("PVAULT_TEST_LOGIN_TOKEN", http::TOKEN.to_owned()),
        node_path(),
    ]
}

#[test]
fn node_with_profile_logs_in_and_stays_logged_in() {
    let d = Daemon::start();
    d.init();
    let server = TestServer::start();
    let out = node_test(&d, &login_env(&server));
    let results = node_results(&out);
    check(
        "node --test (Playwright)",
        &out,
        &results,
        &[
            (
                "log in with save, then find the login in the next session",
                "passed",
            ),
            (
                "the session ends when the callback throws, and the error comes through",
                "passed",
            ),
            (
                "a health definition, a check and a profile.health event",
                "passed",
            ),
            ("profile methods", "skipped"),
        ],
    );
    assert!(
        server
            .cookies_sent_to("/whoami")
            .iter()
            .any(|c| c.contains(http::SID)),
        "the second session's browser never sent the saved login cookie"
    );
}

#[test]
fn python_sessions_log_in_and_stay_logged_in() {
    let d = Daemon::start();
    d.init();
    let server = TestServer::start();
    let out = python_test(&d, &login_env(&server));
    let results = python_results(&out);
    check(
        "python3 -m unittest (Playwright)",
        &out,
        &results,
        &[
            ("test_1_sync_login_with_save", "passed"),
            ("test_2_async_finds_itself_logged_in", "passed"),
            ("test_3_session_ends_when_the_block_raises", "passed"),
            ("test_4_health_definition_check_and_event", "passed"),
            ("test_3_too_large", "skipped"),
        ],
    );
    assert!(
        server
            .cookies_sent_to("/whoami")
            .iter()
            .any(|c| c.contains(http::SID)),
        "the second session's browser never sent the saved login cookie"
    );
}

/// Runs `systemd-analyze verify --user` on `units` (in `dir`), with a HOME whose
/// `~/.local/bin/pvaultd` is the built daemon (verify checks that ExecStart= is executable)
/// and a private runtime directory (a user manager needs one). Warnings fail: verify exits 0
/// on unknown keys and bad values, it only prints them.
fn systemd_verify(dir: &Path, units: &[&str]) {
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".local/bin")).unwrap();
    let link = home.join(".local/bin/pvaultd");
    if !link.exists() {
        std::os::unix::fs::symlink(support::bin("pvaultd"), &link).unwrap();
    }
    let runtime = dir.join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--user", "--man=no"])
        .args(units)
        .current_dir(dir)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("SYSTEMD_UNIT_PATH")
        .output()
        .expect("systemd-analyze is missing: install Debian's `systemd` package (.ci/run does)");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "systemd-analyze verify {units:?} ({}):\n{}",
        out.status,
        text(&out)
    );
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let src = repo().join("packaging/systemd");
    let service = std::fs::read_to_string(src.join("pvaultd.service")).unwrap();
    let socket = std::fs::read_to_string(src.join("pvaultd.socket")).unwrap();
    for (k, v) in [("pvaultd.service", &service), ("pvaultd.socket", &socket)] {
        std::fs::write(tmp.path().join(k), v).unwrap();
    }
    systemd_verify(tmp.path(), &["pvaultd.socket", "pvaultd.service"]);

    // The same with the unattended-unlock lines enabled, as the README tells users to do.
    let variant = tmp.path().join("keyfile");
    std::fs::create_dir_all(&variant).unwrap();
    assert!(service.contains("#LoadCredential=pvault-keyfile:"));
    std::fs::write(
        variant.join("pvaultd.service"),
        service
            .replace("#LoadCredential=", "LoadCredential=")
            .replace("#Environment=PVAULT_KEYFILE", "Environment=PVAULT_KEYFILE"),
    )
    .unwrap();
    std::fs::write(variant.join("pvaultd.socket"), &socket).unwrap();
    systemd_verify(&variant, &["pvaultd.socket", "pvaultd.service"]);

    // The checks the units exist for, so an edit cannot drop them unnoticed.
    for line in [
        "Type=notify",
        "KillMode=mixed",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "LimitCORE=0",
        "LockPersonality=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
    ] {
        assert!(
            service.lines().any(|l| l == line),
            "pvaultd.service lacks {line}"
        );
    }
    for bad in [
        "MemoryDenyWriteExecute=",
        "RestrictNamespaces=",
        "PrivateUsers=",
    ] {
        assert!(
            !service.lines().any(|l| l.starts_with(bad)),
            "pvaultd.service sets {bad}, which breaks Chromium"
        );
    }
    for line in [
        "ListenStream=%t/pvault/pvaultd.sock",
        "SocketMode=0600",
        "DirectoryMode=0700",
    ] {
        assert!(
            socket.lines().any(|l| l == line),
            "pvaultd.socket lacks {line}"
        );
    }
}

/// Restarts `d` with `env` added to the daemon's environment, and returns whether its vault is
/// locked as the first client finds it.
fn restart_locked(d: Daemon, env: Vec<(String, String)>) -> (Daemon, bool) {
    let mut d = d;
    if d.child.is_some() {
        assert!(
            d.terminate().success(),
            "pvaultd did not exit cleanly on SIGTERM"
        );
    }
    d.opts.env = env;
    let d = d.spawn();
    let status = d.json(&["status"]);
    let locked = status["locked"]
        .as_bool()
        .expect("status has a boolean `locked`");
    (d, locked)
}

#[test]
fn unattended_unlock_with_a_key_file_from_a_path_or_systemd_credentials() {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;

    let d = Daemon::start();
    d.init();
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut key)
        .unwrap();
    let key_path = d.path("keyfile");
    std::fs::write(&key_path, key).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    d.json(&[
        "passwd",
        "--passphrase-file",
        d.path("passphrase").to_str().unwrap(),
        "--new-keyfile",
        key_path.to_str().unwrap(),
    ]);

    // Without a key file the restarted daemon is locked: the next checks mean something.
    let (d, locked) = restart_locked(d, vec![]);
    assert!(
        locked,
        "a restarted daemon without a key file must be locked"
    );

    // PVAULT_KEYFILE: a path.
    let (d, locked) = restart_locked(
        d,
        vec![("PVAULT_KEYFILE".into(), key_path.display().to_string())],
    );
    assert!(!locked, "PVAULT_KEYFILE did not unlock the vault at start");

    // systemd credentials: $CREDENTIALS_DIRECTORY/pvault-keyfile (as LoadCredential= gives it).
    let creds = d.path("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("pvault-keyfile"), key).unwrap();
    std::fs::set_permissions(
        creds.join("pvault-keyfile"),
        std::fs::Permissions::from_mode(0o400),
    )
    .unwrap();
    let (d, locked) = restart_locked(
        d,
        vec![("CREDENTIALS_DIRECTORY".into(), creds.display().to_string())],
    );
    assert!(
        !locked,
        "$CREDENTIALS_DIRECTORY/pvault-keyfile did not unlock the vault at start"
    );
    // The vault opened with the key file really is usable.
    d.json(&["profile", "create", "unattended"]);

    // A wrong key file: the daemon still starts and serves, locked.
    let wrong = d.path("wrong-key");
    std::fs::write(&wrong, [9u8; 32]).unwrap();
    let (d, locked) = restart_locked(
        d,
        vec![("PVAULT_KEYFILE".into(), wrong.display().to_string())],
    );
    assert!(locked, "a wrong key file must leave the vault locked");
    drop(d);
}

/// `packaging/generate.sh` produces completions for bash, zsh and fish and the man pages from
/// the built CLI; each script is syntax-checked by its shell when that shell is installed
/// (bash always is), and every command of the CLI has its man page.
#[test]
fn generate_sh_writes_completions_and_man_pages() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(repo().join("packaging/generate.sh"))
        .arg(out_dir.path())
        .env("PVAULT", support::bin("pvault"))
        .output()
        .expect("run packaging/generate.sh");
    assert!(out.status.success(), "generate.sh failed:\n{}", text(&out));
    let comp = out_dir.path().join("completions");
    for (file, shell, marker) in [
        ("pvault.bash", "bash", "complete -F _pvault"),
        ("_pvault", "zsh", "#compdef pvault"),
        ("pvault.fish", "fish", "complete -c pvault"),
    ] {
        let script = std::fs::read_to_string(comp.join(file)).unwrap();
        assert!(script.contains(marker), "{file} lacks {marker:?}");
        assert!(
            script.contains("profile"),
            "{file} does not complete `profile`"
        );
        match Command::new(shell).arg("-n").arg(comp.join(file)).output() {
            Ok(check) => assert!(
                check.status.success(),
                "{shell} -n {file}:\n{}",
                text(&check)
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && shell != "bash" => {
                eprintln!("{shell} is not installed: {file} checked for content only")
            }
            Err(e) => panic!("cannot run {shell}: {e}"),
        }
    }
    let man = out_dir.path().join("man");
    let top = std::fs::read_to_string(man.join("pvault.1")).expect("pvault.1");
    assert!(
        top.contains(".TH pvault 1"),
        "pvault.1 is not a man page:\n{top}"
    );
    for page in [
        "pvault-init.1",
        "pvault-unlock.1",
        "pvault-status.1",
        "pvault-profile.1",
        "pvault-profile-create.1",
        "pvault-daemon-start.1",
    ] {
        let text = std::fs::read_to_string(man.join(page))
            .unwrap_or_else(|e| panic!("{page} was not generated: {e}"));
        assert!(text.contains(".SH NAME"), "{page} has no NAME section");
    }
    assert!(
        !man.join("pvault-man.1").exists(),
        "the hidden `man` command must not get a page"
    );
}
