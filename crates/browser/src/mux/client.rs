//! One client of the multiplexer: the halves a caller holds ([`MuxSender`], [`MuxReceiver`]),
//! and what the sending half checks before a message goes to Chrome: that it is a command,
//! and that every session it names (as its `sessionId`, or as the `sessionId` parameter of
//! `Target.detachFromTarget` and `Target.sendMessageToTarget`) is one the client owns.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, mpsc};

use super::frame::{Frame, encode, error_response, param_session};
use super::{Inner, MAX_IN_FLIGHT, MuxError, Pending};

/// Browser-level queries that keep no per-session state and emit no events, which the
/// multiplexer sends on its own root session instead of the client's browser session: Chrome
/// answers them the same on either, and a command on a flat browser session costs Chrome
/// itself more (measured on Chromium 156 on a port, no multiplexer involved: p50 of
/// `Browser.getVersion` 100-135 µs at root, 150-230 µs on an `attachToBrowserTarget`
/// session). Their answers come back by id like any other. Anything that sets state
/// (`Target.setAutoAttach`, `Browser.setDownloadBehavior`, `*.enable`) stays on the client's
/// own browser session.
fn answered_at_root(method: &str) -> bool {
    matches!(
        method,
        "Browser.getVersion"
            | "Browser.getWindowForTarget"
            | "Browser.getWindowBounds"
            | "Browser.getBrowserCommandLine"
            | "SystemInfo.getInfo"
            | "SystemInfo.getProcessInfo"
            | "Target.getTargets"
            | "Target.getTargetInfo"
            | "Target.getBrowserContexts"
            | "Storage.getCookies"
    )
}

/// Disconnects its client when the last half of it is dropped.
struct ClientGuard {
    /// The multiplexer.
    inner: Arc<Inner>,
    /// The client's number.
    client: u64,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.inner.disconnect(self.client);
    }
}

/// One client of a [`super::Mux`]: send CDP messages as text, receive answers and events as text.
/// Dropping both halves disconnects it.
pub struct MuxClient {
    /// The sending half (cloneable).
    pub sender: MuxSender,
    /// The receiving half.
    pub receiver: MuxReceiver,
}

impl MuxClient {
    /// The two halves of client number `client`, whose queue is `rx`.
    pub(super) fn new(
        inner: Arc<Inner>,
        client: u64,
        rx: mpsc::Receiver<String>,
        queued: Arc<AtomicUsize>,
    ) -> MuxClient {
        let guard = Arc::new(ClientGuard { inner, client });
        MuxClient {
            sender: MuxSender {
                guard: guard.clone(),
                in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            },
            receiver: MuxReceiver {
                rx,
                queued,
                _guard: guard,
            },
        }
    }
}

impl std::fmt::Debug for MuxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MuxClient({})", self.sender.guard.client)
    }
}

/// Sends a client's messages to Chrome.
#[derive(Clone)]
pub struct MuxSender {
    /// Keeps the client connected while this half lives; names the client.
    guard: Arc<ClientGuard>,
    /// Permits for unanswered commands.
    in_flight: Arc<Semaphore>,
}

impl MuxSender {
    /// Sends one CDP message (a command, as a client writes it on its own websocket). A message
    /// that is not a command, or names a session the client does not own, is answered with an
    /// error as Chrome would answer it. Waits while the client has [`MAX_IN_FLIGHT`] commands
    /// unanswered. Fails once the client is disconnected or the pipe closed.
    pub async fn send(&self, text: &str) -> Result<(), MuxError> {
        let inner = &self.guard.inner;
        let client = self.guard.client;
        let reply = |msg: String| -> Result<(), MuxError> {
            let out = inner
                .routing()
                .clients
                .get(&client)
                .map(|c| c.out.clone())
                .ok_or(MuxError::Closed)?;
            inner.deliver(client, &out, msg);
            Ok(())
        };
        let Some(f) = Frame::parse(text) else {
            return reply(error_response(
                None,
                None,
                -32700,
                "Message must be a valid JSON",
            ));
        };
        let raw_id = f.id.map(|r| r.get());
        if f.int_id().is_none() {
            // Chrome echoes no id it cannot read as an integer (measured on Chromium 156).
            return reply(error_response(
                None,
                None,
                -32600,
                "Message must have integer 'id' property",
            ));
        }
        let Some(method) = f.method.as_deref() else {
            return reply(error_response(
                raw_id,
                f.session_id.as_deref(),
                -32600,
                "Message must have string 'method' property",
            ));
        };
        let permit = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| MuxError::Closed)?;
        let id = inner.next_id();
        let msg = {
            let mut r = inner.routing();
            let Some(c) = r.clients.get(&client) else {
                return Err(MuxError::Closed);
            };
            let session = match f.session_id.as_deref() {
                None if answered_at_root(method) => None,
                None => Some(c.browser_session.clone()),
                Some(s) if r.sessions.get(s) == Some(&client) => Some(s.to_owned()),
                Some(_) => {
                    drop(r);
                    // Chrome's own answer names no session (measured on Chromium 156).
                    return reply(error_response(
                        raw_id,
                        None,
                        -32001,
                        "Session with given id not found.",
                    ));
                }
            };
            // A session named as a parameter must be the client's too. Chrome keeps the
            // sessions each browser session attached apart, and answers a session it does not
            // know there with this error, on the session the command came on (measured on
            // Chromium 156, for another browser session's child and for a made-up id alike);
            // the multiplexer gives the same answer without passing the command on, so what
            // Chrome would do with another client's session never matters.
            if let Some(named) = param_session(method, f.params)
                && r.sessions.get(named.as_ref()) != Some(&client)
            {
                drop(r);
                return reply(error_response(
                    raw_id,
                    f.session_id.as_deref(),
                    -32602,
                    "No session with given id",
                ));
            }
            r.pending.insert(
                id,
                Pending::Client {
                    client,
                    id: raw_id.unwrap_or("0").to_owned(),
                    attaches: matches!(
                        method,
                        "Target.attachToTarget" | "Target.attachToBrowserTarget"
                    ),
                    _permit: Some(permit),
                },
            );
            encode(&f, Some(&id.to_string()), session.as_deref())
        };
        inner
            .to_chrome
            .send(msg)
            .await
            .map_err(|_| MuxError::Closed)
    }
}

impl std::fmt::Debug for MuxSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MuxSender({})", self.guard.client)
    }
}

impl std::fmt::Debug for MuxReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MuxReceiver({})", self._guard.client)
    }
}

/// Receives a client's answers and events.
pub struct MuxReceiver {
    /// The client's queue.
    rx: mpsc::Receiver<String>,
    /// Bytes in the queue (the multiplexer adds, this half subtracts what it takes).
    queued: Arc<AtomicUsize>,
    /// Keeps the client connected while this half lives.
    _guard: Arc<ClientGuard>,
}

impl MuxReceiver {
    /// The next message for this client; `None` once it is disconnected (it stopped reading,
    /// or the pipe closed) and everything queued was read.
    pub async fn recv(&mut self) -> Option<String> {
        let msg = self.rx.recv().await?;
        self.queued.fetch_sub(msg.len(), Ordering::Relaxed);
        Some(msg)
    }
}
