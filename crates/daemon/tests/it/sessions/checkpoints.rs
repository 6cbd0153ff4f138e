//! Crash-safe checkpoints against real Chromium: `kill -9` of Chrome keeps a
//! checkpoint holding a change made 5 s before (a cookie set by script, which raises no CDP
//! event, so only the checkpoint timer can see it); `kill -9` of the daemon leaves no Chrome
//! process and no directory after a restart, and its checkpoint is in the history; a browser
//! that closes on its own (`Browser.close` from a client through the relay) ends the session
//! with its exact final state saved (the relay holds the close until the daemon captured) and
//! the checkpoint collapsed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::support::*;
use super::{history, id_of, start};
use crate::harness::{Env, wait_for};

/// Every process whose command line mentions `dir` (Chrome and its helpers all carry the
/// session's `--user-data-dir`).
fn processes_using(dir: &std::path::Path) -> Vec<u32> {
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

/// Attaches to the session's page that is at `path` of the test server.
fn page_at(cdp: &mut Cdp, srv: &TestServer, path: &str) -> String {
    let url = srv.url(path);
    let target = cdp
        .page_at(&url)
        .unwrap_or_else(|| panic!("no page at {url}: {:?}", cdp.page_urls()));
    cdp.attach(&target)
}

fn cookie<'a>(state: &'a Value, name: &str) -> Option<&'a str> {
    state["cookies"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)?["value"]
        .as_str()
}

fn item<'a>(state: &'a Value, origin: &str, key: &str) -> Option<&'a str> {
    state["origins"]
        .as_array()?
        .iter()
        .find(|o| o["origin"] == origin)?["localStorage"]
        .as_array()?
        .iter()
        .find(|i| i["name"] == key)?["value"]
        .as_str()
}

/// Creates profile `acct` and starts a `save` session on it at the test server's login page.
fn logged_in_save_session(c: &mut crate::harness::Raw, srv: &TestServer) -> (Value, String) {
    c.ok("profile.create", json!({"name": "acct"}));
    let s = start(
        c,
        json!({"profile": "acct", "save": true, "start_url": srv.url("/login")}),
    );
    let id = id_of(&s);
    (s, id)
}

#[test]
fn kill_9_of_chrome_keeps_a_checkpoint_of_changes_made_5_s_before() {
    let env = Env::new();
    let srv = TestServer::start();
    let (d, mut c) = ready(&env);
    let mut ev = Events::subscribe(&d);
    let (s, id) = logged_in_save_session(&mut c, &srv);
    let pid = s["session"]["pid"].as_u64().unwrap() as i32;
    srv.wait("/done", 1);
    let mut cdp = Cdp::connect(s["session"]["cdp_ws_url"].as_str().unwrap()).unwrap();
    let page = page_at(&mut cdp, &srv, "/login");
    // A localStorage write (a DOMStorage event) gets a checkpoint soon.
    cdp.eval(&page, "localStorage.setItem('late', 'ls-1'), 1");
    let saved = ev.next("session.saved", &id);
    assert_eq!(saved["snapshot"]["kind"], "checkpoint", "{saved}");
    let stats = c.ok("session.show", json!({"session_id": id}))["session"]["checkpoints"].clone();
    assert!(stats["written"].as_u64().unwrap() >= 1, "{stats}");
    assert!(
        stats["captures"].as_u64() >= stats["written"].as_u64(),
        "{stats}"
    );
    assert!(stats["last_capture_ms"].is_u64(), "{stats}");
    // A cookie set by script raises no CDP event, and Chrome writes its cookie file only every
    // 30 s: only the checkpoint timer can see this one.
    cdp.eval(
        &page,
        "document.cookie = 'late=ck-1; path=/; max-age=3600', 1",
    );
    let changed_at = Instant::now();
    // Not a wait for readiness: the guarantee under test is about time ("a change made 5 s or
    // more before the kill"), so the test lets exactly that much time pass.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(changed_at.elapsed()));
    // SAFETY: kill a process this test's daemon started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let crashed = ev.next("session.crashed", &id);
    assert!(
        crashed["detail"].as_str().unwrap().contains("signal 9"),
        "{crashed}"
    );
    assert!(session_dirs(&env).is_empty(), "dir removed after the crash");

    let h = history(&mut c, "acct");
    assert_eq!(h.len(), 1, "one checkpoint for the session: {h:?}");
    assert_eq!(h[0]["kind"], "checkpoint");
    let state = c.ok("profile.export", json!({"name": "acct"}))["state"].clone();
    assert_eq!(cookie(&state, "sid"), Some(SID), "the login's cookie");
    assert_eq!(
        cookie(&state, "late"),
        Some("ck-1"),
        "the cookie set 5 s before the kill"
    );
    assert_eq!(item(&state, &srv.origin, "token"), Some(TOKEN));
    assert_eq!(item(&state, &srv.origin, "late"), Some("ls-1"));
}

