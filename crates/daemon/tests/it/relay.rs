//! The guarded CDP relay (`pvault_daemon::relay`) in-process, in front of a real Chromium,
//! with real websockets: a missing, a wrong and a near-miss token get HTTP 403 and no upgrade
//! (logged without the token); the right token relays a CDP round trip; client counting for
//! the inactivity timeout; unregistering closes relayed connections; Playwright's
//! `connectOverCDP` works through the relay (opens a page, reads its title).
//! Through `pvaultd`: a session's `cdp_ws_url` is the relay (the browser has no port), a wrong
//! token is refused and logged without the token, and the inactivity timeout ends a `save`
//! session with no client (saving it) while `session.show` counts down.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pvault_browser::{LaunchOptions, Session};
use pvault_daemon::relay::{Relay, RelayTarget};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use pvault_testkit::{Cdp, chrome};

use crate::harness::{Env, Raw, wait_for};

/// Captured log output of the relay's runtime threads.
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A Chromium launched through `pvault-browser`, a relay in front of it, and the relay's log.
struct Fixture {
    rt: tokio::runtime::Runtime,
    session: Option<Session>,
    relay: Relay,
    target: Option<RelayTarget>,
    log: LogBuf,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let log = LogBuf::default();
        let w = log.clone();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(move || w.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::DEBUG)
                .finish(),
        );
        let d = dispatch.clone();
        // The relay's tasks run on the runtime's workers: give each worker the capturing
        // subscriber (a global one would mix in the other tests' output).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || {
                std::mem::forget(tracing::dispatcher::set_default(&d));
            })
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let udd = dir.path().join("chrome");
        std::fs::create_dir(&udd).unwrap();
        let (session, relay, target) = rt.block_on(async {
            let _g = tracing::dispatcher::set_default(&dispatch);
            let (session, _) = Session::launch(LaunchOptions::new(chrome(), udd))
                .await
                .expect("launch Chromium");
            let relay = Relay::start(CancellationToken::new()).await.unwrap();
            let target = relay.register(session.cdp_endpoint()).unwrap();
            (session, relay, target)
        });
        Fixture {
            rt,
            session: Some(session),
            relay,
            target: Some(target),
            log,
            _dir: dir,
        }
    }

    fn target(&self) -> &RelayTarget {
        self.target.as_ref().unwrap()
    }

    fn url(&self) -> String {
        self.target().url().to_owned()
    }

    fn token(&self) -> String {
        self.url().rsplit('/').next().unwrap().to_owned()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.target.take();
        if let Some(s) = self.session.take() {
            let _ = self.rt.block_on(s.close());
        }
    }
}

