//! Conformance of the multiplexer with Chrome's own websocket (run by
//! `mux::the_same_exchange_answers_the_same_through_the_multiplexer_as_on_a_port`): one scripted set of CDP exchanges,
//! run by two clients at once, once on two websocket connections to a browser started with a
//! port and once as two clients of the multiplexer of a browser on the pipe, gives each client
//! the same answers and the same Target-domain events, ids and session ids aside.
//!
//! The two clients do different things on purpose, so that an event given to the wrong client
//! shows: A discovers targets and auto-attaches, B only auto-attaches. Both create a target, run
//! a command on its auto-attached session, attach to and detach from the other's target, and
//! close their own.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::mux::{Raw, launch_with_port};
use crate::support::launch;
use pvault_browser::{Session, Transport};

/// The phases of the script; the clients pass each boundary together.
const PHASES: [&str; 6] = ["basics", "setup", "create", "page", "close", "bad"];

/// One client's run: what it received, by phase, answers and Target-domain events only (it
/// enables no other domain, and events of other domains are not the multiplexer's to route
/// differently), and the target it created.
#[derive(Debug, Default)]
struct Trace {
    log: Vec<(usize, Value)>,
    created: String,
}

/// What the two clients share while they run.
struct Shared {
    barrier: Barrier,
    /// The target each client created, by client number.
    created: Mutex<[String; 2]>,
}

struct Client {
    raw: Raw,
    trace: Trace,
    phase: usize,
    next_id: u64,
}

impl Client {
    fn keep(&mut self, v: Value) {
        let target_event = v["method"]
            .as_str()
            .is_some_and(|m| m.starts_with("Target."));
        if v.get("id").is_some() || v.get("error").is_some() || target_event {
            self.trace.log.push((self.phase, v));
        }
    }

    async fn next(&mut self) -> Value {
        let v = self.raw.recv().await.expect("a message within 10 s");
        self.keep(v.clone());
        v
    }

    /// Sends a command (on `session`, or on the connection's own) and returns its answer.
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.raw.send(msg).await;
        loop {
            let v = self.next().await;
            if v["id"] == id && v.get("method").is_none() {
                return v;
            }
        }
    }

    /// The first message of this phase for which `pred` holds, received already or from now.
    async fn wait(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let phase = self.phase;
        if let Some((_, v)) = self.trace.log.iter().find(|(p, v)| *p == phase && pred(v)) {
            return v.clone();
        }
        loop {
            let v = self.next().await;
            if pred(&v) {
                return v;
            }
        }
    }

    async fn event(&mut self, method: &str, target: &str) -> Value {
        self.wait(|v| {
            v["method"] == method
                && (v["params"]["targetInfo"]["targetId"] == target
                    || v["params"]["targetId"] == target)
        })
        .await
    }

    /// Ends a phase once both clients did everything in it: a command answered on this
    /// client's own connection after that comes after every event Chrome sent it before (one
    /// ordered stream per connection), so what the phase caused is in the phase.
    async fn end_phase(&mut self, shared: &Shared) {
        shared.barrier.wait().await;
        let fence = self.call(None, "No.suchMethod", json!({})).await;
        assert_eq!(fence["error"]["code"], -32601, "{fence}");
        shared.barrier.wait().await;
        self.phase += 1;
    }
}

