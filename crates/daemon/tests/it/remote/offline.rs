//! Losing the remote and a dishonest remote (`remote-format.md` 7, 8): PostgreSQL stopped
//! while a `--save` session runs loses nothing (the final save is local, pending, and pushed
//! once the server is back); a session of a linked profile whose remote is unreachable
//! loads the local copy with a warning; a server that deletes, reorders or rolls back
//! records is detected at the next session start and the local copy is kept.

use serde_json::json;

use super::support::*;
use crate::harness::wait_for;

const P: &str = "offline";

#[test]
fn postgres_stopped_mid_session_then_the_final_save_is_pushed() {
    let pg = Pg::start();
    let mut a = Machine::start();
    a.add(&pg, 5, None);
    a.c.ok(
        "profile.import",
        json!({"name": P, "state": state("before", "offline.test"), "create": true}),
    );
    a.c.ok("profile.link", json!({"name": P, "remote": "team"}));
    let s = a.start_session(P, true);
    let sid = session_id(&s);
    let ws = s["result"]["session"]["cdp_ws_url"]
        .as_str()
        .unwrap()
        .to_owned();
    pg.server.stop();
    let mut cdp = pvault_testkit::Cdp::connect(&ws).unwrap();
    cdp.set_cookies(json!([{"name": "remote-sid", "value": "saved-offline",
        "domain": "offline.test", "path": "/", "expires": -1}]));
    let stopped = a.c.ok("session.stop", json!({"session_id": sid}));
    assert!(stopped["snapshot"].is_object(), "saved locally: {stopped}");
    assert_eq!(stopped["remote"]["state"], "pending", "{stopped}");
    let st = a.status();
    assert_eq!(st["reachable"], false, "{st}");
    assert_eq!(st["error"]["code"], "remote_unavailable", "{st}");
    assert_eq!(st["pending"][0]["snapshot"], stopped["snapshot"]["id"]);
    // Unreachable: a session loads the local copy, with a warning.
    let r = a.start_session(P, false);
    assert_eq!(r["result"]["remote"]["state"], "local", "{r}");
    assert!(
        r["result"]["remote"]["warning"]
            .as_str()
            .unwrap()
            .contains("unreachable")
    );
    let ws = r["result"]["session"]["cdp_ws_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cookie_values(&ws).contains(&"saved-offline".to_owned()));
    a.c.ok("session.stop", json!({"session_id": session_id(&r)}));

    pg.server.start_again();
    wait_for("the pending save to be pushed", PATIENCE, || {
        let st = a.status();
        st["reachable"] == true && st["pending"].as_array().unwrap().is_empty()
    });
    // Another machine sees it.
    let mut b = Machine::start();
    let key = a.export();
    b.add(&pg, 5, Some(key));
    b.c.ok("profile.pull", json!({"name": P, "remote": "team"}));
    assert_eq!(
        b.history(P)[0]["content_hash"],
        stopped["snapshot"]["content_hash"]
    );
}

#[test]
fn a_tampering_server_is_detected_and_the_local_copy_kept() {
    let pg = Pg::start();
    let mut a = Machine::start();
    a.add(&pg, 60, None);
    for v in ["one", "two", "three"] {
        a.c.ok(
            "profile.import",
            json!({"name": P, "state": state(v, "tamper.test"), "create": true}),
        );
    }
    a.c.ok("profile.link", json!({"name": P, "remote": "team"}));
    let mut b = Machine::start();
    let key = a.export();
    b.add(&pg, 60, Some(key));
    b.c.ok("profile.pull", json!({"name": P, "remote": "team"}));
    let local = b.history(P);
    assert_eq!(local.len(), 3);

    // Rolled back: the server puts back the profile row of before A's next save.
    // The server operator keeps copies aside (in a schema of its own).
    pg.sql("CREATE SCHEMA attacker; CREATE TABLE attacker.keep_p AS SELECT * FROM pvault_profiles; CREATE TABLE attacker.keep_s AS SELECT * FROM pvault_snapshots");
    a.c.ok(
        "profile.import",
        json!({"name": P, "state": state("four", "tamper.test")}),
    );
    wait_for("A's save to be pushed", PATIENCE, || {
        a.status()["pending"].as_array().unwrap().is_empty()
    });
    let r = b.start_session(P, false);
    assert_eq!(r["result"]["remote"]["state"], "remote", "{r}");
    b.c.ok("session.stop", json!({"session_id": session_id(&r)}));
    let seen = b.history(P);
    assert_eq!(seen.len(), 4);
    pg.sql("DELETE FROM pvault_snapshots; UPDATE pvault_profiles p SET head_id = k.head_id, head = k.head, fence = k.fence, updated_at = k.updated_at FROM attacker.keep_p k WHERE p.profile_id = k.profile_id; INSERT INTO pvault_snapshots SELECT * FROM attacker.keep_s");
    let r = b.start_session(P, false);
    assert_eq!(r["error"]["code"], "remote_tampered", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rolled_back"),
        "{r}"
    );
    assert_eq!(b.history(P), seen, "the local copy is kept");
    // Deleted: a record of the chain is gone.
    pg.sql(
        "DELETE FROM pvault_snapshots; INSERT INTO pvault_snapshots SELECT * FROM attacker.keep_s",
    );
    pg.sql("DELETE FROM pvault_snapshots WHERE snapshot_id = (SELECT snapshot_id FROM pvault_snapshots ORDER BY created_at LIMIT 1 OFFSET 1)");
    let mut c = Machine::start();
    c.add(&pg, 60, Some(a.export()));
    let v =
        c.c.call("profile.pull", json!({"name": P, "remote": "team"}));
    assert_eq!(v["error"]["code"], "remote_tampered", "{v}");
    let v = c.c.call("profile.show", json!({"name": P}));
    assert_eq!(v["error"]["code"], "not_found", "nothing half-pulled: {v}");
}
