//! Browser sessions through the CLI (`pvault session …`, `pvault run`) with the real daemon and
//! real Chromium, as far as the CLI shows them: one session's documents and exit codes
//! (single writer, load, capture, stop), `session attach`'s refusals, session and partitioned
//! cookies through save and reload, `run` forwarding Ctrl-C and still ending its session, and
//! a missing Chrome (exit 8). What the protocol does in each case is checked once, in the
//! daemon's tests (`crates/daemon/tests/it/sessions`); Playwright-driven flows are in
//! `playwright.rs`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use pvault_testkit::{Cdp, SID, TOKEN, TestServer, wait_for};

use crate::support::daemon::{Daemon, DaemonOpts};
use crate::support::session::{Interactive, cookie_value, login_state, storage_value};

/// A daemon with an unlocked vault.
fn daemon() -> Daemon {
    let d = Daemon::start();
    d.init();
    d
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn id(doc: &Value) -> String {
    doc["session_id"].as_str().expect("session_id").to_owned()
}

/// What a person or a script sees of one session through the CLI: the start document, list
/// and show, the exit codes of the single-writer rule (5, naming the holder), of loading into
/// a session that has a profile (4) or an unknown profile (3), capture into a new profile,
/// and a stop that names the snapshot it saved. The rules themselves (who may write, what a
/// load or a capture puts where) are the daemon's tests; this is one browser for all of it.
#[test]
fn one_session_through_the_cli_shapes_and_exit_codes() {
    let d = daemon();
    let server = TestServer::start();
    let s = d.session_start(&[
        "--profile",
        "w",
        "--save",
        "--start-url",
        &server.url("/login"),
    ]);
    let sid = id(&s);
    assert!(
        s["pid"].as_u64().is_some_and(|p| p > 0),
        "a launched browser has a pid: {s}"
    );
    assert_eq!(s["save"], true);
    assert_eq!(
        s["profile_created"], true,
        "--save creates the profile: {s}"
    );
    // The CDP URL answers a real CDP command; the start page logs in by itself.
    let mut cdp = Cdp::connect(s["cdp_ws_url"].as_str().unwrap()).expect("cdp_ws_url is usable");
    assert!(cdp.call("Browser.getVersion", json!({})).unwrap()["product"].is_string());
    wait_for(
        "the start page's login cookie",
        Duration::from_secs(30),
        || cdp.cookies().iter().any(|c| c["name"] == "sid"),
    );

    let list = d.json(&["session", "list"]);
    let ids: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["session_id"].as_str())
        .collect();
    assert_eq!(ids, [sid.as_str()]);
    let show = d.json(&["session", "show", &sid]);
    assert_eq!(show["session"]["cdp_ws_url"], s["cdp_ws_url"]);
    let people = d.run(&["session", "list"]);
    assert!(String::from_utf8_lossy(&people.stdout).contains(&sid));

    let out = d.run(&["--json", "session", "start", "--profile", "w", "--save"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "second writer: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(&sid),
        "the error names the holder {sid}: {}",
        stderr(&out)
    );
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["code"], "busy");

    let nope = d.run(&["session", "load", &sid, "--profile", "nope"]);
    assert_eq!(nope.status.code(), Some(3), "{}", stderr(&nope));
    let again = d.run(&["session", "load", &sid, "--profile", "w"]);
    assert_eq!(again.status.code(), Some(4), "{}", stderr(&again));

    let cap = d.json(&["session", "capture", &sid, "--into", "grabbed"]);
    assert_eq!(cap["profile"], "grabbed", "{cap}");
    assert_eq!(cap["snapshot"]["kind"], "capture", "{cap}");
    assert_eq!(cookie_value(&d.export("grabbed"), "sid"), Some(SID));

    let stop = d.cli().args(["session", "stop", &sid]).output().unwrap();
    assert!(stop.status.success(), "{}", stderr(&stop));
    let text = String::from_utf8_lossy(&stop.stdout);
    let newest = &d.history_ids("w")[0];
    assert!(
        text.contains(&newest[..8]),
        "stop names the saved snapshot {newest}: {text}"
    );
    assert_eq!(cookie_value(&d.export("w"), "sid"), Some(SID));

    // A stopped session leaves the list; `show` still tells how it ended; stopping it again
    // (or an unknown id) is not_found.
    assert_eq!(d.json(&["session", "list"])["sessions"], json!([]));
    assert_eq!(
        d.json(&["session", "show", &sid])["session"]["state"],
        "ended"
    );
    assert_eq!(d.run(&["session", "stop", &sid]).status.code(), Some(3));
    assert_eq!(
        d.run(&["session", "stop", "s0123456789ab"]).status.code(),
        Some(3)
    );
}

