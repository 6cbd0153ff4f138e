//! Vault benchmark: `cargo bench -p pvault-vault --bench vault [-- commit|list|unlock…]`.
//!
//! Prints one table: committing a 1,000-cookie / 20-origin × 50-key snapshot against a plain
//! SQLite insert of the same number of bytes with the same pragmas (target ≤ 1.5×) beside the
//! part of it no storage can save (encoding, hashing, sealing: the floor of that ratio), the fixed
//! cost of a commit (where the history chain shows) against a plain insert of the same small
//! rows, reading a snapshot back against a plain select, listing 10,000 profiles against plain
//! SQLite reading the same rows (target ≤ 50 ms), and unlock time split into Argon2id and
//! everything else (target: everything else ≤ 5 ms). Medians of repeated runs; every baseline
//! is measured in the same run on the same disk. Naming sections runs only those (for
//! profiling one of them under perf or callgrind).

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

/// Encodes `state` as a commit does, hashes the encoding and seals it with XChaCha20-Poly1305
/// (a fixed key and nonce: the cost is the same), with no storage at all; returns the time.
fn encode_hash_seal(state: &BrowserState) -> Duration {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};
    let start = Instant::now();
    let encoded = Zeroizing::new(pvault_vault::body::encode_state(state).unwrap());
    let hash = pvault_vault::body::content_hash(&encoded);
    let sealed = XChaCha20Poly1305::new(&[7u8; 32].into())
        .encrypt(
            XNonce::from_slice(&[9u8; 24]),
            Payload {
                msg: &encoded,
                aad: hash.as_bytes(),
            },
        )
        .unwrap();
    drop(encoded);
    let took = start.elapsed();
    assert!(sealed.len() > 16);
    took
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

/// One row of the printed table: operation, vault, baseline, ratio, target.
type Row = [String; 5];

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}×", a.as_secs_f64() / b.as_secs_f64())
}

/// Snapshot commit (large and empty) and read-back, each against plain SQLite.
fn commit_rows(tmp: &Path, rounds: usize, rows: &mut Vec<Row>) {
    let v = Vault::create(&tmp.join("snap"), &pass(), &fast_opts()).unwrap();
    v.create_profile("bench", None, &Default::default())
        .unwrap();
    let states: Vec<BrowserState> = (0..rounds).map(big_state).collect();
    // Vault commit and plain insert alternate, so both see the same machine load.
    let mut plain = Plain::new(tmp);
    let (mut w, mut r, mut bw, mut br) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut w_cpu, mut bw_cpu) = (Vec::new(), Vec::new());
    let mut floor = Vec::new();
    let mut sealed_len = 0;
    for (i, s) in states.iter().enumerate() {
        floor.push(encode_hash_seal(s));
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
        let cpu = cpu_time();
        let (pw, pr) = plain.round(sealed_len, i);
        bw_cpu.push(cpu_time() - cpu);
        bw.push(pw);
        br.push(pr);
    }
    let (vw, vr, bw, br) = (median(w), median(r), median(bw), median(br));
    rows.push([
        format!("commit snapshot ({} KiB)", sealed_len / 1024),
        ms(vw),
        ms(bw),
        ratio(vw, bw),
        format!(
            "≤ 1.5× plain insert (CPU {} vs {})",
            ms(median(w_cpu)),
            ms(median(bw_cpu))
        ),
    ]);
    // What a commit cannot avoid beyond the plain insert: encoding the state, hashing it for
    // its sealed info, and sealing it. Its ratio, (floor + plain insert) / plain insert, is
    // the lowest the commit's ratio can be with this format on this machine.
    let floor = median(floor);
    rows.push([
        "  of which encode + SHA-256 + AEAD seal (no storage)".into(),
        ms(floor),
        ms(bw),
        ratio(floor + bw, bw),
        "(floor of the commit's ratio)".into(),
    ]);
    // The fixed cost of a commit, where the history chain's share (linking, pruning with an
    // anchor, re-sealing the metadata) shows: empty snapshots into a profile already at its
    // retention, so every commit also prunes (an empty snapshot, so what shows is the
    // chain's work, not zeroing a large body's pages). Its baseline inserts the same number
    // of bytes (sealed info, body and metadata) in one plain transaction. CPU time is the
    // chain's measure: the fsync dominates the wall time.
    v.create_profile("fixed", None, &Default::default())
        .unwrap();
    for _ in 0..fast_opts().retention {
        v.append_snapshot("fixed", &BrowserState::default(), SnapshotKind::Capture)
            .unwrap();
    }
    let small = 3 * 40 + 700;
    let (mut e, mut e_cpu, mut pe, mut pe_cpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        let (start, cpu) = (Instant::now(), cpu_time());
        v.append_snapshot("fixed", &BrowserState::default(), SnapshotKind::Capture)
            .unwrap();
        e.push(start.elapsed());
        e_cpu.push(cpu_time() - cpu);
        let cpu = cpu_time();
        pe.push(plain.round(small, i).0);
        pe_cpu.push(cpu_time() - cpu);
    }
    let (e, pe) = (median(e), median(pe));
    rows.push([
        "commit empty snapshot (fixed cost, pruning)".into(),
        ms(e),
        ms(pe),
        ratio(e, pe),
        format!(
            "chain ≤ 0.2 ms (CPU {} vs {})",
            ms(median(e_cpu)),
            ms(median(pe_cpu))
        ),
    ]);
    rows.push([
        "read snapshot back".into(),
        ms(vr),
        ms(br),
        ratio(vr, br),
        "(informational)".into(),
    ]);
}

