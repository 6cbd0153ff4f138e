//! Health check benchmark. In one run, against the test site and the same Chromium binary:
//!
//! - `profile.check` of a logged-in profile (through the protocol client, what the CLI and
//!   the wrappers use): launch a headless browser with the stored state, open the page, wait
//!   for its load and its selector, evaluate every expectation, keep the result, close;
//! - the same navigation by a plain Playwright script (tests/node/bench-health-playwright.js):
//!   `chromium.launch()`, `newContext({storageState})` with the same state exported, open the
//!   URL until its load event, close;
//!
//! and prints the medians and the ratio against the target (check ≤ 0.5 × Playwright). The
//! checks run back to back, as a round of scheduled checks does: once with the daemon's
//! default (the check browser kept running between checks, each check in a browser context of
//! its own), once with `[health] keep_browser_secs = 0` (every check launches its browser).
//!
//! Run (release binaries first; the bench drives the real `pvaultd` next to it):
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo bench -p pvault-e2e --bench health              # BENCH_RUNS=N (default 7)
//! ```

mod measure;
#[path = "../e2e/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Instant;

use pvault_protocol::client::Client;
use pvault_protocol::{ProfileCheck, ProfileExport};
use serde_json::{Value, json};

use measure::{median, ms};
use pvault_testkit::{TestServer, chrome, node_dir};
use support::daemon::Daemon;

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let srv = TestServer::start();
    let url = srv.url("/account");
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("state.json");
    let kept = checks(&srv, runs, None, Some(&file));
    let cold = checks(&srv, runs, Some("[health]\nkeep_browser_secs = 0\n"), None);

    let out = Command::new("node")
        .current_dir(node_dir())
        .arg("bench-health-playwright.js")
        .arg(runs.to_string())
        .arg(&file)
        .arg(&url)
        .env("CHROME", chrome())
        .output()
        .expect("run node bench-health-playwright.js");
    assert!(
        out.status.success(),
        "bench-health-playwright.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pw: Value = serde_json::from_slice(&out.stdout).expect("JSON from the Playwright side");
    assert_eq!(
        pw["final_url"],
        json!(url),
        "Playwright must land logged in"
    );
    let mut pw_ms: Vec<f64> = pw["wall_ms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let p = median(&mut pw_ms);
    println!(
        "\npvault health check benchmark: medians of {runs} runs, ms; {} ({})",
        chrome().display(),
        pw["version"].as_str().unwrap_or("?")
    );
    println!(
        "{:<44} {:>9}",
        "Playwright launch+ctx+goto",
        format!("{p:.0}")
    );
    for (what, mut t) in [
        ("profile check, browser kept (default)", kept),
        ("profile check, keep_browser_secs = 0", cold),
    ] {
        let c = median(&mut t);
        println!(
            "{what:<44} {:>9}   / Playwright {:.3} {}",
            format!("{c:.0}"),
            c / p,
            if c <= 0.5 * p {
                "ok (≤ 0.5)"
            } else {
                "MISS (≤ 0.5)"
            }
        );
    }
}

/// A daemon (with `config`) whose profile `h` is logged in at the test site and has a health
/// definition; `runs` checks of it back to back (one more first, not counted); returns their
/// times (ms). With `export`, the profile's state is written there in Playwright's format.
fn checks(
    srv: &TestServer,
    runs: usize,
    config: Option<&str>,
    export: Option<&std::path::Path>,
) -> Vec<f64> {
    // The runtime dir on tmpfs, as `$XDG_RUNTIME_DIR` is on a systemd machine.
    let d = Daemon::start_with(support::daemon::DaemonOpts {
        runtime_on_tmpfs: true,
        config: config.map(str::to_owned),
        ..Default::default()
    });
    d.init();
    // Log in once in a save session (the site's /login sets the httpOnly `sid`).
    let s = d.json(&[
        "session",
        "start",
        "--profile",
        "h",
        "--save",
        "--start-url",
        &srv.url("/login"),
    ]);
    srv.wait("/done", srv.count("/done") + 1);
    d.json(&["session", "stop", s["session_id"].as_str().unwrap()]);
    d.json(&[
        "profile",
        "health",
        "set",
        "h",
        "--url",
        &srv.url("/account"),
        "--expect-cookie",
        "sid",
        "--expect-selector",
        "#user-menu",
        "--expect-url-not",
        "/login",
    ]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(Client::connect(d.socket()))
        .expect("connect to pvaultd");
    if let Some(file) = export {
        // The same state for Playwright, exported in its format.
        let export = rt
            .block_on(client.call(&ProfileExport {
                name: "h".into(),
                snapshot: None,
                format: None,
                chunked: false,
            }))
            .expect("profile.export");
        std::fs::write(file, export.state.to_string()).unwrap();
    }
    let mut times = Vec::new();
    // Run 0 warms up (first launch, page cache) and is not counted.
    for run in 0..=runs {
        let t0 = Instant::now();
        let r = rt
            .block_on(client.call(&ProfileCheck {
                name: "h".into(),
                timeout_secs: None,
            }))
            .expect("profile.check");
        let took = t0.elapsed();
        assert_eq!(
            r.result.status,
            pvault_model::HealthStatus::Healthy,
            "the check must find the login: {:?}",
            r.result
        );
        if run > 0 {
            times.push(ms(took));
        }
    }
    times
}
