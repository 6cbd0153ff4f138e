//! Nothing stalls the runtime behind the vault's key lock: while a long `vault.verify` runs
//! (2,000 profiles) and a `vault.lock` waits for its turn, `status` and a CDP message through
//! the relay each answer within 100 ms.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Env, Raw, storage_state};
use crate::sessions::support::{Cdp, ready};

const PROFILES: usize = 2_000;
const BUDGET: Duration = Duration::from_millis(100);

/// Sends `n` requests on `c` without waiting, then reads every response; all must succeed.
fn pipelined(c: &mut Raw, reqs: impl Iterator<Item = (String, serde_json::Value)>) {
    let mut n = 0;
    let mut out = Vec::new();
    for (i, (method, params)) in reqs.enumerate() {
        let line = json!({"id": i + 1, "method": method, "params": params}).to_string() + "\n";
        out.extend_from_slice(line.as_bytes());
        n += 1;
    }
    let w = c.w.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut w = w;
        w.write_all(&out).unwrap();
    });
    for _ in 0..n {
        let v = c.recv().expect("daemon closed the connection");
        assert!(v.get("error").is_none(), "{v}");
    }
    writer.join().unwrap();
}

/// Time of one `status` on a fresh connection that already said hello.
fn timed_status(d: &crate::harness::Daemon) -> Duration {
    let mut c = d.session();
    let t = Instant::now();
    c.status();
    t.elapsed()
}

#[test]
fn status_and_the_relay_answer_while_verify_runs_and_lock_waits() {
    let env = Env::new();
    let (d, mut c) = ready(&env);
    pipelined(
        &mut c,
        (0..PROFILES).map(|i| {
            (
                "profile.import".to_owned(),
                json!({"name": format!("p{i:04}"), "state": storage_state(&i.to_string()), "create": true}),
            )
        }),
    );
    let s = c.ok("session.start", json!({}));
    let mut cdp = Cdp::connect(s["session"]["cdp_ws_url"].as_str().unwrap()).unwrap();
    cdp.call("Browser.getVersion", json!({})).unwrap();

    // The verify on its own connection, then a lock; both answered later.
    let mut verify = d.session();
    let t_verify = Instant::now();
    verify.send_bytes(b"{\"id\":1,\"method\":\"vault.verify\",\"params\":{}}\n");
    // A status round trip: its profile count runs on the blocking pool queued after the
    // verify's work, so once it is answered the verify holds the keys.
    timed_status(&d);
    let mut lock = d.session();
    lock.send_bytes(b"{\"id\":1,\"method\":\"vault.lock\",\"params\":{}}\n");

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            let v = verify.recv().unwrap();
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            (v, t_verify.elapsed())
        })
    };
    let mut worst_status = Duration::ZERO;
    let mut worst_cdp = Duration::ZERO;
    let mut rounds = 0;
    // Each round starts while the verify runs (its answer has not arrived).
    while !done.load(std::sync::atomic::Ordering::SeqCst) && rounds < 50 {
        let st = timed_status(&d);
        let t = Instant::now();
        cdp.call("Browser.getVersion", json!({})).unwrap();
        let cd = t.elapsed();
        worst_status = worst_status.max(st);
        worst_cdp = worst_cdp.max(cd);
        rounds += 1;
    }
    let (v, verify_took) = reader.join().unwrap();
    assert!(v.get("error").is_none(), "{v}");
    assert!(lock.recv().unwrap().get("error").is_none());
    assert!(
        rounds > 0,
        "the verify ({verify_took:?}) ended before anything could be measured"
    );
    assert!(
        worst_status <= BUDGET && worst_cdp <= BUDGET,
        "while verify ran ({verify_took:?}, {rounds} rounds): slowest status {worst_status:?}, slowest CDP call {worst_cdp:?}"
    );
    // The lock took effect.
    assert_eq!(d.session().status()["locked"], true);
}
