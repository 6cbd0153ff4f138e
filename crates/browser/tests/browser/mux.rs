//! The CDP multiplexer of a launched browser's `--remote-debugging-pipe`, with raw CDP clients
//! against real Chromium: two clients at once get the same answers and Target events through
//! the multiplexer as on Chrome's own websocket (a browser started with a port, through the
//! port fallback; the script and comparison are in `mux_conformance`); two clients keep their own ids, sessions and Target-domain state and cannot use
//! each other's sessions; a client that disconnects takes only its sessions with it; a client
//! that stops reading is disconnected (its queue is bounded); a flooding client does not keep
//! the engine's checkpoint from completing.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pvault_browser::{CdpEndpoint, LaunchOptions, MuxClient, OUT_QUEUE, Session, Transport};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestServer, chrome, launch, wait_for};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw CDP client: through the multiplexer, or on a websocket of its own.
pub(crate) enum Raw {
    Mux(MuxClient),
    Ws(Box<Ws>),
}

impl Raw {
    pub(crate) async fn connect(session: &Session) -> Raw {
        match session.cdp_endpoint() {
            CdpEndpoint::Mux(m) => Raw::Mux(m.client().await.unwrap()),
            CdpEndpoint::WebSocket(url) => Raw::Ws(Box::new(
                tokio_tungstenite::connect_async(url).await.unwrap().0,
            )),
        }
    }

    pub(crate) async fn send_text(&mut self, text: String) {
        match self {
            Raw::Mux(c) => c.sender.send(&text).await.unwrap(),
            Raw::Ws(ws) => ws.send(Message::text(text)).await.unwrap(),
        }
    }

    pub(crate) async fn send(&mut self, v: Value) {
        self.send_text(v.to_string()).await;
    }

    /// The next message, or `None` when none comes within 10 s or the connection ended.
    pub(crate) async fn recv(&mut self) -> Option<Value> {
        let next = async {
            match self {
                Raw::Mux(c) => c.receiver.recv().await,
                Raw::Ws(ws) => loop {
                    match ws.next().await? {
                        Ok(Message::Text(t)) => return Some(t.as_str().to_owned()),
                        Ok(_) => continue,
                        Err(_) => return None,
                    }
                },
            }
        };
        let text = tokio::time::timeout(Duration::from_secs(10), next)
            .await
            .ok()??;
        Some(serde_json::from_str(&text).unwrap())
    }

    /// Sends a command and returns its whole answer; events that arrive first are kept in
    /// `events`.
    async fn call(&mut self, events: &mut Vec<Value>, msg: Value) -> Value {
        let id = msg["id"].clone();
        self.send(msg).await;
        loop {
            let v = self.recv().await.expect("an answer");
            if v.get("id") == Some(&id) {
                return v;
            }
            events.push(v);
        }
    }

    /// The first message in `events`, or read from now on, for which `pred` holds.
    async fn until(&mut self, events: &mut Vec<Value>, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = events.iter().find(|e| pred(e)) {
            return v.clone();
        }
        loop {
            let v = self.recv().await.expect("the awaited message");
            events.push(v.clone());
            if pred(&v) {
                return v;
            }
        }
    }
}

/// A browser started through the port fallback: a wrapper that closes fds 3 and 4 makes the
/// pipe start fail, so the session runs on Chrome's own websocket.
pub(crate) async fn launch_with_port() -> (Session, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("chromium-without-pipe");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec 3<&- 4>&-\nexec '{}' \"$@\"\n",
            chrome().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let udd = dir.path().join("chrome");
    std::fs::create_dir(&udd).unwrap();
    let mut opts = LaunchOptions::new(wrapper.clone(), udd.clone());
    let refused = Session::launch(opts.clone()).await.unwrap_err();
    assert!(
        refused.to_string().contains("allow_port_fallback"),
        "{refused}"
    );
    // The refused start leaves Chrome's files behind: start again in a fresh directory.
    let udd = dir.path().join("chrome2");
    std::fs::create_dir(&udd).unwrap();
    opts.user_data_dir = udd;
    opts.allow_port_fallback = true;
    let (session, _) = Session::launch(opts).await.unwrap();
    assert_eq!(session.transport(), Transport::Port);
    (session, dir)
}