/// Listing 10,000 profiles, cold (first after unlock) and warm, against plain SQLite
/// reading the same rows.
fn list_rows(tmp: &Path, rows: &mut Vec<Row>) {
    let dir = tmp.join("list");
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
    // Baseline: a fresh plain connection with the same pragmas reading every profile row's
    // columns (and counting each profile's snapshots) out of the same file.
    let plain_read = || {
        let conn = rusqlite::Connection::open(dir.join(Vault::FILE_NAME)).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")
            .unwrap();
        let (start, cpu) = (Instant::now(), cpu_time());
        let mut stmt = conn.prepare("SELECT * FROM profiles").unwrap();
        let n = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                ))
            })
            .unwrap()
            .count();
        let counted: i64 = conn
            .query_row("SELECT count(*) FROM snapshots", [], |r| r.get(0))
            .unwrap();
        assert!(n == 10_000 && counted > 0);
        (start.elapsed(), cpu_time() - cpu)
    };
    let v = Vault::open(&dir).unwrap();
    v.unlock(&pass()).unwrap();
    let (start, cpu) = (Instant::now(), cpu_time());
    let page = v.list_profiles(0, 10_000).unwrap();
    let (cold, cold_cpu) = (start.elapsed(), cpu_time() - cpu);
    assert_eq!(page.total, 10_000);
    let (base, base_cpu) = plain_read();
    let (mut warm, mut warm_cpu) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let (start, cpu) = (Instant::now(), cpu_time());
        v.list_profiles(0, 10_000).unwrap();
        warm.push(start.elapsed());
        warm_cpu.push(cpu_time() - cpu);
    }
    let cpu_note = |c: Duration| format!("≤ 50 ms (CPU {} vs {})", ms(c), ms(base_cpu));
    rows.push([
        "list 10,000 profiles, cold (20,000 AEAD opens)".into(),
        ms(cold),
        ms(base),
        ratio(cold, base),
        cpu_note(cold_cpu),
    ]);
    let warm = median(warm);
    rows.push([
        "list 10,000 profiles, warm (metadata cache)".into(),
        ms(warm),
        ms(base),
        ratio(warm, base),
        cpu_note(median(warm_cpu)),
    ]);
}

/// Unlock time split into Argon2id (the baseline) and everything else.
fn unlock_rows(tmp: &Path, rows: &mut Vec<Row>) {
    for (label, params) in [
        ("OWASP minimum 19 MiB t=2 p=1", KdfParams::OWASP_MINIMUM),
        ("RFC 9106 64 MiB t=3 p=4", KdfParams::RFC9106_SECOND),
    ] {
        let d = tmp.join(format!("unlock-{}", params.m_kib));
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
        let (k, o) = (median(k), median(o));
        rows.push([
            format!("unlock, everything but Argon2id ({label})"),
            ms(o),
            format!("Argon2id {}", ms(k)),
            ratio(o, k),
            "≤ 5 ms".into(),
        ]);
    }
}

fn main() {
    let tmp =
        tempfile::tempdir_in(std::env::var_os("PVAULT_BENCH_DIR").unwrap_or_else(|| "/tmp".into()))
            .unwrap();
    // `cargo bench` passes `--bench`; any other argument names a section to run.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |section: &str| only.is_empty() || only.iter().any(|a| a == section);
    let rounds = 40;
    let mut rows: Vec<Row> = Vec::new();
    if run("commit") {
        commit_rows(tmp.path(), rounds, &mut rows);
    }
    if run("list") {
        list_rows(tmp.path(), &mut rows);
    }
    if run("unlock") {
        unlock_rows(tmp.path(), &mut rows);
    }

    let headers = ["operation", "vault", "baseline", "ratio", "target"];
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
        "(medians of {rounds} commits / reads, 7 warm listings, 5 unlocks; baselines: plain \
         SQLite with the vault's pragmas on the same disk, Argon2id for unlock; {} cores, load \
         average {})",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load.split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
}
