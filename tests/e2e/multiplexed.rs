//! Real Playwright through a session whose browser speaks CDP over a pipe behind the daemon's
//! multiplexer (tests/node/multiplexed.js): two Playwright clients connected at once, while the
//! `--save` session's checkpoints run, use pages, `newPage`, a popup, an out-of-process iframe,
//! a dedicated and a service worker, a download and `page.close`; the second client opens
//! pages after the first left; a cookie set through the first is saved by the stop.

use std::time::Duration;

use pvault_testkit::{TestServer, node_dir, wait_for};

use crate::checkpoints::checkpoint_counts;
use crate::support::daemon::Daemon;
use crate::support::session::{cookie_value, node_json};

#[test]
fn playwright_clients_use_every_kind_of_target_through_the_multiplexer() {
    assert!(
        node_dir().join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci` in tests/node (.ci/run does)"
    );
    let d = Daemon::start();
    d.init();
    let server = TestServer::start();
    let s = d.session_start(&["--profile", "mux", "--save"]);
    let sid = s["session_id"].as_str().unwrap().to_owned();
    let show = d.json(&["session", "show", &sid]);
    assert_eq!(show["session"]["transport"], "pipe", "{show}");
    let (captures_before, _) = checkpoint_counts(&d, &sid);

    let seen = node_json("multiplexed.js", &server, s["cdp_ws_url"].as_str().unwrap());
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
    assert!(
        seen["secondSees"]
            .as_str()
            .is_some_and(|c| c.contains("mux=first-client")),
        "{seen}"
    );
    assert_eq!(seen["afterFirstLeft"], "/after", "{seen}");
    assert!(seen["secondPages"].as_u64() >= Some(2), "{seen}");
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

    // The session lived on after both clients left, and the engine's checkpoints (one more
    // client of the multiplexer) capture what the clients changed; the stop saves it.
    let written = wait_for(
        "a checkpoint of what the clients changed",
        Duration::from_secs(60),
        || {
            let (captures, written) = checkpoint_counts(&d, &sid);
            (captures > captures_before && written > 0).then_some(written)
        },
    );
    assert!(written > 0);
    d.session_stop(&sid, &[]);
    let state = d.export("mux");
    assert_eq!(cookie_value(&state, "mux"), Some("first-client"), "{state}");
}
