//! A panic inside a request handler (injected through the `test-hooks` feature, which only
//! this crate's tests build): the client gets `internal`, the daemon keeps serving, and the
//! session registry — whose lock the panic held — keeps working for later session calls.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Env, Raw};
use crate::sessions::support::{alive, chrome};

#[test]
fn a_panicking_handler_answers_internal_and_the_daemon_keeps_serving() {
    let env = Env::new();
    let mut cmd = env.command();
    cmd.env("PVAULT_CHROME", chrome())
        .env("PVAULT_TEST_PANIC_METHOD", "session.list");
    let d = crate::harness::Daemon {
        child: Some(cmd.spawn().unwrap()),
        socket: env.socket.clone(),
    };
    crate::harness::wait_for("pvaultd to answer", Duration::from_secs(20), || {
        Raw::try_connect(&env.socket).is_some()
    });
    let mut c = d.session();
    // Without an answer the client would wait forever; 10 s turns that into a failure.
    c.w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.init();

    let v = c.call("session.list", json!({}));
    assert_eq!(v["error"]["code"], "internal", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("session.list"),
        "{v}"
    );
    // Again, on the same connection: the daemon did not die and the connection still works.
    assert_eq!(c.err("session.list", json!({})), "internal");
    c.status();

    // The registry's lock was held by the panic: every session call still works.
    let s = c.ok("session.start", json!({}));
    let id = s["session"]["session_id"].as_str().unwrap().to_owned();
    let pid = s["session"]["pid"].as_u64().unwrap() as u32;
    assert_eq!(
        c.ok("session.show", json!({"session_id": id}))["session"]["state"],
        "running"
    );
    c.ok("session.stop", json!({"session_id": id}));
    assert_eq!(
        c.ok("session.show", json!({"session_id": id}))["session"]["state"],
        "ended"
    );
    crate::harness::wait_for("the browser to exit", Duration::from_secs(20), || {
        !alive(pid)
    });
    // A new connection is served too.
    d.session().status();
}
