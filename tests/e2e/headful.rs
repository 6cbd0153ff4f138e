//! Headful sessions under Xvfb: a person closing the last window ends a `--save`
//! session with its latest state saved (reason `browser_closed`, a `session_save` snapshot
//! holding a session cookie, a persistent cookie and a localStorage item made in the page, no
//! checkpoint left, the session directory and Chrome gone); headful sessions have no
//! inactivity timeout unless `--timeout` is given. Each test runs its own Xvfb; the window is
//! closed with `WM_DELETE_WINDOW`, what a window manager's close button sends.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pvault_testkit::{Cdp, SID, TOKEN, TestServer, wait_for};
use serde_json::{Value, json};

use crate::support::daemon::{Daemon, DaemonOpts};
use crate::support::session::{cookie_value, storage_value};
use crate::support::xvfb::Xvfb;

/// A session cookie (no expiry) the test sets in the page: it must survive the window closing.
const SESSION_COOKIE: (&str, &str) = ("hf_session", "hf-session-7e1c-secret");
/// A persistent cookie the test sets in the page.
const PERSISTENT_COOKIE: (&str, &str) = ("hf_persist", "hf-persist-2b9d-secret");
/// A localStorage item the test sets in the page.
const ITEM: (&str, &str) = ("hf_item", "hf-item-04aa-secret");

/// A daemon whose sessions show their windows on `x`.
fn daemon_on(x: &Xvfb) -> Daemon {
    let d = Daemon::start_with(DaemonOpts {
        env: vec![("DISPLAY".into(), x.display.clone())],
        ..DaemonOpts::default()
    });
    d.init();
    d
}

/// `pvault --json session show ID`'s session.
fn show(d: &Daemon, id: &str) -> Value {
    d.json(&["session", "show", id])["session"].clone()
}

/// The profile's newest snapshot as storageState, `None` while it has none.
fn try_export(d: &Daemon, profile: &str) -> Option<Value> {
    let out = d.run(&["profile", "export", profile]);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("export prints JSON"))
}

/// Every process whose command line mentions `dir` (Chrome and its helpers all carry the
/// session's `--user-data-dir`).
fn processes_using(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).contains(&needle))
                .unwrap_or(false)
        })
        .collect()
}

/// A subscriber to the daemon's events over a raw protocol connection (hello, subscribe).
struct Events {
    /// Events as they arrive, parsed.
    rx: mpsc::Receiver<Value>,
}

impl Events {
    /// Connects, subscribes and reads events on a thread.
    fn subscribe(d: &Daemon) -> Events {
        let mut s = UnixStream::connect(d.socket()).expect("connect to pvaultd");
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        for req in [
            json!({"id": 1, "method": "hello", "params": {"protocol": 1, "client": "e2e headful"}}),
            json!({"id": 2, "method": "subscribe", "params": {}}),
        ] {
            writeln!(s, "{req}").unwrap();
            line.clear();
            r.read_line(&mut line).unwrap();
            let v: Value = serde_json::from_str(&line).expect("daemon answers JSON");
            assert!(v.get("result").is_some(), "{req}: {line}");
        }
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _keep = s;
            for l in r.lines() {
                let Ok(l) = l else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&l)
                    && v.get("event").is_some()
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        Events { rx }
    }

    /// The next event about session `id` whose name is one of `names`, as `(name, data)`;
    /// panics after `timeout`.
    fn next(&self, names: &[&str], id: &str, timeout: Duration) -> (String, Value) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = self
                .rx
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no {names:?} event for {id} within {timeout:?}: {e}"));
            let name = ev["event"].as_str().unwrap_or_default();
            if names.contains(&name) && ev["data"]["session_id"] == id {
                return (name.to_owned(), ev["data"].clone());
            }
        }
    }
}

/// One page of a session, driven over the session's CDP relay URL (flattened target session).
struct Page {
    /// The relay connection.
    cdp: Cdp,
    /// CDP session id of the attached page.
    session: String,
}

impl Page {
    /// Connects to `cdp_ws_url` and attaches to the page whose URL is `url` (waiting for it).
    fn attach(cdp_ws_url: &str, url: &str) -> Page {
        let mut cdp = Cdp::connect(cdp_ws_url).expect("connect to the CDP relay");
        let target = wait_for(&format!("a page at {url}"), Duration::from_secs(30), || {
            cdp.page_at(url)
        });
        let session = cdp.attach(&target);
        Page { cdp, session }
    }

    /// Evaluates `expr` in the page and returns its value.
    fn eval(&mut self, expr: &str) -> Value {
        self.cdp.eval(&self.session, expr)
    }
}

