//! Importing a real Chromium profile (2,000 cookies over 200 domains, 50 origins of
//! localStorage) against yt-dlp's `--cookies-from-browser chromium` reading the same profile
//! (cookies only), measured in the same run; target ≤ 0.5×.
//!
//! Run: `cargo build --release --bins -p pvault-cli -p pvault-daemon && cargo bench -p
//! pvault-import --bench import` (needs `yt-dlp` on PATH: `pip install yt-dlp`). Prints
//! medians of `BENCH_RUNS` (default 7) runs of:
//! - (a) yt-dlp, the whole command, as a user runs it;
//! - (b) `pvault profile import NAME --from-browser chromium`, the whole command: CLI start,
//!   daemon round trip, copies, decryption, localStorage, and the vault commit;
//! - (c) the library's read alone (copies, decryption, localStorage), in this process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pvault_testkit::{Cdp, TestServer, active_port, chrome, chromium_args, wait_for};
use serde_json::json;

const DOMAINS: usize = 200;
const COOKIES_PER_DOMAIN: usize = 10;
const ORIGINS: usize = 50;
const KEYS_PER_ORIGIN: usize = 20;

/// Builds the profile with a real Chromium (`--password-store=basic`) and closes it cleanly.
fn build_profile(udd: &Path) -> Vec<TestServer> {
    let mut child = Command::new(chrome())
        .args(chromium_args(udd))
        .arg("--password-store=basic")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("launch chromium");
    let (port, path) = wait_for("DevToolsActivePort", Duration::from_secs(30), || {
        active_port(udd)
    });
    let mut cdp = Cdp::connect(&format!("ws://127.0.0.1:{port}{path}")).unwrap();
    let cookies: Vec<_> = (0..DOMAINS * COOKIES_PER_DOMAIN)
        .map(|i| {
            let d = i % DOMAINS;
            let same_site = ["Lax", "Strict", "None"][i % 3];
            json!({
                "name": format!("c{i}"),
                "value": format!("value-{i}-{}", "x".repeat(i % 40)),
                "domain": if i % 2 == 0 { format!(".site{d}.example") } else { format!("www.site{d}.example") },
                "path": "/",
                "secure": i % 3 == 0,
                "httpOnly": i % 4 == 0,
                "sameSite": same_site,
                "expires": 4_000_000_000.0 + i as f64,
            })
        })
        .map(|mut c| {
            if c["sameSite"] == "None" {
                c["secure"] = json!(true);
            }
            c
        })
        .collect();
    for chunk in cookies.chunks(500) {
        cdp.set_cookies(serde_json::Value::Array(chunk.to_vec()));
    }
    let servers: Vec<TestServer> = (0..ORIGINS).map(|_| TestServer::start()).collect();
    for s in &servers {
        let (t, sess) = cdp.open_loaded(&s.url("/"));
        cdp.eval(
            &sess,
            &format!(
                "for (let i = 0; i < {KEYS_PER_ORIGIN}; i++) localStorage.setItem('key' + i, 'value ' + i + ' ü'.repeat(i)); 1"
            ),
        );
        let _ = cdp.call("Target.closeTarget", json!({"targetId": t}));
    }
    let _ = cdp.call("Browser.close", json!({}));
    wait_for("chromium to exit", Duration::from_secs(60), || {
        child.try_wait().unwrap().is_some()
    });
    servers
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn release_bin(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/release")
        .join(name);
    p.is_file().then_some(p)
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let work = tempfile::tempdir().unwrap();
    let udd = work.path().join("chromium");
    std::fs::create_dir(&udd).unwrap();
    let t = Instant::now();
    let _servers = build_profile(&udd);
    eprintln!("profile built in {:.1} s", t.elapsed().as_secs_f64());

    // (c) the library alone.
    let scratch = work.path().join("scratch");
    let opts = pvault_import::Options {
        browser: pvault_import::Browser::Chromium,
        user_data_dir: Some(udd.clone()),
        browser_profile: None,
        domains: vec![],
        exclude_domains: vec![],
        skip_undecryptable: false,
        scratch_dir: scratch,
        dbus_address: None,
    };
    let first = pvault_import::import(&opts).expect("import");
    assert_eq!(first.state.cookies.len(), DOMAINS * COOKIES_PER_DOMAIN);
    assert_eq!(first.state.origins.len(), ORIGINS);
    let lib = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                pvault_import::import(&opts).unwrap();
                t.elapsed()
            })
            .collect(),
    );

    // (a) yt-dlp.
    let out = work.path().join("yt-cookies.txt");
    let yt = median(
        (0..runs)
            .map(|_| {
                let _ = std::fs::remove_file(&out);
                let t = Instant::now();
                let st = Command::new("yt-dlp")
                    .arg("--cookies-from-browser")
                    .arg(format!("chromium:{}", udd.display()))
                    .arg("--cookies")
                    .arg(&out)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("yt-dlp on PATH (pip install yt-dlp)");
                let d = t.elapsed();
                let _ = st; // It exits 2 for the missing URL after writing the cookies.
                let n = std::fs::read_to_string(&out)
                    .map(|s| {
                        s.lines()
                            .filter(|l| !l.starts_with('#') && !l.is_empty())
                            .count()
                    })
                    .unwrap_or(0);
                assert!(n >= DOMAINS * COOKIES_PER_DOMAIN, "yt-dlp read {n} cookies");
                d
            })
            .collect(),
    );

    // (b) the pvault command, against a running release daemon.
    let cli = match (release_bin("pvault"), release_bin("pvaultd")) {
        (Some(pvault), Some(_)) => {
            let home = work.path().join("home");
            let socket = work.path().join("run/pvaultd.sock");
            let cmd = |args: &[&str]| {
                let mut c = Command::new(&pvault);
                c.args(args)
                    .env("PVAULT_HOME", &home)
                    .env("PVAULT_SOCKET", &socket)
                    .env("PVAULT_TEST_FAST_KDF", "1")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                c
            };
            let pass = work.path().join("pass");
            std::fs::write(&pass, "correct horse battery staple bench").unwrap();
            assert!(
                cmd(&["init", "--passphrase-file", pass.to_str().unwrap()])
                    .status()
                    .unwrap()
                    .success()
            );
            let udd_s = udd.to_str().unwrap().to_owned();
            let args = [
                "profile",
                "import",
                "bench",
                "--from-browser",
                "chromium",
                "--user-data-dir",
                &udd_s,
            ];
            assert!(cmd(&args).status().unwrap().success());
            let d = median(
                (0..runs)
                    .map(|_| {
                        let t = Instant::now();
                        assert!(cmd(&args).status().unwrap().success());
                        t.elapsed()
                    })
                    .collect(),
            );
            let _ = cmd(&["daemon", "stop"]).status();
            Some(d)
        }
        _ => {
            eprintln!(
                "target/release/pvault or pvaultd missing: build them first (cargo build --release --bins -p pvault-cli -p pvault-daemon)"
            );
            None
        }
    };

    println!(
        "profile: {} cookies over {DOMAINS} domains, {ORIGINS} origins × {KEYS_PER_ORIGIN} localStorage keys; medians of {runs} runs",
        DOMAINS * COOKIES_PER_DOMAIN
    );
    println!("| measure | ms | ratio to yt-dlp |");
    println!("|---|---|---|");
    println!(
        "| (a) yt-dlp --cookies-from-browser chromium (cookies only) | {:.1} | 1.00 |",
        ms(yt)
    );
    if let Some(c) = cli {
        println!(
            "| (b) pvault profile import --from-browser chromium (cookies + localStorage, stored) | {:.1} | {:.3} (target ≤ 0.5) |",
            ms(c),
            c.as_secs_f64() / yt.as_secs_f64()
        );
    }
    println!(
        "| (c) the read alone, in process (cookies + localStorage) | {:.1} | {:.3} |",
        ms(lib),
        lib.as_secs_f64() / yt.as_secs_f64()
    );
}
