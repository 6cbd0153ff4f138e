//! Handing a profile's sessionStorage to new tabs.
//!
//! A browser keeps sessionStorage per tab; a snapshot keeps one set per origin. The rule: a tab
//! whose first http(s) navigation lands on origin O starts with O's saved sessionStorage, and
//! from then on the tab's sessionStorage is the page's own (a logout that clears it is not
//! undone by a reload). A tab that already has sessionStorage there (a popup gets a copy of its
//! opener's) is left as it is.
//!
//! How: a CDP connection of our own (one more multiplexer client, or a second websocket to a
//! browser with a port) sets a browser-level `Target.setAutoAttach` with
//! `waitForDebuggerOnStart`, so every new tab waits, before its first navigation, until we
//! have added a script (`Page.addScriptToEvaluateOnNewDocument`, main world: Chromium 156 runs
//! a script added for an isolated world only after the page's own scripts, measured) and
//! released it (`Runtime.runIfWaitingForDebugger`). When the tab's main frame commits its first
//! http(s) document we detach, which removes the script (it belongs to our session). chromium
//! oxide's connection cannot do this: it attaches to targets itself, without waiting, and sends
//! nothing on a session it did not create. Other clients (Playwright's own auto-attach) are
//! unaffected: domains and scripts are per session.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use pvault_model::StorageItem;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::BrowserError;
use crate::cdp::http_origin;
use crate::endpoint::{CdpEndpoint, Link};

/// The seeding connection of a session.
pub(crate) struct NewTabs {
    /// The script new tabs get; `None` when there is nothing to hand out.
    script: Arc<Mutex<Option<Arc<str>>>>,
    /// Reads the connection and answers attached targets; aborted on drop.
    task: JoinHandle<()>,
}

impl std::fmt::Debug for NewTabs {
    // Hand-written: the script holds sessionStorage values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewTabs { .. }")
    }
}

