//! The target task: which page targets are open, and the URLs they are at, from
//! chromiumoxide's browser-level target events (the pages' own events come on our page
//! connection, `tabs/`); and reads of a page's frames and storage for captures.

use std::sync::Arc;

use chromiumoxide::Browser;
use chromiumoxide::cdp::browser_protocol::target::{
    EventTargetCreated, EventTargetDestroyed, EventTargetInfoChanged,
};
use futures::StreamExt;
use pvault_model::StorageItem;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::cdp::call_page;
use crate::report::sorted;
use crate::stub::pairs_to_items;
use crate::tracker::{Area, Tracker};

/// Starts the target task; it ends when the connection closes or it is aborted.
pub(crate) fn spawn(browser: Arc<Browser>, tracker: Arc<Tracker>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let (Ok(mut created), Ok(mut changed), Ok(mut destroyed)) = (
            browser.event_listener::<EventTargetCreated>().await,
            browser.event_listener::<EventTargetInfoChanged>().await,
            browser.event_listener::<EventTargetDestroyed>().await,
        ) else {
            return;
        };
        // Pages that existed before the listeners were registered.
        if let Ok(pages) = browser.pages().await {
            for p in pages {
                tracker.page_opened(p.target_id().as_ref());
            }
        }
        loop {
            tokio::select! {
                ev = created.next() => {
                    let Some(ev) = ev else { break };
                    let info = &ev.target_info;
                    tracker.touch_url(info.target_id.as_ref(), &info.url);
                    if info.r#type == "page" {
                        tracker.page_opened(info.target_id.as_ref());
                    }
                }
                ev = destroyed.next() => {
                    let Some(ev) = ev else { break };
                    tracker.target_closed(ev.target_id.as_ref());
                }
                ev = changed.next() => {
                    let Some(ev) = ev else { break };
                    let info = &ev.target_info;
                    tracker.touch_url(info.target_id.as_ref(), &info.url);
                }
            }
        }
    })
}

/// Reads a whole storage area of `origin` through a page's session (sorted by key).
pub(crate) async fn read_area(
    page: &chromiumoxide::Page,
    area: Area,
    origin: &str,
) -> Option<Vec<StorageItem>> {
    call_page(
        page,
        "DOMStorage.getDOMStorageItems",
        json!({"storageId": {"securityOrigin": origin, "isLocalStorage": area == Area::Local}}),
    )
    .await
    .ok()
    .map(|v| sorted(&pairs_to_items(v.get("entries").unwrap_or(&Value::Null))))
}

/// Every frame of a `Page.getFrameTree` answer, as `(url, frame id)`.
pub(crate) fn frame_urls_with_ids(tree: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![tree.get("frameTree").cloned().unwrap_or(Value::Null)];
    while let Some(node) = stack.pop() {
        if let (Some(u), Some(id)) = (
            node.pointer("/frame/url").and_then(Value::as_str),
            node.pointer("/frame/id").and_then(Value::as_str),
        ) {
            out.push((u.to_owned(), id.to_owned()));
        }
        if let Some(children) = node.get("childFrames").and_then(Value::as_array) {
            stack.extend(children.iter().cloned());
        }
    }
    out
}
