//! Checkpoint cost benchmark. In one run, on the typical, large and large-with-IndexedDB states of
//! `states.rs` imported into a fresh vault, with the release `pvaultd` and the same Chromium:
//!
//! 1. **Time per checkpoint.** A `--save` session of each state, with one page open on the
//!    local test server, is left to its 2 s checkpoint timer; every other capture a cookie is
//!    changed first (`Storage.setCookies` through the relay), so half the captures find no
//!    change and half write a checkpoint. `session.show`'s `checkpoints` counters give each
//!    capture's time (`last_capture_ms`, median) and the exact mean (`total_capture_ms` /
//!    `captures`). Baselines of the same session, same run: a bare `Storage.getCookies`
//!    round trip through the relay, and `session.capture` (the full capture a user calls).
//! 2. **CPU over an idle session.** The CPU time (utime + stime + cutime + cstime of
//!    `/proc/<pid>/stat`) of `pvaultd` and every process under it or whose command line holds
//!    the session's user-data-dir, over `BENCH_SECS`, of (A) a `--save` session of the large
//!    state with IndexedDB (checkpoints on) and (B) a read-only session of the same state (no checkpoints),
//!    each with one page open and a CDP client connected doing nothing. Checkpoint CPU =
//!    (A − B) / `BENCH_SECS`, as % of one core; the target is ≤ 2 % while idle.
//! 3. **CPU over a busy session**: the same with `tests/node/bench-checkpoints-busy.js`
//!    (Playwright) navigating every second and writing localStorage and a cookie every 100 ms,
//!    in both A and B. The node process itself is not counted.
//!
//! The CPU runs go B, A (idle) then A, B (busy) so a drift of the machine's load affects both
//! sides alike. B runs everything A runs except the checkpoint loop (the browser's change
//! watch is on in every session), so A − B is the checkpoints' own cost: captures, the
//! in-memory compare and the vault writes, in `pvaultd` and in Chromium.
//!
//! Run (release binaries first; the bench drives the real `pvaultd` next to it):
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo bench -p pvault-e2e --bench checkpoints    # BENCH_SECS=N (default 60), BENCH_SAMPLES=N (default 10)
//! ```
//!
//! The machine is shared (2 cores, other builds): the load average at start and end is
//! printed with the figures; a CPU difference is only as good as the load was steady.

#[path = "../e2e/support/mod.rs"]
mod support;
// The typical and large states, shared with the session bench.
mod measure;
mod states;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use pvault_protocol::client::Client;
use pvault_protocol::{
    CheckpointStats, SessionCapture, SessionShow, SessionStart, SessionStartResponse, SessionStop,
};
use serde_json::{Value, json};

use measure::{median, ms};
use pvault_testkit::{Cdp, TestServer, chrome, wait_for};
use states::{SHAPES, Shape, state};
use support::daemon::Daemon;
use support::session::{Interactive, node};

/// The daemon, its protocol client and the local test server, shared by every phase.
struct Bench {
    /// The real `pvaultd` on a temporary home.
    d: Daemon,
    /// Runs the protocol client's futures.
    rt: tokio::runtime::Runtime,
    /// Protocol client (what the wrappers use).
    client: Client,
    /// Local pages the sessions open.
    server: TestServer,
    /// Length of each CPU window.
    secs: u64,
}

impl Bench {
    /// Starts a session of `profile`; `save` turns checkpoints on. The inactivity timeout is
    /// set far beyond the run so it never ends a session under measurement.
    fn start(&self, profile: &str, save: bool) -> SessionStartResponse {
        let r = self
            .rt
            .block_on(self.client.call(&SessionStart {
                profile: Some(profile.into()),
                save,
                timeout_secs: Some((self.secs * 20).clamp(3600, 259_200)),
                ..Default::default()
            }))
            .expect("session.start");
        if let Some(load) = &r.load {
            assert!(
                load.failures.is_empty(),
                "loading {profile} failed for {:?}",
                load.failures
            );
        }
        r
    }

    /// `session.show`'s checkpoint counters (zero for a session without checkpoints).
    fn stats(&self, id: &str) -> CheckpointStats {
        self.rt
            .block_on(self.client.call(&SessionShow {
                session_id: id.into(),
            }))
            .expect("session.show")
            .session
            .checkpoints
            .unwrap_or_default()
    }

