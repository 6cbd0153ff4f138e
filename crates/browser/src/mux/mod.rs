//! The CDP multiplexer: one `--remote-debugging-pipe` connection to Chrome shared by every
//! client of a session (the daemon's engine, the sessionStorage hand-off, each relayed
//! Playwright or Puppeteer connection), each of which sees what it would see on a websocket of
//! its own.
//!
//! Why this works (measured on Chromium 156, headless, over the pipe): a root-level
//! `Target.attachToBrowserTarget` (flat mode) gives a new browser-level session, and each such
//! session keeps its own Target-domain state. Session A's `setDiscoverTargets` and session B's
//! `setAutoAttach {flatten}` do not mix: a target created through A produced
//! `targetCreated`/`targetInfoChanged` for A only and `attachedToTarget` (with a fresh child
//! sessionId) for B only; replies carry the `sessionId` their command was sent on. So each
//! client gets a browser session of its own, and the multiplexer only
//! - sends a client's session-less messages on that client's browser session and strips it
//!   from what comes back, so the client sees a browser-level connection (pure queries such
//!   as `Browser.getVersion` go on the root session instead: see [`answered_at_root`]);
//! - remaps command ids (one id space on the pipe; each client keeps its own);
//! - routes child-session traffic by `sessionId` to the client whose browser session created
//!   it (learned from `Target.attachedToTarget` events and `Target.attachToTarget` results), and
//!   refuses a client's message for a session that is not its own, as Chrome would, whether
//!   the session is the message's `sessionId` or the `sessionId` parameter of
//!   `Target.detachFromTarget`/`Target.sendMessageToTarget` (see [`client`]);
//! - detaches a client's browser session when the client goes (Chrome then detaches its child
//!   sessions and drops its auto-attach, so no new tab waits for a client that is gone).
//!
//! Bounds: a client may have [`MAX_IN_FLIGHT`] commands unanswered, further sends wait (its own
//! reader stalls, nobody else's); each client's outgoing queue holds [`OUT_QUEUE`] messages
//! and [`OUT_QUEUE_BYTES`] bytes, and a client that lets it fill is disconnected rather than
//! buffered without limit. Chrome
//! answers commands in the order it reads them, so a flooding client delays another's command
//! by at most its in-flight limit.

mod client;
mod endpoint;
mod frame;
mod pipe;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot, watch};

pub use client::{MuxClient, MuxReceiver, MuxSender};
pub use endpoint::EndpointError;
use frame::{Frame, encode};
use pipe::{PipeWriter, spawn_pipe_io};

/// Commands one client may have unanswered at a time.
pub const MAX_IN_FLIGHT: usize = 1000;
/// Messages waiting for one client; a client that lets this fill is disconnected.
pub const OUT_QUEUE: usize = 16 * 1024;
/// Bytes waiting for one client; a client that lets this fill is disconnected. The message
/// count alone does not bound memory: one client's screencast frames or response bodies are
/// hundreds of kilobytes each, so 16K of them unread would be gigabytes. A single message
/// larger than this still goes to a client whose queue is empty.
pub const OUT_QUEUE_BYTES: usize = 128 * 1024 * 1024;
/// Messages waiting to be written to Chrome.
const TO_CHROME_QUEUE: usize = 1024;

/// Why a multiplexer call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MuxError {
    /// The pipe closed: Chrome exited or closed its end.
    #[error("the browser's CDP pipe is closed")]
    Closed,
    /// Chrome answered a command of the multiplexer's own with an error.
    #[error("the browser refused {method}: {detail}")]
    Refused {
        /// The command.
        method: &'static str,
        /// Chrome's error message.
        detail: String,
    },
}

/// A multiplexed CDP pipe. Cheap to clone; the pipe closes when Chrome exits.
#[derive(Clone)]
pub struct Mux {
    /// Shared with every client and the pipe tasks (which hold it weakly).
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Mux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.inner.routing();
        f.debug_struct("Mux")
            .field("clients", &r.clients.len())
            .field("sessions", &r.sessions.len())
            .field("pending", &r.pending.len())
            .finish()
    }
}

struct Inner {
    /// Messages for Chrome, written to the pipe in order.
    to_chrome: Arc<PipeWriter>,
    /// Who owns what; every lookup is a few map operations under this lock, never an await.
    routing: Mutex<Routing>,
    /// The next id on the pipe (ids are unique across clients there).
    next_id: AtomicU64,
    /// The next client number.
    next_client: AtomicU64,
    /// Becomes true when the pipe closes.
    closed: watch::Sender<bool>,
}

