//! Login health (protocol 1.8): definitions set, shown and cleared through the protocol, bad
//! ones refused naming the argument; the logout guard on a real `--save` session against the
//! test site (a logout is kept marked, the next session is logged in, `accept_logout` skips
//! the guard, `profile.accept` makes the marked state current) and however the session ends
//! (stop, inactivity timeout, a client's `Browser.close`, daemon shutdown); checks (healthy,
//! logged out with evidence, a site that is down; the check browser kept between checks,
//! each in a context of its own, and ended by the vault lock, shutdown, or its idle time);
//! scheduled checks; the offline expiry warning.

use pvault_testkit::TestServer;
use serde_json::{Value, json};

use crate::harness::Env;
use crate::sessions::support::*;

fn definition(name: &str, origin: &str) -> Value {
    json!({
        "name": name,
        "url": format!("{origin}/whoami"),
        "expect": [
            {"type": "cookie", "name": "sid"},
            {"type": "local_storage", "origin": origin, "key": "token"},
            {"type": "url_not", "regex": "/login"},
        ],
    })
}

/// A `save` session of profile `acct` started at `path` on the test site (`extra` merged into
/// `session.start`'s parameters), stopped once the site has seen `done` `n` times; returns
/// `session.stop`'s result.
/// Starts a `--save` session of profile `acct` at `path` on the test site, with `extra`
/// session.start parameters; returns the start result.
fn start_save_session(
    c: &mut crate::harness::Raw,
    srv: &TestServer,
    path: &str,
    extra: Value,
) -> Value {
    let mut params = json!({"profile": "acct", "save": true, "start_url": srv.url(path)});
    if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    c.ok("session.start", params)
}

fn save_session_visiting(
    c: &mut crate::harness::Raw,
    srv: &TestServer,
    path: &str,
    extra: Value,
    (done, n): (&str, usize),
) -> Value {
    let s = start_save_session(c, srv, path, extra);
    srv.wait(done, n);
    c.ok(
        "session.stop",
        json!({"session_id": s["session"]["session_id"]}),
    )
}

/// A daemon with profile `acct` whose health definition expects the login's cookie, logged in
/// by a first save session; returns the daemon, a connection and that session's stop result.
fn logged_in_with_a_definition(
    env: &Env,
    srv: &TestServer,
) -> (crate::harness::Daemon, crate::harness::Raw, Value) {
    let (d, mut c) = ready(env);
    c.ok("profile.create", json!({"name": "acct"}));
    c.ok("profile.health.set", definition("acct", &srv.origin));
    let first = save_session_visiting(&mut c, srv, "/login", json!({}), ("/done", 1));
    (d, c, first)
}

/// Per save (checkpoints left out), newest first: whether it is marked `logged_out`.
fn save_marks(c: &mut crate::harness::Raw) -> Vec<bool> {
    let history = c.ok("profile.history", json!({"name": "acct"}))["snapshots"].clone();
    history
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] != "checkpoint")
        .map(|h| h["logged_out"] == true)
        .collect()
}

