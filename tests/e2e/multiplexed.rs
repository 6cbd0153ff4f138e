//! Real Playwright through a session whose browser speaks CDP over a pipe behind the daemon's
//! multiplexer (tests/node/multiplexed.js): two Playwright clients connected at once (each
//! sees the other's pages; a checkpoint is written while both are connected) use pages, `newPage`, a popup, an out-of-process iframe,
//! a dedicated and a service worker, a download and `page.close`; the second client opens
//! pages after the first left; a cookie set through the first is saved by the stop. The same
//! basics through Puppeteer, beside a Playwright client (tests/node/puppeteer-multiplexed.js).

use std::time::Duration;

use pvault_testkit::{TestServer, node_dir, wait_for};

use crate::checkpoints::checkpoint_counts;
use crate::support::daemon::Daemon;
use crate::support::session::{Interactive, cookie_value, node};
use serde_json::Value;

/// A `--save` session of `profile` whose browser runs on the pipe, its relay URL run through
/// node `script`; returns the daemon, the test site, the session id, and what the script
/// printed. While the script holds both its clients connected (its `both-connected` pause),
/// the engine's checkpoints (one more client of the multiplexer) must capture and write the
/// cookie the first client set: the clients do not starve them.
fn run_clients(script: &str, module: &str, profile: &str) -> (Daemon, TestServer, String, Value) {
    assert!(
        node_dir().join("node_modules").join(module).exists(),
        "{module} is not installed: run `npm ci` in tests/node (.ci/run does)"
    );
    let d = Daemon::start();
    d.init();
    let server = TestServer::start();
    let s = d.session_start(&["--profile", profile, "--save"]);
    let sid = s["session_id"].as_str().unwrap().to_owned();
    let show = d.json(&["session", "show", &sid]);
    assert_eq!(show["session"]["transport"], "pipe", "{show}");
    let mut cmd = node(script, &server);
    cmd.env("PVAULT_CDP_URL", s["cdp_ws_url"].as_str().unwrap());
    let mut clients = Interactive::spawn(cmd);
    assert_eq!(clients.read()["step"], "both-connected");
    let (captures_before, written_before) = checkpoint_counts(&d, &sid);
    wait_for(
        "a checkpoint written while both clients are connected",
        Duration::from_secs(60),
        || {
            let (captures, written) = checkpoint_counts(&d, &sid);
            (captures > captures_before && written > written_before).then_some(())
        },
    );
    clients.send("go");
    let seen = clients.read();
    let status = clients.child.wait().unwrap();
    assert!(status.success(), "node {script}: {status}");
    (d, server, sid, seen)
}

/// What both scripts observe of every kind of target: the page, popup, out-of-process iframe,
/// workers, download and closed pages.
fn assert_every_kind_of_target(seen: &Value, server: &TestServer) {
    assert_eq!(seen["title"], "ok", "{seen}");
    assert_eq!(seen["popup"], "/popup-target", "{seen}");
    let cross_site = server.origin.replace("http://127.0.0.1", "localhost");
    assert_eq!(seen["oopif"], cross_site, "{seen}");
    assert_eq!(seen["worker"], 42, "{seen}");
    assert_eq!(seen["workerReply"], "worker:ping", "{seen}");
    assert_eq!(seen["serviceWorker"], "/sw.js", "{seen}");
    assert_eq!(seen["downloadName"], "report.txt", "{seen}");
    assert_eq!(seen["download"], "downloaded report", "{seen}");
    assert_eq!(seen["closed"], 2, "{seen}");
    for path in [
        "/popup-target",
        "/inner",
        "/worker.js",
        "/sw.js",
        "/download",
        "/after",
    ] {
        assert!(
            server.seen.lock().unwrap().iter().any(|r| r.path == path),
            "the browser asked the test server for {path}"
        );
    }
}

/// The session lived on after the clients left; the stop saves cookie `mux` with `value`.
fn assert_saved(d: &Daemon, sid: &str, profile: &str, value: &str) {
    d.session_stop(sid, &[]);
    let state = d.export(profile);
    assert_eq!(cookie_value(&state, "mux"), Some(value), "{state}");
}

#[test]
fn playwright_clients_use_every_kind_of_target_through_the_multiplexer() {
    let (d, server, sid, seen) = run_clients("multiplexed.js", "playwright-core", "mux");
    assert_every_kind_of_target(&seen, &server);
    assert!(
        seen["secondSees"]
            .as_str()
            .is_some_and(|c| c.contains("mux=first-client")),
        "{seen}"
    );
    assert_eq!(seen["secondSeesFirstsPage"], true, "{seen}");
    assert_eq!(seen["firstSeesSecondsPage"], true, "{seen}");
    assert_eq!(seen["afterFirstLeft"], "/after", "{seen}");
    assert!(seen["secondPages"].as_u64() >= Some(2), "{seen}");
    assert_saved(&d, &sid, "mux", "first-client");
}

/// The same basics through Puppeteer (tests/node/puppeteer-multiplexed.js), with a Playwright
/// client connected at the same time: each sees the other's pages, Puppeteer's browser-level
/// CDP session (downloads) works beside Playwright's, one leaving does not disturb the other,
/// and the engine's checkpoints capture the cookie set through Puppeteer.
#[test]
fn puppeteer_and_playwright_at_once_through_the_multiplexer() {
    let (d, server, sid, seen) =
        run_clients("puppeteer-multiplexed.js", "puppeteer-core", "pptr-mux");
    assert_every_kind_of_target(&seen, &server);
    assert_eq!(seen["serviceWorkerScope"], "object", "{seen}");
    assert_eq!(seen["playwrightSeesPuppeteerPage"], true, "{seen}");
    assert!(
        seen["secondSees"]
            .as_str()
            .is_some_and(|c| c.contains("mux=puppeteer")),
        "{seen}"
    );
    assert_eq!(
        seen["puppeteerSeesPlaywrightPage"], "/from-playwright",
        "{seen}"
    );
    assert_eq!(seen["afterPuppeteerLeft"], "/after", "{seen}");
    assert_saved(&d, &sid, "pptr-mux", "puppeteer");
}
