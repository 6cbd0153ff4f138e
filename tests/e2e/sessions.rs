//! Browser sessions through the CLI (`pvault session …`, `pvault run`) with the real daemon and
//! real Chromium: list/show/stop shapes, read-only sessions leave the profile unchanged, the
//! single-writer rule (`busy` naming the holder), loading into a running session, attaching to
//! a Chromium started separately, session and partitioned cookies through save and reload,
//! `run` forwarding Ctrl-C and still ending its session, and a missing Chrome (exit 8).
//! Playwright-driven flows are in `playwright.rs`.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::cdp::{self, Cdp};
use crate::support::daemon::{Daemon, DaemonOpts};
use crate::support::http::{SID, TOKEN, TestServer};
use crate::support::session::{Interactive, cookie_value, login_state, node_json, storage_value};
use crate::support::{chrome, wait_for};

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

#[test]
fn list_show_and_stop_report_the_session() {
    let d = daemon();
    let s = d.session_start(&[]);
    let sid = id(&s);
    assert!(
        s["pid"].as_u64().is_some_and(|p| p > 0),
        "a launched browser has a pid: {s}"
    );
    assert_eq!(s["save"], false);
    assert_eq!(s["load"], Value::Null, "no profile, nothing loaded: {s}");
    // The CDP URL answers a real CDP command.
    let mut cdp = Cdp::connect(s["cdp_ws_url"].as_str().unwrap()).expect("cdp_ws_url is usable");
    assert!(cdp.call("Browser.getVersion", json!({})).unwrap()["product"].is_string());

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

    let stop = d.session_stop(&sid, &["--discard"]);
    assert_eq!(stop["session_id"], sid.as_str());
    assert_eq!(
        stop["snapshot"],
        Value::Null,
        "--discard saves nothing: {stop}"
    );
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

#[test]
fn read_only_session_leaves_the_profile_unchanged() {
    let d = daemon();
    let server = TestServer::start();
    d.import("ro", &login_state(&server));
    let before_ids = d.history_ids("ro");
    let before = d.export("ro");

    let s = d.session_start(&["--profile", "ro"]);
    assert_eq!(s["save"], false);
    assert!(
        s["load"]["cookies_loaded"].as_u64() >= Some(1),
        "profile loaded: {s}"
    );
    // Change the browser's state: a new login sets `theme` and rewrites localStorage.
    let mut cdp = Cdp::connect(s["cdp_ws_url"].as_str().unwrap()).unwrap();
    cdp.set_cookies(json!([{"name": "extra", "value": "x", "domain": "127.0.0.1", "path": "/"}]));
    node_json("login.js", &server, s["cdp_ws_url"].as_str().unwrap());

    let stop = d.session_stop(&id(&s), &[]);
    assert_eq!(
        stop["snapshot"],
        Value::Null,
        "a read-only session saves nothing: {stop}"
    );
    assert_eq!(d.history_ids("ro"), before_ids, "history changed");
    assert_eq!(d.export("ro"), before, "stored state changed");
}

#[test]
fn a_second_save_session_is_busy_and_names_the_holder() {
    let d = daemon();
    d.json(&["profile", "create", "one"]);
    let first = d.session_start(&["--profile", "one", "--save"]);
    let holder = id(&first);
    assert_eq!(first["save"], true);

    let out = d.run(&["--json", "session", "start", "--profile", "one", "--save"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "second writer: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(&holder),
        "the error names the holder {holder}: {}",
        stderr(&out)
    );
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["code"], "busy");

    // Readers are not writers: any number run beside it, each in its own browser.
    let reader = d.session_start(&["--profile", "one"]);
    assert_ne!(reader["cdp_ws_url"], first["cdp_ws_url"]);
    assert_ne!(reader["pid"], first["pid"]);
    d.session_stop(&id(&reader), &[]);

    // Once the writer stops, the next one may start.
    d.session_stop(&holder, &[]);
    let next = d.session_start(&["--profile", "one", "--save"]);
    d.session_stop(&id(&next), &["--discard"]);
}

#[test]
fn a_profile_loads_into_a_running_session_once() {
    let d = daemon();
    let server = TestServer::start();
    // The login, plus a session cookie (no expiry): both kinds must be loaded and stay.
    let mut state = login_state(&server);
    state["cookies"].as_array_mut().unwrap().push(json!({
        "name": "visit", "value": "v-visit", "domain": "127.0.0.1", "path": "/", "expires": -1,
        "httpOnly": false, "secure": false, "sameSite": "Lax"
    }));
    d.import("ld", &state);
    let s = d.session_start(&[]);
    let sid = id(&s);
    let url = s["cdp_ws_url"].as_str().unwrap().to_owned();
    // An unknown profile is not_found and leaves the session without one.
    assert_eq!(
        d.run(&["session", "load", &sid, "--profile", "nope"])
            .status
            .code(),
        Some(3)
    );

    let loaded = d.json(&["session", "load", &sid, "--profile", "ld"]);
    assert_eq!(loaded["load"]["cookies_loaded"], 2, "{loaded}");
    assert_eq!(loaded["load"]["origins_loaded"], 1, "{loaded}");
    assert_eq!(loaded["load"]["failures"], json!([]));
    let seen = node_json("check.js", &server, &url);
    assert_eq!(seen["whoami"], format!("user:{SID}"));
    assert_eq!(seen["app"], format!("token:{TOKEN}"));
    let sent = server.cookies_sent_to("/whoami");
    assert!(
        sent.iter().any(|c| c.contains(&format!("sid={SID}"))),
        "{sent:?}"
    );
    assert!(
        sent.iter().any(|c| c.contains("visit=v-visit")),
        "the session cookie loaded into the running session was lost: {sent:?}"
    );

    // The session has a profile now: loading another is a clear conflict.
    let again = d.run(&["session", "load", &sid, "--profile", "ld"]);
    assert_eq!(
        again.status.code(),
        Some(4),
        "second load: {}",
        stderr(&again)
    );

    d.session_stop(&sid, &[]);
}

/// A Chromium the user started themselves, killed when the test ends.
struct OwnBrowser {
    /// The Chromium process.
    child: std::process::Child,
    /// Its user-data-dir.
    _dir: tempfile::TempDir,
    /// Its debugging port.
    port: u16,
    /// Its browser WebSocket URL.
    ws: String,
}

impl OwnBrowser {
    fn launch() -> OwnBrowser {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(chrome())
            .args(cdp::chromium_args(dir.path()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("launch chromium");
        let (port, path) = wait_for("DevToolsActivePort", Duration::from_secs(30), || {
            cdp::active_port(dir.path())
        });
        OwnBrowser {
            child,
            _dir: dir,
            port,
            ws: format!("ws://127.0.0.1:{port}{path}"),
        }
    }
}

impl Drop for OwnBrowser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn attach_captures_loads_and_detaches_leaving_the_browser_running() {
    let d = daemon();
    let server = TestServer::start();
    let mut own = OwnBrowser::launch();
    let mut cdp = Cdp::connect(&own.ws).unwrap();
    cdp.set_cookies(
        json!([{"name": "mine", "value": "v-mine", "domain": "attach.test", "path": "/",
                            "secure": true, "expires": 4_000_000_000.0}]),
    );

    let a = d.json(&[
        "session",
        "attach",
        "--cdp",
        &format!("http://127.0.0.1:{}", own.port),
    ]);
    let sid = id(&a);
    assert_eq!(a["attached"], true, "{a}");
    assert_eq!(
        a["pid"],
        Value::Null,
        "an attached browser is not ours: {a}"
    );

    let cap = d.json(&["session", "capture", &sid, "--into", "grabbed"]);
    assert_eq!(cap["profile"], "grabbed");
    assert!(cap["snapshot"]["cookie_count"].as_u64() >= Some(1), "{cap}");
    let state = d.export("grabbed");
    let mine = state["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mine");
    assert_eq!(
        mine.map(|c| &c["value"]),
        Some(&json!("v-mine")),
        "captured: {state}"
    );

    d.import("login", &login_state(&server));
    let loaded = d.json(&["session", "load", &sid, "--profile", "login"]);
    assert_eq!(loaded["load"]["cookies_loaded"], 1, "{loaded}");
    assert!(
        cdp.cookies()
            .iter()
            .any(|c| c["name"] == "sid" && c["value"] == SID)
    );

    let stop = d.session_stop(&sid, &[]);
    assert_eq!(stop["session_id"], sid.as_str());
    assert!(
        own.child.try_wait().unwrap().is_none(),
        "detaching killed the user's browser"
    );
    let mut again = Cdp::connect(&own.ws).expect("the browser still answers after detach");
    assert!(again.call("Browser.getVersion", json!({})).is_ok());
    assert!(again.cookies().iter().any(|c| c["name"] == "mine"));
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
        .arg(crate::support::node_dir().join("wait-signal.js"))
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

#[test]
fn capture_into_a_new_profile_and_stop_names_the_saved_snapshot() {
    let d = daemon();
    let server = TestServer::start();
    d.json(&["profile", "create", "w"]);
    let s = d.session_start(&[
        "--profile",
        "w",
        "--save",
        "--start-url",
        &server.url("/login"),
    ]);
    let url = s["cdp_ws_url"].as_str().unwrap().to_owned();
    // The start page logs in by itself; wait until the browser holds its cookie.
    let mut cdp = Cdp::connect(&url).unwrap();
    wait_for(
        "the start page's login cookie",
        Duration::from_secs(30),
        || {
            cdp.cookies()
                .iter()
                .any(|c| c["name"] == "sid")
                .then_some(())
        },
    );
    let people = d.cli().args(["session", "stop", &id(&s)]).output().unwrap();
    assert!(people.status.success(), "{}", stderr(&people));
    let text = String::from_utf8_lossy(&people.stdout);
    let newest = &d.history_ids("w")[0];
    assert!(
        text.contains(&newest[..8]),
        "stop names the saved snapshot {newest}: {text}"
    );
    let state = d.export("w");
    assert_eq!(cookie_value(&state, "sid"), Some(SID));
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