/// `session attach --cdp` as the CLI reports it: a host that is not this machine is a usage
/// error (2), nothing listening is a browser error (8). Attaching to a real browser, capturing
/// from it and detaching are the daemon's tests.
#[test]
fn attach_refuses_remote_and_dead_endpoints_with_their_exit_codes() {
    let d = daemon();
    let remote = d.run(&["session", "attach", "--cdp", "http://192.0.2.1:9222"]);
    assert_eq!(remote.status.code(), Some(2), "{}", stderr(&remote));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = d.run(&[
        "session",
        "attach",
        "--cdp",
        &format!("http://127.0.0.1:{port}"),
    ]);
    assert_eq!(dead.status.code(), Some(8), "{}", stderr(&dead));
    assert_eq!(d.json(&["session", "list"])["sessions"], json!([]));
}

/// The cookie fields that must survive a save and a reload exactly.
fn cookie_key(c: &Value) -> Value {
    let mut k = json!({});
    for f in [
        "name",
        "value",
        "domain",
        "path",
        "expires",
        "httpOnly",
        "secure",
        "session",
        "sameSite",
        "partitionKey",
        "priority",
        "sourceScheme",
    ] {
        k[f] = c.get(f).cloned().unwrap_or(Value::Null);
    }
    k
}

fn ours(cookies: Vec<Value>) -> Vec<Value> {
    let mut v: Vec<Value> = cookies
        .iter()
        .filter(|c| c["name"].as_str().is_some_and(|n| n.starts_with("rt-")))
        .map(cookie_key)
        .collect();
    v.sort_by_key(|c| format!("{}|{}|{}", c["name"], c["domain"], c["partitionKey"]));
    v
}

#[test]
fn session_and_partitioned_cookies_survive_save_and_reload() {
    let d = daemon();
    d.json(&["profile", "create", "rt"]);
    let s = d.session_start(&["--profile", "rt", "--save"]);
    let mut cdp = Cdp::connect(s["cdp_ws_url"].as_str().unwrap()).unwrap();
    let partition = json!({"topLevelSite": "https://top.test", "hasCrossSiteAncestor": true});
    let far = 4_000_000_000.5;
    cdp.set_cookies(json!([
        {"name": "rt-session", "value": "s", "domain": "app.rt.test", "path": "/", "secure": true,
         "httpOnly": true, "sameSite": "Lax"},
        {"name": "rt-persistent", "value": "p", "domain": ".rt.test", "path": "/", "secure": true,
         "sameSite": "Strict", "expires": far},
        {"name": "rt-partitioned", "value": "q", "domain": "embed.test", "path": "/", "secure": true,
         "sameSite": "None", "expires": far, "partitionKey": partition},
        {"name": "rt-partitioned-session", "value": "r", "domain": "embed.test", "path": "/",
         "secure": true, "sameSite": "None", "partitionKey": partition},
    ]));
    let set = ours(cdp.cookies());
    assert_eq!(set.len(), 4, "Chromium kept all four: {set:?}");
    assert!(
        set.iter().filter(|c| c["partitionKey"].is_object()).count() == 2,
        "{set:?}"
    );
    assert!(
        set.iter().filter(|c| c["session"] == true).count() == 2,
        "{set:?}"
    );
    drop(cdp);

    let stop = d.session_stop(&id(&s), &[]);
    assert!(
        stop["snapshot"]["cookie_count"].as_u64() >= Some(4),
        "saved: {stop}"
    );
    assert_eq!(stop["capture"]["failures"], json!([]), "{stop}");

    let s2 = d.session_start(&["--profile", "rt"]);
    assert_eq!(s2["load"]["failures"], json!([]), "{s2}");
    let mut cdp2 = Cdp::connect(s2["cdp_ws_url"].as_str().unwrap()).unwrap();
    assert_eq!(
        ours(cdp2.cookies()),
        set,
        "cookies changed through save and reload"
    );
    d.session_stop(&id(&s2), &[]);
}

