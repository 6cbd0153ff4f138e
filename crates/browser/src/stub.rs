//! The stub-page method: a background page whose requests are answered by us with an empty
//! HTML document, so navigating it to an origin touches no real server and lets one
//! `Runtime.evaluate` read or write that origin's localStorage (or IndexedDB).
//!
//! The tab is created directly at its first origin (not at about:blank and then navigated):
//! a new tab's first renderer is otherwise wasted, as the navigation to a site needs a process
//! of its own. Requests are intercepted on our browser-level session (`Fetch.enable` there
//! sees every tab's requests, before the tab exists), restricted by pattern to one path with
//! a random token that no real page requests: other clients' pages are never paused. Five
//! stubs at five origins were usable about 100 ms sooner this way than opened blank and then
//! navigated (Chromium 148, measured with a bare CDP client).

use std::sync::Arc;
use std::time::{Duration, Instant};

use pvault_model::StorageItem;
use serde_json::{Value, json};

use crate::BrowserError;
use crate::endpoint::CdpEndpoint;
use crate::raw_cdp::RawCdp;
use crate::tracker::Tracker;

/// How long a stub navigation may take before the origin is reported as failed.
const GOTO_TIMEOUT: Duration = Duration::from_secs(20);

/// An open stub page, on a CDP connection of its own (see `raw_cdp.rs` for why not a
/// chromiumoxide page). Close it with [`StubPage::close`].
pub(crate) struct StubPage {
    /// Our connection; it also answers the page's requests.
    cdp: RawCdp,
    /// The path of every stub request, `/__pvault_stub_<random>`: what our interception
    /// answers, and nothing else.
    path: String,
    /// The background tab and our (flat) session with it, once the first `goto` created it.
    tab: Option<(String, String)>,
    /// Marks the page internal while it is ours.
    tracker: Arc<Tracker>,
    /// The browser context the tab is created in (`None`: the default one).
    context: Option<String>,
}

impl StubPage {
    /// Opens our connection and intercepts the stub's requests; the tab itself is created by
    /// the first [`StubPage::goto`], at its origin.
    pub(crate) async fn open(
        endpoint: &CdpEndpoint,
        tracker: Arc<Tracker>,
    ) -> Result<Self, BrowserError> {
        StubPage::open_in(RawCdp::open(endpoint).await?, tracker, None).await
    }

