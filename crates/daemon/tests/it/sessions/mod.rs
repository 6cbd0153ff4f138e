//! Browser sessions against real Chromium and a local HTTP server: save → stop → load round
//! trip (the server receives the cookie, the page reads localStorage), read-only sessions,
//! the single writer (`busy`), capture while another CDP client stays connected, load into a
//! running session (and `conflict`), attach/detach, crash, locking under a save session,
//! shutdown saving, cleanup after a killed daemon, and "no Chrome found". Checkpoints and
//! recovery are in `checkpoints`.

mod checkpoints;
mod leftovers;
mod recovery;
mod save_new;
pub(crate) mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

use crate::harness::{Env, wait_for};

fn history(c: &mut crate::harness::Raw, profile: &str) -> Vec<Value> {
    c.ok("profile.history", json!({"name": profile}))["snapshots"]
        .as_array()
        .unwrap()
        .clone()
}

fn start(c: &mut crate::harness::Raw, params: Value) -> Value {
    c.ok("session.start", params)
}

fn id_of(started: &Value) -> String {
    started["session"]["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn save_stop_then_load_in_a_new_session() {
    let env = Env::new();
    let srv = TestServer::start();
    let (d, mut c) = ready(&env);
    let mut ev = Events::subscribe(&d);
    c.ok("profile.create", json!({"name": "acct"}));

    let s = start(
        &mut c,
        json!({"profile": "acct", "save": true, "start_url": srv.url("/login")}),
    );
    let id = id_of(&s);
    assert!(
        s["session"]["cdp_ws_url"]
            .as_str()
            .unwrap()
            .starts_with("ws://127.0.0.1:")
    );
    assert_eq!(s["session"]["state"], "running");
    assert_eq!(
        s["load"]["snapshot"],
        Value::Null,
        "an empty profile loads nothing"
    );
    assert_eq!(ev.next("session.started", &id)["session"]["save"], true);
    assert_eq!(session_dirs(&env), vec![id.clone()]);
    srv.wait("/done", 1);

    let stopped = c.ok("session.stop", json!({"session_id": id}));
    assert_eq!(stopped["snapshot"]["kind"], "session_save");
    assert!(stopped["capture"]["cookies"].as_u64().unwrap() >= 1);
    assert!(
        stopped["capture"]["failures"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{stopped}"
    );
    // Checkpoints written while the session ran came first, each with its own event.
    let saved = loop {
        let saved = ev.next("session.saved", &id);
        if saved["snapshot"]["kind"] != "checkpoint" {
            break saved;
        }
    };
    assert_eq!(saved["snapshot"]["id"], stopped["snapshot"]["id"]);
    let ended = ev.next("session.ended", &id);
    assert_eq!(ended["reason"], "stopped");
    assert!(
        session_dirs(&env).is_empty(),
        "the user-data-dir is removed"
    );
    let h = history(&mut c, "acct");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["id"], stopped["snapshot"]["id"]);
    assert_eq!(
        c.ok("session.show", json!({"session_id": id}))["session"]["state"],
        "ended"
    );

    // A read-only session: the profile is loaded; the server gets the cookie, the page reads
    // localStorage; /app sets another cookie, and yet the history does not change.
    let s2 = start(&mut c, json!({"profile": "acct"}));
    let id2 = id_of(&s2);
    let mut cdp = Cdp::connect(s2["session"]["cdp_ws_url"].as_str().unwrap()).unwrap();
    cdp.open(&srv.url("/app"));
    assert_eq!(s2["load"]["snapshot"]["id"], stopped["snapshot"]["id"]);
    assert!(s2["load"]["cookies_loaded"].as_u64().unwrap() >= 1, "{s2}");
    assert_eq!(s2["load"]["origins_loaded"], 1, "{s2}");
    assert!(
        s2["load"]["failures"].as_array().unwrap().is_empty(),
        "{s2}"
    );
    let app = srv.wait("/app", 1);
    assert!(
        app.cookie.contains(&format!("sid={SID}")),
        "cookie sent: {:?}",
        app.cookie
    );
    assert_eq!(srv.wait("/report", 1).query, format!("token={TOKEN}"));
    let stopped2 = c.ok("session.stop", json!({"session_id": id2}));
    assert_eq!(stopped2["snapshot"], Value::Null);
    assert_eq!(
        history(&mut c, "acct"),
        h,
        "a read-only session never writes"
    );
    assert_eq!(ev.next("session.ended", &id2)["reason"], "stopped");
}

#[test]
fn second_save_session_is_busy_and_discard_saves_nothing() {
    let env = Env::new();
    let (_d, mut c) = ready(&env);
    c.ok("profile.create", json!({"name": "acct"}));
    let first = id_of(&start(&mut c, json!({"profile": "acct", "save": true})));
    let v = c.call("session.start", json!({"profile": "acct", "save": true}));
    assert_eq!(v["error"]["code"], "busy", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(&first),
        "names the holder: {v}"
    );
    // Read-only sessions are unlimited, each in its own directory.
    let ro = id_of(&start(&mut c, json!({"profile": "acct"})));
    assert_eq!(session_dirs(&env).len(), 2);
    let list = c.ok("session.list", json!({}))["sessions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["session_id"], first.as_str(), "oldest first");
    let v = c.call("profile.delete", json!({"name": "acct"}));
    assert_eq!(
        v["error"]["code"], "busy",
        "no delete under a save session: {v}"
    );
    let r = c.ok(
        "session.stop",
        json!({"session_id": first, "discard": true}),
    );
    assert_eq!(r["snapshot"], Value::Null);
    assert!(history(&mut c, "acct").is_empty(), "discard saves nothing");
    // The claim is released with the session.
    let again = id_of(&start(&mut c, json!({"profile": "acct", "save": true})));
    for id in [ro, again] {
        c.ok("session.stop", json!({"session_id": id, "discard": true}));
    }
    assert_eq!(
        c.err("session.stop", json!({"session_id": first})),
        "not_found"
    );
    assert_eq!(
        c.err("session.start", json!({"save": true})),
        "invalid_argument"
    );
}

#[test]
fn capture_into_a_new_profile_while_another_client_stays_connected() {
    let env = Env::new();
    let srv = TestServer::start();
    let (_d, mut c) = ready(&env);
    let s = start(&mut c, json!({}));
    let id = id_of(&s);
    assert_eq!(s["load"], Value::Null);
    let mut cdp = Cdp::connect(s["session"]["cdp_ws_url"].as_str().unwrap()).unwrap();
    cdp.open(&srv.url("/login"));
    srv.wait("/done", 1);

    let cap = c.ok(
        "session.capture",
        json!({"session_id": id, "into": "captured"}),
    );
    assert_eq!(cap["profile"], "captured");
    assert_eq!(cap["snapshot"]["kind"], "capture");
    assert!(
        cap["capture"]["failures"].as_array().unwrap().is_empty(),
        "{cap}"
    );
    // The other client is still connected and its page undisturbed.
    assert!(
        cdp.page_urls().contains(&srv.url("/login")),
        "{:?}",
        cdp.page_urls()
    );
    assert!(cdp.call("Browser.getVersion", json!({})).unwrap()["product"].is_string());
    assert_eq!(srv.count("/login"), 1, "the page was not reloaded");

    let exported = c.ok("profile.export", json!({"name": "captured"}))["state"].clone();
    let cookies = exported["cookies"].as_array().unwrap();
    assert!(
        cookies
            .iter()
            .any(|k| k["name"] == "sid" && k["value"] == SID && k["httpOnly"] == true)
    );
    let origin = exported["origins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["origin"] == srv.origin.as_str())
        .cloned();
    let ls = origin.expect("origin captured")["localStorage"].clone();
    assert_eq!(
        ls,
        json!([{"name": "token", "value": TOKEN}, {"name": "unicode", "value": "ünïcødé ✓ 日本"}])
    );

    // A profile held by a save session cannot be captured into.
    c.ok("profile.create", json!({"name": "held"}));
    let holder = id_of(&start(&mut c, json!({"profile": "held", "save": true})));
    let v = c.call("session.capture", json!({"session_id": id, "into": "held"}));
    assert_eq!(v["error"]["code"], "busy", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains(&holder));
    // ...but the save session itself may capture into its own profile.
    c.ok(
        "session.capture",
        json!({"session_id": holder, "into": "held"}),
    );
}

#[test]
fn load_into_a_running_session_then_conflict() {
    let env = Env::new();
    let srv = TestServer::start();
    let (_d, mut c) = ready(&env);
    let state = json!({
        "cookies": [
            {"name": "sid", "value": SID, "domain": "127.0.0.1", "path": "/",
             "expires": -1, "httpOnly": true, "secure": false, "sameSite": "Lax"},
            {"name": "pref", "value": "p1", "domain": "127.0.0.1", "path": "/",
             "expires": 4102444800.0, "httpOnly": false, "secure": false, "sameSite": "Lax"}],
        "origins": [{"origin": srv.origin, "localStorage": [{"name": "token", "value": TOKEN}]}]
    });
    c.ok(
        "profile.import",
        json!({"name": "seed", "state": state, "create": true}),
    );
    let s = start(&mut c, json!({}));
    let id = id_of(&s);
    let loaded = c.ok("session.load", json!({"session_id": id, "profile": "seed"}));
    assert_eq!(loaded["load"]["cookies_loaded"], 2, "{loaded}");
    assert_eq!(loaded["load"]["origins_loaded"], 1, "{loaded}");
    assert_eq!(
        c.ok("session.show", json!({"session_id": id}))["session"]["profile"],
        "seed"
    );

    let mut cdp = Cdp::connect(s["session"]["cdp_ws_url"].as_str().unwrap()).unwrap();
    cdp.open(&srv.url("/app"));
    // A session cookie (expires -1) must survive the load as well as a persistent one.
    let sent = srv.wait("/app", 1).cookie;
    assert!(sent.contains("pref=p1"), "cookie sent: {sent:?}");
    assert!(
        sent.contains(&format!("sid={SID}")),
        "session cookie sent: {sent:?}"
    );
    assert_eq!(srv.wait("/report", 1).query, format!("token={TOKEN}"));

    let v = c.call("session.load", json!({"session_id": id, "profile": "seed"}));
    assert_eq!(v["error"]["code"], "conflict", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("seed"));
    // An unknown profile is not_found, whatever the session holds.
    assert_eq!(
        c.err("session.load", json!({"session_id": id, "profile": "nope"})),
        "not_found"
    );
    // Loading made it read-only: stopping writes nothing.
    let before = history(&mut c, "seed");
    assert_eq!(
        c.ok("session.stop", json!({"session_id": id}))["snapshot"],
        Value::Null
    );
    assert_eq!(history(&mut c, "seed"), before);
    assert_eq!(
        c.err(
            "session.load",
            json!({"session_id": "s000000000000", "profile": "seed"})
        ),
        "not_found"
    );
}

#[test]
fn attach_then_stop_detaches_and_leaves_the_browser_running() {
    let env = Env::new();
    let mut user = UserChrome::launch();
    let mut cdp = Cdp::connect(&user.ws).unwrap();
    cdp.set_cookies(
        json!([{"name": "mine", "value": "v-mine", "domain": "attach.test",
                            "path": "/", "secure": true, "expires": 4_000_000_000.0}]),
    );
    let (_d, mut c) = ready(&env);
    assert_eq!(
        c.err(
            "session.attach",
            json!({"cdp_url": "http://192.0.2.1:9222"})
        ),
        "invalid_argument"
    );
    let s = c.ok("session.attach", json!({"cdp_url": user.http()}));
    let id = id_of(&s);
    assert_eq!(s["session"]["attached"], true);
    assert_eq!(s["session"]["pid"], Value::Null);
    // Capture takes the user's own state.
    let cap = c.ok(
        "session.capture",
        json!({"session_id": id, "into": "from-user"}),
    );
    assert_eq!(cap["snapshot"]["kind"], "capture");
    let state = c.ok("profile.export", json!({"name": "from-user"}))["state"].clone();
    assert!(
        state["cookies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "mine" && k["value"] == "v-mine"),
        "captured: {state}"
    );
    // Load puts a profile into the user's browser.
    c.ok(
        "profile.import",
        json!({"name": "login", "create": true, "state": {"cookies": [{
            "name": "sid", "value": SID, "domain": "127.0.0.1", "path": "/", "expires": -1,
            "httpOnly": true, "secure": false, "sameSite": "Lax"}], "origins": []}}),
    );
    let loaded = c.ok(
        "session.load",
        json!({"session_id": id, "profile": "login"}),
    );
    assert_eq!(loaded["load"]["cookies_loaded"], 1, "{loaded}");
    assert!(
        cdp.cookies()
            .iter()
            .any(|k| k["name"] == "sid" && k["value"] == SID)
    );

    let r = c.ok("session.stop", json!({"session_id": id}));
    assert_eq!(r["snapshot"], Value::Null);
    assert_eq!(
        c.ok("session.show", json!({"session_id": id}))["session"]["state"],
        "ended"
    );
    assert!(user.running(), "the user's browser still runs");
    let mut again = Cdp::connect(&user.ws).expect("the browser still answers after detach");
    assert!(again.cookies().iter().any(|k| k["name"] == "mine"));
}

#[test]
fn killed_browser_marks_the_session_crashed_and_removes_its_dir() {
    let env = Env::new();
    let (d, mut c) = ready(&env);
    let mut ev = Events::subscribe(&d);
    c.ok("profile.create", json!({"name": "acct"}));
    let s = start(&mut c, json!({"profile": "acct", "save": true}));
    let id = id_of(&s);
    let pid = s["session"]["pid"].as_u64().unwrap() as u32;
    assert!(alive(pid));
    // SAFETY: kill a process this test's daemon started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let crashed = ev.next("session.crashed", &id);
    assert_eq!(crashed["profile"], "acct");
    assert!(
        crashed["detail"].as_str().unwrap().contains("signal 9"),
        "{crashed}"
    );
    assert!(session_dirs(&env).is_empty(), "dir removed after a crash");
    assert_eq!(
        c.ok("session.show", json!({"session_id": id}))["session"]["state"],
        "crashed"
    );
    assert_eq!(
        c.err("session.stop", json!({"session_id": id})),
        "not_found"
    );
    assert!(
        c.ok("session.list", json!({}))["sessions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The writer claim died with it.
    let again = id_of(&start(&mut c, json!({"profile": "acct", "save": true})));
    c.ok(
        "session.stop",
        json!({"session_id": again, "discard": true}),
    );
}

#[test]
fn locking_checkpoints_save_sessions_and_stop_waits_for_unlock() {
    let env = Env::new();
    let srv = TestServer::start();
    let (_d, mut c) = ready(&env);
    c.ok("profile.create", json!({"name": "acct"}));
    let id = id_of(&start(
        &mut c,
        json!({"profile": "acct", "save": true, "start_url": srv.url("/login")}),
    ));
    srv.wait("/done", 1);
    c.ok("vault.lock", json!({}));
    let v = c.call("session.stop", json!({"session_id": id}));
    assert_eq!(v["error"]["code"], "locked", "{v}");
    // The advice for this case (not the generic "unlock first") travels as the hint.
    assert_eq!(
        v["error"]["hint"], "run `pvault unlock` and stop it again, or stop it with --discard",
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the browser keeps running"),
        "{v}"
    );
    assert_eq!(
        c.ok("session.show", json!({"session_id": id}))["session"]["state"],
        "running"
    );
    c.unlock();
    let h = history(&mut c, "acct");
    assert_eq!(h.len(), 1);
    assert_eq!(
        h[0]["kind"], "checkpoint",
        "the state at lock time was kept"
    );
    let stopped = c.ok("session.stop", json!({"session_id": id}));
    let h = history(&mut c, "acct");
    assert_eq!(h.len(), 1, "the final save collapses the checkpoint: {h:?}");
    assert_eq!(h[0]["id"], stopped["snapshot"]["id"]);
}

#[test]
fn shutdown_saves_save_sessions() {
    let env = Env::new();
    let srv = TestServer::start();
    let (mut d, mut c) = ready(&env);
    c.ok("profile.create", json!({"name": "acct"}));
    let s = start(
        &mut c,
        json!({"profile": "acct", "save": true, "start_url": srv.url("/login")}),
    );
    let pid = s["session"]["pid"].as_u64().unwrap() as u32;
    srv.wait("/done", 1);
    drop(c);
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait(), Some(0));
    wait_for("the browser to be gone", Duration::from_secs(20), || {
        !alive(pid)
    });
    assert!(session_dirs(&env).is_empty());

    let d2 = start_daemon(&env, &[]);
    let mut c = d2.session();
    c.unlock();
    let h = history(&mut c, "acct");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["kind"], "session_save");
    let exported = c.ok("profile.export", json!({"name": "acct"}))["state"].clone();
    assert!(
        exported["cookies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["value"] == SID)
    );
}

#[test]
fn no_chrome_found_is_a_browser_error_naming_what_was_tried() {
    let env = Env::new();
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap().to_owned();
    let d = start_daemon(
        &env,
        &[
            ("PVAULT_CHROME", "/nonexistent/chrome"),
            ("PATH", &path),
            ("PVAULT_TEST_NO_CHROME_FALLBACK", "1"),
        ],
    );
    let mut c = d.session();
    let v = c.call("session.start", json!({}));
    assert_eq!(v["error"]["code"], "browser_error", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("/nonexistent/chrome (PVAULT_CHROME)"), "{msg}");
    assert!(msg.contains("chromium (PATH)"), "{msg}");
    assert!(session_dirs(&env).is_empty());
}

#[test]
fn start_url_opens_after_the_profile_is_loaded() {
    let env = Env::new();
    let srv = TestServer::start();
    let (_d, mut c) = ready(&env);
    let state = json!({
        "cookies": [{"name": "sid", "value": SID, "domain": "127.0.0.1", "path": "/",
                     "expires": 4102444800.0, "httpOnly": true, "secure": false, "sameSite": "Lax"}],
        "origins": [{"origin": srv.origin, "localStorage": [{"name": "token", "value": TOKEN}]}]
    });
    c.ok(
        "profile.import",
        json!({"name": "seed", "state": state, "create": true}),
    );
    let s = start(
        &mut c,
        json!({"profile": "seed", "start_url": srv.url("/app")}),
    );
    assert_eq!(s["load"]["cookies_loaded"], 1, "{s}");
    let sent = srv.wait("/app", 1).cookie;
    assert!(
        sent.contains(&format!("sid={SID}")),
        "the first request carries the cookie: {sent:?}"
    );
    assert_eq!(srv.wait("/report", 1).query, format!("token={TOKEN}"));
}

#[test]
fn a_killed_daemon_leaves_no_browser_or_directory_after_restart() {
    let env = Env::new();
    let (mut d, mut c) = ready(&env);
    let s = start(&mut c, json!({}));
    let pid = s["session"]["pid"].as_u64().unwrap() as u32;
    assert_eq!(session_dirs(&env).len(), 1);
    drop(c);
    freeze(pid);
    d.signal(libc::SIGKILL);
    assert_eq!(d.wait(), None);
    assert!(
        alive(pid),
        "an orphaned Chrome survives kill -9 of the daemon"
    );
    let _d2 = start_daemon(&env, &[]);
    wait_for(
        "the orphaned browser to be killed",
        Duration::from_secs(20),
        || !alive(pid),
    );
    wait_for(
        "the leftover directory to be removed",
        Duration::from_secs(20),
        || session_dirs(&env).is_empty(),
    );
}
