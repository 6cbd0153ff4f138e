//! The single writer across machines (`remote-format.md` 6): two daemons starting `--save`
//! sessions of one linked profile at the same moment, 20 times, get exactly one lease each
//! time, the loser `busy` naming the holder's host and session; a killed holder's lease
//! passes to the other machine after its expiry and not before; a paused holder that wakes
//! after the other machine saved is refused and its save kept locally (diverged).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::support::*;
use crate::harness::wait_for;

const P: &str = "shared";

/// A and B joined to one store, profile `P` linked on A and pulled on B; lease `ttl` s.
fn two_machines(pg: &Pg, ttl: u64) -> (Machine, Machine) {
    let mut a = Machine::start();
    a.add(pg, ttl, None);
    a.c.ok(
        "profile.import",
        json!({"name": P, "state": state("v1", "lease.test"), "create": true}),
    );
    a.c.ok("profile.link", json!({"name": P, "remote": "team"}));
    let mut b = Machine::start();
    let key = a.export();
    b.add(pg, ttl, Some(key));
    b.c.ok("profile.pull", json!({"name": P, "remote": "team"}));
    (a, b)
}

#[test]
fn simultaneous_save_starts_get_exactly_one_lease_each_time() {
    let pg = Pg::start();
    let (a, b) = two_machines(&pg, 60);
    let (sa, sb) = (a.daemon.socket.clone(), b.daemon.socket.clone());
    let mut ca = a.daemon.session();
    let mut cb = b.daemon.session();
    for round in 0..20 {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let start = |sock: std::path::PathBuf, barrier: std::sync::Arc<std::sync::Barrier>| {
            std::thread::spawn(move || {
                let mut c = crate::harness::Raw::connect(&sock);
                c.hello();
                barrier.wait();
                c.call("session.start", json!({"profile": P, "save": true}))
            })
        };
        let ta = start(sa.clone(), barrier.clone());
        let tb = start(sb.clone(), barrier);
        let (ra, rb) = (ta.join().unwrap(), tb.join().unwrap());
        let won: Vec<&Value> = [&ra, &rb]
            .into_iter()
            .filter(|r| r.get("result").is_some())
            .collect();
        assert_eq!(won.len(), 1, "round {round}: exactly one lease: {ra} {rb}");
        let (winner, loser, wc) = if ra.get("result").is_some() {
            (&ra, &rb, &mut ca)
        } else {
            (&rb, &ra, &mut cb)
        };
        assert_eq!(loser["error"]["code"], "busy", "round {round}: {loser}");
        let msg = loser["error"]["message"].as_str().unwrap();
        let sid = session_id(winner);
        assert!(msg.contains(&sid), "busy names the holder's session: {msg}");
        assert!(msg.contains(&host()), "busy names the holder's host: {msg}");
        wc.ok("session.stop", json!({"session_id": sid, "discard": true}));
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn a_killed_holders_lease_passes_after_expiry_and_a_paused_holder_cannot_write() {
    let pg = Pg::start();
    let ttl = 5;
    let (mut a, mut b) = two_machines(&pg, ttl);
    let s = a.start_session(P, true);
    session_id(&s);
    a.daemon.signal(libc::SIGKILL);
    let killed = Instant::now();
    a.daemon.wait();
    // Until the lease expires B is refused; after it, B gets it.
    let first = b.start_session(P, true);
    assert_eq!(first["error"]["code"], "busy", "{first}");
    let got = wait_for("B to get the lease", PATIENCE, || {
        let r = b.start_session(P, true);
        r.get("result").is_some().then_some(r)
    });
    let waited = killed.elapsed();
    // The lease was last renewed at most ttl/3 before the kill.
    let floor = Duration::from_secs(ttl) * 2 / 3;
    assert!(waited >= floor, "B got the lease {waited:?} after the kill");
    assert!(
        waited < Duration::from_secs(ttl) + Duration::from_secs(10),
        "{waited:?}"
    );
    b.c.ok(
        "session.stop",
        json!({"session_id": session_id(&got), "discard": true}),
    );
    // A's successor cleans up the killed daemon's Chrome.
    a.daemon = crate::sessions::support::start_daemon(&a.env, &[]);
    a.c = a.daemon.session();
    a.c.unlock();

    // A holds the lease and pauses past its expiry; B saves meanwhile; A wakes and stops:
    // its save stays local, reported, and B's save stays the remote head.
    let s = a.start_session(P, true);
    let sa = session_id(&s);
    a.daemon.signal(libc::SIGSTOP);
    let got = wait_for("B to get the lease", PATIENCE, || {
        let r = b.start_session(P, true);
        r.get("result").is_some().then_some(r)
    });
    let ws = got["result"]["session"]["cdp_ws_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut cdp = pvault_testkit::Cdp::connect(&ws).unwrap();
    cdp.set_cookies(json!([{"name": "remote-sid", "value": "saved-by-b",
        "domain": "lease.test", "path": "/", "expires": -1}]));
    let sb =
        b.c.ok("session.stop", json!({"session_id": session_id(&got)}));
    assert_eq!(sb["remote"]["state"], "pushed", "{sb}");
    a.daemon.signal(libc::SIGCONT);
    let stopped = a.c.ok("session.stop", json!({"session_id": sa}));
    assert!(stopped["snapshot"].is_object(), "A's save is kept locally");
    assert_eq!(stopped["remote"]["state"], "diverged", "{stopped}");
    let st = a.status();
    let pending = st["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{st}");
    assert_eq!(pending[0]["state"], "diverged");
    assert_eq!(pending[0]["snapshot"], stopped["snapshot"]["id"]);
    // B's save is what a fresh reader loads.
    let r = b.start_session(P, false);
    let ws = r["result"]["session"]["cdp_ws_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cookie_values(&ws).contains(&"saved-by-b".to_owned()));
}
