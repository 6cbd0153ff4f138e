//! What our connection does with each message, in the order Chrome sent them: set up every
//! page session it is attached to, apply storage events, note navigations and IndexedDB
//! changes. Nothing here waits: commands are queued for the writer and their answers are
//! handled when they come.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::storage::{AreaKey, Copies, Seen, storage_event, storage_origin};
use crate::cdp::http_origin;
use crate::page_events::frame_urls_with_ids;
use crate::report::sorted;
use crate::stub::pairs_to_items;
use crate::tracker::{Area, Tracker};

/// A page session of ours.
struct Tab {
    /// Its target id.
    target: String,
    /// Attached before its first http(s) document (a new tab, held until set up, or a blank
    /// one).
    fresh: bool,
    /// `DOMStorage.enable` has been answered.
    storage_on: bool,
    /// The hand-off script on this tab.
    script: Script,
    /// Its main frame has committed an http(s) document since we attached.
    at_http: bool,
}

/// The sessionStorage hand-off script on one tab.
#[derive(PartialEq, Eq)]
enum Script {
    /// None (or removed).
    None,
    /// Sent, not yet answered.
    Adding,
    /// In place, with its identifier.
    Added(String),
}

/// What an answer is for.
enum Pending {
    /// `DOMStorage.enable` on a session.
    StorageOn(String),
    /// `Page.addScriptToEvaluateOnNewDocument` on a session.
    Script(String),
    /// `Page.getFrameTree` of a page that was there before us.
    Frames(String),
    /// A whole read of an area.
    Read(AreaKey),
}

/// The reader's state.
pub(super) struct State {
    tracker: Arc<Tracker>,
    /// The hand-off script, shared with [`super::TabLink::hand_out`].
    script: Arc<Mutex<Option<Arc<str>>>>,
    /// To the writer.
    tx: mpsc::UnboundedSender<Value>,
    /// Last command id (1 was the setup).
    last_id: u64,
    /// Page sessions by session id.
    tabs: HashMap<String, Tab>,
    /// Commands whose answers matter.
    pending: HashMap<u64, Pending>,
    /// Callers of `hand_out` waiting until their script is on every tab that will get it.
    acks: Vec<(HashSet<u64>, oneshot::Sender<()>)>,
    /// Each session's copies of the storage areas it reports.
    copies: Copies,
}

impl State {
    pub(super) fn new(
        tracker: Arc<Tracker>,
        script: Arc<Mutex<Option<Arc<str>>>>,
        tx: mpsc::UnboundedSender<Value>,
    ) -> State {
        State {
            tracker,
            script,
            tx,
            last_id: 1,
            tabs: HashMap::new(),
            pending: HashMap::new(),
            acks: Vec::new(),
            copies: Copies::default(),
        }
    }

    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> u64 {
        self.last_id += 1;
        let mut m = json!({"id": self.last_id, "method": method, "params": params});
        if let Some(s) = session {
            m["sessionId"] = s.into();
        }
        let _ = self.tx.send(m);
        self.last_id
    }

