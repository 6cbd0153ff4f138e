//! Launch, load and capture cost against a bare launch measured in the same run.
//!
//! Run: `cargo bench -p pvault-browser --bench browser` (set `BENCH_RUNS` to change the number
//! of runs per figure, default 5). Prints, for a large profile (1,000 cookies over 50 domains,
//! 20 origins × 50 localStorage keys) and a typical one (100 cookies, 5 origins × 20 keys):
//! (a) bare Chromium launch until CDP answers, (b) launch with the state loaded until CDP is
//! usable (on-disk localStorage, and the stub page for comparison), (c) capture of that state
//! (incremental, as the daemon does it, and uncached: every origin read back from Chrome), with
//! ratios against (a). When `benches/playwright/node_modules` exists, the same state goes
//! through Playwright's `launch` + `newContext({storageState})` and `context.storageState()`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pvault_browser::{LaunchOptions, LoadMethod, LocalStorageLoad, Session, discover_chrome};
use pvault_model::{BrowserState, Cookie, OriginState, PartitionKey, StorageItem};

/// Domains are distinct sites (`dN-bench.test`): Chrome keeps at most 180 cookies per site and
/// evicts the rest, which the load report would (rightly) list as dropped.
fn state(cookies: usize, domains: usize, origins: usize, keys: usize) -> BrowserState {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let cookies = (0..cookies)
        .map(|i| {
            let d = i % domains;
            let secure = i % 3 != 0;
            Cookie {
                name: format!("cookie_{i}"),
                value: format!("value-{i}-{}", "v".repeat(i % 40)),
                domain: if i % 2 == 0 {
                    format!(".d{d}-bench.test")
                } else {
                    format!("d{d}-bench.test")
                },
                path: "/".into(),
                expires: if i % 5 == 0 {
                    -1.0
                } else {
                    now + 86400.0 * (1 + i % 300) as f64
                },
                size: None,
                http_only: i % 4 == 0,
                secure,
                session: None,
                same_site: Some(if secure && i % 7 == 0 { "None" } else { "Lax" }.into()),
                priority: None,
                source_scheme: None,
                source_port: None,
                partition_key: (secure && i % 20 == 1).then(|| PartitionKey {
                    top_level_site: "https://top-bench.test".into(),
                    has_cross_site_ancestor: true,
                }),
                extra: Default::default(),
            }
        })
        .collect();
    let origins = (0..origins)
        .map(|o| OriginState {
            origin: format!("https://o{o}-bench.test"),
            local_storage: (0..keys)
                .map(|k| StorageItem {
                    name: format!("key_{k}"),
                    value: format!("{{\"v\":{k},\"s\":\"{}\"}}", "é".repeat(k % 20)),
                })
                .collect(),
            session_storage: None,
            indexed_db: None,
            extra: Default::default(),
        })
        .collect();
    BrowserState {
        cookies,
        origins,
        source: None,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

async fn launch(
    chrome: &Path,
    st: Option<&BrowserState>,
    m: LocalStorageLoad,
) -> (Session, Duration, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = LaunchOptions::new(chrome.to_path_buf(), dir.path().to_path_buf());
    opts.state = st.cloned();
    opts.local_storage_load = m;
    let t = Instant::now();
    let (s, report) = Session::launch(opts).await.unwrap();
    let d = t.elapsed();
    if let Some(st) = st {
        assert_eq!(report.cookies_loaded, st.cookies.len(), "{report:?}");
        assert_eq!(report.origins_loaded, st.origins.len());
        let want = if m == LocalStorageLoad::StubPage {
            LoadMethod::StubPage
        } else {
            LoadMethod::OnDisk
        };
        assert_eq!(report.method, want);
    }
    (s, d, dir)
}

struct Row {
    label: String,
    a: Duration,
    b_disk: Duration,
    b_stub: Duration,
    c_inc: Duration,
    c_full: Duration,
}

async fn measure(chrome: &Path, label: &str, st: &BrowserState, runs: usize) -> Row {
    let mut a = Vec::new();
    let mut b_disk = Vec::new();
    let mut b_stub = Vec::new();
    let mut c_inc = Vec::new();
    let mut c_full = Vec::new();
    for _ in 0..runs {
        let (s, d, _dir) = launch(chrome, None, LocalStorageLoad::Auto).await;
        a.push(d);
        s.close().await.unwrap();

        let (s, d, _dir) = launch(chrome, Some(st), LocalStorageLoad::Auto).await;
        b_disk.push(d);
        let t = Instant::now();
        let (cap, _) = s.capture().await.unwrap();
        c_inc.push(t.elapsed());
        assert_eq!(cap.cookies.len(), st.cookies.len());
        let t = Instant::now();
        let (cap, rep) = s.capture_uncached().await.unwrap();
        c_full.push(t.elapsed());
        assert!(rep.origins_failed.is_empty());
        assert_eq!(cap.local_storage_key_count(), st.local_storage_key_count());
        s.close().await.unwrap();

        let (s, d, _dir) = launch(chrome, Some(st), LocalStorageLoad::StubPage).await;
        b_stub.push(d);
        s.close().await.unwrap();
    }
    Row {
        label: label.into(),
        a: median(a),
        b_disk: median(b_disk),
        b_stub: median(b_stub),
        c_inc: median(c_inc),
        c_full: median(c_full),
    }
}

/// Runs the Playwright script on the same states, if its dependencies are installed.
fn playwright(
    chrome: &Path,
    states: &[(&str, &BrowserState)],
    runs: usize,
) -> Option<Vec<(String, f64, f64)>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/playwright");
    if !dir.join("node_modules").exists() {
        println!(
            "\n(Playwright comparison skipped: run `npm ci` in {})",
            dir.display()
        );
        return None;
    }
    let mut out = Vec::new();
    for (label, st) in states {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), pvault_model_storage_state(st)).unwrap();
        let o = std::process::Command::new("node")
            .arg(dir.join("bench.mjs"))
            .arg(file.path())
            .arg(chrome)
            .arg(runs.to_string())
            .output()
            .ok()?;
        if !o.status.success() {
            println!(
                "Playwright script failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
        out.push((
            label.to_string(),
            v["load_ms"].as_f64()?,
            v["capture_ms"].as_f64()?,
        ));
    }
    Some(out)
}

/// Playwright's storageState shape (cookies with sameSite, origins with localStorage).
fn pvault_model_storage_state(st: &BrowserState) -> String {
    let cookies: Vec<serde_json::Value> = st
        .cookies
        .iter()
        .map(|c| {
            let mut v = serde_json::json!({
                "name": c.name, "value": c.value, "domain": c.domain, "path": c.path,
                "expires": c.expires, "httpOnly": c.http_only, "secure": c.secure,
                "sameSite": c.same_site.clone().unwrap_or_else(|| "Lax".into()),
            });
            if let Some(pk) = &c.partition_key {
                v["partitionKey"] = serde_json::json!(pk.top_level_site);
            }
            v
        })
        .collect();
    let origins: Vec<serde_json::Value> = st
        .origins
        .iter()
        .map(|o| serde_json::json!({"origin": o.origin, "localStorage": o.local_storage.iter().map(|i| serde_json::json!({"name": i.name, "value": i.value})).collect::<Vec<_>>()}))
        .collect();
    serde_json::json!({"cookies": cookies, "origins": origins}).to_string()
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let chrome =
        discover_chrome(std::env::var_os("PVAULT_CHROME").map(PathBuf::from), None).unwrap();
    let t = Instant::now();
    let major = pvault_browser::chrome_major_version(&chrome);
    println!(
        "chrome: {} (major {major:?}; first --version probe {} ms, cached afterwards)",
        chrome.display(),
        ms(t.elapsed())
    );
    let large = state(1000, 50, 20, 50);
    let typical = state(100, 10, 5, 20);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Warm-up: page cache, font cache.
        let (s, _, _d) = launch(&chrome, None, LocalStorageLoad::Auto).await;
        s.close().await.unwrap();
        let rows = vec![
            measure(&chrome, "large (1000 cookies/50 domains, 20x50 LS)", &large, runs).await,
            measure(&chrome, "typical (100 cookies, 5x20 LS)", &typical, runs).await,
        ];
        println!("\nmedians of {runs} runs, ms; ratios against (a) bare launch in the same run\n");
        println!("| profile | (a) bare launch | (b) launch+load on-disk | (b)/(a) | (b') launch+load stub page | (b')/(a) | (c) capture (incremental) | (c') capture uncached |");
        println!("|---|---|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {} | {} | {:.2} | {} | {:.2} | {} | {} |",
                r.label,
                ms(r.a),
                ms(r.b_disk),
                r.b_disk.as_secs_f64() / r.a.as_secs_f64(),
                ms(r.b_stub),
                r.b_stub.as_secs_f64() / r.a.as_secs_f64(),
                ms(r.c_inc),
                ms(r.c_full)
            );
        }
        if let Some(pw) = playwright(&chrome, &[("large", &large), ("typical", &typical)], runs) {
            println!("\n| profile | Playwright launch+newContext(storageState) | (b)/PW | Playwright storageState() | (c)/PW | (c')/PW |");
            println!("|---|---|---|---|---|---|");
            for ((label, load, cap), r) in pw.iter().zip(&rows) {
                println!(
                    "| {label} | {load:.0} | {:.2} | {cap:.0} | {:.2} | {:.2} |",
                    r.b_disk.as_secs_f64() * 1000.0 / load,
                    r.c_inc.as_secs_f64() * 1000.0 / cap,
                    r.c_full.as_secs_f64() * 1000.0 / cap
                );
            }
        }
    });
}