/// Two clients at once, with Target discovery and flat auto-attach, creating, attaching to
/// and closing targets: the same answers and Target events per client through the
/// multiplexer as on two websockets to a browser started with a port (see `mux_conformance`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_exchange_answers_the_same_through_the_multiplexer_as_on_a_port() {
    crate::mux_conformance::same_exchange_through_the_multiplexer_as_on_a_port().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_not_a_command_gets_chromes_error() {
    let l = launch(None, Default::default()).await;
    let mut c = Raw::connect(&l.session).await;
    c.send_text("not json".into()).await;
    assert_eq!(c.recv().await.unwrap()["error"]["code"], -32700);
    c.send_text(r#"{"id":"x","method":"Browser.getVersion"}"#.into())
        .await;
    assert_eq!(c.recv().await.unwrap()["error"]["code"], -32600);
    c.send_text(r#"{"id":9}"#.into()).await;
    let v = c.recv().await.unwrap();
    assert_eq!(
        (v["id"].clone(), v["error"]["code"].clone()),
        (json!(9), json!(-32600))
    );
    // Still connected and served.
    let mut ev = Vec::new();
    let v = c
        .call(&mut ev, json!({"id": 10, "method": "Browser.getVersion"}))
        .await;
    assert!(v["result"]["product"].is_string(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_keep_their_own_ids_sessions_and_target_state() {
    let site = TestServer::start().await;
    let l = launch(None, Default::default()).await;
    let mut a = Raw::connect(&l.session).await;
    let mut b = Raw::connect(&l.session).await;
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    // The same ids on both: each gets its own answer.
    let va = a
        .call(
            &mut ea,
            json!({"id": 1, "method": "Target.setDiscoverTargets", "params": {"discover": true}}),
        )
        .await;
    assert!(va.get("error").is_none(), "{va}");
    let vb = b
        .call(
            &mut eb,
            json!({"id": 1, "method": "Target.setAutoAttach",
            "params": {"autoAttach": true, "waitForDebuggerOnStart": false, "flatten": true}}),
        )
        .await;
    assert!(vb.get("error").is_none(), "{vb}");
    assert!(
        va.get("sessionId").is_none() && vb.get("sessionId").is_none(),
        "browser-level answers carry no session"
    );

    let created = b
        .call(
            &mut eb,
            json!({"id": 2, "method": "Target.createTarget", "params": {"url": site.url("/")}}),
        )
        .await;
    let target = created["result"]["targetId"].as_str().unwrap().to_owned();
    // B's auto-attach attached it for B...
    let att = b
        .until(&mut eb, |e| {
            e["method"] == "Target.attachedToTarget"
                && e["params"]["targetInfo"]["targetId"] == target.as_str()
        })
        .await;
    let b_child = att["params"]["sessionId"].as_str().unwrap().to_owned();
    // ...A, which only discovers, is told it was created.
    a.until(&mut ea, |e| {
        e["method"] == "Target.targetCreated"
            && e["params"]["targetInfo"]["targetId"] == target.as_str()
    })
    .await;
    // Neither sees the other's kind of event.
    let v = a
        .call(&mut ea, json!({"id": 3, "method": "Browser.getVersion"}))
        .await;
    assert!(v["result"].is_object());
    assert!(
        !ea.iter().any(|e| e["method"] == "Target.attachedToTarget"),
        "A never auto-attached: {ea:?}"
    );
    assert!(
        !eb.iter().any(|e| e["method"] == "Target.targetCreated"),
        "B never asked to discover: {eb:?}"
    );
    // A cannot use B's session.
    let v = a
        .call(&mut ea, json!({"id": 4, "sessionId": b_child, "method": "Runtime.evaluate", "params": {"expression": "1"}}))
        .await;
    assert_eq!(v["error"]["code"], -32001, "{v}");
    assert_eq!(v["error"]["message"], "Session with given id not found.");
    // B can.
    let v = b
        .call(&mut eb, json!({"id": 4, "sessionId": b_child, "method": "Runtime.evaluate", "params": {"expression": "2 + 2"}}))
        .await;
    assert_eq!(v["result"]["result"]["value"], 4, "{v}");
    assert_eq!(v["sessionId"], b_child.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_detaches_only_its_own_sessions() {
    let site = TestServer::start().await;
    let l = launch(None, Default::default()).await;
    let CdpEndpoint::Mux(mux) = l.session.cdp_endpoint() else {
        panic!("a launched session runs over the pipe")
    };
    let before = mux.clients();
    let mut a = Raw::connect(&l.session).await;
    let mut b = Raw::connect(&l.session).await;
    assert_eq!(mux.clients(), before + 2);
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    let open = |id: u64| json!({"id": id, "method": "Target.createTarget", "params": {"url": site.url("/")}});
    let ta = a.call(&mut ea, open(1)).await["result"]["targetId"].clone();
    let tb = b.call(&mut eb, open(1)).await["result"]["targetId"].clone();
    let attach = |id: u64, t: &Value| json!({"id": id, "method": "Target.attachToTarget", "params": {"targetId": t, "flatten": true}});
    let sa = a.call(&mut ea, attach(2, &ta)).await["result"]["sessionId"].clone();
    let sb = b.call(&mut eb, attach(2, &tb)).await["result"]["sessionId"].clone();
    assert!(sa.is_string() && sb.is_string());
    // Chrome's own word on which sessions are attached (the engine is attached to every tab,
    // so `attached` in `Target.getTargets` says nothing): an emulation override lasts as long
    // as the session that set it, and a page shows it. Each client sets a time zone on its own
    // tab through its session; A also watches B's tab through a session of its own there.
    let sa_b = a.call(&mut ea, attach(3, &tb)).await["result"]["sessionId"].clone();
    let zone = |id: u64, s: &Value, tz: &str| json!({"id": id, "sessionId": s, "method": "Emulation.setTimezoneOverride", "params": {"timezoneId": tz}});
    let v = a.call(&mut ea, zone(4, &sa, "Europe/Paris")).await;
    assert!(v.get("error").is_none(), "{v}");
    let v = b.call(&mut eb, zone(3, &sb, "America/Chicago")).await;
    assert!(v.get("error").is_none(), "{v}");
    let mut next_id = 10;
    let mut tz_of = async |a: &mut Raw, ea: &mut Vec<Value>, s: &Value| {
        next_id += 1;
        let expr = "Intl.DateTimeFormat().resolvedOptions().timeZone";
        a.call(ea, json!({"id": next_id, "sessionId": s, "method": "Runtime.evaluate", "params": {"expression": expr}}))
            .await["result"]["result"]["value"]
            .as_str()
            .expect("a time zone")
            .to_owned()
    };
    assert_eq!(tz_of(&mut a, &mut ea, &sa).await, "Europe/Paris");
    assert_eq!(tz_of(&mut a, &mut ea, &sa_b).await, "America/Chicago");
    drop(b);
    wait_for(10, "B to be disconnected", || {
        let n = mux.clients();
        async move { (n == before + 1).then_some(()) }
    })
    .await;
    // B's session goes: Chrome drops its override on B's tab. A's sessions stay: A's override
    // holds and both answer.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tz_of(&mut a, &mut ea, &sa_b).await == "America/Chicago" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "B's session was not detached: its override still holds"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(tz_of(&mut a, &mut ea, &sa).await, "Europe/Paris");
    // B's tab is still open (leaving detaches, never closes).
    let targets = a
        .call(&mut ea, json!({"id": 100, "method": "Target.getTargets"}))
        .await;
    let ids: Vec<&Value> = targets["result"]["targetInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["targetId"])
        .collect();
    assert!(ids.contains(&&tb), "B's tab is still open: {targets}");
    // And the engine still captures.
    l.session.capture().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_and_nobody_else_is() {
    let l = launch(None, Default::default()).await;
    let CdpEndpoint::Mux(mux) = l.session.cdp_endpoint() else {
        panic!("a launched session runs over the pipe")
    };
    let before = mux.clients();
    let MuxClient {
        sender,
        mut receiver,
    } = mux.client().await.unwrap();
    assert_eq!(mux.clients(), before + 1);
    // More answers than its queue holds, never read.
    let total = OUT_QUEUE + 2000;
    for i in 0..total {
        let msg = format!(r#"{{"id":{i},"method":"Browser.getVersion"}}"#);
        if sender.send(&msg).await.is_err() {
            break;
        }
    }
    wait_for(
        30,
        "the client that does not read to be disconnected",
        || {
            let n = mux.clients();
            async move { (n == before).then_some(()) }
        },
    )
    .await;
    // What was queued can still be read, then the queue ends: bounded, never all of it.
    let mut read = 0;
    while receiver.recv().await.is_some() {
        read += 1;
    }
    assert!(read <= OUT_QUEUE && read > 0, "read {read} of {total}");
    assert!(
        sender
            .send(r#"{"id":1,"method":"Browser.getVersion"}"#)
            .await
            .is_err()
    );
    // The engine and new clients are served.
    l.session.capture().await.unwrap();
    let mut c = Raw::connect(&l.session).await;
    let v = c
        .call(
            &mut Vec::new(),
            json!({"id": 1, "method": "Browser.getVersion"}),
        )
        .await;
    assert!(v["result"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_client_does_not_keep_checkpoints_from_completing() {
    let site = TestServer::start().await;
    let l = launch(None, Default::default()).await;
    let CdpEndpoint::Mux(mux) = l.session.cdp_endpoint() else {
        panic!("a launched session runs over the pipe")
    };
    let mut flood = Raw::connect(&l.session).await;
    let mut ev = Vec::new();
    let t = flood
        .call(
            &mut ev,
            json!({"id": 1, "method": "Target.createTarget", "params": {"url": site.url("/")}}),
        )
        .await["result"]["targetId"]
        .clone();
    let s = flood
        .call(&mut ev, json!({"id": 2, "method": "Target.attachToTarget", "params": {"targetId": t, "flatten": true}}))
        .await["result"]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let Raw::Mux(MuxClient {
        sender,
        mut receiver,
    }) = flood
    else {
        unreachable!()
    };
    // The flood: as many evaluations as the in-flight limit lets through, answers read.
    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut id = 10u64;
            while !stop.load(Ordering::Relaxed) {
                id += 1;
                let msg = format!(
                    r#"{{"id":{id},"sessionId":"{s}","method":"Runtime.evaluate","params":{{"expression":"'x'.repeat(2000)"}}}}"#
                );
                if sender.send(&msg).await.is_err() {
                    break;
                }
            }
        })
    };
    let reader = {
        let answered = answered.clone();
        tokio::spawn(async move {
            while receiver.recv().await.is_some() {
                answered.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    wait_for(20, "the flood to run", || {
        let n = answered.load(Ordering::Relaxed);
        async move { (n > 2000).then_some(()) }
    })
    .await;
    let during_before = answered.load(Ordering::Relaxed);
    for _ in 0..3 {
        tokio::time::timeout(Duration::from_secs(30), l.session.capture_checkpoint())
            .await
            .expect("a checkpoint completes while another client floods")
            .unwrap();
    }
    let during_after = answered.load(Ordering::Relaxed);
    assert!(
        during_after > during_before,
        "the flood ran during the checkpoints"
    );
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    drop(mux);
    reader.abort();
}

/// The engine's way in: a one-time websocket endpoint on 127.0.0.1. A wrong token is refused
/// with 403 and the endpoint keeps waiting; the right token gets a multiplexer client; after
/// that nothing listens on the port, so the URL cannot be used again. (It also closes after
/// 30 s unused: `mux::tests::an_unused_one_time_endpoint_closes_after_30_s_and_its_client_leaves`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_endpoint_takes_its_token_once_and_then_stops_listening() {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let l = launch(None, Default::default()).await;
    let CdpEndpoint::Mux(mux) = l.session.cdp_endpoint() else {
        panic!("a launched session runs over the pipe")
    };
    let url = mux.one_time_endpoint().await.unwrap();
    let (base, token) = url.rsplit_once('/').unwrap();
    assert!(base.starts_with("ws://127.0.0.1:"), "{url}");
    assert_eq!(token.len(), 64, "256 bits in hex: {url}");
    let addr = base["ws://".len()..].split('/').next().unwrap().to_owned();
    // Wrong tokens: another token of the same length, a prefix, none.
    let wrong = format!("{base}/{}", "0".repeat(64));
    for bad in [
        wrong,
        format!("{base}/{}", &token[..63]),
        format!("ws://{addr}/"),
    ] {
        match tokio_tungstenite::connect_async(&bad).await {
            Err(WsError::Http(resp)) => assert_eq!(resp.status(), 403, "{bad}"),
            other => panic!("{bad} was not refused with 403: {:?}", other.map(|_| ())),
        }
    }
    // The right one still works after those, and is a client of the multiplexer.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut raw = {
        ws.send(Message::text(
            r#"{"id":1,"method":"Target.getBrowserContexts"}"#,
        ))
        .await
        .unwrap();
        Raw::Ws(Box::new(ws))
    };
    let v = raw.recv().await.expect("an answer through the endpoint");
    assert_eq!(v["id"], 1, "{v}");
    assert!(v["result"]["browserContextIds"].is_array(), "{v}");
    // Used once: the listener is gone (nothing accepts on the port), so the same URL fails.
    wait_for(10, "the endpoint's listener to close", || {
        let addr = addr.clone();
        async move {
            match tokio::net::TcpStream::connect(&addr).await {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(()),
                _ => None,
            }
        }
    })
    .await;
    let again = tokio_tungstenite::connect_async(&url).await;
    assert!(again.is_err(), "the URL was used a second time");
    // The first connection is not disturbed by that.
    raw.send(json!({"id": 2, "method": "Target.getBrowserContexts"}))
        .await;
    assert_eq!(raw.recv().await.expect("an answer")["id"], 2);
}