#[test]
fn closing_the_window_of_a_headful_save_session_saves_its_state() {
    let x = Xvfb::start();
    let d = daemon_on(&x);
    let server = TestServer::start();
    let events = Events::subscribe(&d);
    d.json(&["profile", "create", "hf"]);
    let login = server.url("/login");
    let s = d.session_start(&[
        "--profile",
        "hf",
        "--save",
        "--headful",
        "--start-url",
        &login,
    ]);
    let id = s["session_id"].as_str().unwrap().to_owned();
    let pid = show(&d, &id)["pid"]
        .as_u64()
        .expect("a launched session has a pid") as u32;
    let sessions_dir = d.socket().parent().unwrap().join("sessions");
    let dir = sessions_dir.join(&id);
    assert!(
        dir.exists(),
        "the session has its directory {}",
        dir.display()
    );

    // The login page ran (its cookies and localStorage are set), then the page changes state:
    // a session cookie, a persistent one and a localStorage item.
    wait_for("the login page request", Duration::from_secs(30), || {
        server
            .seen
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.path == "/login")
            .then_some(())
    });
    let mut page = Page::attach(s["cdp_ws_url"].as_str().unwrap(), &login);
    wait_for("the login script to run", Duration::from_secs(30), || {
        (page.eval("document.title") == "logged-in").then_some(())
    });
    let (sc, sv) = SESSION_COOKIE;
    let (pc, pv) = PERSISTENT_COOKIE;
    let (ik, iv) = ITEM;
    page.eval(&format!(
        "document.cookie = '{sc}={sv}; path=/'; \
         document.cookie = '{pc}={pv}; path=/; max-age=3600'; \
         localStorage.setItem('{ik}', '{iv}'); 1"
    ));
    drop(page);

    // A checkpoint holds the change before the window closes (the guarantee is "at most the
    // last 5 s lost"; this test is about closing, not about that window).
    wait_for(
        "a checkpoint holding the page's changes",
        Duration::from_secs(30),
        || {
            let st = try_export(&d, "hf")?;
            (cookie_value(&st, sc) == Some(sv)
                && storage_value(&st, &server.origin, ik) == Some(iv))
            .then_some(())
        },
    );
    let cp = show(&d, &id)["checkpoints"].clone();
    assert!(cp["written"].as_u64().unwrap_or(0) >= 1, "{cp}");
    let h = d.json(&["profile", "history", "hf"]);
    assert_eq!(h["snapshots"][0]["kind"], "checkpoint", "{h}");

    // A person closes the window.
    assert!(x.close_windows_of(pid) >= 1);
    // Whichever comes first: a crash must fail here, not time out.
    let (name, ended) = events.next(
        &["session.ended", "session.crashed"],
        &id,
        Duration::from_secs(30),
    );
    assert_eq!(
        name, "session.ended",
        "a closed window is not a crash: {ended}"
    );
    assert_eq!(ended["reason"], "browser_closed", "{ended}");
    assert_eq!(ended["snapshot"]["kind"], "session_save", "{ended}");
    let info = show(&d, &id);
    assert_eq!(info["state"], "ended", "{info}");

    let h = d.json(&["profile", "history", "hf"]);
    let snaps = h["snapshots"].as_array().expect("snapshots");
    assert_eq!(snaps[0]["kind"], "session_save", "{h}");
    assert_eq!(snaps[0]["id"], ended["snapshot"]["id"], "{h}");
    assert!(
        snaps.iter().all(|s| s["kind"] != "checkpoint"),
        "the final snapshot collapsed the session's checkpoint: {h}"
    );
    let st = d.export("hf");
    assert_eq!(cookie_value(&st, "sid"), Some(SID), "{st}");
    assert_eq!(
        cookie_value(&st, sc),
        Some(sv),
        "the session cookie survived the window closing: {st}"
    );
    assert_eq!(cookie_value(&st, pc), Some(pv), "{st}");
    assert_eq!(storage_value(&st, &server.origin, "token"), Some(TOKEN));
    assert_eq!(storage_value(&st, &server.origin, ik), Some(iv), "{st}");

    wait_for(
        "the session directory to be removed",
        Duration::from_secs(20),
        || (!dir.exists()).then_some(()),
    );
    wait_for(
        "Chrome and its helpers to be gone",
        Duration::from_secs(20),
        || {
            (!Path::new(&format!("/proc/{pid}")).exists() && processes_using(&dir).is_empty())
                .then_some(())
        },
    );
}

#[test]
fn headful_sessions_have_no_default_inactivity_timeout() {
    let x = Xvfb::start();
    let d = daemon_on(&x);
    let server = TestServer::start();
    let url = server.url("/app");

    let s = d.session_start(&["--headful", "--start-url", &url]);
    let id = s["session_id"].as_str().unwrap().to_owned();
    let info = show(&d, &id);
    assert_eq!(info["state"], "running", "{info}");
    assert!(
        info.get("timeout_secs").is_none() && info.get("timeout_left_secs").is_none(),
        "a headful session without --timeout has no inactivity timeout: {info}"
    );
    d.session_stop(&id, &[]);

    let s = d.session_start(&["--headful", "--start-url", &url, "--timeout", "30"]);
    let id = s["session_id"].as_str().unwrap().to_owned();
    let info = show(&d, &id);
    assert_eq!(info["timeout_secs"], 30, "{info}");
    let left = info["timeout_left_secs"]
        .as_u64()
        .expect("time left is shown");
    assert!(left <= 30, "{info}");
    d.session_stop(&id, &[]);

    // A headless session gets the default (300) for comparison: the rule is about headful.
    let s = d.session_start(&[]);
    let id = s["session_id"].as_str().unwrap().to_owned();
    assert_eq!(show(&d, &id)["timeout_secs"], 300);
    d.session_stop(&id, &[]);
}