    /// [`StubPage::open`] on `cdp`, with the tab in browser context `context`.
    pub(crate) async fn open_in(
        mut cdp: RawCdp,
        tracker: Arc<Tracker>,
        context: Option<String>,
    ) -> Result<Self, BrowserError> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b)
            .map_err(|e| BrowserError::cdp("Fetch.enable", format!("no random token: {e}")))?;
        let token: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let path = format!("/__pvault_stub_{token}");
        tracker.add_internal_path(&path);
        cdp.answer_requests();
        cdp.call(
            None,
            "Fetch.enable",
            json!({"patterns": [{"urlPattern": format!("*{path}"), "requestStage": "Request"}]}),
        )
        .await?;
        Ok(StubPage {
            cdp,
            path,
            tab: None,
            tracker,
            context,
        })
    }

    /// Brings the stub page to `origin` (an empty document served by us): the first call
    /// creates the tab there, later ones navigate it. Returns once a script runs at the origin
    /// (a script that ran in the previous document would write another origin).
    pub(crate) async fn goto(&mut self, origin: &str) -> Result<(), BrowserError> {
        let url = format!("{origin}{}", self.path);
        let session = match &self.tab {
            None => {
                let (target_id, session) = self.create_tab(&url).await?;
                self.tab = Some((target_id, session.clone()));
                session
            }
            Some((_, session)) => {
                let session = session.clone();
                self.cdp.navigate(&session, &url).await?;
                session
            }
        };
        let start = Instant::now();
        loop {
            // Until the document has committed, the page has no context or the old one.
            let at = self
                .cdp
                .evaluate(&session, "location.origin".into(), None)
                .await;
            if matches!(&at, Ok(v) if v.as_str() == Some(origin)) {
                return Ok(());
            }
            if start.elapsed() > GOTO_TIMEOUT {
                return Err(BrowserError::cdp(
                    "Page.navigate",
                    format!(
                        "the stub page did not reach {origin} within {} s",
                        GOTO_TIMEOUT.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Evaluates `expression` in the page's main world (ours: nothing else runs there).
    pub(crate) async fn eval(&mut self, expression: String) -> Result<Value, BrowserError> {
        let session = self.session()?;
        self.cdp.evaluate(&session, expression, None).await
    }

    /// Our session with the tab; an error before the first [`StubPage::goto`].
    fn session(&self) -> Result<String, BrowserError> {
        self.tab
            .as_ref()
            .map(|(_, s)| s.clone())
            .ok_or_else(|| BrowserError::cdp("Runtime.evaluate", "the stub page is at no origin"))
    }

    /// Sends `method` on the page's session (e.g. `IndexedDB.getMetadata`, which needs a
    /// document at the origin).
    pub(crate) async fn call(
        &mut self,
        method: &'static str,
        params: Value,
    ) -> Result<Value, BrowserError> {
        let session = self.session()?;
        self.cdp.call(Some(&session), method, params).await
    }

    /// Writes `items` into the localStorage of the origin the page is at (existing keys are
    /// overwritten, others kept) and checks that every one reads back.
    pub(crate) async fn write_local(&mut self, items: &[StorageItem]) -> Result<(), BrowserError> {
        let pairs: Vec<[&str; 2]> = items
            .iter()
            .map(|i| [i.name.as_str(), i.value.as_str()])
            .collect();
        let data = serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into());
        let v = self
            .eval(format!(
                "(() => {{ const d = {data}; for (const [k, v] of d) localStorage.setItem(k, v); \
                 let n = 0; for (const [k, v] of d) if (localStorage.getItem(k) === v) n++; return n; }})()"
            ))
            .await?;
        if v.as_u64() != Some(items.len() as u64) {
            return Err(BrowserError::cdp(
                "Runtime.evaluate",
                format!("only {v} of {} localStorage items read back", items.len()),
            ));
        }
        Ok(())
    }

    /// Reads all of `origin`'s localStorage.
    pub(crate) async fn read(&mut self, origin: &str) -> Result<Vec<StorageItem>, BrowserError> {
        self.goto(origin).await?;
        let v = self
            .eval(
                "(() => { const r = []; for (let i = 0; i < localStorage.length; i++) { \
                 const k = localStorage.key(i); r.push([k, localStorage.getItem(k)]); } return r; })()"
                    .into(),
            )
            .await?;
        Ok(pairs_to_items(&v))
    }

    /// Creates a tab at `url` in the stub's context, marked ours before its first
    /// request can be answered (on this connection, by a later call): it never shows as a
    /// client's page. Returns its target and our session ids.
    async fn create_tab(&mut self, url: &str) -> Result<(String, String), BrowserError> {
        // In a session's browser the tab stays in the background (a headful window keeps
        // its focus); in a context of its own it is the health check's page, which must be
        // visible as a user's would be (hidden pages get no animation frames).
        let mut params = json!({"url": url, "background": self.context.is_none()});
        if let Some(c) = &self.context {
            params["browserContextId"] = c.as_str().into();
        }
        let target = self.cdp.call(None, "Target.createTarget", params).await?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_owned();
        self.tracker.set_internal(&target_id, true);
        let attach = json!({"targetId": target_id, "flatten": true});
        match self.cdp.call(None, "Target.attachToTarget", attach).await {
            Ok(a) => {
                let session = a["sessionId"].as_str().unwrap_or_default().to_owned();
                Ok((target_id, session))
            }
            Err(e) => {
                let close = json!({"targetId": target_id});
                let _ = self.cdp.call(None, "Target.closeTarget", close).await;
                Err(e)
            }
        }
    }

    /// Ends interception and hands the connection and the tab (created blank in the stub's
    /// context if no `goto` made one) on, as `(connection, target id, session id)`: a health
    /// check's probe goes on in the tab that wrote the state.
    pub(crate) async fn into_tab(mut self) -> Result<(RawCdp, String, String), BrowserError> {
        self.cdp.call(None, "Fetch.disable", json!({})).await?;
        if let Some((target, session)) = self.tab.take() {
            return Ok((self.cdp, target, session));
        }
        let (target_id, session) = self.create_tab("about:blank").await?;
        Ok((self.cdp, target_id, session))
    }

    /// Closes the stub page. Chrome deletes every session cookie when its last page closes
    /// (measured on 156), so when the stub is the browser's only page a plain `about:blank`
    /// tab is opened first to take its place.
    ///
    /// The target stays marked internal after it is gone: its navigation events may still be
    /// in a queue, and one handled after the close must not mark the origins it visited as
    /// changed by a page (target ids are never reused, so the mark harms nothing).
    pub(crate) async fn close(mut self) {
        let Some((id, _)) = self.tab.clone() else {
            return;
        };
        let others = self
            .cdp
            .call(None, "Target.getTargets", json!({}))
            .await
            .ok()
            .map(|t| other_pages(&t, &id));
        if others == Some(0) {
            let replaced = self
                .cdp
                .call(
                    None,
                    "Target.createTarget",
                    json!({"url": "about:blank", "background": true}),
                )
                .await;
            if let Err(e) = replaced {
                // Keeping the stub (no longer intercepting) keeps the session cookies.
                tracing::debug!("no tab to replace the stub page: {e}");
                let _ = self.cdp.call(None, "Fetch.disable", json!({})).await;
                let _ = self
                    .call("Page.navigate", json!({"url": "about:blank"}))
                    .await;
                self.tracker.set_internal(&id, false);
                return;
            }
        }
        let _ = self
            .cdp
            .call(None, "Target.closeTarget", json!({"targetId": id}))
            .await;
    }
}

/// The pages in a `Target.getTargets` result other than `except`.
fn other_pages(targets: &Value, except: &str) -> usize {
    targets
        .get("targetInfos")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("page"))
        .filter(|t| t.get("targetId").and_then(Value::as_str) != Some(except))
        .count()
}

/// `[[k, v], ...]` → items sorted by name (Chrome's order is not meaningful).
pub(crate) fn pairs_to_items(v: &Value) -> Vec<StorageItem> {
    let mut items: Vec<StorageItem> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(StorageItem {
                name: p.get(0)?.as_str()?.to_owned(),
                value: p.get(1)?.as_str()?.to_owned(),
            })
        })
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    items
}
