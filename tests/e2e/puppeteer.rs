//! Real Puppeteer (`puppeteer-core`, tests/node/puppeteer.js) through the daemon's CDP relay
//!: `puppeteer.connect` to a `--save` session's `cdp_ws_url` sets a cookie and a
//! localStorage item in a page of the local test server, disconnects, and the session's saved
//! snapshot holds both; the same URL with a wrong token is refused (HTTP 403) and Puppeteer's
//! connect fails.

use pvault_testkit::{TestServer, node_dir};

use crate::support::daemon::Daemon;
use crate::support::session::{cookie_value, node, parse_node, storage_value};

/// The name of the cookie and of the localStorage item the script sets.
const NAME: &str = "pptr";
/// Their value (plain cookie-octets, so document.cookie needs no encoding).
const VALUE: &str = "puppeteer-5c1d-secret";

/// `node puppeteer.js URL NAME VALUE` against `cdp_ws_url`; panics with what to run when
/// `puppeteer-core` is not installed.
fn puppeteer(server: &TestServer, cdp_ws_url: &str, url: &str) -> std::process::Output {
    assert!(
        node_dir().join("node_modules/puppeteer-core").exists(),
        "puppeteer-core is not installed: run `npm ci` in tests/node (.ci/run does)"
    );
    node("puppeteer.js", server)
        .env("PVAULT_CDP_URL", cdp_ws_url)
        .args([url, NAME, VALUE])
        .output()
        .expect("run node puppeteer.js")
}

#[test]
fn puppeteer_connects_through_the_relay_and_its_changes_are_saved() {
    let d = Daemon::start();
    d.init();
    let server = TestServer::start();
    d.json(&["profile", "create", "pptr"]);
    let before = d.history_ids("pptr");
    let s = d.session_start(&["--profile", "pptr", "--save"]);
    let sid = s["session_id"].as_str().unwrap().to_owned();
    let url = s["cdp_ws_url"].as_str().unwrap();
    assert!(
        url.starts_with("ws://127.0.0.1:") && url.contains("/devtools/browser/"),
        "the session hands out the relay's URL: {url}"
    );

    let page = server.url("/app");
    let seen = parse_node("puppeteer.js", &puppeteer(&server, url, &page));
    assert_eq!(seen["url"], page, "{seen}");
    assert_eq!(
        seen["cookie"], VALUE,
        "the page read its cookie back: {seen}"
    );
    assert_eq!(
        seen["storage"], VALUE,
        "the page read localStorage back: {seen}"
    );
    assert!(
        server.seen.lock().unwrap().iter().any(|r| r.path == "/app"),
        "the page was loaded from the test server"
    );

    // disconnect() left the browser running: the session is still there to stop and save.
    let stop = d.session_stop(&sid, &[]);
    assert_eq!(
        stop["snapshot"]["kind"], "session_save",
        "stop names the saved snapshot: {stop}"
    );
    let after = d.history_ids("pptr");
    assert_eq!(after.len(), before.len() + 1, "one new snapshot: {after:?}");
    assert_eq!(
        stop["snapshot"]["id"].as_str(),
        after.first().map(String::as_str)
    );

    let state = d.export("pptr");
    assert_eq!(
        cookie_value(&state, NAME),
        Some(VALUE),
        "the newest snapshot holds Puppeteer's cookie: {state}"
    );
    assert_eq!(
        storage_value(&state, &server.origin, NAME),
        Some(VALUE),
        "the newest snapshot holds Puppeteer's localStorage item: {state}"
    );
}

#[test]
fn puppeteer_with_a_wrong_token_is_refused() {
    let d = Daemon::start();
    d.init();
    let server = TestServer::start();
    let s = d.session_start(&[]);
    let url = s["cdp_ws_url"].as_str().unwrap();
    let (base, token) = url.rsplit_once('/').expect("the URL ends in the token");
    // Same length, every character changed: only the token differs from the real URL.
    let wrong: String = token
        .chars()
        .map(|c| if c == 'a' { 'b' } else { 'a' })
        .collect();
    let out = puppeteer(&server, &format!("{base}/{wrong}"), &server.url("/app"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(99),
        "puppeteer.connect must fail (exit 99), got {}: {}{stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains("403"),
        "the relay answers HTTP 403: {stderr}"
    );
    assert!(
        !server.seen.lock().unwrap().iter().any(|r| r.path == "/app"),
        "no page was opened through a refused connection"
    );

    // The real URL still works afterwards: the refusal did not harm the session.
    let ok = parse_node(
        "puppeteer.js",
        &puppeteer(&server, url, &server.url("/app")),
    );
    assert_eq!(ok["storage"], VALUE, "{ok}");
    d.session_stop(s["session_id"].as_str().unwrap(), &[]);
}
