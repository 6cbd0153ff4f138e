//! Our own raw CDP connection to every page: storage tracking in order, and the hand-off of a
//! profile's sessionStorage to new tabs.
//!
//! Why a connection of our own: chromiumoxide (0.9) hands each event method of a page to a
//! channel of its own, so the order between, say, a `domStorageItemUpdated` and a later
//! `domStorageItemRemoved` of one key is lost whenever both are queued (a removed key could
//! come back; a `domStorageItemsCleared` could wipe an item added after it). Here every
//! message comes in one stream, in the order Chrome sent it, and is handled in that order
//! without waiting (`state.rs`), with a whole read of an area at its first event and the
//! events that come while it is in flight replayed on its answer (`storage.rs`).
//!
//! How: a browser-level `Target.setAutoAttach` with `flatten` and `waitForDebuggerOnStart` (one
//! more multiplexer client, or a second websocket to a browser with a port). Every page gets,
//! on our session of it, `DOMStorage.enable` and `Page.enable`, and every new tab waits, before
//! its first navigation, until it has them and, when there is sessionStorage to hand out, a
//! script (`Page.addScriptToEvaluateOnNewDocument`, main world: Chromium 156 runs a script
//! added for an isolated world only after the page's own scripts, measured), and is released
//! (`Runtime.runIfWaitingForDebugger`). So a new tab's every storage change is reported to us.
//! Our session stays attached, to track the page; the script is removed
//! (`Page.removeScriptToEvaluateOnNewDocument`) when the tab's main frame commits its first
//! http(s) document.
//!
//! The hand-off rule: a tab whose first http(s) navigation lands on origin O starts with O's
//! saved sessionStorage, and from then on the tab's sessionStorage is the page's own (a logout
//! that clears it is not undone by a reload). A tab that already has sessionStorage there (a
//! popup gets a copy of its opener's) is left as it is.
//!
//! Other clients (Playwright's own auto-attach) are unaffected: domains, scripts and events
//! are per session. chromiumoxide keeps its own sessions for commands (captures, stub pages).

mod state;
mod storage;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pvault_model::StorageItem;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::BrowserError;
use crate::endpoint::{CdpEndpoint, Link};
use crate::tracker::Tracker;

/// The page connection of a session.
pub(crate) struct TabLink {
    /// The script new tabs get; `None` when there is nothing to hand out.
    script: Arc<Mutex<Option<Arc<str>>>>,
    /// Tells the reader that the script changed.
    control: mpsc::UnboundedSender<oneshot::Sender<()>>,
    /// Reads the connection and answers attached targets; aborted on drop.
    task: JoinHandle<()>,
}

impl std::fmt::Debug for TabLink {
    // Hand-written: the script holds sessionStorage values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TabLink { .. }")
    }
}

impl Drop for TabLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TabLink {
    /// Connects to the browser's CDP endpoint and attaches to every page, holding new tabs
    /// until they are set up. Returns once auto-attach is on.
    pub(crate) async fn connect(
        endpoint: &CdpEndpoint,
        tracker: Arc<Tracker>,
    ) -> Result<TabLink, BrowserError> {
        let connect_err = |e: &dyn std::fmt::Display| BrowserError::Connect {
            url: match endpoint {
                CdpEndpoint::WebSocket(u) => u.clone(),
                CdpEndpoint::Mux(_) => "the browser's CDP pipe".into(),
            },
            detail: format!("page tracking connection: {e}"),
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
        let (control, mut control_rx) = mpsc::unbounded_channel();
        let writer = async move {
            while let Some(m) = rx.recv().await {
                if !sink.send(m.to_string()).await {
                    break;
                }
            }
        };
        let mut state = state::State::new(tracker, script.clone(), tx);
        let reader = async move {
            for v in early {
                state.handle(&v);
            }
            loop {
                tokio::select! {
                    biased;
                    Some(done) = control_rx.recv() => state.script_changed(done),
                    text = stream.recv() => {
                        let Some(text) = text else { break };
                        if let Ok(v) = serde_json::from_str::<Value>(&text) {
                            state.handle(&v);
                        }
                    }
                }
            }
        };
        let task = tokio::spawn(async move {
            tokio::join!(writer, reader);
        });
        Ok(TabLink {
            script,
            control,
            task,
        })
    }

    /// Sets what new tabs get from now on (replacing what was set before), also on tabs that
    /// have not reached an http(s) document yet; origins with no items are left out. Returns,
    /// once Chrome has the script on those tabs, how many origins will be handed out.
    pub(crate) async fn hand_out(&self, data: &BTreeMap<String, Vec<StorageItem>>) -> usize {
        let (source, n) = hand_off_script(data);
        *self.script.lock().unwrap_or_else(|p| p.into_inner()) = source;
        let (done, wait) = oneshot::channel();
        if self.control.send(done).is_ok() {
            // Bounded: a tab that never answers must not stall a load.
            let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
        }
        n
    }
}

/// The script that gives a tab's first document at an origin of `data` that origin's
/// sessionStorage (a tab that already has sessionStorage is left alone), and how many origins
/// it hands out; `None` when there is nothing to hand out (origins with no items are left out).
pub(crate) fn hand_off_script(
    data: &BTreeMap<String, Vec<StorageItem>>,
) -> (Option<Arc<str>>, usize) {
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
        // A reload or a history step is never a tab's first document: a logout that emptied
        // sessionStorage and reloaded stays logged out even when the reload comes before our
        // connection has taken the script off the tab (seen under load).
        Arc::from(format!(
            "(() => {{ try {{ const d = {data}[location.origin]; \
             if (!d || sessionStorage.length) return; \
             const nav = performance.getEntriesByType('navigation')[0]; \
             if (nav && nav.type !== 'navigate') return; \
             for (const [k, v] of d) sessionStorage.setItem(k, v); }} catch (e) {{}} }})()"
        ))
    });
    (source, n)
}
