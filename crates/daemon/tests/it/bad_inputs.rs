//! A catalogue of malformed input on the raw socket: each gets the right error code (and
//! never an echo of the client's values), while another connected client keeps being served.

use serde_json::{Value, json};

use crate::harness::{Env, Raw};

/// One bad input: bytes sent on a fresh connection (after `hello` if `after_hello`), the
/// expected error code (`None` = the daemon just closes), and whether it closes after.
struct Case {
    name: &'static str,
    after_hello: bool,
    bytes: Vec<u8>,
    code: Option<&'static str>,
    closes: bool,
}

fn case(
    name: &'static str,
    after_hello: bool,
    bytes: impl Into<Vec<u8>>,
    code: &'static str,
) -> Case {
    Case {
        name,
        after_hello,
        bytes: bytes.into(),
        code: Some(code),
        closes: false,
    }
}

fn line(v: Value) -> Vec<u8> {
    (v.to_string() + "\n").into_bytes()
}

fn catalogue() -> Vec<Case> {
    let inv = "invalid_argument";
    let mut deep = String::from("{\"id\":7,\"method\":\"status\",\"params\":{\"a\":");
    deep.push_str(&"[".repeat(10_000));
    deep.push_str(&"]".repeat(10_000));
    deep.push_str("}}\n");
    let mut v = vec![
        case("not JSON", false, "hello there\n", inv),
        case(
            "request before hello",
            false,
            line(json!({"id":1,"method":"status","params":{}})),
            inv,
        ),
        case("empty line", false, "\n", inv),
        case("blank line", false, "   \t \n", inv),
        case(
            "invalid UTF-8",
            false,
            b"{\"id\":1,\"method\":\"\xff\xfe\"}\n".to_vec(),
            inv,
        ),
        case(
            "hello with a wrong type",
            false,
            line(json!({"id":1,"method":"hello","params":{"protocol":"one"}})),
            inv,
        ),
        case(
            "hello without protocol",
            false,
            line(json!({"id":1,"method":"hello","params":{}})),
            inv,
        ),
        case("hello as an array", false, line(json!([1, "hello"])), inv),
        Case {
            name: "hello with another major",
            after_hello: false,
            bytes: line(json!({"id":1,"method":"hello","params":{"protocol":2}})),
            code: Some("unsupported"),
            closes: true,
        },
        case(
            "second hello",
            true,
            line(json!({"id":2,"method":"hello","params":{"protocol":1}})),
            inv,
        ),
        case(
            "unknown method",
            true,
            line(json!({"id":2,"method":"nope.nope","params":{}})),
            inv,
        ),
        case(
            "missing id",
            true,
            line(json!({"method":"status","params":{}})),
            inv,
        ),
        case(
            "null id",
            true,
            line(json!({"id":null,"method":"status"})),
            inv,
        ),
        case(
            "string id",
            true,
            line(json!({"id":"1","method":"status"})),
            inv,
        ),
        case(
            "negative id",
            true,
            line(json!({"id":-1,"method":"status"})),
            inv,
        ),
        case(
            "fractional id",
            true,
            line(json!({"id":1.5,"method":"status"})),
            inv,
        ),
        case(
            "id above 2^53-1",
            true,
            line(json!({"id":9007199254740992u64,"method":"status"})),
            inv,
        ),
        case(
            "id above u64",
            true,
            "{\"id\":18446744073709551616,\"method\":\"status\"}\n",
            inv,
        ),
        case(
            "id 1e400",
            true,
            "{\"id\":1e400,\"method\":\"status\"}\n",
            inv,
        ),
        case(
            "missing method",
            true,
            line(json!({"id":3,"params":{}})),
            inv,
        ),
        case(
            "numeric method",
            true,
            line(json!({"id":3,"method":5})),
            inv,
        ),
        case(
            "params as array",
            true,
            line(json!({"id":3,"method":"status","params":[]})),
            inv,
        ),
        case(
            "params as string",
            true,
            line(json!({"id":3,"method":"status","params":"x"})),
            inv,
        ),
        case(
            "unknown params field",
            true,
            line(json!({"id":3,"method":"status","params":{"verbose":true}})),
            inv,
        ),
        case(
            "unknown top-level member",
            true,
            line(json!({"id":3,"method":"status","params":{},"jsonrpc":"2.0"})),
            inv,
        ),
        case(
            "offset of the wrong type",
            true,
            line(json!({"id":3,"method":"profile.list","params":{"offset":"SECRETVALUE"}})),
            inv,
        ),
        case(
            "negative offset",
            true,
            line(json!({"id":3,"method":"profile.list","params":{"offset":-1}})),
            inv,
        ),
        case(
            "huge offset",
            true,
            "{\"id\":3,\"method\":\"profile.list\",\"params\":{\"offset\":99999999999999999999999999}}\n",
            inv,
        ),
        case(
            "float offset 1e300",
            true,
            "{\"id\":3,\"method\":\"profile.list\",\"params\":{\"offset\":1e300}}\n",
            inv,
        ),
        case("deeply nested JSON", true, deep, inv),
        case("top-level array", true, "[1,2,3]\n", inv),
        case("top-level null", true, "null\n", inv),
        case(
            "array shaped like a request",
            true,
            "[5,\"status\",{}]\n",
            inv,
        ),
        case(
            "two objects on one line",
            true,
            "{\"id\":4,\"method\":\"status\"}{\"id\":5}\n",
            inv,
        ),
        case(
            "credential of the wrong shape",
            true,
            line(
                json!({"id":4,"method":"vault.unlock","params":{"credential":{"password":"SECRETVALUE"}}}),
            ),
            inv,
        ),
        case(
            "key file not base64",
            true,
            line(
                json!({"id":4,"method":"vault.unlock","params":{"credential":{"key_file":"SECRETVALUE!!"}}}),
            ),
            inv,
        ),
        case(
            "profile call without a vault",
            true,
            line(json!({"id":4,"method":"profile.create","params":{"name":"a"}})),
            "not_found",
        ),
        case(
            "unknown session",
            true,
            line(json!({"id":4,"method":"session.show","params":{"session_id":"s000000000000"}})),
            "not_found",
        ),
        case(
            "session params of the wrong shape",
            true,
            line(json!({"id":4,"method":"session.start","params":{"save":"yes"}})),
            inv,
        ),
        case(
            "relative backup path",
            true,
            line(json!({"id":4,"method":"vault.backup","params":{"path":"rel/x.db"}})),
            inv,
        ),
        case(
            "missing required param",
            true,
            line(json!({"id":4,"method":"profile.show","params":{}})),
            inv,
        ),
        Case {
            name: "truncated line then close",
            after_hello: true,
            bytes: b"{\"id\":9,\"meth".to_vec(),
            code: None,
            closes: true,
        },
    ];
    // Over the limit without a newline: answered too_large before the daemon buffers it all.
    let big = vec![b'a'; pvault_protocol::MAX_MESSAGE_BYTES + 2];
    v.push(Case {
        name: "oversized line",
        after_hello: true,
        bytes: big,
        code: Some("too_large"),
        closes: true,
    });
    v
}

