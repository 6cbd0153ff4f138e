//! Session benchmark. In one run, on the same three states imported into a fresh vault
//! (typical: 100 cookies over 10 domains, 5 origins × 20 localStorage keys; large: 1,000
//! cookies over 50 domains, 20 origins × 50 keys; large+idb: large plus 5 origins × 2
//! IndexedDB databases × 1,000 records, about 2 MB) and the same Chromium binary, it measures:
//!
//! - (a) bare Chromium: spawn until it prints its DevTools endpoint and a CDP round trip
//!   (`Browser.getVersion`) answers;
//! - (b) `session.start` with the profile until its `cdp_ws_url` answers a CDP call;
//! - (c) `session.capture` of that state into a profile;
//!
//! beside Playwright's `launch()` + `newContext({storageState})` and `context.storageState()`
//! (tests/node/bench-playwright.js; `storageState({indexedDB: true})` for the IndexedDB
//! state), and prints medians and the ratios against their targets: (b) ≤ 2.5 × (a); (b) and
//! (c) each ≤ 0.25 × Playwright's (≤ 0.5 × for the IndexedDB state). Last, the time a CDP
//! command takes through the daemon's relay and the browser's pipe multiplexer against a
//! websocket straight to a Chromium started with a port (p50 added ≤ 50 µs), beside a bare
//! relay to that websocket (the cost of any process in the middle, in the same run).
//!
//! Run (release binaries first; the bench drives the real `pvaultd` next to it):
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo bench -p pvault-e2e --bench sessions            # BENCH_RUNS=N (default 7)
//! BENCH_PART=round-trips cargo bench -p pvault-e2e --bench sessions   # the last part only
//! ```
//!
//! (b) and (c) go through the protocol client (what the Node/Python wrappers use), so they
//! include the socket round trip but not a CLI process start.

#[path = "../e2e/support/mod.rs"]
mod support;
// The floor of any process in the middle of a CDP connection.
mod bare_relay;
// The typical and large states, shared with the checkpoint bench.
mod measure;
mod states;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pvault_protocol::client::Client;
use pvault_protocol::{SessionCapture, SessionStart, SessionStop};
use serde_json::{Value, json};

use measure::{median, ms};
use pvault_testkit::{Cdp, chrome, chromium_args, node_dir};
use states::{SHAPES, state};
use support::daemon::Daemon;

/// (a): spawn Chromium with the project's flags until a CDP round trip answers. The
/// endpoint is read from Chromium's "DevTools listening on ws://…" line on stderr as soon as
/// it is printed (no polling, so no polling granularity in the figure).
fn bare_launch() -> Duration {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let mut child = Command::new(chrome())
        .args(chromium_args(dir.path()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("launch chromium");
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let ws = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_once("DevTools listening on ")
                .map(|(_, u)| u.trim().to_owned())
        })
        .expect("Chromium printed no DevTools endpoint");
    // Keep draining stderr so Chromium never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let mut c = Cdp::connect(&ws).expect("connect");
    c.call("Browser.getVersion", json!({}))
        .expect("Browser.getVersion");
    let took = t0.elapsed();
    let _ = c.call("Browser.close", json!({}));
    let _ = child.wait();
    took
}

/// Timings of one state, in milliseconds, one entry per run.
#[derive(Default)]
struct Times {
    /// (b) session start until CDP answers.
    start: Vec<f64>,
    /// (c) capture.
    capture: Vec<f64>,
}

