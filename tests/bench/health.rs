//! Health check benchmark. In one run, against the test site and the same Chromium binary:
//!
//! - `profile.check` of a logged-in profile (through the protocol client, what the CLI and
//!   the wrappers use): launch a headless browser with the stored state, open the page, wait
//!   for its load and its selector, evaluate every expectation, keep the result, close;
//! - the same navigation by a plain Playwright script (tests/node/bench-health-playwright.js):
//!   `chromium.launch()`, `newContext({storageState})` with the same state exported, open the
//!   URL until its load event, close;
//!
//! and prints the medians and the ratio against the target (check ≤ 0.5 × Playwright).
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
    // The runtime dir on tmpfs, as `$XDG_RUNTIME_DIR` is on a systemd machine.
    let d = Daemon::start_with(support::daemon::DaemonOpts {
        runtime_on_tmpfs: true,
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
    srv.wait("/done", 1);
    d.json(&["session", "stop", s["session_id"].as_str().unwrap()]);
    let url = srv.url("/account");
    d.json(&[
        "profile",
        "health",
        "set",
        "h",
        "--url",
        &url,
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
    // The same state for Playwright, exported in its format.
    let export = rt
        .block_on(client.call(&ProfileExport {
            name: "h".into(),
            snapshot: None,
            format: None,
            chunked: false,
        }))
        .expect("profile.export");
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("state.json");
    std::fs::write(&file, export.state.to_string()).unwrap();

    let mut check = Vec::new();
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
            check.push(ms(took));
        }
    }
    drop(client);
    drop(d);

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
    let (c, p) = (median(&mut check), median(&mut pw_ms));
    println!(
        "\npvault health check benchmark: medians of {runs} runs, ms; {} ({})",
        chrome().display(),
        pw["version"].as_str().unwrap_or("?")
    );
    println!(
        "{:<26} {:>9}",
        "profile check (protocol)",
        format!("{c:.0}")
    );
    println!(
        "{:<26} {:>9}",
        "Playwright launch+ctx+goto",
        format!("{p:.0}")
    );
    println!(
        "{:<26} {:>9} {}",
        "check / Playwright ≤ 0.5",
        format!("{:.3}", c / p),
        if c <= 0.5 * p { "ok" } else { "MISS" }
    );
}
