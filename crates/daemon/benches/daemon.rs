//! pvaultd benchmark: `cargo bench -p pvault-daemon --bench daemon`.
//!
//! Runs the real release `pvaultd` on a temp socket and prints, in one run: round-trip
//! latency (p50/p99) of a small request (`status`) beside a raw Unix-socket line-echo server
//! measured the same way in the same run; throughput with 1, 16 and 64 concurrent clients
//! (each a blocking connection with one request in flight), also against the echo baseline;
//! and the daemon's RSS idle and after 100,000 requests (VmRSS from /proc/<pid>/status).
//!
//! Targets: p50 ≤ 100 µs; ≥ 20,000 req/s at 16 clients on 2 cores; RSS ≤ 20 MB idle,
//! growth ≤ 2 MB after 100,000 requests.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STATUS: &[u8] = b"{\"id\":1,\"method\":\"status\",\"params\":{}}\n";

struct Conn {
    w: UnixStream,
    r: BufReader<UnixStream>,
    line: String,
}

impl Conn {
    fn connect(p: &Path, hello: bool) -> Conn {
        let w = UnixStream::connect(p).expect("connect");
        let r = BufReader::new(w.try_clone().unwrap());
        let mut c = Conn {
            w,
            r,
            line: String::new(),
        };
        if hello {
            c.w.write_all(b"{\"id\":0,\"method\":\"hello\",\"params\":{\"protocol\":1}}\n")
                .unwrap();
            c.read();
            assert!(c.line.contains("\"result\""), "hello failed: {}", c.line);
        }
        c
    }
    fn read(&mut self) {
        self.line.clear();
        let n = self.r.read_line(&mut self.line).unwrap();
        assert!(n > 0, "connection closed");
    }
    fn round_trip(&mut self) {
        self.w.write_all(STATUS).unwrap();
        self.read();
    }
}

fn echo_server(path: PathBuf) {
    let l = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let s = s.unwrap();
            std::thread::spawn(move || {
                let mut w = s.try_clone().unwrap();
                let mut r = BufReader::new(s);
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if w.write_all(line.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
}

fn latencies(p: &Path, hello: bool, n: usize) -> (Duration, Duration) {
    let mut c = Conn::connect(p, hello);
    for _ in 0..2000 {
        c.round_trip();
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        c.round_trip();
        v.push(t.elapsed());
    }
    v.sort();
    (v[n / 2], v[n * 99 / 100])
}

/// Requests per second with `clients` connections for `dur`; returns (rate, total).
fn throughput(p: &Path, hello: bool, clients: usize, dur: Duration) -> (f64, u64) {
    let start = Instant::now() + Duration::from_millis(50);
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let p = p.to_owned();
            std::thread::spawn(move || {
                let mut c = Conn::connect(&p, hello);
                while Instant::now() < start {
                    std::thread::yield_now();
                }
                let mut n = 0u64;
                while start.elapsed() < dur {
                    c.round_trip();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    (total as f64 / dur.as_secs_f64(), total)
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run/pvaultd.sock");
    let echo = dir.path().join("echo.sock");
    let child = Command::new(env!("CARGO_BIN_EXE_pvaultd"))
        .env("PVAULT_HOME", dir.path().join("home"))
        .env("PVAULT_SOCKET", &sock)
        .env("PVAULT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn pvaultd");
    let pid = child.id();
    let _daemon = Kill(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "pvaultd did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    echo_server(echo.clone());
    {
        // One connection's worth of warm-up before measuring idle RSS.
        let mut c = Conn::connect(&sock, true);
        c.round_trip();
    }
    let rss_idle = rss_kib(pid);
    // Exactly 100,000 requests (16 connections), then RSS.
    let per = 100_000 / 16;
    let hs: Vec<_> = (0..16)
        .map(|_| {
            let s = sock.clone();
            std::thread::spawn(move || {
                let mut c = Conn::connect(&s, true);
                for _ in 0..per {
                    c.round_trip();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let rss_100k = rss_kib(pid);

    let n = 20_000;
    let (d50, d99) = latencies(&sock, true, n);
    let (e50, e99) = latencies(&echo, false, n);
    println!(
        "pvaultd benchmark ({} CPUs); request: status (locked daemon, no vault I/O)\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!(
        "{:<34} {:>12} {:>12} {:>8}",
        "round-trip latency", "pvaultd", "echo", "ratio"
    );
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{:<34} {:>10.1}µs {:>10.1}µs {:>7.1}x",
        "p50",
        us(d50),
        us(e50),
        us(d50) / us(e50)
    );
    println!(
        "{:<34} {:>10.1}µs {:>10.1}µs {:>7.1}x",
        "p99",
        us(d99),
        us(e99),
        us(d99) / us(e99)
    );

    println!(
        "\n{:<34} {:>12} {:>12} {:>8}",
        "throughput (req/s)", "pvaultd", "echo", "ratio"
    );
    let mut total = (per * 16) as u64;
    for clients in [1, 16, 64] {
        let (r, t) = throughput(&sock, true, clients, Duration::from_secs(2));
        total += t;
        let (e, _) = throughput(&echo, false, clients, Duration::from_secs(2));
        println!(
            "{:<34} {:>12.0} {:>12.0} {:>7.2}x",
            format!("{clients} concurrent clients"),
            r,
            e,
            r / e
        );
    }

    let rss_after = rss_kib(pid);
    println!("\n{:<34} {:>12}", "daemon RSS", "");
    println!(
        "{:<34} {:>10.1}MB",
        "idle (after start + 1 connection)",
        rss_idle as f64 / 1024.0
    );
    println!(
        "{:<34} {:>10.1}MB",
        format!("after {} requests", per * 16),
        rss_100k as f64 / 1024.0
    );
    println!(
        "{:<34} {:>+10.1}MB",
        "growth after 100,000",
        (rss_100k as f64 - rss_idle as f64) / 1024.0
    );
    println!(
        "{:<34} {:>10.1}MB",
        format!("after {total} (incl. 64 clients)"),
        rss_after as f64 / 1024.0
    );
    println!(
        "\ntargets: p50 <= 100 µs; >= 20,000 req/s at 16 clients; RSS <= 20 MB idle, growth <= 2 MB"
    );
}
