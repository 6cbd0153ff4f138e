//! Vault benchmark: `cargo bench -p pvault-vault --bench vault`.
//!
//! Prints one table: committing a 1,000-cookie / 20-origin × 50-key snapshot against a plain
//! SQLite insert of the same number of bytes with the same pragmas (target ≤ 1.5×), reading it
//! back against a plain select, listing 10,000 profiles (target ≤ 50 ms), and unlock time
//! split into Argon2id and everything else (target: everything else ≤ 5 ms). Medians of
//! repeated runs; every baseline is measured in the same run on the same disk.

use std::path::Path;
use std::time::{Duration, Instant};

use pvault_model::{BrowserState, Cookie, OriginState, SnapshotKind, StorageItem};
use pvault_vault::{CreateOptions, Credential, KdfParams, Vault};
use serde_json::Map;
use zeroize::Zeroizing;

const PASS: &str = "bench passphrase";

fn pass() -> Credential {
    Credential::Passphrase(Zeroizing::new(PASS.into()))
}

fn big_state(round: usize) -> BrowserState {
    let cookies = (0..1000)
        .map(|i| Cookie {
            name: format!("cookie_{i}"),
            value: format!("{round:08}-{i:04}-{}", "v".repeat(40)),
            domain: format!(".site{}.example.com", i % 20),
            path: "/".into(),
            expires: 1_900_000_000.5 + i as f64,
            size: Some(60),
            http_only: i % 2 == 0,
            secure: true,
            session: Some(false),
            same_site: Some("Lax".into()),
            priority: Some("Medium".into()),
            source_scheme: Some("Secure".into()),
            source_port: Some(443),
            partition_key: None,
            extra: Map::new(),
        })
        .collect();
    let origins = (0..20)
        .map(|o| OriginState {
            origin: format!("https://site{o}.example.com"),
            local_storage: (0..50)
                .map(|k| StorageItem {
                    name: format!("key_{k}"),
                    value: format!("{round}-{}", "x".repeat(60)),
                })
                .collect(),
            session_storage: None,
            indexed_db: None,
            extra: Map::new(),
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

fn fast_opts() -> CreateOptions {
    CreateOptions {
        kdf_target: None,
        retention: 20,
        kdf_params: Some(KdfParams::OWASP_MINIMUM),
    }
}

/// Plain SQLite with the vault's pragmas: one table of blobs.
struct Plain(rusqlite::Connection, Vec<u8>);

impl Plain {
    fn new(dir: &Path) -> Plain {
        let conn = rusqlite::Connection::open(dir.join("plain.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;
             PRAGMA foreign_keys = ON; CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL);",
        )
        .unwrap();
        Plain(conn, Vec::new())
    }

    /// Inserts `len` bytes in one transaction; returns (insert time, read-back time).
    fn round(&mut self, len: usize, i: usize) -> (Duration, Duration) {
        self.1.resize(len, 0);
        let n = self.1.len();
        self.1[i % n] ^= 0x5a;
        let start = Instant::now();
        self.0.execute_batch("BEGIN IMMEDIATE").unwrap();
        self.0
            .execute("INSERT INTO t (data) VALUES (?1)", [&self.1])
            .unwrap();
        self.0.execute_batch("COMMIT").unwrap();
        let w = start.elapsed();
        let start = Instant::now();
        let back: Vec<u8> = self
            .0
            .query_row("SELECT data FROM t ORDER BY id DESC LIMIT 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        let r = start.elapsed();
        assert_eq!(back.len(), len);
        (w, r)
    }
}

/// CPU time of the whole process (all threads), for figures that do not depend on how busy
/// the machine is.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let tmp =
        tempfile::tempdir_in(std::env::var_os("PVAULT_BENCH_DIR").unwrap_or_else(|| "/tmp".into()))
            .unwrap();
    let rounds = 40;
    let mut rows: Vec<[String; 5]> = Vec::new();

    // 1. Snapshot commit and read-back.
    let v = Vault::create(&tmp.path().join("snap"), &pass(), &fast_opts()).unwrap();
    v.create_profile("bench", None, &Default::default())
        .unwrap();
    let states: Vec<BrowserState> = (0..rounds).map(big_state).collect();
    // Vault commit and plain insert alternate, so both see the same machine load.
    let mut plain = Plain::new(tmp.path());
    let (mut w, mut r, mut bw, mut br) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut w_cpu = Vec::new();
    let mut sealed_len = 0;
    for (i, s) in states.iter().enumerate() {
        let (start, cpu) = (Instant::now(), cpu_time());
        let info = v
            .append_snapshot("bench", s, SnapshotKind::Capture)
            .unwrap();
        w.push(start.elapsed());
        w_cpu.push(cpu_time() - cpu);
        sealed_len = info.size_bytes as usize + 40;
        let start = Instant::now();
        let back = v.read_snapshot("bench", None).unwrap();
        r.push(start.elapsed());
        assert_eq!(back.state.cookies.len(), 1000);
        let (pw, pr) = plain.round(sealed_len, i);
        bw.push(pw);
        br.push(pr);
    }
    let (vw, vr, bw, br) = (median(w), median(r), median(bw), median(br));
    let ratio = |a: Duration, b: Duration| format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64());
    rows.push([
        format!("commit snapshot ({} KiB)", sealed_len / 1024),
        ms(vw),
        ms(bw),
        ratio(vw, bw),
        format!("≤ 1.5× plain insert (CPU {})", ms(median(w_cpu))),
    ]);
    // The fixed cost of a commit, where the history chain's share (linking, pruning with an
    // anchor, re-sealing the metadata) shows: an empty snapshot, past retention, so every
    // commit also prunes. CPU time is the chain's measure: the fsync dominates the wall time.
    let (mut e, mut e_cpu) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (start, cpu) = (Instant::now(), cpu_time());
        v.append_snapshot("bench", &BrowserState::default(), SnapshotKind::Capture)
            .unwrap();
        e.push(start.elapsed());
        e_cpu.push(cpu_time() - cpu);
    }
    rows.push([
        "commit empty snapshot (fixed cost, pruning)".into(),
        ms(median(e)),
        "-".into(),
        "-".into(),
        format!("chain ≤ 0.2 ms (CPU {})", ms(median(e_cpu))),
    ]);
    rows.push([
        "read snapshot back".into(),
        ms(vr),
        ms(br),
        ratio(vr, br),
        "(informational)".into(),
    ]);
    drop(v);

    // 2. Listing 10,000 profiles.
    let dir = tmp.path().join("list");
    let v = Vault::create(&dir, &pass(), &fast_opts()).unwrap();
    let small = {
        let mut s = big_state(0);
        s.cookies.truncate(5);
        s.origins.truncate(2);
        s
    };
    for i in 0..10_000 {
        let name = format!("profile-{i:05}");
        v.create_profile(
            &name,
            Some("a profile used by the benchmark"),
            &Default::default(),
        )
        .unwrap();
        if i % 10 == 0 {
            v.append_snapshot(&name, &small, SnapshotKind::Import)
                .unwrap();
        }
    }
    drop(v);
    let v = Vault::open(&dir).unwrap();
    v.unlock(&pass()).unwrap();
    let (start, cpu) = (Instant::now(), cpu_time());
    let page = v.list_profiles(0, 10_000).unwrap();
    let (cold, cold_cpu) = (start.elapsed(), cpu_time() - cpu);
    assert_eq!(page.total, 10_000);
    let (mut warm, mut warm_cpu) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let (start, cpu) = (Instant::now(), cpu_time());
        v.list_profiles(0, 10_000).unwrap();
        warm.push(start.elapsed());
        warm_cpu.push(cpu_time() - cpu);
    }
    let cpu_note = |c: Duration| format!("≤ 50 ms (CPU {})", ms(c));
    rows.push([
        "list 10,000 profiles, cold (20,000 AEAD opens)".into(),
        ms(cold),
        "-".into(),
        "-".into(),
        cpu_note(cold_cpu),
    ]);
    rows.push([
        "list 10,000 profiles, warm (metadata cache)".into(),
        ms(median(warm)),
        "-".into(),
        "-".into(),
        cpu_note(median(warm_cpu)),
    ]);
    drop(v);

    // 3. Unlock, split.
    for (label, params) in [
        ("OWASP minimum 19 MiB t=2 p=1", KdfParams::OWASP_MINIMUM),
        ("RFC 9106 64 MiB t=3 p=4", KdfParams::RFC9106_SECOND),
    ] {
        let d = tmp.path().join(format!("unlock-{}", params.m_kib));
        let opts = CreateOptions {
            kdf_params: Some(params),
            ..fast_opts()
        };
        drop(Vault::create(&d, &pass(), &opts).unwrap());
        let v = Vault::open(&d).unwrap();
        let (mut k, mut o) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            let t = v.unlock(&pass()).unwrap();
            k.push(t.kdf);
            o.push(t.other);
            v.lock();
        }
        rows.push([
            format!("unlock, Argon2id ({label})"),
            ms(median(k)),
            "-".into(),
            "-".into(),
            "calibrated ~0.7 s at create".into(),
        ]);
        rows.push([
            format!("unlock, everything else ({label})"),
            ms(median(o)),
            "-".into(),
            "-".into(),
            "≤ 5 ms".into(),
        ]);
    }

    let headers = ["operation", "vault", "plain SQLite", "ratio", "target"];
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap()
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(&headers.map(String::from));
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for r in &rows {
        line(r);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "(medians of {rounds} commits / reads, 7 warm listings, 5 unlocks; {} cores, load average {})",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load.split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
}