fn error_of(c: &mut crate::harness::Raw, method: &str, params: Value) -> (String, String) {
    let v = c.call(method, params);
    (
        v["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_owned(),
        v["error"]["message"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn definitions_are_set_shown_and_cleared_and_bad_ones_are_refused_naming_the_argument() {
    let env = Env::new();
    let (_d, mut c) = ready(&env);
    c.ok("profile.create", json!({"name": "acct"}));
    let origin = "http://127.0.0.1:9";
    let set = c.ok("profile.health.set", definition("acct", origin));
    assert_eq!(
        set["profile"]["health"]["expect"].as_array().unwrap().len(),
        3
    );
    let shown = c.ok("profile.health.show", json!({"name": "acct"}));
    assert_eq!(shown["health"]["url"], format!("{origin}/whoami"));
    assert_eq!(shown["result"], Value::Null);
    assert_eq!(shown["expiring"], json!([]));
    // profile.show and list carry the definition.
    let p = c.ok("profile.show", json!({"name": "acct"}))["profile"].clone();
    assert_eq!(p["health"], shown["health"]);
    let listed = c.ok("profile.list", json!({}))["profiles"][0].clone();
    assert_eq!(listed["health"], shown["health"]);

    for (expect, argument) in [
        (json!([]), "expect"),
        (
            json!([{"type": "url_not", "regex": "/login("}]),
            "--expect-url-not (expect[0].regex)",
        ),
        (
            json!([{"type": "cookie", "name": "sid"}, {"type": "selector", "css": "div[data-x"}]),
            "--expect-selector (expect[1].css)",
        ),
        (
            json!([{"type": "local_storage", "origin": "https://a.example/path", "key": "k"}]),
            "--expect-local-storage (expect[0].origin)",
        ),
    ] {
        let (code, message) = error_of(
            &mut c,
            "profile.health.set",
            json!({"name": "acct", "url": "https://a.example/", "expect": expect}),
        );
        assert_eq!(code, "invalid_argument", "{message}");
        assert!(message.contains(argument), "{argument}: {message}");
        // The client's values are not quoted back.
        assert!(
            !message.contains("data-x") && !message.contains("/path"),
            "{message}"
        );
    }
    let (code, message) = error_of(
        &mut c,
        "profile.health.set",
        json!({"name": "acct", "url": "not a url", "expect": [{"type": "text", "text": "Hi"}]}),
    );
    assert_eq!(code, "invalid_argument");
    assert!(message.contains("--url"), "{message}");
    // An unknown expectation type or member is refused like any unknown member.
    assert_eq!(
        c.err(
            "profile.health.set",
            json!({"name": "acct", "url": "https://a.example/", "expect": [{"type": "cookie", "nme": "x"}]})
        ),
        "invalid_argument"
    );
    // A refused definition left the old one in place.
    assert_eq!(
        c.ok("profile.health.show", json!({"name": "acct"}))["health"],
        shown["health"]
    );
    c.ok("profile.health.clear", json!({"name": "acct"}));
    assert_eq!(
        c.ok("profile.health.show", json!({"name": "acct"}))["health"],
        Value::Null
    );
    assert_eq!(
        c.err("profile.health.show", json!({"name": "nope"})),
        "not_found"
    );
    // Nothing to accept in a profile without marks.
    assert_eq!(
        c.err("profile.accept", json!({"name": "acct"})),
        "not_found"
    );
}

#[test]
fn a_save_session_that_logs_out_is_kept_marked_and_the_next_session_is_logged_in() {
    let env = Env::new();
    let srv = TestServer::start();
    let (d, mut c) = ready(&env);
    let mut ev = Events::subscribe(&d);
    c.ok("profile.create", json!({"name": "acct"}));
    c.ok("profile.health.set", definition("acct", &srv.origin));

    // Log in and save: the first snapshot is current.
    let s = c.ok(
        "session.start",
        json!({"profile": "acct", "save": true, "start_url": srv.url("/login")}),
    );
    srv.wait("/done", 1);
    let id = s["session"]["session_id"].as_str().unwrap().to_owned();
    let first = c.ok("session.stop", json!({"session_id": id}));
    assert_eq!(first.get("logout_guard"), None, "{first}");
    let first_id = first["snapshot"]["id"].clone();

    // Log out in a save session: kept, marked, not current; everything says so.
    let s = c.ok(
        "session.start",
        json!({"profile": "acct", "save": true, "start_url": srv.url("/logout")}),
    );
    let id = s["session"]["session_id"].as_str().unwrap().to_owned();
    srv.wait("/logged-out", 1);
    let out = c.ok("session.stop", json!({"session_id": id}));
    assert_eq!(out["snapshot"]["logged_out"], true, "{out}");
    let guard = &out["logout_guard"];
    let failed: Vec<&str> = guard["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["expectation"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"cookie sid"), "{guard}");
    assert_eq!(guard["current"], first["snapshot"]["seq"]);
    assert!(
        guard["hint"]
            .as_str()
            .unwrap()
            .contains("pvault profile accept acct")
    );
    let saved = loop {
        let saved = ev.next("session.saved", &id);
        if saved["snapshot"]["kind"] != "checkpoint" {
            break saved;
        }
    };
    assert_eq!(saved["logout_guard"], *guard);
    let ended = ev.next("session.ended", &id);
    assert!(
        ended["note"].as_str().unwrap().contains("profile accept"),
        "{ended}"
    );
    let history = c.ok("profile.history", json!({"name": "acct"}))["snapshots"].clone();
    assert_eq!(history[0]["logged_out"], true);
    assert_eq!(history.as_array().unwrap().last().unwrap()["id"], first_id);
    let shown = c.ok("profile.show", json!({"name": "acct"}))["profile"].clone();
    assert_eq!(shown["current"], first["snapshot"]["seq"]);
    // The diff between the healthy snapshot and the guarded one shows what the logout
    // removed (names only).
    let diff = c.ok("profile.diff", json!({"name": "acct"}));
    assert_eq!(diff["to"]["logged_out"], true);
    assert!(diff["diff"].to_string().contains("sid"), "{diff}");

    // The next session is logged in: it loads the first snapshot, and the server sees sid.
    let s = c.ok(
        "session.start",
        json!({"profile": "acct", "start_url": srv.url("/whoami")}),
    );
    assert_eq!(s["load"]["snapshot"]["id"], first_id);
    srv.wait("/whoami", 1);
    assert!(srv.cookies_sent_to("/whoami")[0].contains("sid="));
    c.ok(
        "session.stop",
        json!({"session_id": s["session"]["session_id"]}),
    );
    // Exports take the current snapshot too.
    let export = c.ok("profile.export", json!({"name": "acct"}));
    assert_eq!(export["snapshot"]["id"], first_id);

    // `accept_logout` turns the guard off: a logout becomes current.
    let out = save_session_visiting(
        &mut c,
        &srv,
        "/logout",
        json!({"accept_logout": true}),
        ("/logged-out", 2),
    );
    assert_eq!(out.get("logout_guard"), None, "{out}");
    assert_eq!(out["snapshot"].get("logged_out"), None);
    let shown = c.ok("profile.show", json!({"name": "acct"}))["profile"].clone();
    assert_eq!(shown.get("current"), None, "the newest is current: {shown}");
    // The guarded snapshot is now older than the current one: accept says to restore it.
    let marked = history[0]["seq"].clone();
    let v = c.call(
        "profile.accept",
        json!({"name": "acct", "snapshot": marked.to_string()}),
    );
    assert_eq!(v["error"]["code"], "invalid_argument", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("restore"));
}

/// The logout guard holds however a `--save` session ends, not only on `session.stop`: by its
/// inactivity timeout (no client for `timeout_secs`) and by a client's `Browser.close` (the
/// relay holds it until the final capture is taken). Both logged-out snapshots are kept
/// marked; the logged-in one stays current.
#[test]
fn the_guard_holds_when_a_session_ends_by_timeout_or_by_browser_close() {
    let env = Env::new();
    let srv = TestServer::start();
    let (d, mut c, first) = logged_in_with_a_definition(&env, &srv);
    let mut ev = Events::subscribe(&d);
    let first_seq = first["snapshot"]["seq"].clone();
    // Nobody connects: the session ends after its inactivity timeout (the shortest allowed).
    let s = start_save_session(&mut c, &srv, "/logout", json!({"timeout_secs": 10}));
    let id = s["session"]["session_id"].as_str().unwrap().to_owned();
    srv.wait("/logged-out", 1);
    let ended = ev.next("session.ended", &id);
    assert_eq!(ended["reason"], "timed_out", "{ended}");
    assert_eq!(ended["snapshot"]["logged_out"], true, "{ended}");
    let history = c.ok("profile.history", json!({"name": "acct"}))["snapshots"].clone();
    assert_eq!(history[0]["logged_out"], true, "{history}");
    assert_eq!(
        c.ok("profile.show", json!({"name": "acct"}))["profile"]["current"],
        first_seq
    );

    // A client closes the browser.
    let s = start_save_session(&mut c, &srv, "/logout", json!({}));
    let id = s["session"]["session_id"].as_str().unwrap().to_owned();
    srv.wait("/logged-out", 2);
    let mut cdp = Cdp::connect(s["session"]["cdp_ws_url"].as_str().unwrap()).unwrap();
    let _ = cdp.call("Browser.close", json!({}));
    let ended = ev.next("session.ended", &id);
    assert_eq!(ended["reason"], "browser_closed", "{ended}");
    assert_eq!(ended["snapshot"]["logged_out"], true, "{ended}");
    assert!(
        ended["note"].as_str().unwrap().contains("profile accept"),
        "{ended}"
    );
    assert_eq!(save_marks(&mut c), [true, true, false]);
    assert_eq!(
        c.ok("profile.show", json!({"name": "acct"}))["profile"]["current"],
        first_seq
    );
}

/// A daemon that shuts down saves its `--save` sessions on the way out: under the logout
/// guard too, so a logout in a session cut short by a shutdown is kept marked, not current.
#[test]
fn the_guard_holds_when_the_daemon_shuts_down_during_a_save_session() {
    let env = Env::new();
    let srv = TestServer::start();
    let (mut d, mut c, first) = logged_in_with_a_definition(&env, &srv);
    start_save_session(&mut c, &srv, "/logout", json!({}));
    srv.wait("/logged-out", 1);
    assert_eq!(c.call("daemon.shutdown", json!({}))["result"], json!({}));
    assert_eq!(d.wait(), Some(0));

    let d = start_daemon(&env, &[]);
    let mut c = d.session();
    c.unlock();
    let history = c.ok("profile.history", json!({"name": "acct"}))["snapshots"].clone();
    let marks: Vec<bool> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] != "checkpoint")
        .map(|h| h["logged_out"] == true)
        .collect();
    assert_eq!(
        marks,
        [true, false],
        "the shutdown's save is marked: {history}"
    );
    assert_eq!(
        c.ok("profile.show", json!({"name": "acct"}))["profile"]["current"],
        first["snapshot"]["seq"]
    );
}

#[test]
fn accept_makes_the_marked_snapshot_current() {
    let env = Env::new();
    let srv = TestServer::start();
    let (_d, mut c) = ready(&env);
    c.ok("profile.create", json!({"name": "acct"}));
    c.ok("profile.health.set", definition("acct", &srv.origin));
    save_session_visiting(&mut c, &srv, "/login", json!({}), ("/done", 1));
    let out = save_session_visiting(&mut c, &srv, "/logout", json!({}), ("/logged-out", 1));
    assert_eq!(out["snapshot"]["logged_out"], true);
    let accepted = c.ok("profile.accept", json!({"name": "acct"}));
    assert_eq!(accepted["snapshot"]["seq"], out["snapshot"]["seq"]);
    assert_eq!(accepted["snapshot"].get("logged_out"), None);
    let s = c.ok(
        "session.start",
        json!({"profile": "acct", "start_url": srv.url("/whoami")}),
    );
    assert_eq!(s["load"]["snapshot"]["id"], out["snapshot"]["id"]);
    srv.wait("/whoami", 1);
    assert!(!srv.cookies_sent_to("/whoami")[0].contains("sid="));
    c.ok(
        "session.stop",
        json!({"session_id": s["session"]["session_id"]}),
    );
    // Verify agrees.
    assert_eq!(c.ok("vault.verify", json!({}))["ok"], true);
}

/// The next `profile.health` event (others skipped).
fn next_health_event(ev: &mut Events) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no profile.health event"
        );
        let v = ev.0.recv().expect("event connection closed");
        if v["event"] == "profile.health" {
            return v["data"].clone();
        }
    }
}