async fn run(raw: Raw, me: usize, shared: &Shared) -> Trace {
    let mut c = Client {
        raw,
        trace: Trace::default(),
        phase: 0,
        next_id: 0,
    };
    // basics: answers and Chrome's errors.
    c.call(None, "Browser.getVersion", json!({})).await;
    c.call(None, "No.suchMethod", json!({})).await;
    c.call(
        Some("NOT-A-SESSION"),
        "Runtime.evaluate",
        json!({"expression": "1"}),
    )
    .await;
    c.call(
        None,
        "Target.detachFromTarget",
        json!({"sessionId": "NOT-A-SESSION"}),
    )
    .await;
    c.end_phase(shared).await;

    // setup: Target-domain state, per client. The events for targets that exist already come
    // before the answers.
    if me == 0 {
        c.call(None, "Target.setDiscoverTargets", json!({"discover": true}))
            .await;
    }
    let auto = json!({"autoAttach": true, "waitForDebuggerOnStart": false, "flatten": true});
    c.call(None, "Target.setAutoAttach", auto).await;
    c.end_phase(shared).await;

    // create: one target each, at the same time.
    let created = c
        .call(None, "Target.createTarget", json!({"url": "about:blank"}))
        .await;
    let mine = created["result"]["targetId"].as_str().unwrap().to_owned();
    c.trace.created = mine.clone();
    shared.created.lock().unwrap()[me] = mine.clone();
    shared.barrier.wait().await;
    let theirs = shared.created.lock().unwrap()[1 - me].clone();
    let mut auto_sessions = Vec::new();
    for t in [&mine, &theirs] {
        let att = c.event("Target.attachedToTarget", t).await;
        auto_sessions.push(att["params"]["sessionId"].as_str().unwrap().to_owned());
        if me == 0 {
            c.event("Target.targetCreated", t).await;
        }
    }
    c.end_phase(shared).await;

    // page: a command on the auto-attached session of its own target; an explicit attach to
    // the other's target, a command there, and a detach.
    let v = c
        .call(
            Some(&auto_sessions[0]),
            "Runtime.evaluate",
            json!({"expression": "6 * 7"}),
        )
        .await;
    assert_eq!(v["result"]["result"]["value"], 42, "{v}");
    let att = c
        .call(
            None,
            "Target.attachToTarget",
            json!({"targetId": theirs, "flatten": true}),
        )
        .await;
    let explicit = att["result"]["sessionId"].as_str().unwrap().to_owned();
    c.wait(|v| {
        v["method"] == "Target.attachedToTarget" && v["params"]["sessionId"] == explicit.as_str()
    })
    .await;
    c.call(
        Some(&explicit),
        "Runtime.evaluate",
        json!({"expression": "location.href"}),
    )
    .await;
    c.call(
        None,
        "Target.detachFromTarget",
        json!({"sessionId": explicit}),
    )
    .await;
    c.wait(|v| {
        v["method"] == "Target.detachedFromTarget" && v["params"]["sessionId"] == explicit.as_str()
    })
    .await;
    c.end_phase(shared).await;

    // close: each closes its own target; both auto-attached sessions end.
    let v = c
        .call(None, "Target.closeTarget", json!({"targetId": mine}))
        .await;
    assert_eq!(v["result"]["success"], true, "{v}");
    for s in &auto_sessions {
        c.wait(|v| {
            v["method"] == "Target.detachedFromTarget" && v["params"]["sessionId"] == s.as_str()
        })
        .await;
    }
    if me == 0 {
        for t in [&mine, &theirs] {
            c.event("Target.targetDestroyed", t).await;
        }
    }
    c.end_phase(shared).await;

    // bad: messages that are not commands. Chrome's parser words its error for text that is
    // not JSON differently from the multiplexer's, so only its code is compared.
    for bad in [
        "not json",
        r#"{"id":"x","method":"Browser.getVersion"}"#,
        r#"{"id":9}"#,
    ] {
        c.raw.send_text(bad.into()).await;
        while c.next().await.get("error").is_none() {}
        if bad == "not json" {
            let (_, last) = c.trace.log.last_mut().unwrap();
            last["error"]["message"] = json!("*");
        }
    }
    c.trace
}

/// Runs the script with two clients at once on `session`.
async fn run_two(session: &Session) -> [Trace; 2] {
    let shared = Shared {
        barrier: Barrier::new(2),
        created: Mutex::default(),
    };
    let a = Raw::connect(session).await;
    let b = Raw::connect(session).await;
    let (a, b) = tokio::join!(run(a, 0, &shared), run(b, 1, &shared));
    [a, b]
}