#[test]
fn every_bad_input_gets_its_code_and_the_daemon_keeps_serving() {
    let env = Env::new();
    let d = env.start();
    let mut other = d.session();
    let cases = catalogue();
    assert!(cases.len() >= 30, "the catalogue has {} cases", cases.len());
    for c in cases {
        let mut conn = d.raw();
        if c.after_hello {
            conn.hello();
        }
        if c.name == "truncated line then close" {
            conn.send_bytes(&c.bytes);
            conn.w.shutdown(std::net::Shutdown::Write).unwrap();
            assert!(
                conn.recv().is_none(),
                "{}: the daemon should close without answering",
                c.name
            );
        } else {
            // The oversized write may fail part-way once the daemon has answered and closed.
            let w = conn.w.try_clone().unwrap();
            let bytes = c.bytes.clone();
            let writer = std::thread::spawn(move || {
                let mut w = w;
                let _ = std::io::Write::write_all(&mut w, &bytes);
            });
            let resp = conn
                .recv()
                .unwrap_or_else(|| panic!("{}: no answer", c.name));
            let code = resp["error"]["code"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: not an error: {resp}", c.name));
            assert_eq!(Some(code), c.code, "{}: {resp}", c.name);
            let text = resp.to_string();
            assert!(
                !text.contains("SECRETVALUE"),
                "{}: the error echoes the client's value: {text}",
                c.name
            );
            if c.closes {
                assert!(
                    conn.recv().is_none(),
                    "{}: the connection should be closed",
                    c.name
                );
                let _ = conn.w.shutdown(std::net::Shutdown::Both);
            } else {
                // The same connection still works after a non-fatal error.
                let st = conn.call("status", json!({}));
                if c.after_hello {
                    assert!(
                        st.get("result").is_some(),
                        "{}: connection unusable after the error: {st}",
                        c.name
                    );
                }
            }
            writer.join().unwrap();
        }
        // Meanwhile, the other client is served normally.
        let st = other.status();
        assert_eq!(st["pid"], json!(d.pid()), "after {}", c.name);
    }
}

#[test]
fn errors_carry_the_request_id_when_it_was_readable() {
    let env = Env::new();
    let d = env.start();
    let mut c = d.session();
    let v = c.call("nope.nope", json!({}));
    assert!(v["id"].is_u64());
    c.send_bytes(b"{\"id\":\"x\",\"method\":\"status\"}\n");
    let v = c.recv().unwrap();
    assert_eq!(v["id"], Value::Null);
    assert_eq!(v["error"]["code"], "invalid_argument");
    let _ = Raw::connect(&d.socket);
}

/// Every method in the protocol's method table reaches its own handler (never "unknown
/// method"), and a name outside the table reaches none: a misspelt `session.*` method is
/// `invalid_argument`, not another session method's handler.
#[test]
fn every_method_in_the_table_is_routed_and_no_other_name_is() {
    use pvault_protocol::Method;
    let env = Env::new();
    let mut cmd = env.command();
    // `session.start` with empty params must not launch a browser here.
    cmd.env("PVAULT_CHROME", "/nonexistent/chromium")
        .env("PVAULT_TEST_NO_CHROME_FALLBACK", "1");
    let d = crate::harness::Daemon::spawn(cmd, &env.socket);
    let mut c = d.session();
    for &m in Method::ALL {
        if m == Method::DaemonShutdown {
            continue;
        }
        let v = c.call(m.name(), json!({}));
        let routed = v.get("result").is_some()
            || v["error"]["message"]
                .as_str()
                .is_some_and(|msg| !msg.starts_with("unknown method"));
        assert!(routed, "{m} was not routed: {v}");
    }
    for name in ["session.loads", "session.", "Session.load", "vault"] {
        let v = c.call(name, json!({}));
        assert_eq!(v["error"]["code"], "invalid_argument", "{name}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("unknown method"),
            "{name}: {v}"
        );
    }
    assert_eq!(c.call("daemon.shutdown", json!({}))["result"], json!({}));
}
