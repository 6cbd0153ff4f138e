//! `pvault session show` for people, on a real session (the autostarted daemon launches
//! Debian's Chromium): it prints how many CDP clients are connected through the relay and the
//! inactivity timeout left, which pauses while a client (here a bare websocket handshake on
//! the session's `cdp_ws_url`) is connected and runs again once it leaves.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{Env, Out};

/// How long the daemon may take to notice a relay client joining or leaving.
const CLIENT_DEADLINE: Duration = Duration::from_secs(20);

/// `session show ID` without `--json`; asserts success.
fn show(env: &Env, id: &str) -> Out {
    let out = env.run(&["session", "show", id]);
    assert_eq!(out.code, 0, "{out:?}");
    out
}

/// The value of the `label:` line of a `session show` output.
fn field<'a>(out: &'a Out, label: &str) -> Option<&'a str> {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(label)?.strip_prefix(':'))
        .map(str::trim)
}

/// Polls `session show ID` until `want` holds for its output, or fails after
/// [`CLIENT_DEADLINE`] with the last output.
fn show_until(env: &Env, id: &str, what: &str, want: impl Fn(&Out) -> bool) -> Out {
    let deadline = Instant::now() + CLIENT_DEADLINE;
    loop {
        let out = show(env, id);
        if want(&out) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens a websocket to `ws://127.0.0.1:PORT/PATH` by hand (the relay counts a client from
/// the upgrade on) and returns the open stream; dropping it disconnects.
fn ws_connect(url: &str) -> TcpStream {
    let rest = url.strip_prefix("ws://").expect("a ws:// URL");
    let (host, path) = rest.split_once('/').expect("ws://HOST:PORT/PATH");
    let mut tcp = TcpStream::connect(host).expect("connect to the relay");
    tcp.set_read_timeout(Some(CLIENT_DEADLINE)).unwrap();
    write!(
        tcp,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    // Read the response head byte by byte: nothing after it is ours to consume.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tcp.read(&mut byte).expect("read the relay's answer");
        assert!(n == 1, "the relay closed during the handshake: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.starts_with("HTTP/1.1 101"),
        "the relay did not upgrade: {head}"
    );
    tcp
}

#[test]
fn session_show_prints_clients_and_the_inactivity_timeout_left() {
    let env = Env::with_vault();
    let started = env.json(&["session", "start", "--timeout", "600"]);
    let id = started["session_id"]
        .as_str()
        .expect("session_id")
        .to_owned();
    let url = started["cdp_ws_url"]
        .as_str()
        .expect("cdp_ws_url")
        .to_owned();

    // No client yet: the timeout runs.
    let idle = show(&env, &id);
    assert_eq!(field(&idle, "clients"), Some("0"), "{idle:?}");
    let timeout = field(&idle, "timeout").unwrap_or_default();
    assert!(
        timeout.ends_with(" left of 10m") && timeout != "0s left of 10m",
        "timeout line: {idle:?}"
    );

    // A client through the relay pauses it.
    let client = ws_connect(&url);
    let busy = show_until(&env, &id, "clients: 1", |o| {
        field(o, "clients") == Some("1")
    });
    assert_eq!(
        field(&busy, "timeout"),
        Some("10m (paused: 1 client connected)"),
        "{busy:?}"
    );

    // Gone again: the countdown is back.
    drop(client);
    let again = show_until(&env, &id, "clients: 0", |o| {
        field(o, "clients") == Some("0")
    });
    assert!(
        field(&again, "timeout").is_some_and(|t| t.ends_with(" left of 10m")),
        "{again:?}"
    );

    // The JSON document carries the same facts as numbers.
    let doc = env.json(&["session", "show", &id]);
    assert_eq!(doc["session"]["clients"], 0, "{doc}");
    assert_eq!(doc["session"]["timeout_secs"], 600, "{doc}");
    assert!(
        doc["session"]["timeout_left_secs"]
            .as_u64()
            .is_some_and(|s| (1..=600).contains(&s)),
        "{doc}"
    );

    let stop = env.run(&["session", "stop", &id]);
    assert_eq!(stop.code, 0, "{stop:?}");
}

#[test]
fn counts_are_pluralized_in_plain_output() {
    let env = Env::with_vault();
    let one = serde_json::json!({
        "cookies": [{"name": "sid", "value": "v", "domain": "example.com", "path": "/",
                     "expires": -1, "httpOnly": true, "secure": true, "sameSite": "Lax"}],
        "origins": [{"origin": "https://example.com", "localStorage": [{"name": "k", "value": "v"}]}]
    });
    let f = env.file("one.json", one.to_string().as_bytes());
    env.json(&["profile", "import", "one", f.to_str().unwrap()]);
    let out = env.run(&["session", "start", "--profile", "one"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("loaded:     1 cookie, 1 origin from profile one"),
        "{out:?}"
    );
    let id = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("session_id: "))
        .unwrap()
        .to_owned();
    let out = env.run(&["session", "stop", &id]);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn session_list_elides_the_relay_token_which_show_and_json_give() {
    let env = Env::with_vault();
    let s = env.json(&["session", "start"]);
    let id = s["session_id"].as_str().unwrap().to_owned();
    let url = s["cdp_ws_url"].as_str().unwrap().to_owned();
    let (head, token) = url.rsplit_once('/').unwrap();
    assert!(token.len() >= 32, "{url}");

    let out = env.run(&["session", "list"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        !out.stdout.contains(token),
        "the table shows the token: {out:?}"
    );
    assert!(out.stdout.contains(&format!("{head}/…")), "{out:?}");

    let listed = env.json(&["session", "list"]);
    assert_eq!(listed["sessions"][0]["cdp_ws_url"], url.as_str());
    assert!(show(&env, &id).stdout.contains(&url));
    env.json(&["session", "stop", &id]);
}