#[test]
fn a_killed_daemon_leaves_no_process_or_directory_and_its_checkpoint_stays() {
    let env = Env::new();
    let srv = TestServer::start();
    let (mut d, mut c) = ready(&env);
    let mut ev = Events::subscribe(&d);
    let (s, id) = logged_in_save_session(&mut c, &srv);
    let pid = s["session"]["pid"].as_u64().unwrap() as u32;
    srv.wait("/done", 1);
    // The login's cookie and localStorage are in a checkpoint.
    wait_for(
        "a checkpoint holding the login",
        Duration::from_secs(30),
        || {
            let saved = ev.next("session.saved", &id);
            saved["snapshot"]["kind"] == "checkpoint"
                && c.ok("profile.export", json!({"name": "acct"}))["state"]["cookies"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|k| k["value"] == SID))
        },
    );
    let dir = sessions_dir(&env);
    assert!(!processes_using(&dir).is_empty());
    drop((c, ev));
    freeze(pid);
    d.signal(libc::SIGKILL);
    assert_eq!(d.wait(), None);
    assert!(alive(pid), "Chrome outlives kill -9 of its daemon");

    let d2 = start_daemon(&env, &[]);
    wait_for(
        "every process of the old session to be gone",
        Duration::from_secs(20),
        || processes_using(&dir).is_empty(),
    );
    wait_for(
        "the leftover directory to be removed",
        Duration::from_secs(20),
        || session_dirs(&env).is_empty(),
    );
    let mut c = d2.session();
    c.unlock();
    let h = history(&mut c, "acct");
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["kind"], "checkpoint");
    let state = c.ok("profile.export", json!({"name": "acct"}))["state"].clone();
    assert_eq!(cookie(&state, "sid"), Some(SID));
    assert_eq!(item(&state, &srv.origin, "token"), Some(TOKEN));
}

