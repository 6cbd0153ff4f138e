//! A CDP connection of our own, beside chromiumoxide's: flat sessions, commands by name with
//! JSON params and results, every event handed to one handler in order, and the events of a
//! chosen session also to whoever subscribed to it.
//!
//! Why a second connection: chromiumoxide attaches to targets itself, without waiting, and
//! sends nothing on a session it did not create. A browser-level `Target.setAutoAttach` with
//! `waitForDebuggerOnStart` on this connection holds every new tab until we release it, which
//! is what hands sessionStorage to new tabs (`new_tabs.rs`) and lets a stub tab be created at
//! its origin with its requests intercepted from the first one (`stub_tab.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::BrowserError;

/// An open connection; closed (its task aborted) on drop.
pub(crate) struct OwnConnection {
    /// Sends commands on it.
    sender: OwnSender,
    /// Reads and writes the websocket.
    task: JoinHandle<()>,
}

impl Drop for OwnConnection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What sends on a connection; cheap to clone.
#[derive(Clone)]
pub(crate) struct OwnSender(Arc<Shared>);

/// The state the reader and the senders share.
struct Shared {
    /// Messages to write, in order.
    out: mpsc::UnboundedSender<Value>,
    /// The next command id.
    next_id: AtomicU64,
    /// Commands waiting for their answer, by id (fire-and-forget ones are not here).
    pending: Mutex<HashMap<u64, oneshot::Sender<Value>>>,
    /// Subscribers to a session's events.
    sessions: Mutex<HashMap<String, mpsc::UnboundedSender<Value>>>,
}

/// Handles every event, in the order Chrome sent them, on the reading task: it must not block.
pub(crate) type EventHandler = Box<dyn FnMut(&Value, &OwnSender) + Send>;

impl OwnConnection {
    /// Connects to the browser's DevTools endpoint `ws_url`; `handler` sees every event.
    pub(crate) async fn connect(
        ws_url: &str,
        mut handler: EventHandler,
    ) -> Result<OwnConnection, BrowserError> {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .map_err(|e| BrowserError::Connect {
                url: ws_url.to_owned(),
                detail: format!("second CDP connection: {e}"),
            })?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut rx) = mpsc::unbounded_channel::<Value>();
        let shared = Arc::new(Shared {
            out,
            next_id: AtomicU64::new(1),
            pending: Mutex::default(),
            sessions: Mutex::default(),
        });
        let sender = OwnSender(shared);
        let writer = async move {
            while let Some(m) = rx.recv().await {
                if sink.send(Message::text(m.to_string())).await.is_err() {
                    break;
                }
            }
        };
        let reader = {
            let sender = sender.clone();
            async move {
                while let Some(Ok(msg)) = stream.next().await {
                    let Ok(text) = msg.to_text() else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(text) else {
                        continue;
                    };
                    sender.dispatch(v, &mut handler);
                }
                // Closed: every waiting command fails (its sender is dropped).
                lock(&sender.0.pending).clear();
                lock(&sender.0.sessions).clear();
            }
        };
        let task = tokio::spawn(async move {
            tokio::join!(writer, reader);
        });
        Ok(OwnConnection { sender, task })
    }

    /// The connection's sender.
    pub(crate) fn sender(&self) -> &OwnSender {
        &self.sender
    }
}

impl OwnSender {
    fn dispatch(&self, v: Value, handler: &mut EventHandler) {
        if let Some(id) = v.get("id").and_then(Value::as_u64) {
            if let Some(tx) = lock(&self.0.pending).remove(&id) {
                let _ = tx.send(v);
            }
            return;
        }
        handler(&v, self);
        if let Some(session) = v.get("sessionId").and_then(Value::as_str) {
            let mut subs = lock(&self.0.sessions);
            if let Some(tx) = subs.get(session)
                && tx.send(v.clone()).is_err()
            {
                subs.remove(session);
            }
        }
    }

    fn message(&self, session: Option<&str>, method: &str, params: Value) -> (u64, Value) {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let mut m = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            m["sessionId"] = s.into();
        }
        (id, m)
    }

    /// Sends a command without waiting for its answer.
    pub(crate) fn send(&self, session: Option<&str>, method: &str, params: Value) {
        let (_, m) = self.message(session, method, params);
        let _ = self.0.out.send(m);
    }

    /// Sends a command and returns its result (an error answer is an error).
    pub(crate) async fn call(
        &self,
        session: Option<&str>,
        method: &'static str,
        params: Value,
    ) -> Result<Value, BrowserError> {
        let (id, m) = self.message(session, method, params);
        let (tx, rx) = oneshot::channel();
        lock(&self.0.pending).insert(id, tx);
        if self.0.out.send(m).is_err() {
            lock(&self.0.pending).remove(&id);
            return Err(BrowserError::cdp(method, "connection closed"));
        }
        let answer = rx
            .await
            .map_err(|_| BrowserError::cdp(method, "connection closed"))?;
        if let Some(e) = answer.get("error") {
            let text = e.get("message").and_then(Value::as_str).unwrap_or("error");
            return Err(BrowserError::cdp(method, text));
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    /// From now on, the events of `session` also go to the returned receiver (until it is
    /// dropped and the next event for it arrives, or [`OwnSender::unsubscribe`]).
    pub(crate) fn subscribe(&self, session: &str) -> mpsc::UnboundedReceiver<Value> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.0.sessions).insert(session.to_owned(), tx);
        rx
    }

    /// Stops sending `session`'s events to its subscriber.
    pub(crate) fn unsubscribe(&self, session: &str) {
        lock(&self.0.sessions).remove(session);
    }
}

/// Locks a mutex whose critical sections cannot panic half-way (so a poisoned one is fine).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
