//! A minimal synchronous CDP client: one WebSocket to a browser endpoint (pvault's relay or a
//! Chromium's own), browser-level commands, and pages through flattened target sessions. It
//! stands in for Playwright where a test checks what the browser really holds.

use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// A connection to a browser's CDP endpoint (`ws://…/devtools/browser/…`).
pub struct Cdp {
    /// The socket.
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    /// Next command id.
    next_id: u64,
}

impl std::fmt::Debug for Cdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cdp")
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl Cdp {
    /// Connects to a browser WebSocket URL. Reads time out after 60 s, so a test whose
    /// browser hangs fails instead of hanging.
    pub fn connect(ws_url: &str) -> Result<Cdp, String> {
        let (ws, _) = tungstenite::connect(ws_url).map_err(|e| format!("connect {ws_url}: {e}"))?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
            let _ = s.set_nodelay(true);
        }
        Ok(Cdp { ws, next_id: 1 })
    }

    /// Sends a browser-level command and returns its `result`; events in between are skipped.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.send(None, method, params)
    }

    /// Sends a command to the page of `session` (from [`Cdp::attach`]).
    pub fn call_in(&mut self, session: &str, method: &str, params: Value) -> Result<Value, String> {
        self.send(Some(session), method, params)
    }

    fn send(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .map_err(|e| format!("{method}: send: {e}"))?;
        loop {
            let m = self.ws.read().map_err(|e| format!("{method}: read: {e}"))?;
            let Message::Text(t) = m else { continue };
            let v: Value =
                serde_json::from_str(t.as_str()).map_err(|e| format!("{method}: {e}"))?;
            if v["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(err) = v.get("error") {
                return Err(format!("{method}: {err}"));
            }
            return Ok(v["result"].clone());
        }
    }

    /// Opens a page at `url` (a new target, as a client's `newPage` + `goto` would) and
    /// returns its target id.
    pub fn open(&mut self, url: &str) -> String {
        self.call("Target.createTarget", json!({ "url": url }))
            .expect("Target.createTarget")["targetId"]
            .as_str()
            .expect("targetId")
            .to_owned()
    }

    /// Opens `url` in a new page, attaches to it and waits until it has loaded: a new target
    /// starts on about:blank, whose opaque origin has no storage at all (localStorage and
    /// IndexedDB throw `SecurityError` there). Returns (target id, session id).
    pub fn open_loaded(&mut self, url: &str) -> (String, String) {
        let target = self.open(url);
        let session = self.attach(&target);
        let want = url.to_owned();
        crate::wait_for("the new page to load", Duration::from_secs(30), || {
            self.eval(
                &session,
                "document.readyState === 'complete' ? location.href : ''",
            )
            .as_str()
            .is_some_and(|href| href.starts_with(&want))
        });
        (target, session)
    }

    /// Attaches to a page target (flat session) and returns the session id for
    /// [`Cdp::eval`] and [`Cdp::call_in`].
    pub fn attach(&mut self, target_id: &str) -> String {
        self.call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )
        .expect("Target.attachToTarget")["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_owned()
    }

    /// Evaluates `expr` (awaiting a promise) in the page of `session` and returns its value;
    /// panics if it threw.
    pub fn eval(&mut self, session: &str, expr: &str) -> Value {
        let params = json!({"expression": expr, "returnByValue": true, "awaitPromise": true});
        let r = self
            .call_in(session, "Runtime.evaluate", params)
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// The page targets (`Target.getTargets`, type `page`).
    pub fn pages(&mut self) -> Vec<Value> {
        self.call("Target.getTargets", json!({}))
            .expect("Target.getTargets")["targetInfos"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t["type"] == "page")
            .collect()
    }

    /// URLs of the open pages.
    pub fn page_urls(&mut self) -> Vec<String> {
        self.pages()
            .iter()
            .map(|t| t["url"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// The target id of an open page at exactly `url`, if there is one.
    pub fn page_at(&mut self, url: &str) -> Option<String> {
        self.pages()
            .iter()
            .find(|t| t["url"] == url)
            .and_then(|t| t["targetId"].as_str().map(str::to_owned))
    }

    /// Closes the connection the way a client leaving does, and returns once the other end
    /// has answered the close (or dropped the socket).
    pub fn close(mut self) {
        let _ = self.ws.close(None);
        while self.ws.read().is_ok() {}
    }

    /// Whether the other end closes this connection (a close frame or EOF) within `timeout`,
    /// reading and dropping whatever arrives meanwhile.
    pub fn closed_by_peer_within(&mut self, timeout: Duration) -> bool {
        if let MaybeTlsStream::Plain(s) = self.ws.get_mut() {
            let _ = s.set_read_timeout(Some(timeout));
        }
        loop {
            match self.ws.read() {
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false;
                }
                Err(_) => return true,
            }
        }
    }

    /// Every cookie of the default browser context (`Storage.getCookies`).
    pub fn cookies(&mut self) -> Vec<Value> {
        let r = self
            .call("Storage.getCookies", json!({}))
            .expect("Storage.getCookies");
        r["cookies"].as_array().cloned().unwrap_or_default()
    }

    /// Sets cookies in the default browser context (`Storage.setCookies`).
    pub fn set_cookies(&mut self, cookies: Value) {
        self.call("Storage.setCookies", json!({ "cookies": cookies }))
            .expect("Storage.setCookies");
    }
}