fn account_definition(srv: &TestServer) -> Value {
    json!({
        "name": "acct",
        "url": srv.url("/account"),
        "expect": [
            {"type": "cookie", "name": "sid"},
            {"type": "selector", "css": "#user-menu"},
            {"type": "url_not", "regex": "/login"},
            {"type": "text", "text": "Welcome back"},
        ],
    })
}

fn failed_expectations(result: &Value) -> Vec<String> {
    result["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["expectation"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn check_reports_healthy_then_logged_out_after_a_server_side_expiry_with_evidence() {
    let env = Env::new();
    let srv = TestServer::start();
    let (d, mut c) = ready(&env);
    let mut ev = Events::subscribe(&d);
    c.ok("profile.create", json!({"name": "acct"}));
    save_session_visiting(&mut c, &srv, "/login", json!({}), ("/done", 1));
    c.ok("profile.health.set", account_definition(&srv));
    // No result yet.
    assert_eq!(
        c.ok("profile.show", json!({"name": "acct"}))["profile"].get("health_result"),
        None
    );

    // A save session of the same profile runs meanwhile: the check loads the stored
    // snapshot, in its own browser, and changes nothing.
    let running = c.ok("session.start", json!({"profile": "acct", "save": true}));
    let before = c.ok("profile.history", json!({"name": "acct"}))["snapshots"].clone();
    let healthy = c.ok("profile.check", json!({"name": "acct"}))["result"].clone();
    assert_eq!(healthy["status"], "healthy", "{healthy}");
    assert_eq!(healthy["final_url"], srv.url("/account"));
    assert_eq!(healthy["http_status"], 200);
    assert_eq!(healthy["failed"], json!([]));
    assert!(srv.cookies_sent_to("/account")[0].contains("sid="));
    let e = next_health_event(&mut ev);
    assert_eq!(
        (e["previous"].clone(), e["result"]["status"].clone()),
        (Value::Null, json!("healthy"))
    );
    c.ok(
        "session.stop",
        json!({"session_id": running["session"]["session_id"], "discard": true}),
    );
    assert_eq!(
        c.ok("profile.history", json!({"name": "acct"}))["snapshots"],
        before,
        "a check is read-only"
    );

    // The server expires the session; the cookie is still there.
    srv.expire_sessions();
    // At the login page the check has failed whatever the page renders later: it answers
    // once the page has loaded, without waiting out this timeout for the missing selector.
    let out = c.ok(
        "profile.check",
        json!({"name": "acct", "timeout_secs": 300}),
    )["result"]
        .clone();
    assert_eq!(out["status"], "logged_out", "{out}");
    assert!(
        out["final_url"]
            .as_str()
            .unwrap()
            .contains("/login-page?next=/account"),
        "{out}"
    );
    assert_eq!(out["http_status"], 200);
    let failed = failed_expectations(&out);
    assert_eq!(
        failed,
        ["selector #user-menu", "url_not /login", "text Welcome back"],
        "the cookie is still there: {out}"
    );
    assert!(
        out["failed"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("final URL")
    );
    assert!(
        out["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not waited for"),
        "{out}"
    );
    let e = next_health_event(&mut ev);
    assert_eq!(e["previous"], "healthy");
    assert_eq!(e["result"]["status"], "logged_out");
    // Kept, and shown.
    let p = c.ok("profile.show", json!({"name": "acct"}))["profile"].clone();
    assert_eq!(p["health_result"]["status"], "logged_out");
    let since = p["health_result"]["since"].clone();

    // The same result again: no event, and `since` stays.
    let again = c.ok("profile.check", json!({"name": "acct", "timeout_secs": 5}))["result"].clone();
    assert_eq!(
        (again["status"].clone(), again["since"].clone()),
        (json!("logged_out"), since)
    );
    // A new definition starts unchecked: its first result is a change (from nothing), and it
    // is the next event, so none came for the repeat.
    c.ok("profile.health.set", account_definition(&srv));
    c.ok("profile.check", json!({"name": "acct", "timeout_secs": 5}));
    let e = next_health_event(&mut ev);
    assert_eq!(
        (e["previous"].clone(), e["result"]["status"].clone()),
        (Value::Null, json!("logged_out"))
    );
}

/// A check answers as soon as its result is kept; its browser is killed and its directory
/// removed right after, before the next check starts, and a shutdown right after a check
/// waits for that clean-up.
/// Writes the daemon's `config.toml` before it starts (the home made 0700, as the vault
/// requires).
fn write_config(env: &Env, toml: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(&env.home).unwrap();
    std::fs::set_permissions(&env.home, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(env.home.join("config.toml"), toml).unwrap();
}

/// Names of the check browsers' session directories that exist now.
fn check_dirs(env: &Env) -> Vec<String> {
    let mut d: Vec<String> = session_dirs(env)
        .into_iter()
        .filter(|n| n.starts_with("check-"))
        .collect();
    d.sort();
    d
}

/// Whether no check browser process and no check directory is left.
fn check_browser_gone(env: &Env) -> bool {
    chrome_processes(&sessions_dir(env), "check-").is_empty() && check_dirs(env).is_empty()
}

#[test]
fn the_check_browser_is_kept_between_checks_each_in_a_context_of_its_own_and_ends_on_lock_and_shutdown()
 {
    let env = Env::new();
    let srv = TestServer::start();
    let (mut d, mut c) = ready(&env);
    c.ok("profile.create", json!({"name": "acct"}));
    save_session_visiting(&mut c, &srv, "/login", json!({}), ("/done", 1));
    c.ok("profile.health.set", account_definition(&srv));
    // A second profile, never logged in, with the same definition.
    c.ok("profile.create", json!({"name": "other"}));
    let s = c.ok(
        "session.start",
        json!({"profile": "other", "save": true, "start_url": srv.url("/")}),
    );
    c.ok(
        "session.stop",
        json!({"session_id": s["session"]["session_id"]}),
    );
    let mut def = account_definition(&srv);
    def["name"] = json!("other");
    c.ok("profile.health.set", def);

    let r = c.ok("profile.check", json!({"name": "acct"}));
    assert_eq!(r["result"]["status"], "healthy", "{r}");
    let kept = check_dirs(&env);
    assert_eq!(kept.len(), 1, "the check browser is kept after the check");
    assert!(!chrome_processes(&sessions_dir(&env), "check-").is_empty());
    // The next check, of another profile, runs in the same browser and sees nothing of the
    // first check's state.
    let r = c.ok("profile.check", json!({"name": "other"}));
    assert_eq!(r["result"]["status"], "logged_out", "{r}");
    // Its cookie expectation failed on the stored state: the selector was not waited for.
    assert_eq!(
        failed_expectations(&r["result"])[..2],
        ["cookie sid", "selector #user-menu"],
        "{r}"
    );
    assert!(
        r["result"]["failed"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("not waited for"),
        "{r}"
    );
    let sent = srv.cookies_sent_to("/account");
    assert!(
        !sent.last().unwrap().contains("sid="),
        "the second profile's check sent the first one's cookie: {sent:?}"
    );
    assert_eq!(
        check_dirs(&env),
        kept,
        "the same browser served both checks"
    );
    // Nor did anything of the second stay for the next check of the first.
    let r = c.ok("profile.check", json!({"name": "acct"}));
    assert_eq!(r["result"]["status"], "healthy", "{r}");
    assert_eq!(check_dirs(&env), kept);

    // Locking the vault ends it at once.
    c.ok("vault.lock", json!({}));
    crate::harness::wait_for(
        "the kept check browser to end when the vault locks",
        std::time::Duration::from_secs(10),
        || check_browser_gone(&env),
    );
    // After an unlock a check starts a new one; shutdown ends it, and waits for that.
    c.unlock();
    let r = c.ok("profile.check", json!({"name": "acct"}));
    assert_eq!(r["result"]["status"], "healthy", "{r}");
    assert_eq!(check_dirs(&env).len(), 1);
    assert_ne!(check_dirs(&env), kept, "a new browser after the lock");
    assert_eq!(c.call("daemon.shutdown", json!({}))["result"], json!({}));
    assert_eq!(d.wait(), Some(0));
    assert!(
        check_browser_gone(&env),
        "the daemon exited before its check browser was cleaned up"
    );
}

#[test]
fn a_check_browser_not_kept_or_idle_past_its_time_is_gone() {
    for (keep, wait_secs) in [(0, 10), (1, 15)] {
        let env = Env::new();
        let srv = TestServer::start();
        write_config(&env, &format!("[health]\nkeep_browser_secs = {keep}\n"));
        let d = start_daemon(&env, &[]);
        let mut c = d.session();
        c.init();
        c.ok("profile.create", json!({"name": "acct"}));
        save_session_visiting(&mut c, &srv, "/login", json!({}), ("/done", 1));
        c.ok("profile.health.set", account_definition(&srv));
        let r = c.ok("profile.check", json!({"name": "acct"}));
        assert_eq!(r["result"]["status"], "healthy", "{r}");
        if keep > 0 {
            assert_eq!(check_dirs(&env).len(), 1, "kept for {keep} s");
        }
        crate::harness::wait_for(
            "the check browser to be gone",
            std::time::Duration::from_secs(wait_secs),
            || check_browser_gone(&env),
        );
        // Back to back: each check waits for nothing of the previous one.
        for _ in 0..2 {
            let r = c.ok("profile.check", json!({"name": "acct"}));
            assert_eq!(r["result"]["status"], "healthy", "{r}");
        }
    }
}

#[test]
fn a_site_that_is_down_is_a_browser_error_not_logged_out() {
    let env = Env::new();
    let srv = TestServer::start();
    let (_d, mut c) = ready(&env);
    c.ok("profile.create", json!({"name": "acct"}));
    save_session_visiting(&mut c, &srv, "/login", json!({}), ("/done", 1));
    // Nothing listens on this port: the server is down.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = down.local_addr().unwrap().port();
    drop(down);
    let mut def = account_definition(&srv);
    def["url"] = json!(format!("http://127.0.0.1:{port}/account"));
    c.ok("profile.health.set", def);
    let v = c.call("profile.check", json!({"name": "acct", "timeout_secs": 10}));
    assert_eq!(v["error"]["code"], "browser_error", "{v}");
    assert!(
        v["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("not a logout")
    );
    assert_eq!(
        c.ok("profile.show", json!({"name": "acct"}))["profile"].get("health_result"),
        None,
        "no result is kept for a failed check"
    );
    // Without a definition, a check says how to make one.
    c.ok("profile.health.clear", json!({"name": "acct"}));
    assert_eq!(
        c.err("profile.check", json!({"name": "acct"})),
        "invalid_argument"
    );
    assert_eq!(
        c.err("profile.check", json!({"name": "acct", "timeout_secs": 0})),
        "invalid_argument"
    );
}

#[test]
fn scheduled_checks_send_an_event_on_change_only_and_never_run_while_locked() {
    use std::time::Duration;

    let env = Env::new();
    let srv = TestServer::start();
    write_config(&env, "[health]\ninterval_secs = 60\n");
    // Tests only: a round every 200 ms instead of every minute.
    let d = start_daemon(&env, &[("PVAULT_TEST_HEALTH_INTERVAL_MS", "200")]);
    let mut c = d.session();
    c.init();
    let mut ev = Events::subscribe(&d);
    c.ok("profile.create", json!({"name": "acct"}));
    save_session_visiting(&mut c, &srv, "/login", json!({}), ("/done", 1));
    let mut def = account_definition(&srv);
    // No selector: a logged-out page would hold each check for its whole timeout.
    def["expect"] = json!([{"type": "url_not", "regex": "/login"}]);
    c.ok("profile.health.set", def);

    let first = next_health_event(&mut ev);
    assert_eq!(
        (first["previous"].clone(), first["result"]["status"].clone()),
        (Value::Null, json!("healthy"))
    );
    // More rounds with the same result send nothing: the next event is the change.
    let checks =
        |c: &mut crate::harness::Raw| c.status()["health_schedule"]["checks"].as_u64().unwrap();
    let after_first = checks(&mut c);
    crate::harness::wait_for("two more scheduled checks", Duration::from_secs(60), || {
        (checks(&mut c) >= after_first + 2).then_some(())
    });
    srv.expire_sessions();
    let second = next_health_event(&mut ev);
    assert_eq!(
        second["previous"], "healthy",
        "a repeat sent an event: {second}"
    );
    assert_eq!(second["result"]["status"], "logged_out");

    // Locked: rounds are skipped, no check runs, no page is opened.
    c.ok("vault.lock", json!({}));
    let skipped = |c: &mut crate::harness::Raw| {
        c.status()["health_schedule"]["skipped_locked"]
            .as_u64()
            .unwrap()
    };
    // Once a round saw the lock, no check is in flight (one schedule, one check at a time).
    let s0 = skipped(&mut c);
    crate::harness::wait_for(
        "a round skipped while locked",
        Duration::from_secs(60),
        || (skipped(&mut c) > s0).then_some(()),
    );
    let (n, requests, s1) = (checks(&mut c), srv.count("/account"), skipped(&mut c));
    crate::harness::wait_for(
        "more rounds skipped while locked",
        Duration::from_secs(30),
        || (skipped(&mut c) >= s1 + 3).then_some(()),
    );
    assert_eq!(checks(&mut c), n, "a check ran while the vault was locked");
    assert_eq!(srv.count("/account"), requests);
    assert_eq!(c.status()["health_schedule"]["interval_secs"], 60);
}

#[test]
fn a_cookie_about_to_expire_is_warned_about_without_a_browser() {
    let env = Env::new();
    let (_d, mut c) = ready(&env);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let cookie = |name: &str, expires: f64| {
        json!({"name": name, "value": "v", "domain": "app.example", "path": "/", "expires": expires,
               "httpOnly": true, "secure": true, "sameSite": "Lax"})
    };
    // `sid` expires in a day (inside the default 3 days), `theme` in 30 days.
    let state = json!({"cookies": [cookie("sid", now + 86_400.0), cookie("theme", now + 30.0 * 86_400.0)], "origins": []});
    c.ok("profile.import", json!({"name": "acct", "state": state}));
    c.ok(
        "profile.health.set",
        json!({"name": "acct", "url": "https://app.example/", "expect": [
            {"type": "cookie", "name": "sid", "domain": "app.example"},
            {"type": "cookie", "name": "theme"},
        ]}),
    );
    let shown = c.ok("profile.health.show", json!({"name": "acct"}));
    let expiring = shown["expiring"].as_array().unwrap();
    assert_eq!(expiring.len(), 1, "{shown}");
    assert_eq!(expiring[0]["expectation"], "cookie sid@app.example");
    assert!((expiring[0]["expires"].as_f64().unwrap() - (now + 86_400.0)).abs() < 1.0);
}