    fn current_script(&self) -> Option<Arc<str>> {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts the current hand-off script on every tab still before its first http(s) document
    /// (replacing an older one); `done` fires once Chrome has answered for each.
    pub(super) fn script_changed(&mut self, done: oneshot::Sender<()>) {
        let source = self.current_script();
        let waiting: Vec<String> = self
            .tabs
            .iter()
            .filter(|(_, t)| !t.at_http)
            .map(|(s, _)| s.clone())
            .collect();
        let mut ids = HashSet::new();
        for session in waiting {
            if let Some(Tab {
                script: Script::Added(old),
                ..
            }) = self.tabs.get(&session)
            {
                let params = json!({"identifier": old});
                self.send(
                    Some(&session),
                    "Page.removeScriptToEvaluateOnNewDocument",
                    params,
                );
            }
            let script = match &source {
                Some(src) => {
                    let id = self.add_script(&session, src);
                    ids.insert(id);
                    Script::Adding
                }
                None => Script::None,
            };
            if let Some(t) = self.tabs.get_mut(&session) {
                t.script = script;
            }
        }
        if ids.is_empty() {
            let _ = done.send(());
        } else {
            self.acks.push((ids, done));
        }
    }

    fn add_script(&mut self, session: &str, source: &str) -> u64 {
        let id = self.send(
            Some(session),
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": source, "runImmediately": true}),
        );
        self.pending.insert(id, Pending::Script(session.to_owned()));
        id
    }

    pub(super) fn handle(&mut self, v: &Value) {
        if let Some(id) = v.get("id").and_then(Value::as_u64) {
            self.answer(id, v);
            return;
        }
        let Some(method) = v.get("method").and_then(Value::as_str) else {
            return;
        };
        let params = &v["params"];
        let session = v.get("sessionId").and_then(Value::as_str);
        match (method, session) {
            ("Target.attachedToTarget", _) => self.attached(params),
            ("Target.detachedFromTarget", _) => {
                if let Some(s) = params.get("sessionId").and_then(Value::as_str) {
                    self.copies.forget_session(s);
                    if let Some(t) = self.tabs.remove(s) {
                        self.tracker.forget_tab(&t.target);
                    }
                }
            }
            ("Page.frameNavigated", Some(s)) => self.navigated(s, &params["frame"]),
            ("Storage.indexedDBContentUpdated" | "Storage.indexedDBListUpdated", Some(s)) => {
                let Some(t) = self.tabs.get(s) else { return };
                if !self.tracker.is_internal(&t.target)
                    && let Some(o) = params
                        .get("origin")
                        .and_then(Value::as_str)
                        .and_then(http_origin)
                {
                    self.tracker.idb_changed(&o);
                }
            }
            (m, Some(s)) if m.starts_with("DOMStorage.") => {
                if let Some(change) = storage_event(m, params) {
                    self.storage(s, &params["storageId"], change);
                }
            }
            _ => {}
        }
    }

    /// A new session: a page gets `DOMStorage` and `Page` events on our session (and, before
    /// its first http(s) document, the hand-off script); anything else is released and left.
    fn attached(&mut self, p: &Value) {
        let Some(session) = p.get("sessionId").and_then(Value::as_str) else {
            return;
        };
        let info = &p["targetInfo"];
        let waiting = p.get("waitingForDebugger").and_then(Value::as_bool) == Some(true);
        if info.get("type").and_then(Value::as_str) != Some("page") {
            if waiting {
                self.send(Some(session), "Runtime.runIfWaitingForDebugger", json!({}));
            }
            self.send(
                None,
                "Target.detachFromTarget",
                json!({"sessionId": session}),
            );
            return;
        }
        let target = info
            .get("targetId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let url = info.get("url").and_then(Value::as_str).unwrap_or("");
        // A new tab (waiting: its URL is where it is going, no document yet), or one not yet at
        // an http(s) document (the blank tab of a headful start).
        let fresh = waiting || http_origin(url).is_none();
        let id = self.send(Some(session), "DOMStorage.enable", json!({}));
        self.pending
            .insert(id, Pending::StorageOn(session.to_owned()));
        self.send(Some(session), "Page.enable", json!({}));
        let mut script = Script::None;
        if fresh && let Some(src) = self.current_script() {
            self.add_script(session, &src);
            script = Script::Adding;
        }
        if waiting {
            self.send(Some(session), "Runtime.runIfWaitingForDebugger", json!({}));
        }
        if !fresh {
            // Frames already there: navigation events will not name them.
            let id = self.send(Some(session), "Page.getFrameTree", json!({}));
            self.pending.insert(id, Pending::Frames(session.to_owned()));
        }
        self.tabs.insert(
            session.to_owned(),
            Tab {
                target,
                fresh,
                storage_on: false,
                script,
                at_http: !fresh,
            },
        );
    }

    /// A frame of a page committed a document.
    fn navigated(&mut self, session: &str, frame: &Value) {
        let Some(tab) = self.tabs.get(session) else {
            return;
        };
        let target = tab.target.clone();
        let url = frame.get("url").and_then(Value::as_str).unwrap_or("");
        self.tracker.touch_url(&target, url);
        let Some(origin) = http_origin(url) else {
            return;
        };
        self.copies.navigated(session, &origin);
        self.track_indexed_db(session, &target, &origin);
        let main = frame.get("parentId").is_none();
        let Some(tab) = self.tabs.get_mut(session).filter(|t| main && !t.at_http) else {
            return;
        };
        tab.at_http = true;
        // Everything this tab did at the origin was reported to us, and its first document
        // there had the hand-off script if there was one.
        if tab.fresh && tab.storage_on && tab.script != Script::Adding {
            self.tracker.tab_held(&target, &origin);
        }
        // The first document ran the script: it is not for later documents. (One still being
        // added is removed when its answer comes.)
        if let Script::Added(id) = std::mem::replace(&mut tab.script, Script::None) {
            self.send(
                Some(session),
                "Page.removeScriptToEvaluateOnNewDocument",
                json!({"identifier": id}),
            );
        }
    }

    /// Turns on IndexedDB change events for `origin` on our session of a page, once per page
    /// and origin (the browser-level session answers "Internal error" to it).
    fn track_indexed_db(&mut self, session: &str, target: &str, origin: &str) {
        if self.tracker.is_internal(target) || !self.tracker.start_idb_tracking(target, origin) {
            return;
        }
        self.send(
            Some(session),
            "Storage.trackIndexedDBForOrigin",
            json!({"origin": origin}),
        );
    }

    /// A storage event of a page session.
    fn storage(&mut self, session: &str, id: &Value, change: crate::tracker::StorageChange) {
        let Some(target) = self.tabs.get(session).map(|t| t.target.clone()) else {
            return;
        };
        if self.tracker.is_internal(&target) {
            return;
        }
        let Some(origin) = storage_origin(id) else {
            // A partitioned (third-party) area: not captured, but a sign that the page is
            // active.
            self.tracker.bump();
            return;
        };
        let area = if id.get("isLocalStorage").and_then(Value::as_bool) == Some(true) {
            Area::Local
        } else {
            Area::Session
        };
        let key = (session.to_owned(), area, origin.clone());
        match self.copies.event(key.clone(), &change) {
            Seen::Applied(copy) => {
                self.tracker
                    .storage_changed(&target, area, &origin, &change, copy);
            }
            Seen::InRead => {}
            Seen::ReadIt => {
                // See `storage.rs`.
                let read = self.send(
                    Some(session),
                    "DOMStorage.getDOMStorageItems",
                    json!({"storageId": id}),
                );
                self.pending.insert(read, Pending::Read(key));
            }
        }
    }

    /// The answer to one of our commands.
    fn answer(&mut self, id: u64, v: &Value) {
        let mut i = 0;
        while i < self.acks.len() {
            self.acks[i].0.remove(&id);
            if self.acks[i].0.is_empty() {
                let (_, done) = self.acks.swap_remove(i);
                let _ = done.send(());
            } else {
                i += 1;
            }
        }
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        let ok = v.get("error").is_none();
        match pending {
            Pending::StorageOn(s) => {
                if let Some(t) = self.tabs.get_mut(&s) {
                    t.storage_on = ok;
                }
            }
            Pending::Script(s) => {
                let identifier = v
                    .pointer("/result/identifier")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let Some(t) = self.tabs.get_mut(&s) else {
                    return;
                };
                match identifier {
                    Some(i) if t.at_http => {
                        t.script = Script::None;
                        self.send(
                            Some(&s),
                            "Page.removeScriptToEvaluateOnNewDocument",
                            json!({"identifier": i}),
                        );
                    }
                    Some(i) => t.script = Script::Added(i),
                    None => {
                        // Not seeded: its read is no more than any tab's.
                        t.script = Script::None;
                        t.fresh = false;
                    }
                }
            }
            Pending::Frames(s) => {
                let Some(target) = self.tabs.get(&s).map(|t| t.target.clone()) else {
                    return;
                };
                let result = v.get("result").cloned().unwrap_or(Value::Null);
                for (url, _) in frame_urls_with_ids(&result) {
                    self.tracker.touch_url(&target, &url);
                    if let Some(o) = http_origin(&url) {
                        self.track_indexed_db(&s, &target, &o);
                    }
                }
            }
            Pending::Read(key) => {
                let items = ok.then(|| {
                    sorted(&pairs_to_items(
                        v.pointer("/result/entries").unwrap_or(&Value::Null),
                    ))
                });
                let target = self.tabs.get(&key.0).map(|t| t.target.clone());
                let (area, origin) = (key.1, key.2.clone());
                match (self.copies.read_done(key, items), target) {
                    (Some(copy), Some(t)) => self.tracker.storage_read(&t, area, &origin, copy),
                    (None, _) => {
                        // The events kept while it was in flight are lost: the next full
                        // capture reads the origin exactly.
                        self.tracker.retouch([origin]);
                        self.tracker.bump();
                    }
                    _ => {}
                }
            }
        }
    }
}
