//! A CDP connection of our own, without chromiumoxide: commands one at a time on one
//! connection, for the short-lived tabs the engine drives itself (a health check's probe tab,
//! the stub pages that load and read web storage).
//!
//! Why not a chromiumoxide `Page`: chromiumoxide hands a new page out only after its own
//! set-up chain (attach, frame tree, network, runtime, lifecycle events…), a dozen round trips
//! that five stub pages opened at once on a busy browser waited 350–850 ms for (measured on
//! Chromium 148), where a tab on this connection is usable once `Target.createTarget` and
//! `Target.attachToTarget` have answered.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use crate::BrowserError;
use crate::endpoint::{CdpEndpoint, Link, LinkReceiver, LinkSender};

/// One CDP connection: commands one at a time; events are skipped, except the paused requests
/// we answer ourselves ([`RawCdp::answer_requests`]).
pub(crate) struct RawCdp {
    /// Writes to the browser.
    sink: LinkSender,
    /// Reads from the browser.
    stream: LinkReceiver,
    /// The id of the last command sent.
    last_id: u64,
    /// Whether `Fetch.requestPaused` events (of our browser-level session or a page's) are
    /// answered with an empty HTML document while a command waits: a stub page's navigation
    /// goes on only once its request has been answered, on this same connection.
    answer_requests: bool,
    /// Commands sent with [`RawCdp::send_tracked`] whose answers are kept when they arrive
    /// while another command is awaited.
    tracked: HashSet<u64>,
    /// Those answers, until [`RawCdp::wait`] takes them.
    kept: HashMap<u64, Value>,
}

impl RawCdp {
    /// Opens a connection to `endpoint` (a multiplexer client, or a websocket).
    pub(crate) async fn open(endpoint: &CdpEndpoint) -> Result<RawCdp, BrowserError> {
        let (sink, stream) = Link::open(endpoint).await?.split();
        Ok(RawCdp {
            sink,
            stream,
            last_id: 0,
            answer_requests: false,
            tracked: HashSet::new(),
            kept: HashMap::new(),
        })
    }

    /// From now on, every request that `Fetch` pauses on this connection (where we enabled
    /// it) is answered with an empty HTML document (status 200): it touches no real server.
    pub(crate) fn answer_requests(&mut self) {
        self.answer_requests = true;
    }

    /// Sends a command without waiting for its answer; returns its id.
    pub(crate) async fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> u64 {
        self.last_id += 1;
        let mut msg = json!({"id": self.last_id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = s.into();
        }
        // A closed connection shows as the missing answer.
        let _ = self.sink.send(msg.to_string()).await;
        self.last_id
    }

    /// Sends a command whose answer [`RawCdp::wait`] takes later, while other commands run.
    pub(crate) async fn send_tracked(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> u64 {
        let id = self.send(session, method, params).await;
        self.tracked.insert(id);
        id
    }

    /// Sends a command and waits for its answer (skipping events and older answers).
    pub(crate) async fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, BrowserError> {
        let id = self.send(session, method, params).await;
        self.wait(id, method).await
    }

    /// Waits for the answer to command `id` (`method`, for errors).
    pub(crate) async fn wait(&mut self, id: u64, method: &str) -> Result<Value, BrowserError> {
        self.tracked.remove(&id);
        let v = match self.kept.remove(&id) {
            Some(v) => v,
            None => loop {
                let text =
                    self.stream.recv().await.ok_or_else(|| {
                        BrowserError::cdp(method, "the browser's connection closed")
                    })?;
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let Some(got) = v.get("id").and_then(Value::as_u64) else {
                    self.on_event(&v).await;
                    continue;
                };
                if got == id {
                    break v;
                }
                if self.tracked.contains(&got) {
                    self.kept.insert(got, v);
                }
            },
        };
        if let Some(e) = v.get("error") {
            let msg = e.get("message").and_then(Value::as_str).unwrap_or("error");
            return Err(BrowserError::cdp(method, msg));
        }
        Ok(v.get("result").cloned().unwrap_or(Value::Null))
    }

    /// `Page.navigate` on `session`: answers when the navigation has committed (HTTP
    /// redirects followed), or at once with an error naming `url` and Chrome's `errorText`
    /// when it failed (connection refused, DNS, TLS).
    pub(crate) async fn navigate(&mut self, session: &str, url: &str) -> Result<(), BrowserError> {
        let nav = self
            .call(Some(session), "Page.navigate", json!({"url": url}))
            .await?;
        match nav
            .get("errorText")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
        {
            Some(err) => Err(BrowserError::cdp(
                "Page.navigate",
                format!("{url} could not be opened: {err}"),
            )),
            None => Ok(()),
        }
    }

    /// Evaluates `expression` on `session` (in the execution context `context`, else the
    /// main world), awaiting a returned promise; returns the result by value. A script
    /// exception is an error carrying its description.
    pub(crate) async fn evaluate(
        &mut self,
        session: &str,
        expression: String,
        context: Option<i64>,
    ) -> Result<Value, BrowserError> {
        let mut params = json!({
            "expression": expression,
            "returnByValue": true,
            "awaitPromise": true,
        });
        if let Some(id) = context {
            params["contextId"] = id.into();
        }
        let r = self.call(Some(session), "Runtime.evaluate", params).await?;
        if r.get("exceptionDetails").is_some() {
            return Err(BrowserError::cdp("Runtime.evaluate", exception_text(&r)));
        }
        Ok(r.pointer("/result/value").cloned().unwrap_or(Value::Null))
    }

    /// Answers a paused request of the session we serve; other events are not ours to act on.
    async fn on_event(&mut self, v: &Value) {
        if v.get("method").and_then(Value::as_str) != Some("Fetch.requestPaused") {
            return;
        }
        if !self.answer_requests {
            return;
        }
        let session = v
            .get("sessionId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(request) = v.pointer("/params/requestId").and_then(Value::as_str) else {
            return;
        };
        let params = json!({
            "requestId": request,
            "responseCode": 200,
            "responseHeaders": [{"name": "Content-Type", "value": "text/html; charset=utf-8"}],
            "body": "",
        });
        // Not waited for: the navigation's own answer says whether it worked.
        self.send(session.as_deref(), "Fetch.fulfillRequest", params)
            .await;
    }
}

/// The text of a `Runtime.evaluate` answer's exception.
pub(crate) fn exception_text(r: &Value) -> String {
    r.pointer("/exceptionDetails/exception/description")
        .or_else(|| r.pointer("/exceptionDetails/text"))
        .and_then(Value::as_str)
        .unwrap_or("script exception")
        .to_owned()
}
