//! Remote-store benchmark, in one run against a throw-away PostgreSQL on localhost and two
//! real `pvaultd`s with separate vaults (machines A and B):
//!
//! - session start of the large profile (1,000 cookies over 50 domains, 20 origins × 50 keys)
//!   on B when it is linked and A has just saved a new version (B pulls the new snapshot,
//!   checks the chain, stores it, loads it) against the same profile unlinked in B's vault
//!   (target ≤ 1.3×); start until its `cdp_ws_url` answers a CDP call;
//! - a `--save` session's stop (final capture, local save, and for the linked profile the push
//!   under the lease) linked against unlinked;
//! - lease acquisition latency with 16 contenders, each on its own connection as a daemon
//!   holds one, all asking at the same moment for 50 rounds (p50/p99 of every answer, win or
//!   `busy`), against one uncontended acquisition measured in the same run.
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo bench -p pvault-e2e --bench remote            # BENCH_RUNS=N (default 7)
//! ```

mod measure;
mod states;
#[path = "../e2e/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pvault_protocol::client::Client;
use pvault_protocol::{
    Credential, ProfileImport, ProfileLink, ProfilePull, RemoteAdd, RemoteExportKey, RemoteStatus,
    Secret, SessionStart, SessionStop, TeamKeyFile,
};
use pvault_remote::{Holder, KeyChoice, Remote, RemoteError, Target};
use pvault_testkit::postgres::SUPERUSER_PASSWORD;
use pvault_testkit::{Cdp, PgServer};
use serde_json::{Value, json};

use measure::{median, ms};
use states::{SHAPES, state};
use support::daemon::Daemon;

/// The large state with one cookie value changed, so each run saves new content.
fn variant(base: &Value, run: usize) -> Value {
    let mut s = base.clone();
    s["cookies"][0]["value"] = json!(format!("run-{run}"));
    s
}

fn add_remote(rt: &tokio::runtime::Runtime, c: &Client, url: &str, key: Option<TeamKeyFile>) {
    rt.block_on(c.call(&RemoteAdd {
        name: "team".into(),
        url: url.into(),
        password: Some(Secret::new(SUPERUSER_PASSWORD)),
        key_file: key,
        lease_ttl_secs: None,
    }))
    .expect("remote.add");
}

/// Session start until its CDP endpoint answers; the session is then stopped (discarded).
fn start_ms(rt: &tokio::runtime::Runtime, c: &Client, profile: &str) -> f64 {
    let t0 = Instant::now();
    let s = rt
        .block_on(c.call(&SessionStart {
            profile: Some(profile.into()),
            ..Default::default()
        }))
        .expect("session.start");
    let mut cdp = Cdp::connect(&s.session.cdp_ws_url).expect("cdp");
    cdp.call("Browser.getVersion", json!({})).expect("CDP");
    let took = ms(t0.elapsed());
    if let Some(r) = &s.remote {
        assert_eq!(r.state, "remote", "{r:?}");
    }
    drop(cdp);
    rt.block_on(c.call(&SessionStop {
        session_id: s.session.session_id,
        discard: true,
    }))
    .expect("session.stop");
    took
}

