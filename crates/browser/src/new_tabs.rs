//! Handing a profile's sessionStorage to new tabs, and holding our own stub tabs (see
//! `stub_tab.rs`) before their first request for their creator.
//!
//! A browser keeps sessionStorage per tab; a snapshot keeps one set per origin. The rule: a tab
//! whose first http(s) navigation lands on origin O starts with O's saved sessionStorage, and
//! from then on the tab's sessionStorage is the page's own (a logout that clears it is not
//! undone by a reload). A tab that already has sessionStorage there (a popup gets a copy of its
//! opener's) is left as it is.
//!
//! How: a second CDP connection of our own sets a browser-level `Target.setAutoAttach` with
//! `waitForDebuggerOnStart`, so every new tab waits, before its first navigation, until we
//! have added a script (`Page.addScriptToEvaluateOnNewDocument`, main world: Chromium 156 runs
//! a script added for an isolated world only after the page's own scripts, measured) and
//! released it (`Runtime.runIfWaitingForDebugger`). When the tab's main frame commits its first
//! http(s) document we detach, which removes the script (it belongs to our session). chromium
//! oxide's connection cannot do this: it attaches to targets itself, without waiting, and sends
//! nothing on a session it did not create (see `own_connection.rs`). Other clients
//! (Playwright's own auto-attach) are unaffected: domains and scripts are per session.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use pvault_model::StorageItem;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::BrowserError;
use crate::cdp::http_origin;
use crate::own_connection::{OwnConnection, OwnSender, lock};

/// The seeding connection of a session.
pub(crate) struct NewTabs {
    /// Our connection, with auto-attach on.
    conn: OwnConnection,
    /// The script new tabs get; `None` when there is nothing to hand out.
    script: Arc<Mutex<Option<Arc<str>>>>,
    /// Stub tabs being created, by the number in their URL (see [`stub_number`]): they are
    /// not seeded or released here but handed, still waiting, to their creator.
    stubs: Arc<Mutex<HashMap<u64, oneshot::Sender<HeldTab>>>>,
    /// The number of the next stub tab.
    next_stub: std::sync::atomic::AtomicU64,
}

/// A new tab held before its first navigation, for its creator to set up and release.
pub(crate) struct HeldTab {
    /// Its target id.
    pub target: String,
    /// Our session with it.
    pub session: String,
}

impl std::fmt::Debug for NewTabs {
    // Hand-written: the script holds sessionStorage values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewTabs { .. }")
    }
}

/// The query member that marks a stub tab's URL, with the stub's number as its value.
pub(crate) const STUB_MARK: &str = "pvault-stub";

/// The stub number of a URL made by [`NewTabs::stub_url`].
fn stub_number(url: &str) -> Option<u64> {
    let (_, query) = url.split_once('?')?;
    query
        .strip_prefix(STUB_MARK)?
        .strip_prefix('=')?
        .parse()
        .ok()
}

impl NewTabs {
    /// Connects to the browser's DevTools endpoint `ws_url` and holds every new tab until it
    /// has the current script. Returns once auto-attach is on.
    pub(crate) async fn connect(ws_url: &str) -> Result<NewTabs, BrowserError> {
        let script: Arc<Mutex<Option<Arc<str>>>> = Arc::default();
        let stubs: Arc<Mutex<HashMap<u64, oneshot::Sender<HeldTab>>>> = Arc::default();
        let mut state = Attached {
            script: script.clone(),
            stubs: stubs.clone(),
            seeding: HashSet::new(),
        };
        let conn = OwnConnection::connect(
            ws_url,
            Box::new(move |v: &Value, sender: &OwnSender| state.handle(v, sender)),
        )
        .await?;
        // Tabs created after the answer are held for us.
        conn.sender()
            .call(
                None,
                "Target.setAutoAttach",
                json!({"autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true}),
            )
            .await
            .map_err(|e| BrowserError::Connect {
                url: ws_url.to_owned(),
                detail: format!("sessionStorage hand-off connection: {e}"),
            })?;
        Ok(NewTabs {
            conn,
            script,
            stubs,
            next_stub: Default::default(),
        })
    }

    /// The connection's sender.
    pub(crate) fn sender(&self) -> &OwnSender {
        self.conn.sender()
    }

    /// A URL at `origin` for a new stub tab, and what receives the tab, held before its first
    /// navigation, once Chrome has attached it.
    pub(crate) fn stub_url(&self, origin: &str) -> (String, oneshot::Receiver<HeldTab>) {
        let n = self
            .next_stub
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.stubs).insert(n, tx);
        (format!("{origin}/?{STUB_MARK}={n}"), rx)
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
        *lock(&self.script) = source;
        n
    }
}

/// What the connection's event handler keeps.
struct Attached {
    /// The script new tabs get (shared with [`NewTabs`]).
    script: Arc<Mutex<Option<Arc<str>>>>,
    /// Stub tabs being created (shared with [`NewTabs`]).
    stubs: Arc<Mutex<HashMap<u64, oneshot::Sender<HeldTab>>>>,
    /// Session ids of tabs with our script, waiting for their first http(s) document.
    seeding: HashSet<String>,
}

impl Attached {
    fn detach(&mut self, tx: &OwnSender, session: &str) {
        self.seeding.remove(session);
        tx.send(
            None,
            "Target.detachFromTarget",
            json!({"sessionId": session}),
        );
    }

    fn handle(&mut self, v: &Value, tx: &OwnSender) {
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
                if is_page
                    && waiting
                    && let Some(n) = stub_number(url)
                    && let Some(creator) = lock(&self.stubs).remove(&n)
                {
                    let target = p
                        .pointer("/targetInfo/targetId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let held = HeldTab {
                        target,
                        session: session.to_owned(),
                    };
                    if let Err(held) = creator.send(held) {
                        // The creator gave up: release the tab, it will be closed.
                        tx.send(Some(&held.session), "Runtime.runIfWaitingForDebugger", json!({}));
                    }
                    return;
                }
                let source = lock(&self.script).clone();
                // A new tab (waiting: its URL is where it is going, no document yet), or one
                // not yet at an http(s) document (the blank tab of a headful start), gets the
                // script; anything else is released and left alone.
                match source {
                    Some(source) if is_page && (waiting || http_origin(url).is_none()) => {
                        tx.send(
                            Some(session),
                            "Page.addScriptToEvaluateOnNewDocument",
                            json!({"source": &*source, "runImmediately": true}),
                        );
                        tx.send(Some(session), "Page.enable", json!({}));
                        self.seeding.insert(session.to_owned());
                        if waiting {
                            tx.send(Some(session), "Runtime.runIfWaitingForDebugger", json!({}));
                        }
                    }
                    _ => {
                        if waiting {
                            tx.send(Some(session), "Runtime.runIfWaitingForDebugger", json!({}));
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

