//! Stub tabs: background tabs created at an origin to write its storage, whose every request
//! is answered by us with an empty HTML document, so no real server is touched.
//!
//! Unlike the stub page of `stub.rs` (chromiumoxide's page, opened at `about:blank` and then
//! navigated from origin to origin), a stub tab is created at its origin directly: our own
//! connection holds it before its first request (`new_tabs.rs`), turns interception on and
//! releases it. That saves a renderer process for `about:blank`, a navigation and
//! chromiumoxide's page set-up per origin, which is most of what writing a small origin costs.
//! Loads write through stub tabs, one per origin, several at a time.

use std::sync::Arc;
use std::time::Duration;

use pvault_model::StorageItem;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::BrowserError;
use crate::cdp::{PageSession, evaluate};
use crate::new_tabs::NewTabs;
use crate::stub::other_pages;
use crate::own_connection::OwnSender;
use crate::tracker::Tracker;

/// How long a stub tab may take to be created and to load its empty document.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// An open stub tab. Close it with [`StubTab::close`].
pub(crate) struct StubTab {
    /// Our connection.
    sender: OwnSender,
    /// The tab's target id.
    target: String,
    /// Our session with the tab.
    session: String,
    /// Answers the tab's requests.
    fulfil: JoinHandle<()>,
}

impl StubTab {
    /// Opens a background tab at `origin` with an empty document, marked internal in
    /// `tracker` before it navigates.
    pub(crate) async fn open(
        tabs: &NewTabs,
        tracker: &Arc<Tracker>,
        origin: &str,
    ) -> Result<StubTab, BrowserError> {
        let sender = tabs.sender().clone();
        let (url, held) = tabs.stub_url(origin);
        // Its navigations must not count as a page's, even those reported before its target
        // id is known.
        tracker.ignore_url(&url);
        Self::create(&sender, tracker, &url, held).await
    }

    async fn create(
        sender: &OwnSender,
        tracker: &Arc<Tracker>,
        url: &str,
        held: oneshot::Receiver<crate::new_tabs::HeldTab>,
    ) -> Result<StubTab, BrowserError> {
        let created = sender
            .call(
                None,
                "Target.createTarget",
                json!({"url": url, "background": true}),
            )
            .await?;
        let target = created
            .get("targetId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        tracker.set_internal(&target, true);
        let tab = match tokio::time::timeout(OPEN_TIMEOUT, held).await {
            Ok(Ok(tab)) => tab,
            _ => {
                sender.send(None, "Target.closeTarget", json!({"targetId": target}));
                return Err(BrowserError::cdp(
                    "Target.createTarget",
                    "the new stub tab was not attached",
                ));
            }
        };
        let session = tab.session;
        let mut events = sender.subscribe(&session);
        let (loaded_tx, loaded_rx) = oneshot::channel();
        let fulfil = {
            let sender = sender.clone();
            let session = session.clone();
            let stub_url = url.to_owned();
            tokio::spawn(async move {
                let mut loaded_tx = Some(loaded_tx);
                let mut committed = false;
                while let Some(ev) = events.recv().await {
                    match ev.get("method").and_then(Value::as_str) {
                        Some("Fetch.requestPaused") => {
                            let id = ev.pointer("/params/requestId").cloned();
                            sender.send(
                                Some(&session),
                                "Fetch.fulfillRequest",
                                json!({
                                    "requestId": id,
                                    "responseCode": 200,
                                    "responseHeaders": [{"name": "Content-Type", "value": "text/html; charset=utf-8"}],
                                    "body": "",
                                }),
                            );
                        }
                        // The tab's initial empty document (an opaque origin) fires a load
                        // event too: only the one after the commit at the origin counts.
                        Some("Page.frameNavigated") => {
                            let main = ev.pointer("/params/frame/parentId").is_none();
                            let url = ev.pointer("/params/frame/url").and_then(Value::as_str);
                            if main && url == Some(stub_url.as_str()) {
                                committed = true;
                            }
                        }
                        Some("Page.loadEventFired") if committed => {
                            if let Some(tx) = loaded_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                        _ => {}
                    }
                }
            })
        };
        let stub = StubTab {
            sender: sender.clone(),
            target: tab.target,
            session,
            fulfil,
        };
        let set_up = async {
            let s = Some(stub.session.as_str());
            let fetch = sender.call(
                s,
                "Fetch.enable",
                json!({"patterns": [{"urlPattern": "*", "requestStage": "Request"}]}),
            );
            let page = sender.call(s, "Page.enable", json!({}));
            let (fetch, page) = tokio::join!(fetch, page);
            fetch?;
            page?;
            sender
                .call(s, "Runtime.runIfWaitingForDebugger", json!({}))
                .await?;
            tokio::time::timeout(OPEN_TIMEOUT, loaded_rx)
                .await
                .map_err(|_| BrowserError::cdp("Page.navigate", "the stub tab did not load"))?
                .map_err(|_| BrowserError::cdp("Page.navigate", "the stub tab went away"))?;
            Ok::<(), BrowserError>(())
        };
        match set_up.await {
            Ok(()) => Ok(stub),
            Err(e) => {
                stub.close().await;
                Err(e)
            }
        }
    }

    /// The tab's session, for scripts of its origin.
    pub(crate) fn page(&self) -> PageSession<'_> {
        PageSession::Own {
            sender: &self.sender,
            session: &self.session,
        }
    }

    /// Closes the tab, opening a blank one first when it is the browser's only page (see
    /// `StubPage::close`). It stays marked internal.
    pub(crate) async fn close(self) {
        self.fulfil.abort();
        self.sender.unsubscribe(&self.session);
        let targets = self.sender.call(None, "Target.getTargets", json!({})).await;
        if targets.is_ok_and(|t| other_pages(&t, &self.target) == 0) {
            let _ = self
                .sender
                .call(
                    None,
                    "Target.createTarget",
                    json!({"url": "about:blank", "background": true}),
                )
                .await;
        }
        let _ = self
            .sender
            .call(None, "Target.closeTarget", json!({"targetId": self.target}))
            .await;
    }
}

/// Writes `items` into the localStorage of the page's origin (existing keys are overwritten,
/// others kept) and checks that every one reads back.
pub(crate) async fn write_local_storage(
    page: PageSession<'_>,
    items: &[StorageItem],
) -> Result<(), BrowserError> {
    let pairs: Vec<[&str; 2]> = items
        .iter()
        .map(|i| [i.name.as_str(), i.value.as_str()])
        .collect();
    let data = serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into());
    let v = evaluate(
        page,
        format!(
            "(() => {{ const d = {data}; for (const [k, v] of d) localStorage.setItem(k, v); \
             let n = 0; for (const [k, v] of d) if (localStorage.getItem(k) === v) n++; return n; }})()"
        ),
        None,
    )
    .await?;
    if v.as_u64() != Some(items.len() as u64) {
        return Err(BrowserError::cdp(
            "Runtime.evaluate",
            format!("only {v} of {} localStorage items read back", items.len()),
        ));
    }
    Ok(())
}
