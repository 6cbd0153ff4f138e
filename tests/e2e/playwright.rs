//! Real Playwright (`playwright-core`, tests/node) with pvault: a login driven over
//! `connectOverCDP` in a `--save` session is there in the next session (the server gets the
//! cookie, the page reads localStorage); the same through `pvault run -- node …` with the exit
//! code propagated; storageState exported by pvault loads in Playwright's own browser, and one
//! written by Playwright imports into pvault unchanged; capturing a session while Playwright
//! stays connected does not disturb it.

use serde_json::{Value, json};

use pvault_testkit::{SID, TOKEN, TestServer, node_dir};

use crate::support::daemon::Daemon;
use crate::support::session::{
    Interactive, cookie_value, login_state, node, node_json, parse_node, storage_value,
};

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.init();
    d
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the next session of `profile` is logged in: the server received the cookie on
/// /whoami and /app's script found the localStorage token.
fn assert_logged_in_next_time(d: &Daemon, server: &TestServer, profile: &str) {
    let s = d.session_start(&["--profile", profile]);
    assert!(
        s["load"]["cookies_loaded"].as_u64() >= Some(1),
        "loaded: {s}"
    );
    assert_eq!(s["load"]["failures"], json!([]), "{s}");
    let seen = node_json("check.js", server, s["cdp_ws_url"].as_str().unwrap());
    assert_eq!(
        seen["whoami"],
        format!("user:{SID}"),
        "the server got no sid cookie: {seen}"
    );
    assert_eq!(
        seen["app"],
        format!("token:{TOKEN}"),
        "the page found no token: {seen}"
    );
    let sent = server.cookies_sent_to("/whoami");
    assert!(
        sent.last()
            .is_some_and(|c| c.contains(&format!("sid={SID}"))),
        "{sent:?}"
    );
    d.session_stop(s["session_id"].as_str().unwrap(), &[]);
}

#[test]
fn a_login_in_a_saved_session_is_there_in_the_next_session() {
    let d = daemon();
    let server = TestServer::start();
    d.json(&["profile", "create", "web"]);
    let s = d.session_start(&["--profile", "web", "--save"]);
    let done = node_json("login.js", &server, s["cdp_ws_url"].as_str().unwrap());
    assert_eq!(done["title"], "logged-in");

    let stop = d.session_stop(s["session_id"].as_str().unwrap(), &[]);
    let snap = &stop["snapshot"];
    assert_eq!(
        snap["kind"], "session_save",
        "stop names the saved snapshot: {stop}"
    );
    assert_eq!(
        snap["id"].as_str(),
        d.history_ids("web").first().map(String::as_str)
    );
    assert!(
        snap["cookie_count"].as_u64() >= Some(2),
        "sid and theme: {stop}"
    );
    let state = d.export("web");
    assert_eq!(cookie_value(&state, "sid"), Some(SID));
    assert_eq!(storage_value(&state, &server.origin, "token"), Some(TOKEN));
    assert_eq!(
        storage_value(&state, &server.origin, "unicode"),
        Some("ünïcødé ✓ 日本")
    );

    assert_logged_in_next_time(&d, &server, "web");
}