#[derive(Default)]
struct Routing {
    /// Connected clients by number.
    clients: HashMap<u64, Client>,
    /// Every session a client owns (its browser session and the child sessions attached
    /// through it), to its client's number.
    sessions: HashMap<String, u64>,
    /// Commands sent to Chrome and not yet answered, by pipe id.
    pending: HashMap<u64, Pending>,
    /// Set once the pipe closed: no client may join any more.
    closed: bool,
}

/// A client's outgoing queue, with the bytes it holds (the receiving half subtracts what it
/// takes).
#[derive(Clone)]
struct Outbox {
    /// The queue.
    tx: mpsc::Sender<String>,
    /// Bytes queued and not yet taken by the client.
    queued: Arc<AtomicUsize>,
}

struct Client {
    /// Where this client's messages go.
    out: Outbox,
    /// The client's own browser-level session: its session-less messages go there.
    browser_session: String,
}

enum Pending {
    /// A client's command: its answer goes back to it under its own id.
    Client {
        /// The client's number.
        client: u64,
        /// The id the client used, raw JSON.
        id: String,
        /// A `Target.attachToTarget`/`attachToBrowserTarget`: the result names a session the
        /// client now owns.
        attaches: bool,
        /// Held until the answer comes: the client's in-flight allowance.
        _permit: Option<OwnedSemaphorePermit>,
    },
    /// The multiplexer's own command.
    Own(oneshot::Sender<Result<Value, String>>),
    /// A command whose answer nobody waits for.
    Ignored,
}

impl Inner {
    fn routing(&self) -> MutexGuard<'_, Routing> {
        self.routing.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Routes one message Chrome wrote.
    fn on_chrome_message(&self, text: &str) {
        let Some(f) = Frame::parse(text) else {
            tracing::warn!(
                bytes = text.len(),
                "CDP pipe: a message from the browser is not JSON; dropped"
            );
            return;
        };
        if let Some(id) = f.int_id() {
            self.response(&f, id);
        } else if f.method.is_some() {
            self.event(&f);
        }
    }