/// One phase of a client's trace with what varies from run to run replaced:
/// - target ids by who created the target (`own`, `other`, or `chrome's` for targets the
///   script did not create: the browser's first tab, and the browser-UI WebUI pages such as
///   the omnibox popup that Chrome opens on its own, some when a tab opens), since Chrome
///   draws them at random;
/// - session ids by the target they are attached to and how many sessions that target had
///   before in the trace (`session 1 of other`), since Chrome draws them at random too; a
///   session id the trace never saw attached stays `unknown`;
/// - `browserContextId`, `frameId` and `loaderId`, random per browser or per navigation;
/// - the title of an `about:blank` page, which Chrome reports as `""` until the page's first
///   navigation commits and as `about:blank` after, at a time of the renderer's choosing;
/// - the title and URL of targets the script did not create, and their
///   `targetInfoChanged` events: those are Chrome's own pages (the first tab, its browser-UI
///   WebUI pages such as the omnibox popup), which load on their own time, so which title a
///   client sees when it starts discovering, and in which phase a later change reaches it,
///   depends on how far they got, not on the transport. Their `targetCreated` and
///   `attachedToTarget` events are compared (type, `attached`, session);
/// - every event about a `browser_ui` target (Chrome's WebUI pages such as the omnibox popup,
///   which Chrome opens and closes itself around a tab's life, on its own schedule: whether
///   its closing is reported before or after the phase's fence varies from run to run).
///
/// Answers are kept in the order they came (each client waits for each answer, so the order
/// is the script's); events are sorted, compared as a multiset per phase: the two clients act
/// at the same time, so the order in which Chrome reports the two creations, attachments and
/// closings to a client depends on which client's command Chrome ran first, and the order of
/// the events for Chrome's own targets depends on the order Chrome keeps them in.
/// `targetInfoChanged` events are compared over the whole run, as the set of distinct changes
/// a client was told of: Chrome sends one when a page's title or URL changes, which for a new
/// `about:blank` tab happens when its renderer gets to it, so the phase a change lands in,
/// and whether two changes still differ once the title is normalized, is timing.
fn normalize(trace: &Trace, theirs: &str) -> Run {
    let target = |t: &str| -> &'static str {
        if t == trace.created {
            "own"
        } else if t == theirs {
            "other"
        } else {
            "chrome's"
        }
    };
    let mut sessions: HashMap<String, String> = HashMap::new();
    let mut per_target: HashMap<&str, usize> = HashMap::new();
    for (_, v) in &trace.log {
        if v["method"] == "Target.attachedToTarget" {
            let t = target(v["params"]["targetInfo"]["targetId"].as_str().unwrap_or(""));
            let n = per_target.entry(t).or_default();
            *n += 1;
            let s = v["params"]["sessionId"].as_str().unwrap_or("").to_owned();
            sessions
                .entry(s)
                .or_insert_with(|| format!("session {n} of {t}"));
        }
    }
    fn norm(
        v: &Value,
        target: &dyn Fn(&str) -> &'static str,
        s: &HashMap<String, String>,
    ) -> Value {
        let existing = v
            .get("targetId")
            .and_then(Value::as_str)
            .is_some_and(|t| target(t) == "chrome's");
        let blank = v.get("url") == Some(&json!("about:blank"));
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let text = v.as_str().unwrap_or("");
                        let v = match k.as_str() {
                            "title" | "url" if existing => json!("*"),
                            "title" if blank => json!("*"),
                            "targetId" | "openerId" if v.is_string() => json!(target(text)),
                            "sessionId" if v.is_string() => {
                                json!(s.get(text).map_or("unknown", String::as_str))
                            }
                            "browserContextId" | "frameId" | "loaderId" => json!("*"),
                            _ => norm(v, target, s),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|v| norm(v, target, s)).collect()),
            other => other.clone(),
        }
    }
    let browser_ui: HashSet<&str> = trace
        .log
        .iter()
        .map(|(_, v)| &v["params"]["targetInfo"])
        .filter(|i| i["type"] == "browser_ui")
        .filter_map(|i| i["targetId"].as_str())
        .collect();
    let about_browser_ui = |v: &Value| {
        let p = &v["params"];
        [&p["targetId"], &p["targetInfo"]["targetId"]]
            .iter()
            .any(|t| t.as_str().is_some_and(|t| browser_ui.contains(t)))
    };
    let mut changes = Vec::new();
    let phases = (0..PHASES.len())
        .map(|p| {
            let mut answers = Vec::new();
            let mut events = Vec::new();
            for (_, v) in trace.log.iter().filter(|(q, _)| *q == p) {
                if v.get("method").is_some() && about_browser_ui(v) {
                    continue;
                }
                let n = norm(v, &target, &sessions);
                if v["method"] == "Target.targetInfoChanged" {
                    let about = v["params"]["targetInfo"]["targetId"].as_str().map(target);
                    if about != Some("chrome's") {
                        changes.push(n.to_string());
                    }
                } else if v.get("method").is_some() {
                    events.push(n.to_string());
                } else {
                    answers.push(n);
                }
            }
            events.sort();
            (answers, events)
        })
        .collect();
    changes.sort();
    changes.dedup();
    Run { phases, changes }
}