    /// Stops a session without a final save. Its checkpoints stay in the profile's history
    /// (protocol.md §5.4), so each run uses a profile of its own, imported fresh.
    fn stop(&self, id: &str) {
        self.rt
            .block_on(self.client.call(&SessionStop {
                session_id: id.into(),
                discard: true,
            }))
            .expect("session.stop");
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// `/proc/loadavg`'s three averages.
fn loadavg() -> String {
    let s = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Opens one page on the test server through the relay (what a person or a script leaves
/// open in an idle session).
fn open_page(cdp: &mut Cdp, url: &str) {
    cdp.call("Target.createTarget", json!({ "url": url }))
        .expect("Target.createTarget");
}

// ---------------------------------------------------------------------------------------
// 1. Time per checkpoint

/// Per-checkpoint figures of one state, ms.
struct CheckpointTimes {
    /// Median `Storage.getCookies` round trip through the relay.
    get_cookies: f64,
    /// Median `session.capture` into another profile.
    capture: f64,
    /// `last_capture_ms` of captures that found no change.
    unchanged: Vec<f64>,
    /// Mean of those (from `total_capture_ms`).
    unchanged_mean: f64,
    /// `last_capture_ms` of captures that wrote a checkpoint.
    written: Vec<f64>,
    /// Mean of those.
    written_mean: f64,
}

fn checkpoint_times(b: &Bench, shape: &Shape, samples: usize) -> CheckpointTimes {
    let started = b.start(shape.name, true);
    let id = started.session.session_id.clone();
    let mut cdp = Cdp::connect(&started.session.cdp_ws_url).expect("connect to the relay");
    open_page(&mut cdp, &b.server.url("/app"));

    let mut get_cookies = Vec::new();
    let mut capture = Vec::new();
    for _ in 0..samples {
        let t = Instant::now();
        let n = cdp.cookies().len();
        get_cookies.push(ms(t.elapsed()));
        assert!(n >= shape.cookies, "{}: only {n} cookies", shape.name);
        let t = Instant::now();
        b.rt.block_on(b.client.call(&SessionCapture {
            session_id: id.clone(),
            into: format!("{}-captured", shape.name),
        }))
        .expect("session.capture");
        capture.push(ms(t.elapsed()));
    }

    // Every other capture finds a changed cookie (the timer picks it up: a CDP cookie write
    // raises no signal). Captures are classified by whether `written` moved, not by intent:
    // a change made while a capture runs lands in the next one.
    let (mut unchanged, mut written) = (Vec::new(), Vec::new());
    let (mut unchanged_total, mut written_total) = (0u64, 0u64);
    let mut prev = b.stats(&id);
    let mut round = 0u64;
    while (unchanged.len() < samples || written.len() < samples) && round < 4 * samples as u64 {
        round += 1;
        if round.is_multiple_of(2) {
            cdp.set_cookies(json!([{
                "name": "c1", "value": format!("changed-{round}"), "domain": "bench1.test",
                "path": "/", "secure": true, "expires": -1,
            }]));
        }
        let next = wait_for(
            "the next checkpoint capture",
            Duration::from_secs(30),
            || {
                let s = b.stats(&id);
                (s.captures > prev.captures).then_some(s)
            },
        );
        // Two captures between polls cannot be told apart: skip them.
        if next.captures == prev.captures + 1 {
            let took = next.last_capture_ms.unwrap_or(0);
            let spent = next.total_capture_ms - prev.total_capture_ms;
            if next.written > prev.written {
                written.push(took as f64);
                written_total += spent;
            } else {
                unchanged.push(took as f64);
                unchanged_total += spent;
            }
        }
        prev = next;
    }
    drop(cdp);
    b.stop(&id);
    let mean = |total: u64, v: &[f64]| total as f64 / v.len().max(1) as f64;
    CheckpointTimes {
        get_cookies: median(&mut get_cookies),
        capture: median(&mut capture),
        unchanged_mean: mean(unchanged_total, &unchanged),
        written_mean: mean(written_total, &written),
        unchanged,
        written,
    }
}

// ---------------------------------------------------------------------------------------
// 2 and 3. CPU of a session over BENCH_SECS

/// Clock ticks per second of `/proc/<pid>/stat`'s times.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions; _SC_CLK_TCK is 2 on Linux.
    let t = unsafe { sysconf(2) };
    if t > 0 { t as f64 } else { 100.0 }
}

unsafe extern "C" {
    fn sysconf(name: i32) -> i64;
}

/// `(ppid, utime + stime + cutime + cstime in ticks)` of one process.
fn proc_stat(pid: u32) -> Option<(u32, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some((num(1)? as u32, num(11)? + num(12)? + num(13)? + num(14)?))
}

/// CPU seconds used so far by `root` and every process under it or whose command line
/// contains `marker`. Children's times count once reaped (cutime/cstime of their parent,
/// which is in the set), so a renderer that exits mid-window is not lost.
fn cpu_seconds(root: u32, marker: &str) -> f64 {
    let mut procs: HashMap<u32, (u32, u64)> = HashMap::new();
    let mut marked = HashSet::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Some(st) = proc_stat(pid) else { continue };
        procs.insert(pid, st);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(marker) {
            marked.insert(pid);
        }
    }
    let under_root = |mut pid: u32| {
        for _ in 0..64 {
            if pid == root {
                return true;
            }
            match procs.get(&pid) {
                Some(&(ppid, _)) if ppid > 1 => pid = ppid,
                _ => return false,
            }
        }
        false
    };
    let ticks: u64 = procs
        .iter()
        .filter(|(pid, _)| marked.contains(*pid) || under_root(**pid))
        .map(|(_, &(_, t))| t)
        .sum();
    ticks as f64 / clock_ticks()
}

/// The `--user-data-dir` of a browser process.
fn user_data_dir(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("browser cmdline");
    cmdline
        .split(|&b| b == 0)
        .find_map(|a| {
            String::from_utf8_lossy(a)
                .strip_prefix("--user-data-dir=")
                .map(str::to_owned)
        })
        .expect("the browser has a --user-data-dir")
}

/// What one CPU window measured.
struct CpuRun {
    /// CPU seconds of pvaultd and the session's browser over the window.
    cpu: f64,
    /// Wall seconds of the window.
    wall: f64,
    /// Checkpoint counters over the window (A only; zero for B).
    captures: u64,
    /// Checkpoints written over the window.
    written: u64,
    /// Milliseconds spent in captures over the window.
    capture_ms: u64,
    /// What the busy client reported, `null` when idle.
    client: Value,
}

/// Runs one session of `profile` (a copy of the large state) for `BENCH_SECS` and measures
/// its CPU.
fn cpu_run(b: &Bench, profile: &str, save: bool, busy: bool) -> CpuRun {
    let started = b.start(profile, save);
    let id = started.session.session_id.clone();
    let browser_pid = started.session.pid.expect("a launched session has a pid");
    let marker = user_data_dir(browser_pid);
    let daemon_pid = b.d.child.as_ref().expect("daemon running").id();
    // A connected CDP client in both cases (a session is used through one).
    let mut cdp = Cdp::connect(&started.session.cdp_ws_url).expect("connect to the relay");
    let mut script = None;
    if busy {
        let mut cmd = node("bench-checkpoints-busy.js", &b.server);
        cmd.env("PVAULT_CDP_URL", &started.session.cdp_ws_url);
        let mut s = Interactive::spawn(cmd);
        assert_eq!(s.read()["step"], "ready", "busy script did not start");
        script = Some(s);
    } else {
        open_page(&mut cdp, &b.server.url("/app"));
    }
    // Let the start's own work (launch, load, first page) finish before the window opens: a
    // fixed settle time, the same for A and B, is part of the measurement's definition.
    std::thread::sleep(Duration::from_secs(5));
    cdp.call("Browser.getVersion", json!({}))
        .expect("session answers");

    let s0 = b.stats(&id);
    let c0 = cpu_seconds(daemon_pid, &marker);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(b.secs));
    let c1 = cpu_seconds(daemon_pid, &marker);
    let wall = t0.elapsed().as_secs_f64();
    let s1 = b.stats(&id);

    let client = match script.as_mut() {
        Some(s) => {
            s.send("quit");
            let done = s.read();
            assert_eq!(done["step"], "done", "busy script: {done}");
            done
        }
        None => Value::Null,
    };
    drop(script);
    drop(cdp);
    b.stop(&id);
    CpuRun {
        cpu: c1 - c0,
        wall,
        captures: s1.captures - s0.captures,
        written: s1.written - s0.written,
        capture_ms: s1.total_capture_ms - s0.total_capture_ms,
        client,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a libtest-style filter is not supported (harness = false).
    let secs = env_num("BENCH_SECS", 60);
    let samples = env_num("BENCH_SAMPLES", 10) as usize;
    let load_start = loadavg();
    // The runtime dir on tmpfs, as `$XDG_RUNTIME_DIR` is on a systemd machine.
    let d = Daemon::start_with(support::daemon::DaemonOpts {
        runtime_on_tmpfs: true,
        ..Default::default()
    });
    d.init();
    for shape in &SHAPES {
        d.import(shape.name, &state(shape));
    }
    // One fresh copy of the largest state (large plus IndexedDB) per CPU run: a `--save`
    // session's checkpoints stay in its profile's history even when it is stopped with
    // `discard`.
    let large = state(&SHAPES[2]);
    let runs = ["idle-ro", "idle-save", "busy-save", "busy-ro"].map(|r| format!("large-{r}"));
    for r in &runs {
        d.import(r, &large);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(Client::connect(d.socket()))
        .expect("connect to pvaultd");
    let b = Bench {
        d,
        rt,
        client,
        server: TestServer::start(),
        secs,
    };

    // A warm-up session (first launch, page cache), not counted.
    let warm = b.start("large", false);
    b.stop(&warm.session.session_id);

    let times: Vec<CheckpointTimes> = SHAPES
        .iter()
        .map(|s| checkpoint_times(&b, s, samples))
        .collect();

    let idle_b = cpu_run(&b, &runs[0], false, false);
    let idle_a = cpu_run(&b, &runs[1], true, false);
    let busy_a = cpu_run(&b, &runs[2], true, true);
    let busy_b = cpu_run(&b, &runs[3], false, true);
    let load_end = loadavg();

    println!(
        "\npvault checkpoint benchmark; {}; BENCH_SECS={secs}, BENCH_SAMPLES={samples}",
        chrome().display()
    );
    println!("load average (1/5/15 min): start {load_start}, end {load_end} (2 cores, shared)");
    println!(
        "\n1. Time per checkpoint, ms (median of the samples; mean from total_capture_ms in brackets)"
    );
    println!(
        "{:<8} {:>10} {:>10} {:>18} {:>18} {:>10} {:>10} {:>10}",
        "state",
        "getCookies",
        "s.capture",
        "ckpt unchanged",
        "ckpt written",
        "unch/capt",
        "writ/capt",
        "unch/getC"
    );
    for (shape, t) in SHAPES.iter().zip(times.iter()) {
        let mut unch = t.unchanged.clone();
        let mut writ = t.written.clone();
        let (u, w) = (median(&mut unch), median(&mut writ));
        println!(
            "{:<8} {:>10.1} {:>10.1} {:>7.0} ({:>5.1}) n={:<2} {:>7.0} ({:>5.1}) n={:<2} {:>10.2} {:>10.2} {:>10.2}",
            shape.name,
            t.get_cookies,
            t.capture,
            u,
            t.unchanged_mean,
            unch.len(),
            w,
            t.written_mean,
            writ.len(),
            t.unchanged_mean / t.capture,
            t.written_mean / t.capture,
            t.unchanged_mean / t.get_cookies,
        );
    }
    println!(
        "getCookies = Storage.getCookies through the relay; s.capture = session.capture into a \
         profile (baselines, same session); ckpt = one checkpoint capture (last_capture_ms: CDP \
         capture + compare (+ vault write)); ratios use the means"
    );

    println!(
        "\n2-3. CPU of pvaultd + the session's Chromium over {secs} s, large state with IndexedDB, one page, one CDP client"
    );
    println!(
        "{:<5} {:>12} {:>11} {:>9} {:>12} {:>8} {:>9} {:>8} {:>12}",
        "load",
        "B read-only",
        "A --save",
        "A - B",
        "% of a core",
        "target",
        "captures",
        "written",
        "capture wall"
    );
    for (name, a, bb, target) in [
        ("idle", &idle_a, &idle_b, Some(2.0)),
        ("busy", &busy_a, &busy_b, None),
    ] {
        let pct = (a.cpu / a.wall - bb.cpu / bb.wall) * 100.0;
        let mark = match target {
            Some(t) if pct <= t => format!("≤{t} ok"),
            Some(t) => format!("≤{t} MISS"),
            None => "-".into(),
        };
        println!(
            "{:<5} {:>10.2} s {:>9.2} s {:>7.2} s {:>11.2}% {:>8} {:>9} {:>8} {:>10.2}%",
            name,
            bb.cpu,
            a.cpu,
            a.cpu - bb.cpu,
            pct,
            mark,
            a.captures,
            a.written,
            a.capture_ms as f64 / (a.wall * 1000.0) * 100.0,
        );
    }
    println!(
        "% of a core = A / its window − B / its window; capture wall = time A spent inside captures / window \
         (wall time: the daemon mostly waits on Chromium's answers meanwhile)"
    );
    for (name, r) in [("A", &busy_a), ("B", &busy_b)] {
        println!(
            "busy client in {name}: {} navigations, {} localStorage+cookie writes",
            r.client["navigations"], r.client["writes"]
        );
    }
    if idle_b.captures != 0 || busy_b.captures != 0 {
        println!("WARNING: a read-only session reported checkpoint captures");
    }
}
