//! `session.start` with `save` into a profile that does not exist creates it (and says so);
//! without `save` a missing profile stays `not_found`; a start that fails deletes the profile
//! it created.

use serde_json::json;

use super::support::*;
use crate::harness::Env;

#[test]
fn save_into_a_missing_profile_creates_it_and_the_stop_saves_there() {
    let env = Env::new();
    let (_d, mut c) = ready(&env);
    assert_eq!(
        c.err("session.start", json!({"profile": "fresh"})),
        "not_found",
        "a read-only session into a missing profile is refused"
    );
    let s = c.ok("session.start", json!({"profile": "fresh", "save": true}));
    assert_eq!(s["profile_created"], true, "{s}");
    assert_eq!(s["session"]["profile"], "fresh");
    assert_eq!(s["load"]["snapshot"], serde_json::Value::Null, "{s}");
    let id = s["session"]["session_id"].as_str().unwrap().to_owned();
    assert!(c.ok("profile.show", json!({"name": "fresh"}))["profile"]["id"].is_string());
    let stopped = c.ok("session.stop", json!({"session_id": id}));
    assert!(stopped["snapshot"].is_object(), "{stopped}");
    let h = c.ok("profile.history", json!({"name": "fresh"}))["snapshots"].clone();
    assert_eq!(h.as_array().unwrap().len(), 1, "{h}");

    // The profile exists now: the next save session loads it and creates nothing.
    let s = c.ok("session.start", json!({"profile": "fresh", "save": true}));
    assert_eq!(s["profile_created"], false, "{s}");
    c.ok(
        "session.stop",
        json!({"session_id": s["session"]["session_id"], "discard": true}),
    );
}

#[test]
fn a_start_that_fails_deletes_the_profile_it_created() {
    let env = Env::new();
    let d = start_daemon(&env, &[("PVAULT_CHROME", "/bin/false")]);
    let mut c = d.session();
    c.init();
    let code = c.err("session.start", json!({"profile": "fresh", "save": true}));
    assert_eq!(code, "browser_error");
    assert_eq!(
        c.err("profile.show", json!({"name": "fresh"})),
        "not_found",
        "no empty profile is left behind"
    );
}
