//! The stub-page method: a background page whose every request is answered by us with an
//! empty HTML document, so navigating it to an origin touches no real server and lets one
//! `Runtime.evaluate` read or write that origin's localStorage.

use std::sync::Arc;
use std::time::Duration;

use pvault_model::StorageItem;
use serde_json::{Value, json};

use crate::BrowserError;
use crate::endpoint::CdpEndpoint;
use crate::raw_cdp::RawCdp;
use crate::tracker::Tracker;

/// An open stub page, on a CDP connection of its own (see `raw_cdp.rs` for why not a
/// chromiumoxide page). Close it with [`StubPage::close`].
pub(crate) struct StubPage {
    /// Our connection; it also answers the page's requests.
    cdp: RawCdp,
    /// The background tab, navigated from origin to origin.
    target_id: String,
    /// Our (flat) session with it.
    session_id: String,
    /// Marks the page internal while it is ours.
    tracker: Arc<Tracker>,
}

impl StubPage {
    /// Opens a background target (no window focus change; other clients' pages untouched) and
    /// intercepts all of its requests.
    pub(crate) async fn open(
        endpoint: &CdpEndpoint,
        tracker: Arc<Tracker>,
    ) -> Result<Self, BrowserError> {
        let mut cdp = RawCdp::open(endpoint).await?;
        let target = cdp
            .call(
                None,
                "Target.createTarget",
                json!({"url": "about:blank", "background": true}),
            )
            .await?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_owned();
        tracker.set_internal(&target_id, true);
        let set_up = async {
            let attached = cdp
                .call(
                    None,
                    "Target.attachToTarget",
                    json!({"targetId": target_id, "flatten": true}),
                )
                .await?;
            let session_id = attached["sessionId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            cdp.answer_requests_of(&session_id);
            cdp.call(
                Some(&session_id),
                "Fetch.enable",
                json!({"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}),
            )
            .await?;
            Ok::<_, BrowserError>(session_id)
        };
        match set_up.await {
            Ok(session_id) => Ok(StubPage {
                cdp,
                target_id,
                session_id,
                tracker,
            }),
            Err(e) => {
                let close = json!({"targetId": target_id});
                let _ = cdp.call(None, "Target.closeTarget", close).await;
                Err(e)
            }
        }
    }

    /// Navigates the stub page to `origin` (an empty document served by us). `Page.navigate`
    /// answers when the new document has committed; its scripts then run at the origin
    /// (checked: a script that ran in the previous document would write another origin).
    pub(crate) async fn goto(&mut self, origin: &str) -> Result<(), BrowserError> {
        let url = format!("{origin}/");
        let session = Some(self.session_id.as_str());
        let nav = self
            .cdp
            .call(session, "Page.navigate", json!({"url": url}))
            .await?;
        if let Some(err) = nav
            .get("errorText")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
        {
            return Err(BrowserError::cdp(
                "Page.navigate",
                format!("{origin}: {err}"),
            ));
        }
        for _ in 0..50 {
            let at = self.eval("location.origin".into()).await?;
            if at.as_str() == Some(origin) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Err(BrowserError::cdp(
            "Page.navigate",
            format!("the stub page did not reach {origin}"),
        ))
    }

    /// Evaluates `expression` in the page's main world (ours: nothing else runs there).
    pub(crate) async fn eval(&mut self, expression: String) -> Result<Value, BrowserError> {
        let session = self.session_id.clone();
        self.cdp.evaluate(&session, expression, None).await
    }

    /// Sends `method` on the page's session (e.g. `IndexedDB.getMetadata`, which needs a
    /// document at the origin).
    pub(crate) async fn call(
        &mut self,
        method: &'static str,
        params: Value,
    ) -> Result<Value, BrowserError> {
        let session = self.session_id.clone();
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

    /// Closes the stub page. Chrome deletes every session cookie when its last page closes
    /// (measured on 156), so when the stub is the browser's only page a plain `about:blank`
    /// tab is opened first to take its place.
    ///
    /// The target stays marked internal after it is gone: its navigation events may still be
    /// in a queue, and one handled after the close must not mark the origins it visited as
    /// changed by a page (target ids are never reused, so the mark harms nothing).
    pub(crate) async fn close(mut self) {
        let id = self.target_id.clone();
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
                let _ = self.call("Fetch.disable", json!({})).await;
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