impl Drop for NewTabs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NewTabs {
    /// Connects to the browser's CDP endpoint and holds every new tab until it has the current
    /// script. Returns once auto-attach is on.
    pub(crate) async fn connect(endpoint: &CdpEndpoint) -> Result<NewTabs, BrowserError> {
        let connect_err = |e: &dyn std::fmt::Display| BrowserError::Connect {
            url: match endpoint {
                CdpEndpoint::WebSocket(u) => u.clone(),
                CdpEndpoint::Mux(_) => "the browser's CDP pipe".into(),
            },
            detail: format!("sessionStorage hand-off connection: {e}"),
        };
        let (mut sink, mut stream) = Link::open(endpoint).await?.split();
        let setup = json!({"id": 1, "method": "Target.setAutoAttach", "params": {
            "autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true}});
        if !sink.send(setup.to_string()).await {
            return Err(connect_err(&"closed during setup"));
        }
        // Wait for the answer: tabs created after it are held for us.
        let mut early = Vec::new();
        loop {
            let text = stream
                .recv()
                .await
                .ok_or_else(|| connect_err(&"closed during setup"))?;
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if v.get("id").and_then(Value::as_u64) == Some(1) {
                if let Some(e) = v.get("error") {
                    return Err(connect_err(&e));
                }
                break;
            }
            early.push(v);
        }
        let script: Arc<Mutex<Option<Arc<str>>>> = Arc::default();
        let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
        let writer = async move {
            while let Some(m) = rx.recv().await {
                if !sink.send(m.to_string()).await {
                    break;
                }
            }
        };
        let reader = {
            let script = script.clone();
            async move {
                let mut state = Attached::default();
                for v in early {
                    state.handle(&v, &script, &tx);
                }
                while let Some(text) = stream.recv().await {
                    if let Ok(v) = serde_json::from_str::<Value>(&text) {
                        state.handle(&v, &script, &tx);
                    }
                }
            }
        };
        let task = tokio::spawn(async move {
            tokio::join!(writer, reader);
        });
        Ok(NewTabs { script, task })
    }

    /// Sets what new tabs get from now on (replacing what was set before); origins with no
    /// items are left out. Returns how many origins will be handed out.
    pub(crate) fn hand_out(&self, data: &BTreeMap<String, Vec<StorageItem>>) -> usize {
        let origins: BTreeMap<&str, Vec<[&str; 2]>> = data
            .iter()
            .filter(|(_, items)| !items.is_empty())
            .map(|(o, items)| {
                let pairs = items
                    .iter()
                    .map(|i| [i.name.as_str(), i.value.as_str()])
                    .collect();
                (o.as_str(), pairs)
            })
            .collect();
        let n = origins.len();
        let source = (n > 0).then(|| {
            let data = serde_json::to_string(&origins).unwrap_or_else(|_| "{}".into());
            Arc::from(format!(
                "(() => {{ try {{ const d = {data}[location.origin]; \
                 if (!d || sessionStorage.length) return; \
                 for (const [k, v] of d) sessionStorage.setItem(k, v); }} catch (e) {{}} }})()"
            ))
        });
        *self.script.lock().unwrap_or_else(|p| p.into_inner()) = source;
        n
    }
}

/// The sessions of tabs that are waiting for their first http(s) document.
#[derive(Default)]
struct Attached {
    /// Session ids of tabs with our script.
    seeding: HashSet<String>,
    /// Next command id (1 was the setup).
    next_id: u64,
}

impl Attached {
    fn send(
        &mut self,
        tx: &mpsc::UnboundedSender<Value>,
        session: &str,
        method: &str,
        params: Value,
    ) {
        self.next_id = self.next_id.max(1) + 1;
        let _ = tx.send(
            json!({"id": self.next_id, "sessionId": session, "method": method, "params": params}),
        );
    }

    fn detach(&mut self, tx: &mpsc::UnboundedSender<Value>, session: &str) {
        self.seeding.remove(session);
        self.next_id = self.next_id.max(1) + 1;
        let _ = tx.send(
            json!({"id": self.next_id, "method": "Target.detachFromTarget",
            "params": {"sessionId": session}}),
        );
    }

    fn handle(
        &mut self,
        v: &Value,
        script: &Mutex<Option<Arc<str>>>,
        tx: &mpsc::UnboundedSender<Value>,
    ) {
        match v.get("method").and_then(Value::as_str) {
            Some("Target.attachedToTarget") => {
                let p = &v["params"];
                let Some(session) = p.get("sessionId").and_then(Value::as_str) else {
                    return;
                };
                let is_page = p.pointer("/targetInfo/type").and_then(Value::as_str) == Some("page");
                let url = p
                    .pointer("/targetInfo/url")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let waiting = p.get("waitingForDebugger").and_then(Value::as_bool) == Some(true);
                let source = script.lock().unwrap_or_else(|e| e.into_inner()).clone();
                // A new tab (waiting: its URL is where it is going, no document yet), or one
                // not yet at an http(s) document (the blank tab of a headful start), gets the
                // script; anything else is released and left alone.
                match source {
                    Some(source) if is_page && (waiting || http_origin(url).is_none()) => {
                        self.send(
                            tx,
                            session,
                            "Page.addScriptToEvaluateOnNewDocument",
                            json!({"source": &*source, "runImmediately": true}),
                        );
                        self.send(tx, session, "Page.enable", json!({}));
                        self.seeding.insert(session.to_owned());
                        if waiting {
                            self.send(tx, session, "Runtime.runIfWaitingForDebugger", json!({}));
                        }
                    }
                    _ => {
                        if waiting {
                            self.send(tx, session, "Runtime.runIfWaitingForDebugger", json!({}));
                        }
                        self.detach(tx, session);
                    }
                }
            }
            Some("Page.frameNavigated") => {
                let Some(session) = v.get("sessionId").and_then(Value::as_str) else {
                    return;
                };
                let frame = &v["params"]["frame"];
                let main = frame.get("parentId").is_none();
                let url = frame.get("url").and_then(Value::as_str).unwrap_or("");
                if main && http_origin(url).is_some() && self.seeding.contains(session) {
                    // The first document ran the script; detaching removes it.
                    self.detach(tx, session);
                }
            }
            Some("Target.detachedFromTarget") => {
                if let Some(session) = v.pointer("/params/sessionId").and_then(Value::as_str) {
                    self.seeding.remove(session);
                }
            }
            _ => {}
        }
    }
}