#[test]
fn pvault_run_gives_node_the_session_saves_it_and_propagates_the_exit_code() {
    let d = daemon();
    let server = TestServer::start();
    let script = |name: &str| node_dir().join(name).display().to_string();
    d.json(&["profile", "create", "runp"]);

    let out = d
        .cli()
        .env("TEST_ORIGIN", &server.origin)
        .args([
            "run",
            "--profile",
            "runp",
            "--save",
            "--",
            "node",
            &script("login.js"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let state = d.export("runp");
    assert_eq!(
        cookie_value(&state, "sid"),
        Some(SID),
        "run --save saved the login"
    );
    assert_eq!(storage_value(&state, &server.origin, "token"), Some(TOKEN));

    // stdout is the command's: check.js prints what it saw, and its session id.
    let out = d
        .cli()
        .env("TEST_ORIGIN", &server.origin)
        .args([
            "run",
            "--profile",
            "runp",
            "--",
            "node",
            &script("check.js"),
        ])
        .output()
        .unwrap();
    let seen = parse_node("check.js via pvault run", &out);
    assert_eq!(seen["whoami"], format!("user:{SID}"));
    assert_eq!(seen["app"], format!("token:{TOKEN}"));
    assert!(
        seen["session"].as_str().is_some_and(|s| s.len() >= 8),
        "PVAULT_SESSION_ID: {seen}"
    );
    let history = d.history_ids("runp");

    let out = d
        .cli()
        .env("TEST_ORIGIN", &server.origin)
        .env("EXIT_CODE", "3")
        .args([
            "run",
            "--profile",
            "runp",
            "--save",
            "--",
            "node",
            &script("login.js"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the command's exit code: {}",
        stderr(&out)
    );
    assert_eq!(
        d.json(&["session", "list"])["sessions"],
        json!([]),
        "every run ended its session"
    );
    assert_eq!(
        d.history_ids("runp").len(),
        history.len() + 1,
        "a failing command's session is saved too"
    );
}

#[test]
fn storage_state_exported_by_pvault_loads_in_playwrights_own_browser() {
    let d = daemon();
    let server = TestServer::start();
    d.import("exp", &login_state(&server));
    let file = d.path("exported.json");
    d.json(&["profile", "export", "exp", "-o", file.to_str().unwrap()]);

    let out = node("storage-state.js", &server)
        .args(["load", file.to_str().unwrap()])
        .output()
        .unwrap();
    let seen = parse_node("storage-state.js load", &out);
    assert_eq!(seen["whoami"], format!("user:{SID}"), "{seen}");
    assert_eq!(seen["app"], format!("token:{TOKEN}"), "{seen}");
    assert!(
        server
            .cookies_sent_to("/whoami")
            .iter()
            .any(|c| c.contains(&format!("sid={SID}")))
    );
}

/// Cookies and origins of a storageState in a canonical order, for comparison.
fn canonical(state: &Value) -> Value {
    let mut cookies = state["cookies"].as_array().cloned().unwrap_or_default();
    cookies.sort_by_key(|c| format!("{}|{}|{}", c["domain"], c["path"], c["name"]));
    let mut origins = state["origins"].as_array().cloned().unwrap_or_default();
    for o in &mut origins {
        if let Some(items) = o["localStorage"].as_array_mut() {
            items.sort_by_key(|i| i["name"].as_str().unwrap_or_default().to_owned());
        }
    }
    origins.sort_by_key(|o| o["origin"].as_str().unwrap_or_default().to_owned());
    json!({"cookies": cookies, "origins": origins})
}

#[test]
fn storage_state_written_by_playwright_imports_into_pvault_unchanged() {
    let d = daemon();
    let server = TestServer::start();
    let file = d.path("playwright.json");
    let out = node("storage-state.js", &server)
        .args(["save", file.to_str().unwrap()])
        .output()
        .unwrap();
    parse_node("storage-state.js save", &out);
    let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        cookie_value(&written, "sid"),
        Some(SID),
        "Playwright saw the login: {written}"
    );

    d.json(&["profile", "import", "pw", file.to_str().unwrap()]);
    let exported = d.export("pw");
    assert_eq!(
        canonical(&exported),
        canonical(&written),
        "import → export changed the state"
    );

    // And it works: the next pvault session is logged in.
    assert_logged_in_next_time(&d, &server, "pw");
}

#[test]
fn capture_while_playwright_stays_connected_leaves_its_page_working() {
    let d = daemon();
    let server = TestServer::start();
    let s = d.session_start(&[]);
    let sid = s["session_id"].as_str().unwrap().to_owned();
    let mut pw = Interactive::spawn({
        let mut c = node("hold.js", &server);
        c.env("PVAULT_CDP_URL", s["cdp_ws_url"].as_str().unwrap());
        c
    });
    assert_eq!(pw.read()["step"], "logged-in");

    let cap = d.json(&["session", "capture", &sid, "--into", "cap"]);
    assert_eq!(cap["profile"], "cap");
    assert_eq!(cap["snapshot"]["kind"], "capture", "{cap}");
    assert_eq!(cap["capture"]["failures"], json!([]), "{cap}");
    let state = d.export("cap");
    assert_eq!(cookie_value(&state, "sid"), Some(SID), "{state}");
    assert_eq!(
        storage_value(&state, &server.origin, "token"),
        Some(TOKEN),
        "{state}"
    );

    // The same Playwright connection and page carry on after the capture.
    pw.send("check");
    let after = pw.read();
    assert_eq!(after["connected"], true, "{after}");
    assert_eq!(after["whoami"], format!("user:{SID}"), "{after}");
    assert_eq!(after["app"], format!("token:{TOKEN}"), "{after}");
    pw.send("quit");
    let status = pw.child.wait().unwrap();
    assert!(status.success(), "hold.js: {status}");
    d.session_stop(&sid, &[]);
}