/// Sends a raw HTTP request head for `path` and returns everything the relay answered.
fn raw_request(relay: &Relay, path: &str, websocket: bool) -> String {
    let mut s = TcpStream::connect(relay.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let upgrade = if websocket {
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    } else {
        ""
    };
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {}\r\n{upgrade}\r\n",
        relay.addr()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn missing_wrong_and_near_miss_tokens_get_403_without_upgrade() {
    let f = Fixture::new();
    let token = f.token();
    let mut near = token.clone().into_bytes();
    let last = near.len() - 1;
    near[last] = if near[last] == b'0' { b'1' } else { b'0' };
    let near = String::from_utf8(near).unwrap();
    let wrong = "f".repeat(token.len());
    assert_eq!(token.len(), 64, "256 bits, hex");
    for path in [
        "/devtools/browser/".to_owned(),
        "/devtools/browser".to_owned(),
        "/".to_owned(),
        "/json/version".to_owned(),
        format!("/devtools/browser/{wrong}"),
        format!("/devtools/browser/{near}"),
        format!("/devtools/browser/{token}x"),
        format!("/devtools/page/{token}"),
    ] {
        for websocket in [true, false] {
            let reply = raw_request(&f.relay, &path, websocket);
            assert!(
                reply.starts_with("HTTP/1.1 403 "),
                "{path} (websocket {websocket}): {reply}"
            );
            assert!(!reply.contains("101"), "no upgrade: {reply}");
        }
    }
    // A websocket client sees the refusal as an HTTP error.
    let url = format!("ws://{}/devtools/browser/{wrong}", f.relay.addr());
    match tungstenite::connect(url) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("expected HTTP 403, got {other:?}"),
    }
    assert_eq!(f.target().activity().clients, 0);
    let log = f.log.text();
    assert!(log.contains("unknown token"), "refusals are logged: {log}");
    assert!(log.contains("missing token"), "{log}");
    assert!(!log.contains(&token), "the token is never logged: {log}");
    assert!(!log.contains(&near), "nor a near miss of it: {log}");
    // The right token with a plain GET: refused, but not as a forbidden token.
    let reply = raw_request(&f.relay, &format!("/devtools/browser/{token}"), false);
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
}

#[test]
fn the_right_token_relays_cdp_and_counts_clients() {
    let f = Fixture::new();
    let mut watch = f.target().watch();
    let idle_at_start = f.target().activity().idle_since;
    assert!(idle_at_start.is_some(), "idle from registration");

    let mut ws = Cdp::connect(&f.url()).expect("connect through the relay");
    let v = ws.call("Browser.getVersion", json!({})).unwrap();
    let product = v["product"].as_str().unwrap_or_default();
    assert!(product.contains("Chrome"), "{v}");
    assert_eq!(product, f.session.as_ref().unwrap().product());
    let a = f.target().activity();
    assert_eq!(a.clients, 1);
    assert_eq!(a.idle_since, None);

    // A second client at the same time.
    let mut ws2 = Cdp::connect(&f.url()).unwrap();
    let v = ws2.call("Target.getTargets", json!({})).unwrap();
    assert!(v["targetInfos"].is_array(), "{v}");
    wait_for("two clients", Duration::from_secs(10), || {
        f.target().activity().clients == 2
    });

    // The relay passes our close on and answers it.
    ws.close();
    wait_for("one client", Duration::from_secs(10), || {
        f.target().activity().clients == 1
    });
    assert_eq!(f.target().activity().idle_since, None);
    drop(ws2);
    wait_for("no client", Duration::from_secs(10), || {
        f.target().activity().clients == 0
    });
    let a = f.target().activity();
    assert!(
        a.idle_since.unwrap() > idle_at_start.unwrap(),
        "idle since the last client left"
    );
    assert!(
        f.rt.block_on(watch.changed()).is_ok(),
        "changes are watched"
    );
}

#[test]
fn unregistering_closes_relayed_connections_and_forgets_the_token() {
    let mut f = Fixture::new();
    let url = f.url();
    let path = format!("/devtools/browser/{}", f.token());
    let mut ws = Cdp::connect(&url).unwrap();
    ws.call("Browser.getVersion", json!({})).unwrap();
    assert_eq!(f.relay.len(), 1);
    f.target.take().unwrap().unregister();
    assert_eq!(f.relay.len(), 0);
    // The open connection ends (a close frame or EOF), never hangs.
    assert!(
        ws.closed_by_peer_within(Duration::from_secs(10)),
        "the relayed connection stayed open after unregistering"
    );
    let reply = raw_request(&f.relay, &path, true);
    assert!(reply.starts_with("HTTP/1.1 403 "), "{reply}");
}

#[test]
fn playwright_connect_over_cdp_works_through_the_relay() {
    let node_modules = pvault_testkit::node_dir().join("node_modules");
    let f = Fixture::new();
    let script = r#"
const { chromium } = require('playwright-core');
(async () => {
  const browser = await chromium.connectOverCDP(process.env.RELAY_URL);
  const context = browser.contexts()[0];
  const page = await context.newPage();
  await page.setContent('<title>through the relay</title><p>hi</p>');
  console.log('TITLE=' + await page.title());
  await page.close();
  await browser.close();
})().catch(e => { console.error(e); process.exit(1); });
"#;
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .env("NODE_PATH", node_modules)
        .env("RELAY_URL", f.url())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("TITLE=through the relay"), "{stdout}");
    // Playwright's `browser.close()` on a CDP connection only disconnects.
    wait_for("Playwright to leave", Duration::from_secs(10), || {
        f.target().activity().clients == 0
    });
    assert!(f.session.as_ref().unwrap().exit_watch().borrow().is_none());
}

