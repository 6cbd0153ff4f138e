//! Remote stores through the real daemon, a real PostgreSQL and real Chromium (protocol.md
//! 1.9, `remote-format.md` 8): two daemons with separate vaults stand for two machines. A
//! login saved on one reaches the other through the remote; what the server holds carries no
//! marker; the sealed local state holds no secret in the clear; bad input writes nothing;
//! removing a remote refuses while saves wait and then forgets it and its links. The
//! lease, offline saves and a tampering server are in `lease` and `offline`.

mod lease;
mod offline;
pub(crate) mod support;

use serde_json::json;
use support::*;

use crate::harness::wait_for;

/// A profile name and values that must never reach the server in the clear.
const PROFILE: &str = "marker-profile-name";
const DOMAIN: &str = "markerdomain.test";

#[test]
fn a_login_saved_on_a_reaches_b_and_b_sees_later_saves() {
    let pg = Pg::start();
    let mut a = Machine::start();
    let added = a.add(&pg, 60, None);
    assert_eq!(added["created"], true, "{added}");
    a.c.ok(
        "profile.import",
        json!({"name": PROFILE, "state": state("MARKER-VALUE-ONE", DOMAIN), "create": true}),
    );
    let linked =
        a.c.ok("profile.link", json!({"name": PROFILE, "remote": "team"}));
    assert_eq!(linked["snapshots"], 1);
    // A saves a login in a --save session: the session loads the imported state, a client
    // sets the new login cookie, and the final save is pushed.
    let s = a.start_session(PROFILE, true);
    assert_eq!(s["result"]["remote"]["state"], "remote", "{s}");
    let ws = s["result"]["session"]["cdp_ws_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut cdp = pvault_testkit::Cdp::connect(&ws).unwrap();
    cdp.set_cookies(json!([{"name": "remote-sid", "value": "MARKER-LOGIN-TWO",
        "domain": DOMAIN, "path": "/", "expires": -1, "httpOnly": true}]));
    let stopped =
        a.c.ok("session.stop", json!({"session_id": session_id(&s)}));
    assert_eq!(stopped["remote"]["state"], "pushed", "{stopped}");

    // B joins with the exported key, pulls the profile and is logged in.
    let mut b = Machine::start();
    let joined = b.add(&pg, 60, Some(a.export()));
    assert_eq!(joined["created"], false);
    assert_eq!(joined["remote"]["store_id"], added["remote"]["store_id"]);
    let pulled =
        b.c.ok("profile.pull", json!({"name": PROFILE, "remote": "team"}));
    assert!(pulled["snapshots"].as_u64().unwrap() >= 1, "{pulled}");
    let s = b.start_session(PROFILE, false);
    assert_eq!(s["result"]["remote"]["state"], "remote");
    let ws = s["result"]["session"]["cdp_ws_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cookie_values(&ws).contains(&"MARKER-LOGIN-TWO".to_owned()));
    b.c.ok("session.stop", json!({"session_id": session_id(&s)}));

    // A saves again (an import into the linked profile, pushed in the background): B's next
    // read-only session loads it.
    a.c.ok(
        "profile.import",
        json!({"name": PROFILE, "state": state("MARKER-VALUE-THREE", DOMAIN)}),
    );
    wait_for("A's import to be pushed", PATIENCE, || {
        a.status()["pending"].as_array().unwrap().is_empty()
    });
    let s = b.start_session(PROFILE, false);
    let ws = s["result"]["session"]["cdp_ws_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cookie_values(&ws).contains(&"MARKER-VALUE-THREE".to_owned()));
    b.c.ok("session.stop", json!({"session_id": session_id(&s)}));
    assert_eq!(
        b.history(PROFILE)[0]["content_hash"],
        a.history(PROFILE)[0]["content_hash"],
        "the same newest content on both machines"
    );

    // What the server holds names none of it (remote-format.md 9).
    let dump = String::from_utf8_lossy(&pg.server.dump("pv")).into_owned();
    assert!(
        dump.contains("pvault_snapshots"),
        "the dump is of the store"
    );
    for marker in [
        PROFILE,
        DOMAIN,
        "MARKER-VALUE-ONE",
        "MARKER-LOGIN-TWO",
        "MARKER-VALUE-THREE",
        "remote-sid",
        "remote-ls-key",
    ] {
        assert!(!dump.contains(marker), "pg_dump holds {marker}");
    }
    // Nor does either vault's sealed local state hold its secrets in the clear.
    for m in [&a, &b] {
        let seal = std::fs::read(m.env.home.join("remotes.seal")).unwrap();
        let text = String::from_utf8_lossy(&seal);
        assert!(text.starts_with("pvault-remotes\n"));
        for secret in [
            pvault_testkit::postgres::SUPERUSER_PASSWORD,
            "127.0.0.1",
            "team",
        ] {
            assert!(!text.contains(secret), "remotes.seal holds {secret}");
        }
    }
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let pg = Pg::start();
    let mut m = Machine::start();
    let add = |m: &mut Machine, url: String, password: &str, extra: serde_json::Value| {
        let mut p = json!({"name": "team", "url": url, "password": password});
        if let Some(o) = extra.as_object() {
            for (k, v) in o {
                p[k] = v.clone();
            }
        }
        m.c.call("remote.add", p)
    };
    let pw = pvault_testkit::postgres::SUPERUSER_PASSWORD;
    let cases = [
        (
            "not a postgres URL",
            add(&mut m, "mysql://127.0.0.1/pv".into(), pw, json!({})),
            "invalid_argument",
        ),
        (
            "a password in the URL",
            add(
                &mut m,
                pg.url().replace("postgres@", "postgres:hunter2@"),
                pw,
                json!({}),
            ),
            "invalid_argument",
        ),
        (
            "a wrong password",
            add(&mut m, pg.url(), "not-the-password", json!({})),
            "auth_failed",
        ),
        (
            "nobody listening",
            add(
                &mut m,
                format!("postgres://postgres@127.0.0.1:{}/pv", free_port()),
                pw,
                json!({}),
            ),
            "remote_unavailable",
        ),
    ];
    for (what, v, code) in cases {
        assert_eq!(v["error"]["code"], code, "{what}: {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            !msg.contains(pw) && !msg.contains("hunter2"),
            "{what}: the message shows a password: {msg}"
        );
    }
    // Another tool's database: refused, untouched.
    pg.server.create_db("other");
    pg.server.psql(
        "other",
        "CREATE TABLE invoices (id int); INSERT INTO invoices VALUES (1)",
    );
    let v = add(&mut m, pg.server.url("other"), pw, json!({}));
    assert_eq!(v["error"]["code"], "conflict", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("invoices"),
        "{v}"
    );
    assert_eq!(
        pg.server.psql(
            "other",
            "SELECT string_agg(table_name, ',') FROM information_schema.tables WHERE table_schema = 'public'"
        )
        .trim(),
        "invoices"
    );
    // A key file with the wrong passphrase: refused before anything is read or written.
    let mut owner = Machine::start();
    owner.add(&pg, 60, None);
    let mut kf = owner.export();
    kf["protector"]["passphrase"] = json!("a wrong passphrase");
    let before = pg.sql("SELECT count(*) FROM pvault_profiles");
    let v = add(&mut m, pg.url(), pw, json!({"key_file": kf}));
    assert_eq!(v["error"]["code"], "auth_failed", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("passphrase"),
        "{v}"
    );
    // And an existing store without its key.
    let v = add(&mut m, pg.url(), pw, json!({}));
    assert_eq!(v["error"]["code"], "auth_failed", "{v}");
    assert_eq!(pg.sql("SELECT count(*) FROM pvault_profiles"), before);
    // Nothing was written locally by any of them.
    assert!(!m.env.home.join("remotes.seal").exists());
    assert_eq!(m.c.ok("remote.list", json!({}))["remotes"], json!([]));
}

#[test]
fn remove_refuses_while_saves_wait_then_forgets_the_remote_and_its_links() {
    let pg = Pg::start();
    let mut m = Machine::start();
    m.add(&pg, 60, None);
    m.c.ok(
        "profile.import",
        json!({"name": "kept", "state": state("v", "remove.test"), "create": true}),
    );
    m.c.ok("profile.link", json!({"name": "kept", "remote": "team"}));
    // A save while the server is down waits: remove refuses unless forced.
    pg.server.stop();
    m.c.ok(
        "profile.import",
        json!({"name": "kept", "state": state("w", "remove.test")}),
    );
    assert_eq!(m.status()["pending"].as_array().unwrap().len(), 1);
    let v = m.c.call("remote.remove", json!({"name": "team"}));
    assert_eq!(v["error"]["code"], "conflict", "{v}");
    m.c.ok("remote.remove", json!({"name": "team", "force": true}));
    assert_eq!(m.c.ok("remote.list", json!({}))["remotes"], json!([]));
    assert_eq!(
        m.history("kept").len(),
        2,
        "the local profile and its saves stay"
    );
    // The profile is no longer linked: its session does not reach for the remote.
    let r = m.start_session("kept", false);
    assert!(r["result"]["remote"].is_null(), "{r}");
    let v = m.c.call("remote.status", json!({"name": "team"}));
    assert_eq!(v["error"]["code"], "not_found", "{v}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `--save` session of a linked profile that ends logged out: the logout guard marks the
/// snapshot, it stays in A's vault and is not pushed, and B (and A's next session) still
/// load the login.
#[test]
fn a_snapshot_the_logout_guard_marked_is_not_pushed() {
    let pg = Pg::start();
    let mut a = Machine::start();
    a.add(&pg, 60, None);
    a.c.ok(
        "profile.import",
        json!({"name": PROFILE, "state": state("MARKER-LOGIN", DOMAIN), "create": true}),
    );
    a.c.ok("profile.link", json!({"name": PROFILE, "remote": "team"}));
    a.c.ok(
        "profile.health.set",
        json!({"name": PROFILE, "url": format!("http://{DOMAIN}/"),
               "expect": [{"type": "cookie", "name": "remote-sid"}]}),
    );
    // The session logs out: its login cookie is gone when it stops.
    let s = a.start_session(PROFILE, true);
    let ws = s["result"]["session"]["cdp_ws_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut cdp = pvault_testkit::Cdp::connect(&ws).unwrap();
    cdp.call("Storage.clearCookies", json!({})).unwrap();
    assert!(cookie_values(&ws).is_empty());
    let stopped =
        a.c.ok("session.stop", json!({"session_id": session_id(&s)}));
    assert!(stopped["logout_guard"].is_object(), "{stopped}");
    assert_eq!(stopped["remote"]["state"], "kept_local", "{stopped}");
    let history = a.history(PROFILE);
    assert_eq!(history[0]["logged_out"], true, "{history:?}");
    assert!(a.status()["pending"].as_array().unwrap().is_empty());

    // B pulls what the remote has: the login, not the logout.
    let mut b = Machine::start();
    b.add(&pg, 60, Some(a.export()));
    b.c.ok("profile.pull", json!({"name": PROFILE, "remote": "team"}));
    let s = b.start_session(PROFILE, false);
    let ws = s["result"]["session"]["cdp_ws_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(cookie_values(&ws).contains(&"MARKER-LOGIN".to_owned()));
    b.c.ok("session.stop", json!({"session_id": session_id(&s)}));
}