#[test]
fn run_forwards_sigint_and_still_ends_and_saves_its_session() {
    let d = daemon();
    let server = TestServer::start();
    d.import("sig", &login_state(&server));
    let before = d.history_ids("sig");

    let mut cmd = d.cli();
    cmd.args(["run", "--profile", "sig", "--save", "--", "node"])
        .arg(pvault_testkit::node_dir().join("wait-signal.js"))
        .stderr(Stdio::piped());
    let mut run = Interactive::spawn(cmd);
    assert_eq!(run.read()["step"], "ready");
    assert_eq!(
        d.json(&["session", "list"])["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // SIGINT to pvault alone (no terminal here): pvault must survive it and pass it on.
    // SAFETY: kill(2) on our own child.
    unsafe { kill(run.child.id() as i32, 2) };
    let status = wait_for("pvault run to exit", Duration::from_secs(60), || {
        run.child.try_wait().unwrap()
    });
    let mut err = String::new();
    std::io::Read::read_to_string(run.child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "128 + SIGINT from the interrupted command: {status}\n{err}"
    );
    assert_eq!(
        d.json(&["session", "list"])["sessions"],
        json!([]),
        "the session ended"
    );
    let after = d.history_ids("sig");
    assert_eq!(
        after.len(),
        before.len() + 1,
        "the --save session was saved: {err}"
    );
    let state = d.export("sig");
    assert_eq!(storage_value(&state, &server.origin, "token"), Some(TOKEN));
}

#[test]
fn run_exits_127_when_the_command_does_not_exist_and_ends_the_session() {
    let d = daemon();
    let out = d.run(&["run", "--", "/nonexistent/command"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/command"),
        "{}",
        stderr(&out)
    );
    assert_eq!(d.json(&["session", "list"])["sessions"], json!([]));
}

#[test]
fn no_chrome_found_is_a_clear_browser_error_with_exit_8() {
    // Hide Debian's binary (the last place discovery looks) in a private mount namespace of
    // the daemon, point PVAULT_CHROME nowhere and give it a PATH without a browser.
    let empty = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(DaemonOpts {
        env: vec![
            ("PVAULT_CHROME".into(), "/nonexistent/chrome".into()),
            ("PATH".into(), empty.path().display().to_string()),
        ],
        wrapper: vec![
            "/usr/bin/unshare".into(),
            "-m".into(),
            "/bin/sh".into(),
            "-c".into(),
            "/usr/bin/mount -t tmpfs none /usr/lib/chromium && exec \"$0\" \"$@\"".into(),
        ],
        ..DaemonOpts::default()
    });
    d.init();
    d.json(&["profile", "create", "p"]);
    let out = d.run(&["--json", "session", "start", "--profile", "p"]);
    let msg = stderr(&out);
    assert_eq!(out.status.code(), Some(8), "{msg}");
    assert!(
        msg.contains("/nonexistent/chrome"),
        "the error names what was tried: {msg}"
    );
    assert!(
        msg.contains("PVAULT_CHROME"),
        "the error says how to fix it: {msg}"
    );
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["code"], "browser_error");
    let run = d.run(&["run", "--", "true"]);
    assert_eq!(run.status.code(), Some(8), "{}", stderr(&run));
    assert_eq!(d.json(&["session", "list"])["sessions"], json!([]));
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