/// pvaultd with Chromium configured, an unlocked vault, and a connection that said hello.
fn daemon(env: &Env) -> (crate::harness::Daemon, Raw) {
    let mut command = env.command();
    command.env("PVAULT_CHROME", chrome());
    let d = crate::harness::Daemon::spawn(command, &env.socket);
    let mut c = d.session();
    c.init();
    (d, c)
}

#[test]
fn sessions_hand_out_the_relay_and_time_out_when_no_client_is_connected() {
    let env = Env::new();
    let (d, mut c) = daemon(&env);
    let mut events = d.session();
    events.ok("subscribe", json!({}));
    c.ok("profile.create", json!({"name": "acct"}));
    for bad in [9, 259_201] {
        let v = c.call("session.start", json!({"timeout_secs": bad}));
        assert_eq!(v["error"]["code"], "invalid_argument", "{bad}: {v}");
    }

    let s = c.ok(
        "session.start",
        json!({"profile": "acct", "save": true, "timeout_secs": 10}),
    )["session"]
        .clone();
    let id = s["session_id"].as_str().unwrap().to_owned();
    let url = s["cdp_ws_url"].as_str().unwrap().to_owned();
    let token = url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(token.len(), 64, "{url}");
    let relay_port: u16 = url
        .strip_prefix("ws://127.0.0.1:")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        s["transport"], "pipe",
        "the browser has no port of its own: {s}"
    );
    assert_eq!(s["timeout_secs"], 10);
    assert_eq!(s["clients"], 0);

    // A wrong token: 403, logged without the token.
    let wrong = format!(
        "ws://127.0.0.1:{relay_port}/devtools/browser/{}",
        "0".repeat(64)
    );
    match tungstenite::connect(wrong) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("expected HTTP 403, got {other:?}"),
    }

    // A client keeps the session alive and stops the countdown.
    let mut ws = Cdp::connect(&url).unwrap();
    let v = ws.call("Browser.getVersion", json!({})).unwrap();
    assert!(v["product"].is_string(), "{v}");
    ws.set_cookies(json!([{
        "name": "kept", "value": "by-timeout", "domain": "example.test", "path": "/",
        "expires": 4_000_000_000u64, "secure": true, "httpOnly": true
    }]));
    let shown = c.ok("session.show", json!({"session_id": id}))["session"].clone();
    assert_eq!(shown["clients"], 1, "{shown}");
    assert!(
        shown.get("timeout_left_secs").is_none(),
        "no countdown while connected: {shown}"
    );
    ws.close();

    // No client: the countdown runs, then the session saves and ends by itself.
    let mut left = None;
    wait_for("the countdown to start", Duration::from_secs(10), || {
        let s = c.ok("session.show", json!({"session_id": id}))["session"].clone();
        left = s["timeout_left_secs"].as_u64();
        left.is_some()
    });
    assert!(left.unwrap() <= 10, "{left:?}");
    let ended = loop {
        let v = events.recv().expect("event connection closed");
        if v["event"] == "session.ended" && v["data"]["session_id"] == id.as_str() {
            break v["data"].clone();
        }
    };
    assert_eq!(ended["reason"], "timed_out", "{ended}");
    assert_eq!(ended["snapshot"]["kind"], "session_save", "{ended}");
    let shown = c.ok("session.show", json!({"session_id": id}))["session"].clone();
    assert_eq!(shown["state"], "ended");
    assert!(shown.get("timeout_left_secs").is_none(), "{shown}");
    let h = c.ok("profile.history", json!({"name": "acct"}))["snapshots"].clone();
    assert_eq!(h.as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h[0]["id"], ended["snapshot"]["id"]);
    let exported = c.ok("profile.export", json!({"name": "acct"}));
    assert!(
        exported.to_string().contains("by-timeout"),
        "the cookie set through the relay was saved"
    );
    // The token is dead with the session.
    match tungstenite::connect(&url) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("expected HTTP 403 after the end, got {other:?}"),
    }
    let log = env.log();
    assert!(log.contains("unknown token"), "{log}");
    assert!(!log.contains(&token), "the token is never logged: {log}");
}
