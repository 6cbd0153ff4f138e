//! Checkpoints while a Playwright script runs: they must not disturb it. A real
//! `--save` session checkpoints (timer and change signals) while tests/node/busy-playwright.js
//! navigates between two origins of the test server, writing and reading back a counter in
//! localStorage and cookies; the script sees no new page, no error, no changed value or
//! viewport, the session's own counters prove the checkpoints ran meanwhile, and the state
//! saved at the end holds the script's last writes.

use serde_json::Value;

use pvault_testkit::{SID, TOKEN, TestServer};

use crate::support::daemon::Daemon;
use crate::support::session::{cookie_value, login_state, node, storage_value};

/// How long the script keeps busy: several 2 s timer checkpoints and more signal-driven ones.
const BUSY_SECS: &str = "8";
/// The fewest loop rounds (a navigation, three writes read back, three round trips) the script
/// must manage in [`BUSY_SECS`]; a checkpoint that stalled the page would show here.
const MIN_ITERATIONS: u64 = 10;

/// `session.checkpoints.{captures, written}` of a running session.
pub(crate) fn checkpoint_counts(d: &Daemon, sid: &str) -> (u64, u64) {
    let show = d.json(&["session", "show", sid]);
    let c = &show["session"]["checkpoints"];
    match (c["captures"].as_u64(), c["written"].as_u64()) {
        (Some(captures), Some(written)) => (captures, written),
        _ => panic!("session show has no checkpoint counters for a --save session: {show}"),
    }
}

/// The value of cookie `name` set for host `domain` in a storageState.
fn cookie_on<'a>(state: &'a Value, domain: &str, name: &str) -> Option<&'a str> {
    state["cookies"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name && c["domain"] == domain)?["value"]
        .as_str()
}

#[test]
fn checkpoints_do_not_disturb_a_playwright_script_running_at_the_same_time() {
    let d = Daemon::start();
    d.init();
    let server = TestServer::start();
    // The same server under a second origin: the script leaves each origin after writing to
    // it, so a checkpoint meets written-and-left origins (what a full capture would open a
    // page to read).
    let other = server.origin.replace("127.0.0.1", "localhost");
    d.import("busy", &login_state(&server));
    let s = d.session_start(&["--profile", "busy", "--save"]);
    let sid = s["session_id"].as_str().unwrap().to_owned();

    let (captures_before, written_before) = checkpoint_counts(&d, &sid);
    let out = node("busy-playwright.js", &server)
        .env("PVAULT_CDP_URL", s["cdp_ws_url"].as_str().unwrap())
        .args([BUSY_SECS, &server.origin, &other])
        .output()
        .expect("run node");
    let (captures_after, written_after) = checkpoint_counts(&d, &sid);

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "busy-playwright.js was disturbed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let r: Value = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("busy-playwright.js printed no report: {stdout}\n{stderr}"));
    assert_eq!(r["problems"], serde_json::json!([]), "{r}");
    assert_eq!(
        r["pages_opened"],
        serde_json::json!([]),
        "a checkpoint opened a page the client saw: {r}"
    );
    assert_eq!(r["page_errors"], serde_json::json!([]), "{r}");
    assert_eq!(r["console_errors"], serde_json::json!([]), "{r}");
    assert_eq!(r["pages_at_end"], r["pages_at_start"], "{r}");
    assert_eq!(r["viewport_at_end"], r["viewport_at_start"], "{r}");
    assert!(
        r["window_at_start"]["width"].as_u64() > Some(0),
        "the script measured no window: {r}"
    );
    assert_eq!(r["window_at_end"], r["window_at_start"], "{r}");
    let iterations = r["iterations"].as_u64().unwrap_or(0);
    assert!(
        iterations >= MIN_ITERATIONS,
        "only {iterations} rounds in {BUSY_SECS} s (at least {MIN_ITERATIONS} expected): {r}"
    );

    // The checkpoints really ran while the script did.
    assert!(
        captures_after >= captures_before + 3,
        "checkpoint captures went from {captures_before} to {captures_after} during a {BUSY_SECS} s \
         busy script (at least 3 more expected)"
    );
    assert!(
        written_after > written_before,
        "no checkpoint was written while the script changed the state \
         ({written_before} → {written_after})"
    );

    // Nothing was lost or reverted: the saved state holds the last value written on each
    // origin, the newest of them being the script's last write.
    let counter = r["counter"].as_u64().expect("counter");
    let stop = d.session_stop(&sid, &[]);
    assert_eq!(stop["snapshot"]["kind"], "session_save", "{stop}");
    let state = d.export("busy");
    let last = r["last"].as_object().expect("last per origin");
    assert_eq!(last.len(), 2, "the script wrote on both origins: {r}");
    assert_eq!(
        last.values().filter_map(Value::as_u64).max(),
        Some(counter),
        "{r}"
    );
    for (origin, value) in last {
        let value = value.as_u64().expect("a counter").to_string();
        let host = if *origin == server.origin {
            "127.0.0.1"
        } else {
            "localhost"
        };
        assert_eq!(
            storage_value(&state, origin, "pw-counter"),
            Some(value.as_str()),
            "localStorage of {origin} in the saved state"
        );
        assert_eq!(
            cookie_on(&state, host, "pwc"),
            Some(value.as_str()),
            "cookie pwc of {host} in the saved state"
        );
    }
    // And what was imported before the session is still there.
    assert_eq!(cookie_value(&state, "sid"), Some(SID));
    assert_eq!(storage_value(&state, &server.origin, "token"), Some(TOKEN));
}