#[test]
fn a_browser_that_closes_itself_ends_the_session_with_its_newest_state_saved() {
    let env = Env::new();
    let srv = TestServer::start();
    let (d, mut c) = ready(&env);
    let mut ev = Events::subscribe(&d);
    let (s, id) = logged_in_save_session(&mut c, &srv);
    srv.wait("/done", 1);
    let mut cdp = Cdp::connect(s["session"]["cdp_ws_url"].as_str().unwrap()).unwrap();
    let page = page_at(&mut cdp, &srv, "/login");
    cdp.eval(&page, "localStorage.setItem('late', 'ls-2'), 1");
    // The checkpoint after the write; then the client closes the browser, as Puppeteer's
    // `browser.close()` does (Chrome exits with code 0: not a crash).
    wait_for(
        "a checkpoint with the write",
        Duration::from_secs(30),
        || {
            ev.next("session.saved", &id);
            let state = c.ok("profile.export", json!({"name": "acct"}))["state"].clone();
            item(&state, &srv.origin, "late") == Some("ls-2")
        },
    );
    // A change right before the close, which no timer could have seen: the relay holds the
    // client's Browser.close until the daemon has captured.
    cdp.eval(
        &page,
        "document.cookie = 'bye=now; path=/; max-age=3600', 1",
    );
    let _ = cdp.call("Browser.close", json!({}));
    let ended = ev.next("session.ended", &id);
    assert_eq!(ended["reason"], "browser_closed", "{ended}");
    assert_eq!(ended["snapshot"]["kind"], "session_save", "{ended}");
    assert!(session_dirs(&env).is_empty());
    assert_eq!(
        c.ok("session.show", json!({"session_id": id}))["session"]["state"],
        "ended"
    );
    let h = history(&mut c, "acct");
    assert_eq!(
        h.len(),
        1,
        "the final snapshot collapsed the checkpoint: {h:?}"
    );
    assert_eq!(h[0]["id"], ended["snapshot"]["id"]);
    let state = c.ok("profile.export", json!({"name": "acct"}))["state"].clone();
    assert_eq!(cookie(&state, "sid"), Some(SID));
    assert_eq!(item(&state, &srv.origin, "late"), Some("ls-2"));
    assert_eq!(
        cookie(&state, "bye"),
        Some("now"),
        "the change made just before Browser.close"
    );
}

#[test]
fn browser_close_from_a_client_waits_for_the_final_capture() {
    let env = Env::new();
    let (d, mut c) = ready(&env);
    let mut ev = Events::subscribe(&d);
    c.ok("profile.create", json!({"name": "acct"}));
    let s = start(&mut c, json!({"profile": "acct", "save": true}));
    let id = id_of(&s);
    let mut cdp = Cdp::connect(s["session"]["cdp_ws_url"].as_str().unwrap()).unwrap();
    // No page is open, so closing the browser closes no page (nothing for the checkpoints to
    // react to) and a browser-level cookie raises no event: only a capture made between the
    // client's Browser.close and Chrome's exit can hold it.
    cdp.set_cookies(
        json!([{"name": "final", "value": "v1", "domain": "example.test",
                            "path": "/", "expires": 4_000_000_000u64}]),
    );
    let _ = cdp.call("Browser.close", json!({}));
    let ended = ev.next("session.ended", &id);
    assert_eq!(ended["reason"], "browser_closed", "{ended}");
    assert_eq!(ended["snapshot"]["kind"], "session_save", "{ended}");
    let state = c.ok("profile.export", json!({"name": "acct"}))["state"].clone();
    assert_eq!(cookie(&state, "final"), Some("v1"), "{state}");
}

#[test]
fn stop_with_discard_leaves_no_checkpoint_behind() {
    let env = Env::new();
    let srv = TestServer::start();
    let (d, mut c) = ready(&env);
    let mut ev = Events::subscribe(&d);
    c.ok("profile.create", json!({"name": "acct"}));
    let kept = c.ok(
        "profile.import",
        json!({"name": "acct", "state": {"cookies": [], "origins": []}}),
    );
    let s = start(
        &mut c,
        json!({"profile": "acct", "save": true, "start_url": srv.url("/login")}),
    );
    let id = id_of(&s);
    let saved = ev.next("session.saved", &id);
    assert_eq!(saved["snapshot"]["kind"], "checkpoint", "{saved}");
    assert_eq!(history(&mut c, "acct").len(), 2);
    c.ok("session.stop", json!({"session_id": id, "discard": true}));
    let ended = ev.next("session.ended", &id);
    assert_eq!(ended["reason"], "discarded", "{ended}");
    assert!(ended["note"].is_null(), "{ended}");
    let h = history(&mut c, "acct");
    assert_eq!(h.len(), 1, "only the imported snapshot: {h:?}");
    assert_eq!(h[0]["id"], kept["snapshot"]["id"], "{kept}");
    // The profile's summary is back to the imported snapshot too.
    let info = c.ok("profile.show", json!({"name": "acct"}));
    assert_eq!(
        info["profile"]["latest"]["id"], kept["snapshot"]["id"],
        "{info}"
    );
}