/// A client's trace, normalized.
struct Run {
    /// By phase: the answers in order, and the Target events other than `targetInfoChanged`
    /// sorted.
    phases: Vec<(Vec<Value>, Vec<String>)>,
    /// The distinct `targetInfoChanged` events of the whole run.
    changes: Vec<String>,
}

/// How many of `events` are `method` events about the targets the script created.
fn count(events: &[String], method: &str) -> usize {
    let m = format!("\"method\":\"{method}\"");
    events
        .iter()
        .filter(|e| e.contains(&m))
        .filter(|e| e.contains("\"targetId\":\"own\"") || e.contains("\"targetId\":\"other\""))
        .count()
}

/// The comparison (the test is `mux::the_same_exchange_answers_the_same_through_the_multiplexer_as_on_a_port`).
pub(crate) async fn same_exchange_through_the_multiplexer_as_on_a_port() {
    let (port_session, _dir) = launch_with_port().await;
    let expected = run_two(&port_session).await;
    port_session.close().await.unwrap();

    let l = launch(None, Default::default()).await;
    assert_eq!(l.session.transport(), Transport::Pipe);
    let got = run_two(&l.session).await;

    let names = ["A (discovers, auto-attaches)", "B (auto-attaches)"];
    for me in 0..2 {
        let want = normalize(&expected[me], &expected[1 - me].created);
        let have = normalize(&got[me], &got[1 - me].created);
        for (p, (w, h)) in want.phases.iter().zip(&have.phases).enumerate() {
            let at = format!("client {}, phase {}", names[me], PHASES[p]);
            assert_eq!(
                h.0, w.0,
                "answers through the multiplexer vs on a port: {at}"
            );
            assert_eq!(
                h.1, w.1,
                "Target events through the multiplexer vs on a port: {at}"
            );
        }
        assert_eq!(
            have.changes, want.changes,
            "targetInfoChanged through the multiplexer vs on a port: client {}",
            names[me]
        );
    }
    // The comparison is not vacuous: the answers carry results and Chrome's errors, and the
    // two clients' events differ, so one client's events given to the other would show.
    let a = normalize(&got[0], &got[1].created);
    let b = normalize(&got[1], &got[0].created);
    assert!(!a.changes.is_empty() && b.changes.is_empty());
    let (a, b) = (a.phases, b.phases);
    assert_eq!(a[0].0[1]["error"]["code"], -32601);
    assert_eq!(a[0].0[2]["error"]["code"], -32001);
    assert_eq!(a[0].0[3]["error"]["code"], -32602);
    assert_eq!(a[2].0[0]["result"]["targetId"], "own");
    let create = PHASES.iter().position(|p| *p == "create").unwrap();
    let close = PHASES.iter().position(|p| *p == "close").unwrap();
    for c in [&a, &b] {
        assert_eq!(
            count(&c[create].1, "Target.attachedToTarget"),
            2,
            "{:?}",
            c[create].1
        );
        assert_eq!(
            count(&c[close].1, "Target.detachedFromTarget"),
            2,
            "{:?}",
            c[close].1
        );
    }
    assert_eq!(
        count(&a[create].1, "Target.targetCreated"),
        2,
        "{:?}",
        a[create].1
    );
    assert_eq!(
        count(&a[close].1, "Target.targetDestroyed"),
        2,
        "{:?}",
        a[close].1
    );
    let b_all: Vec<String> = b.iter().flat_map(|p| p.1.clone()).collect();
    assert_eq!(count(&b_all, "Target.targetCreated"), 0, "{b_all:?}");
    assert_eq!(count(&b_all, "Target.targetDestroyed"), 0, "{b_all:?}");
}