/// A `--save` session's stop (final capture, save, push when linked).
fn save_ms(rt: &tokio::runtime::Runtime, c: &Client, profile: &str) -> f64 {
    let s = rt
        .block_on(c.call(&SessionStart {
            profile: Some(profile.into()),
            save: true,
            ..Default::default()
        }))
        .expect("session.start --save");
    let t0 = Instant::now();
    let stopped = rt
        .block_on(c.call(&SessionStop {
            session_id: s.session.session_id,
            discard: false,
        }))
        .expect("session.stop");
    let took = ms(t0.elapsed());
    if let Some(r) = &stopped.remote {
        assert_eq!(r.state, "pushed", "{r:?}");
    }
    took
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn holder(i: usize) -> Holder {
    Holder {
        host: format!("bench-{i}"),
        session: None,
        vault: "00".repeat(16),
    }
}

/// (uncontended acquire+answer ms, every contended answer ms).
async fn leases(target: Target) -> (Vec<f64>, Vec<f64>) {
    let pw = || Some(zeroize::Zeroizing::new(SUPERUSER_PASSWORD.to_owned()));
    let (mut first, key) = Remote::connect(&target, pw(), KeyChoice::CreateIfEmpty)
        .await
        .expect("create the store");
    let p = first
        .create_profile("lease-bench", &[], &holder(99), 10)
        .await
        .expect("profile");
    let ttl = Duration::from_secs(60);
    let mut alone = Vec::new();
    for _ in 0..50 {
        let t0 = Instant::now();
        let l = first
            .acquire(&p.profile_id, "lease-bench", &holder(99), ttl)
            .await
            .unwrap();
        alone.push(ms(t0.elapsed()));
        first.release(&l).await.unwrap();
    }
    let mut conns = Vec::new();
    for _ in 0..16 {
        let (r, _) = Remote::connect(&target, pw(), KeyChoice::Existing(key.clone()))
            .await
            .unwrap();
        conns.push(Arc::new(r));
    }
    let mut all = Vec::new();
    for round in 0..50 {
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let tasks: Vec<_> = conns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (c, b, id) = (c.clone(), barrier.clone(), p.profile_id.clone());
                tokio::spawn(async move {
                    b.wait().await;
                    let t0 = Instant::now();
                    let r = c.acquire(&id, "lease-bench", &holder(i), ttl).await;
                    (ms(t0.elapsed()), r.map(|l| (c, l)))
                })
            })
            .collect();
        // Every contender answers before the winner releases, so all of them contend.
        let mut won = Vec::new();
        for t in tasks {
            let (took, r) = t.await.unwrap();
            all.push(took);
            match r {
                Ok(w) => won.push(w),
                Err(RemoteError::Busy { .. }) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: exactly one lease");
        for (c, l) in won {
            c.release(&l).await.unwrap();
        }
    }
    (alone, all)
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let pg = PgServer::start();
    pg.create_db("pv");
    pg.create_db("leases");
    let large = state(&SHAPES[1]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (a, b) = (Daemon::start(), Daemon::start());
    a.init();
    b.init();
    let ca = rt.block_on(Client::connect(a.socket())).unwrap();
    let cb = rt.block_on(Client::connect(b.socket())).unwrap();
    let import = |c: &Client, name: &str, s: Value| {
        rt.block_on(c.call(&ProfileImport {
            name: name.into(),
            state: s,
            create: true,
        }))
        .expect("profile.import");
    };
    import(&ca, "large", large.clone());
    import(&cb, "large-local", large.clone());
    add_remote(&rt, &ca, &pg.url("pv"), None);
    rt.block_on(ca.call(&ProfileLink {
        name: "large".into(),
        remote: "team".into(),
    }))
    .expect("profile.link");
    let pass = Credential::Passphrase(Secret::new("bench export"));
    let doc = rt
        .block_on(ca.call(&RemoteExportKey {
            name: "team".into(),
            protector: pass.clone(),
        }))
        .unwrap()
        .document;
    add_remote(
        &rt,
        &cb,
        &pg.url("pv"),
        Some(TeamKeyFile {
            document: doc,
            protector: pass,
        }),
    );
    rt.block_on(cb.call(&ProfilePull {
        name: "large".into(),
        remote: "team".into(),
    }))
    .expect("profile.pull");
    // Only B writes this one, so A's saves of "large" never race B's.
    import(&cb, "large-save", large.clone());
    rt.block_on(cb.call(&ProfileLink {
        name: "large-save".into(),
        remote: "team".into(),
    }))
    .expect("profile.link");

    let (mut remote_start, mut local_start, mut remote_save, mut local_save) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Run 0 warms up and is not counted.
    for run in 0..=runs {
        // A saves a new version; B's next start must fetch it.
        import(&ca, "large", variant(&large, run));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !rt
            .block_on(ca.call(&RemoteStatus {
                name: "team".into(),
            }))
            .unwrap()
            .pending
            .is_empty()
        {
            assert!(Instant::now() < deadline, "A's save was not pushed");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Alternating which goes first, so neither always meets a warmer machine.
        let (r, l, rs, ls) = if run % 2 == 0 {
            let r = start_ms(&rt, &cb, "large");
            let l = start_ms(&rt, &cb, "large-local");
            let rs = save_ms(&rt, &cb, "large-save");
            (r, l, rs, save_ms(&rt, &cb, "large-local"))
        } else {
            let l = start_ms(&rt, &cb, "large-local");
            let r = start_ms(&rt, &cb, "large");
            let ls = save_ms(&rt, &cb, "large-local");
            (r, l, save_ms(&rt, &cb, "large-save"), ls)
        };
        if run > 0 {
            remote_start.push(r);
            local_start.push(l);
            remote_save.push(rs);
            local_save.push(ls);
        }
    }
    drop((ca, cb));
    drop((a, b));
    let target = Target::parse(&pg.url("leases")).unwrap();
    let (mut alone, mut all) = rt.block_on(leases(target));

    let (rs, ls) = (median(&mut remote_start), median(&mut local_start));
    let (rv, lv) = (median(&mut remote_save), median(&mut local_save));
    println!("remote store on localhost PostgreSQL, medians of {runs} runs (ms)");
    println!("{:<58} {:>9} {:>9} {:>7}", "", "remote", "local", "ratio");
    println!(
        "{:<58} {:>9.1} {:>9.1} {:>6.2}{}",
        format!(
            "session start, {} profile (B pulls A's new save)",
            SHAPES[1].name
        ),
        rs,
        ls,
        rs / ls,
        if rs / ls <= 1.3 {
            " ✓ (≤ 1.3)"
        } else {
            " ✗ (≤ 1.3)"
        }
    );
    println!(
        "{:<58} {:>9.1} {:>9.1} {:>6.2}",
        "save (stop of a --save session: capture, save, push)",
        rv,
        lv,
        rv / lv
    );
    let (a50, c50, c99) = (
        percentile(&mut alone, 0.5),
        percentile(&mut all, 0.5),
        percentile(&mut all, 0.99),
    );
    println!(
        "lease acquisition, 16 contenders × 50 rounds: p50 {c50:.2} ms, p99 {c99:.2} ms; \
         uncontended p50 {a50:.2} ms (p50 ratio {:.2})",
        c50 / a50
    );
}
