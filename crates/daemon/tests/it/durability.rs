//! Acknowledged writes survive: SIGTERM with writes in flight (exit 0, every acknowledged
//! write present) and `kill -9` during a stream of writes (restart: every acknowledged write
//! present, `vault.verify` passes).

use std::time::Duration;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::harness::{Env, Raw, storage_state, wait_for};

fn check_present(env: &Env, acked: &[String]) {
    let d = env.start();
    let mut c = d.session();
    c.unlock();
    for name in acked {
        let prof = c.ok("profile.show", json!({"name": name}))["profile"].clone();
        assert_eq!(prof["snapshot_count"], 1, "{name}: {prof}");
        let exp = c.ok("profile.export", json!({"name": name}));
        assert_eq!(
            exp["state"]["origins"][0]["localStorage"][0]["value"],
            json!(name)
        );
    }
    let v = c.ok("vault.verify", json!({}));
    assert_eq!(v["ok"], true, "{v}");
}

#[test]
fn sigterm_with_writes_in_flight_loses_nothing() {
    let env = Env::new();
    let mut d = env.start();
    let mut c = d.session();
    c.init();
    // Pipeline 30 imports without waiting, then SIGTERM while they are being processed.
    let n = 30;
    for i in 0..n {
        let name = format!("t{i}");
        let line = json!({"id": i, "method": "profile.import", "params": {"name": name, "state": storage_state(&name)}});
        c.send_bytes((line.to_string() + "\n").as_bytes());
    }
    let first = c.recv().expect("first response");
    assert!(first.get("result").is_some(), "{first}");
    d.signal(libc::SIGTERM);
    let mut acked = vec![format!("t{}", first["id"])];
    while let Some(v) = c.recv() {
        if v.get("result").is_some() {
            acked.push(format!("t{}", v["id"]));
        } else {
            panic!("an accepted request failed during shutdown: {v}");
        }
    }
    assert_eq!(d.wait(), Some(0), "pvaultd must exit 0 on SIGTERM");
    assert!(!env.socket.exists(), "the socket is removed at exit");
    check_present(&env, &acked);
}

#[test]
fn kill_9_during_a_stream_of_writes_keeps_every_acknowledged_write() {
    let env = Env::new();
    let mut d = env.start();
    d.session().init();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let writer = {
        let acked = acked.clone();
        let socket = env.socket.clone();
        std::thread::spawn(move || {
            let mut c = Raw::connect(&socket);
            c.hello();
            for i in 0.. {
                let name = format!("k{i}");
                let line = json!({"id": i, "method": "profile.import", "params": {"name": name, "state": storage_state(&name)}});
                if std::io::Write::write_all(&mut c.w, (line.to_string() + "\n").as_bytes())
                    .is_err()
                {
                    return;
                }
                let v: Option<Value> =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.recv()))
                        .ok()
                        .flatten();
                match v {
                    Some(v) if v.get("result").is_some() => acked.lock().unwrap().push(name),
                    _ => return,
                }
            }
        })
    };
    wait_for("20 acknowledged writes", Duration::from_secs(60), || {
        acked.lock().unwrap().len() >= 20
    });
    d.signal(libc::SIGKILL);
    assert_eq!(d.wait(), None, "killed by a signal");
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 20);
    // The socket file is left behind by the crash; the restart reclaims it.
    assert!(env.socket.exists());
    check_present(&env, &acked);
}