    fn response(&self, f: &Frame<'_>, id: u64) {
        let mut r = self.routing();
        match r.pending.remove(&id) {
            Some(Pending::Own(tx)) => {
                drop(r);
                let result = match (f.result, f.error) {
                    (Some(v), _) => serde_json::from_str(v.get()).map_err(|e| e.to_string()),
                    (None, Some(e)) => Err(serde_json::from_str::<Value>(e.get())
                        .ok()
                        .and_then(|e| e.get("message").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_else(|| e.get().to_owned())),
                    (None, None) => Ok(Value::Null),
                };
                let _ = tx.send(result);
            }
            Some(Pending::Client {
                client,
                id: client_id,
                attaches,
                _permit,
            }) => {
                if !r.clients.contains_key(&client) {
                    return;
                }
                if attaches
                    && let Some(s) = f
                        .result
                        .and_then(|v| serde_json::from_str::<Value>(v.get()).ok())
                        .and_then(|v| {
                            v.get("sessionId")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                {
                    r.sessions.insert(s, client);
                }
                let Some(c) = r.clients.get(&client) else {
                    return;
                };
                let session = f.session_id.as_deref().filter(|s| *s != c.browser_session);
                let out = c.out.clone();
                drop(r);
                self.deliver(client, &out, encode(f, Some(&client_id), session));
            }
            Some(Pending::Ignored) | None => {}
        }
    }

    fn event(&self, f: &Frame<'_>) {
        // Root-level events concern the multiplexer's own (root) connection, which enables
        // nothing: there is nobody to give them to.
        let Some(session) = f.session_id.as_deref() else {
            return;
        };
        let mut r = self.routing();
        let Some(&client) = r.sessions.get(session) else {
            return;
        };
        let method = f.method.as_deref().unwrap_or("");
        if matches!(
            method,
            "Target.attachedToTarget" | "Target.detachedFromTarget"
        ) && let Some(child) = f
            .params
            .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
            .and_then(|p| {
                p.get("sessionId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
        {
            if method == "Target.attachedToTarget" {
                r.sessions.insert(child, client);
            } else if r.sessions.get(&child) == Some(&client) {
                r.sessions.remove(&child);
            }
        }
        let Some(c) = r.clients.get(&client) else {
            return;
        };
        let strip = session == c.browser_session;
        let out = c.out.clone();
        drop(r);
        let msg = encode(f, None, (!strip).then_some(session));
        self.deliver(client, &out, msg);
    }

    /// Queues `msg` for a client; a client whose queue is full (in messages or in bytes) is
    /// disconnected.
    fn deliver(&self, client: u64, out: &Outbox, msg: String) {
        let len = msg.len();
        let before = out.queued.fetch_add(len, Ordering::Relaxed);
        let full = if before > 0 && before + len > OUT_QUEUE_BYTES {
            true
        } else {
            matches!(
                out.tx.try_send(msg),
                Err(mpsc::error::TrySendError::Full(_))
            )
        };
        if full {
            out.queued.fetch_sub(len, Ordering::Relaxed);
            tracing::warn!(
                client,
                "CDP multiplexer: a client stopped reading ({OUT_QUEUE} messages or {} MiB waiting); disconnecting it",
                OUT_QUEUE_BYTES >> 20
            );
            self.disconnect(client);
        }
    }

    /// Forgets a client and detaches its browser session (Chrome detaches its child sessions
    /// with it). Idempotent.
    fn disconnect(&self, client: u64) {
        let mut r = self.routing();
        let Some(c) = r.clients.remove(&client) else {
            return;
        };
        r.sessions.retain(|_, owner| *owner != client);
        r.pending
            .retain(|_, p| !matches!(p, Pending::Client { client: c2, .. } if *c2 == client));
        if r.closed {
            return;
        }
        let id = self.next_id();
        r.pending.insert(id, Pending::Ignored);
        drop(r);
        let msg = format!(
            r#"{{"id":{id},"method":"Target.detachFromTarget","params":{{"sessionId":{}}}}}"#,
            frame::json_string(&c.browser_session)
        );
        // A full queue means Chrome is not reading: the pipe is as good as gone.
        let _ = self.to_chrome.try_send(msg);
    }

    /// Marks the pipe closed: every client's queue ends, every own call fails.
    fn close(&self) {
        let mut r = self.routing();
        r.closed = true;
        r.clients.clear();
        r.sessions.clear();
        r.pending.clear();
        drop(r);
        self.closed.send_replace(true);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The writer task holds the writer, not the multiplexer: tell it to end, so the
        // pipe's write end closes with the last handle.
        self.to_chrome.shut();
    }
}

impl Mux {
    /// Starts multiplexing a pipe: `to_chrome` is the write end Chrome reads as fd 3,
    /// `from_chrome` the read end of Chrome's fd 4.
    pub(crate) fn start(
        to_chrome: tokio::net::unix::pipe::Sender,
        from_chrome: tokio::net::unix::pipe::Receiver,
    ) -> Mux {
        let writer = PipeWriter::new(to_chrome, TO_CHROME_QUEUE);
        let inner = Arc::new(Inner {
            to_chrome: writer.clone(),
            routing: Mutex::new(Routing::default()),
            next_id: AtomicU64::new(1),
            next_client: AtomicU64::new(1),
            closed: watch::Sender::new(false),
        });
        spawn_pipe_io(Arc::downgrade(&inner), writer, from_chrome);
        Mux { inner }
    }

    /// Sends a command of the multiplexer's own at root level and waits for its answer.
    pub(crate) async fn call(
        &self,
        method: &'static str,
        params: Value,
    ) -> Result<Value, MuxError> {
        let (tx, rx) = oneshot::channel();
        let id = self.inner.next_id();
        {
            let mut r = self.inner.routing();
            if r.closed {
                return Err(MuxError::Closed);
            }
            r.pending.insert(id, Pending::Own(tx));
        }
        let msg = serde_json::json!({"id": id, "method": method, "params": params}).to_string();
        self.inner
            .to_chrome
            .send(msg)
            .await
            .map_err(|_| MuxError::Closed)?;
        let mut closed = self.inner.closed.subscribe();
        tokio::select! {
            r = rx => match r {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(detail)) => Err(MuxError::Refused { method, detail }),
                Err(_) => Err(MuxError::Closed),
            },
            _ = closed.wait_for(|c| *c) => Err(MuxError::Closed),
        }
    }

    /// Connects a new client: a browser-level session of its own on the pipe.
    pub async fn client(&self) -> Result<MuxClient, MuxError> {
        let v = self
            .call(
                "Target.attachToBrowserTarget",
                Value::Object(Default::default()),
            )
            .await?;
        let session = v
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| MuxError::Refused {
                method: "Target.attachToBrowserTarget",
                detail: "no sessionId in the answer".into(),
            })?
            .to_owned();
        let number = self.inner.next_client.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(OUT_QUEUE);
        let queued = Arc::new(AtomicUsize::new(0));
        {
            let mut r = self.inner.routing();
            if r.closed {
                return Err(MuxError::Closed);
            }
            r.sessions.insert(session.clone(), number);
            r.clients.insert(
                number,
                Client {
                    out: Outbox {
                        tx,
                        queued: queued.clone(),
                    },
                    browser_session: session,
                },
            );
        }
        Ok(MuxClient::new(self.inner.clone(), number, rx, queued))
    }

    /// Whether the pipe has closed (Chrome exited).
    pub fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    /// Completes when the pipe closes.
    pub async fn closed(&self) {
        let mut rx = self.inner.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Clients connected now (the engine's own included).
    pub fn clients(&self) -> usize {
        self.inner.routing().clients.len()
    }
}
