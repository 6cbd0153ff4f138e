//! The multiplexer against a scripted stand-in for Chrome on a real pipe pair: the test reads
//! every message that reaches "Chrome", so it can tell a command the multiplexer answered
//! itself from one it passed on (against real Chrome both give the same answer).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

use super::{Mux, MuxClient};

/// Chrome's ends of the pipe.
struct FakeChrome {
    /// What the multiplexer writes (Chrome's fd 3).
    reads: pipe::Receiver,
    /// What the multiplexer reads (Chrome's fd 4).
    writes: pipe::Sender,
    /// Bytes read past the last NUL.
    buf: Vec<u8>,
}

impl FakeChrome {
    /// The next message the multiplexer wrote; panics when none comes within 5 s.
    async fn next(&mut self) -> Value {
        let read = async {
            loop {
                if let Some(i) = self.buf.iter().position(|b| *b == 0) {
                    let msg: Vec<u8> = self.buf.drain(..=i).collect();
                    return serde_json::from_slice(&msg[..i]).unwrap();
                }
                let mut chunk = [0u8; 4096];
                let n = self.reads.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the multiplexer closed the pipe");
                self.buf.extend_from_slice(&chunk[..n]);
            }
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("a message for Chrome")
    }

    async fn send(&mut self, v: Value) {
        let mut bytes = v.to_string().into_bytes();
        bytes.push(0);
        self.writes.write_all(&bytes).await.unwrap();
    }

    /// Connects a client, answering its `Target.attachToBrowserTarget` with `session`.
    async fn client(&mut self, mux: &Mux, session: &str) -> MuxClient {
        let connecting = tokio::spawn({
            let mux = mux.clone();
            async move { mux.client().await }
        });
        let attach = self.next().await;
        assert_eq!(attach["method"], "Target.attachToBrowserTarget");
        self.send(json!({"id": attach["id"], "result": {"sessionId": session}}))
            .await;
        connecting.await.unwrap().unwrap()
    }
}

fn start() -> (Mux, FakeChrome) {
    let (chrome_reads, we_write) = std::io::pipe().unwrap();
    let (we_read, chrome_writes) = std::io::pipe().unwrap();
    let mux = Mux::start(
        pipe::Sender::from_owned_fd(we_write.into()).unwrap(),
        pipe::Receiver::from_owned_fd(we_read.into()).unwrap(),
    );
    let fake = FakeChrome {
        reads: pipe::Receiver::from_owned_fd(chrome_reads.into()).unwrap(),
        writes: pipe::Sender::from_owned_fd(chrome_writes.into()).unwrap(),
        buf: Vec::new(),
    };
    (mux, fake)
}

async fn recv(c: &mut MuxClient) -> Value {
    let text = tokio::time::timeout(Duration::from_secs(5), c.receiver.recv())
        .await
        .expect("a message for the client")
        .expect("the client is connected");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_session_named_in_params_must_be_the_clients_own_and_is_never_passed_on_otherwise() {
    let (mux, mut chrome) = start();
    let mut a = chrome.client(&mux, "BROWSER-A").await;
    let mut b = chrome.client(&mux, "BROWSER-B").await;
    // B attaches a page: "CHILD-B" is B's.
    b.sender
        .send(
            r#"{"id":1,"method":"Target.attachToTarget","params":{"targetId":"T","flatten":true}}"#,
        )
        .await
        .unwrap();
    let attach = chrome.next().await;
    assert_eq!(
        (&attach["method"], &attach["sessionId"]),
        (&json!("Target.attachToTarget"), &json!("BROWSER-B"))
    );
    chrome
        .send(json!({"id": attach["id"], "sessionId": "BROWSER-B", "result": {"sessionId": "CHILD-B"}}))
        .await;
    assert_eq!(
        recv(&mut b).await,
        json!({"id": 1, "result": {"sessionId": "CHILD-B"}})
    );

    // A names B's session (and a made-up one) as a parameter: answered at once with Chrome's
    // error for a session it does not know, on the session the command came on.
    let refused = [
        (
            r#"{"id":7,"method":"Target.detachFromTarget","params":{"sessionId":"CHILD-B"}}"#,
            json!({"id": 7, "error": {"code": -32602, "message": "No session with given id"}}),
        ),
        (
            r#"{"id":8,"method":"Target.sendMessageToTarget","params":{"sessionId":"CHILD-B","message":"{\"id\":1,\"method\":\"Page.close\"}"}}"#,
            json!({"id": 8, "error": {"code": -32602, "message": "No session with given id"}}),
        ),
        (
            r#"{"id":9,"method":"Target.detachFromTarget","params":{"sessionId":"MADE-UP"}}"#,
            json!({"id": 9, "error": {"code": -32602, "message": "No session with given id"}}),
        ),
    ];
    for (msg, answer) in refused {
        a.sender.send(msg).await.unwrap();
        assert_eq!(recv(&mut a).await, answer, "{msg}");
    }
    // None of them reached Chrome: the next message Chrome reads is A's next command.
    a.sender
        .send(r#"{"id":10,"method":"Target.setDiscoverTargets","params":{"discover":true}}"#)
        .await
        .unwrap();
    let next = chrome.next().await;
    assert_eq!(
        (&next["method"], &next["sessionId"]),
        (&json!("Target.setDiscoverTargets"), &json!("BROWSER-A")),
        "A's refused commands were passed on: {next}"
    );
    chrome
        .send(json!({"id": next["id"], "sessionId": "BROWSER-A", "result": {}}))
        .await;
    assert_eq!(recv(&mut a).await, json!({"id": 10, "result": {}}));

    // B's own session, named as a parameter, goes to Chrome on B's browser session.
    b.sender
        .send(r#"{"id":2,"method":"Target.detachFromTarget","params":{"sessionId":"CHILD-B"}}"#)
        .await
        .unwrap();
    let detach = chrome.next().await;
    assert_eq!(
        (&detach["sessionId"], &detach["params"]["sessionId"]),
        (&json!("BROWSER-B"), &json!("CHILD-B"))
    );
}

#[tokio::test]
async fn a_client_that_lets_its_queue_fill_in_bytes_is_disconnected_and_nobody_else_is() {
    let (mux, mut chrome) = start();
    let mut a = chrome.client(&mux, "BROWSER-A").await;
    let mut b = chrome.client(&mux, "BROWSER-B").await;
    let frame = |session: &str, bytes: usize| {
        json!({"method": "Page.screencastFrame", "sessionId": session,
               "params": {"data": "x".repeat(bytes)}})
    };
    // A reads nothing while 1 MiB events for it pile up: far fewer than OUT_QUEUE messages,
    // but more than OUT_QUEUE_BYTES.
    let events = super::OUT_QUEUE_BYTES / (1 << 20) + 8;
    assert!(events < super::OUT_QUEUE);
    for _ in 0..events {
        chrome.send(frame("BROWSER-A", 1 << 20)).await;
    }
    let detach = chrome.next().await;
    assert_eq!(
        (&detach["method"], &detach["params"]["sessionId"]),
        (&json!("Target.detachFromTarget"), &json!("BROWSER-A")),
        "{detach}"
    );
    // What was queued before the disconnect is still A's to read, then A's queue ends.
    let mut read = 0;
    while let Some(msg) = a.receiver.recv().await {
        read += 1;
        assert!(msg.len() > 1 << 20);
    }
    assert!(read < events, "A was sent {read} of {events}");
    // B goes on, and a single message larger than the budget reaches a client whose queue is
    // empty (a large response body is not a reason to drop a client that reads).
    chrome.send(frame("BROWSER-B", 16)).await;
    assert_eq!(recv(&mut b).await["method"], "Page.screencastFrame");
    chrome
        .send(frame("BROWSER-B", super::OUT_QUEUE_BYTES + 1))
        .await;
    let big = recv(&mut b).await;
    assert_eq!(
        big["params"]["data"].as_str().map(str::len),
        Some(super::OUT_QUEUE_BYTES + 1)
    );
}

/// A one-time endpoint nobody connects to closes after 30 s: until then its port listens;
/// after, nothing listens and its multiplexer client is gone (its browser session detached
/// in Chrome). The clock is tokio's paused clock, so the 30 s pass without being waited for.
#[tokio::test(start_paused = true)]
async fn an_unused_one_time_endpoint_closes_after_30_s_and_its_client_leaves() {
    let (mux, mut chrome) = start();
    let opening = tokio::spawn({
        let mux = mux.clone();
        async move { mux.one_time_endpoint().await }
    });
    let attach = chrome.next().await;
    assert_eq!(attach["method"], "Target.attachToBrowserTarget");
    chrome
        .send(json!({"id": attach["id"], "result": {"sessionId": "ENGINE"}}))
        .await;
    let url = opening.await.unwrap().unwrap();
    let addr = url["ws://".len()..].split('/').next().unwrap().to_owned();
    assert_eq!(mux.clients(), 1);
    tokio::time::sleep(Duration::from_secs(29)).await;
    // Still listening at 29 s (a connection without the token is refused at HTTP level, and
    // the endpoint keeps waiting).
    drop(
        tokio::net::TcpStream::connect(&addr)
            .await
            .expect("listening at 29 s"),
    );
    assert_eq!(mux.clients(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let detach = chrome.next().await;
    assert_eq!(detach["method"], "Target.detachFromTarget", "{detach}");
    assert_eq!(detach["params"]["sessionId"], "ENGINE", "{detach}");
    assert_eq!(mux.clients(), 0);
    let e = tokio::net::TcpStream::connect(&addr)
        .await
        .expect_err("nothing listens after 30 s");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
}