fn main() {
    // `cargo bench` passes `--bench`; a libtest-style filter is not supported (harness = false).
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    // The runtime dir on tmpfs, as `$XDG_RUNTIME_DIR` is on a systemd machine.
    let d = Daemon::start_with(support::daemon::DaemonOpts {
        runtime_on_tmpfs: true,
        ..Default::default()
    });
    d.init();
    // The states outlive the daemon: Playwright reads them after it has stopped.
    let files_dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for shape in &SHAPES {
        let s = state(shape);
        let file = files_dir.path().join(format!("{}.json", shape.name));
        std::fs::write(&file, s.to_string()).unwrap();
        d.json(&["profile", "import", shape.name, file.to_str().unwrap()]);
        files.push(file);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(Client::connect(d.socket()))
        .expect("connect to pvaultd");

    if std::env::var("BENCH_PART").as_deref() == Ok("round-trips") {
        let round_trips = round_trips(&rt, &client);
        print_round_trips(&round_trips);
        return;
    }
    let mut bare = Vec::new();
    let mut times: Vec<Times> = SHAPES.iter().map(|_| Times::default()).collect();
    let mut problems = Vec::new();
    // Run 0 warms the daemon's path up (first launch, page cache) and is not counted.
    for run in 0..=runs {
        let warm = run == 0;
        let b = bare_launch();
        for (i, shape) in SHAPES.iter().enumerate() {
            let t0 = Instant::now();
            let started = rt
                .block_on(client.call(&SessionStart {
                    profile: Some(shape.name.into()),
                    ..Default::default()
                }))
                .expect("session.start");
            let mut c = Cdp::connect(&started.session.cdp_ws_url).expect("cdp_ws_url");
            c.call("Browser.getVersion", json!({}))
                .expect("CDP call on the session");
            let start = t0.elapsed();
            let t1 = Instant::now();
            let cap = rt
                .block_on(client.call(&SessionCapture {
                    session_id: started.session.session_id.clone(),
                    into: format!("{}-captured", shape.name),
                }))
                .expect("session.capture");
            let capture = t1.elapsed();
            drop(c);
            rt.block_on(client.call(&SessionStop {
                session_id: started.session.session_id,
                discard: true,
            }))
            .expect("session.stop");
            if let Some(load) = &started.load
                && (load.cookies_loaded as usize != shape.cookies || !load.failures.is_empty())
            {
                problems.push(format!(
                    "{}: loaded {} cookies, failures {:?}",
                    shape.name, load.cookies_loaded, load.failures
                ));
            }
            let records = shape.idb_origins * shape.idb_databases * shape.idb_records;
            if let Some(load) = &started.load
                && load.indexed_db_records as usize != records
            {
                problems.push(format!(
                    "{}: loaded {} IndexedDB records, expected {records}",
                    shape.name, load.indexed_db_records
                ));
            }
            if cap.capture.cookies as usize != shape.cookies
                || cap.capture.origins as usize != shape.origins
                || cap.capture.indexed_db_records as usize != records
            {
                problems.push(format!(
                    "{}: captured {} cookies / {} origins, expected {} / {}",
                    shape.name,
                    cap.capture.cookies,
                    cap.capture.origins,
                    shape.cookies,
                    shape.origins
                ));
            }
            if !warm {
                times[i].start.push(ms(start));
                times[i].capture.push(ms(capture));
            }
        }
        if !warm {
            bare.push(ms(b));
        }
    }
    let round_trips = round_trips(&rt, &client);
    drop(client);
    drop(d);

    // Playwright on the same files and the same binary, after pvault (no CPU contention).
    let mut cmd = Command::new("node");
    cmd.current_dir(node_dir())
        .arg("bench-playwright.js")
        .arg(runs.to_string())
        .env("CHROME", chrome());
    for (shape, file) in SHAPES.iter().zip(&files) {
        cmd.arg(format!("{}={}", shape.name, file.display()));
    }
    let out = cmd.output().expect("run node bench-playwright.js");
    assert!(
        out.status.success(),
        "bench-playwright.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pw: Value = serde_json::from_slice(&out.stdout).expect("bench-playwright.js prints JSON");

    let bare_med = median(&mut bare);
    println!(
        "\npvault session benchmark: medians of {runs} runs, ms; {} ({})",
        chrome().display(),
        pw["version"].as_str().unwrap_or("?")
    );
    println!(
        "{:<10} {:>9} {:>9} {:>11} {:>10} {:>14} {:>11} {:>9} {:>11} {:>11}",
        "state",
        "(a) bare",
        "(b) start",
        "b/a ≤2.5",
        "PW launch",
        "PW launch+ctx",
        "b/PW ≤.25/.5",
        "(c) capt",
        "PW storSt",
        "c/PW ≤.25/.5"
    );
    for (shape, t) in SHAPES.iter().zip(times.iter_mut()) {
        let p = &pw[shape.name];
        let med = |k: &str| {
            let mut v: Vec<f64> = p[k]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            median(&mut v)
        };
        let (pw_launch, pw_load, pw_cap) = (
            med("launch_ms"),
            med("launch_context_ms"),
            med("storage_state_ms"),
        );
        let start = median(&mut t.start);
        let capture = median(&mut t.capture);
        // Playwright's IndexedDB restore and read are what the IndexedDB targets compare to.
        let target = if shape.idb_origins > 0 { 0.5 } else { 0.25 };
        let mark = |ok: bool| if ok { "ok" } else { "MISS" };
        println!(
            "{:<10} {:>9.0} {:>9.0} {:>6.2} {:<4} {:>10.0} {:>14.0} {:>6.2} {:<4} {:>9.0} {:>9.0} {:>6.2} {:<4}",
            shape.name,
            bare_med,
            start,
            start / bare_med,
            mark(start <= 2.5 * bare_med),
            pw_launch,
            pw_load,
            start / pw_load,
            mark(start <= target * pw_load),
            capture,
            pw_cap,
            capture / pw_cap,
            mark(capture <= target * pw_cap),
        );
        let records = shape.idb_origins * shape.idb_databases * shape.idb_records;
        if p["cookies"].as_u64() != Some(shape.cookies as u64)
            || p["origins"].as_u64() != Some(shape.origins as u64)
            || p["records"].as_u64() != Some(records as u64)
        {
            problems.push(format!(
                "Playwright {}: storageState() gave {} cookies / {} origins",
                shape.name, p["cookies"], p["origins"]
            ));
        }
    }
    println!(
        "(b) = session.start with the profile until its cdp_ws_url answers Browser.getVersion; (c) = session.capture into a profile"
    );
    print_round_trips(&round_trips);
    for p in &problems {
        println!("WARNING: {p}");
    }
}

/// Prints the round-trip table and its target.
fn print_round_trips(round_trips: &[RoundTrip]) {
    println!(
        "\nCDP round trip, {ROUND_TRIPS} sequential commands per connection, the connections taking turns call by call (µs; p50 / p99): a websocket straight to a Chromium started with a port, a bare relay to it (two blocking threads passing frames on: the cost of any process in the middle), and the daemon's relay and multiplexer"
    );
    println!(
        "{:<28} {:>15} {:>15} {:>15} {:>11} {:>18}",
        "command", "direct", "bare relay", "relay+mux", "bare added", "relay+mux added"
    );
    for r in round_trips {
        println!(
            "{:<28} {:>6.0} / {:>6.0} {:>6.0} / {:>6.0} {:>6.0} / {:>6.0} {:>11.0} {:>8.0} {:<9}",
            r.what,
            r.direct.0,
            r.direct.1,
            r.bare_relay.0,
            r.bare_relay.1,
            r.muxed.0,
            r.muxed.1,
            r.bare_added,
            r.added,
            if r.added <= 50.0 {
                "ok ≤ 50"
            } else {
                "MISS ≤ 50"
            }
        );
    }
}

/// Sequential round trips per command and connection.
const ROUND_TRIPS: usize = 3000;
/// Round trips per connection before the measured ones, to warm each connection up.
const WARM_UP: usize = 100;

/// One command's round trips: (p50, p99) in µs.
struct RoundTrip {
    /// The command.
    what: &'static str,
    /// On Chrome's own websocket.
    direct: (f64, f64),
    /// Through [`bare_relay`] to the same Chrome: the cost of any process in the middle.
    bare_relay: (f64, f64),
    /// Through the daemon's relay and the pipe multiplexer.
    muxed: (f64, f64),
    /// relay+mux p50 − direct p50.
    added: f64,
    /// The same for the bare relay.
    bare_added: f64,
}

/// p50 and p99 of round trips in µs.
fn p50_p99(mut us: Vec<f64>) -> (f64, f64) {
    us.sort_by(f64::total_cmp);
    (median(&mut us), us[us.len() * 99 / 100])
}

/// The same commands on a session's relay URL, on a port-launched Chromium's websocket and
/// through a bare relay to that websocket. The three connections take turns call by call (in
/// an order that rotates, so none always follows another), so a change in the machine's
/// load in the middle of the run reaches all three alike: on a 2-core VM, batches of a
/// thousand calls per connection gave p50 differences that moved by ±80 µs from run to run.
fn round_trips(rt: &tokio::runtime::Runtime, client: &Client) -> Vec<RoundTrip> {
    let started = rt
        .block_on(client.call(&SessionStart::default()))
        .expect("session.start");
    let user = pvault_testkit::UserChrome::launch();
    let muxed = Cdp::connect(&started.session.cdp_ws_url).expect("cdp_ws_url");
    let direct = Cdp::connect(&user.ws).expect("Chromium's websocket");
    let bare = Cdp::connect(&bare_relay::spawn(&user.ws)).expect("the bare relay");
    // direct, bare relay, relay+mux; each with its page session.
    let mut conns: Vec<(Cdp, String)> = [direct, bare, muxed]
        .into_iter()
        .map(|mut c| {
            let t = c.open("about:blank");
            let page = c.attach(&t);
            (c, page)
        })
        .collect();
    let mut out = Vec::new();
    for (what, page) in [
        ("Browser.getVersion", false),
        ("Runtime.evaluate \"1\" (page)", true),
    ] {
        let (method, params) = if page {
            ("Runtime.evaluate", json!({"expression": "1"}))
        } else {
            ("Browser.getVersion", json!({}))
        };
        let mut times: [Vec<f64>; 3] = Default::default();
        for i in 0..WARM_UP + ROUND_TRIPS {
            for k in 0..3 {
                let which = (i + k) % 3;
                let (c, page_session) = &mut conns[which];
                let t = Instant::now();
                match page {
                    true => c.call_in(page_session, method, params.clone()),
                    false => c.call(method, params.clone()),
                }
                .expect("CDP call");
                if i >= WARM_UP {
                    times[which].push(t.elapsed().as_secs_f64() * 1e6);
                }
            }
        }
        let [d, b, m] = times.map(p50_p99);
        out.push(RoundTrip {
            what,
            direct: d,
            bare_relay: b,
            muxed: m,
            added: m.0 - d.0,
            bare_added: b.0 - d.0,
        });
    }
    drop(conns);
    rt.block_on(client.call(&SessionStop {
        session_id: started.session.session_id,
        discard: true,
    }))
    .expect("session.stop");
    out
}
