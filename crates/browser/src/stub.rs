//! The stub-page method: a background page whose every request is answered by us with an
//! empty HTML document, so navigating it to an origin touches no real server and lets one
//! `Runtime.evaluate` read or write that origin's localStorage.

use std::sync::Arc;

use chromiumoxide::cdp::browser_protocol::fetch::EventRequestPaused;
use chromiumoxide::cdp::browser_protocol::target::CreateTargetParams;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use pvault_model::StorageItem;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::BrowserError;
use crate::cdp::{call_browser, call_page, evaluate};
use crate::tracker::Tracker;

/// An open stub page. Close it with [`StubPage::close`].
pub(crate) struct StubPage {
    /// The background page, navigated from origin to origin.
    page: Page,
    /// Answers every request of the page with an empty document.
    fulfil: JoinHandle<()>,
    /// Marks the page internal while it is ours.
    tracker: Arc<Tracker>,
}

impl StubPage {
    /// Opens a background target (no window focus change; other clients' pages untouched) and
    /// intercepts all of its requests.
    pub(crate) async fn open(
        browser: &Browser,
        tracker: Arc<Tracker>,
    ) -> Result<Self, BrowserError> {
        let params = CreateTargetParams::builder()
            .url("about:blank")
            .background(true)
            .build()
            .map_err(|e| BrowserError::cdp("Target.createTarget", e))?;
        let page = browser
            .new_page(params)
            .await
            .map_err(|e| BrowserError::cdp("Target.createTarget", e))?;
        tracker.set_internal(page.target_id().as_ref(), true);
        let mut paused = page
            .event_listener::<EventRequestPaused>()
            .await
            .map_err(|e| BrowserError::cdp("Fetch.requestPaused", e))?;
        let p2 = page.clone();
        let fulfil = tokio::spawn(async move {
            while let Some(ev) = paused.next().await {
                let id = ev.request_id.as_ref().to_owned();
                let _ = call_page(
                    &p2,
                    "Fetch.fulfillRequest",
                    json!({
                        "requestId": id,
                        "responseCode": 200,
                        "responseHeaders": [{"name": "Content-Type", "value": "text/html; charset=utf-8"}],
                        "body": "",
                    }),
                )
                .await;
            }
        });
        call_page(
            &page,
            "Fetch.enable",
            json!({"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}),
        )
        .await?;
        Ok(StubPage {
            page,
            fulfil,
            tracker,
        })
    }

    /// Navigates the stub page to `origin` (an empty document served by us).
    pub(crate) async fn goto(&self, origin: &str) -> Result<(), BrowserError> {
        let url = format!("{origin}/");
        self.page
            .goto(url)
            .await
            .map_err(|e| BrowserError::cdp("Page.navigate", e))?;
        Ok(())
    }

    async fn eval(&self, expression: String) -> Result<Value, BrowserError> {
        evaluate(&self.page, expression, None).await
    }

    /// The page, for CDP commands that need a document of the origin it is at.
    pub(crate) fn page(&self) -> &Page {
        &self.page
    }

    /// Writes `items` into the localStorage of the origin the page is at (existing keys are
    /// overwritten, others kept) and checks that every one reads back.
    pub(crate) async fn write_local(&self, items: &[StorageItem]) -> Result<(), BrowserError> {
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
    pub(crate) async fn read(&self, origin: &str) -> Result<Vec<StorageItem>, BrowserError> {
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
    pub(crate) async fn close(self, browser: &Browser) {
        self.fulfil.abort();
        let id = self.page.target_id().as_ref().to_owned();
        let others = call_browser(browser, "Target.getTargets", json!({}))
            .await
            .ok()
            .map(|t| other_pages(&t, &id));
        if others == Some(0) {
            let replaced = call_browser(
                browser,
                "Target.createTarget",
                json!({"url": "about:blank", "background": true}),
            )
            .await;
            if let Err(e) = replaced {
                // Keeping the stub (no longer intercepting) keeps the session cookies.
                tracing::debug!("no tab to replace the stub page: {e}");
                let _ = call_page(&self.page, "Fetch.disable", json!({})).await;
                let _ = self.page.goto("about:blank").await;
                self.tracker.set_internal(&id, false);
                return;
            }
        }
        let _ = self.page.close().await;
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
