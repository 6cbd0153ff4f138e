//! The target task: which page targets are open, and the URLs they are at, from the
//! browser-level target events of a connection of our own (the pages' own events come on our
//! page connection, `tabs/`); and reads of a page's frames and storage for captures.

use std::sync::Arc;

use pvault_model::StorageItem;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::BrowserError;
use crate::cdp::call_page;
use crate::endpoint::{CdpEndpoint, Link};
use crate::report::sorted;
use crate::stub::pairs_to_items;
use crate::tracker::{Area, Tracker};

/// Starts the target task; it ends when the connection closes or it is aborted.
///
/// Target lifecycle events (`targetCreated` / `targetInfoChanged` / `targetDestroyed`) come
/// from a CDP connection of our own with `Target.setDiscoverTargets`, not from chromiumoxide's
/// browser-level listeners: chromiumoxide 0.9 hands browser-level events to their listeners
/// only while it knows at least one target, so the `targetDestroyed` of the last page (the
/// event that says a person closed the last window) stayed queued forever whenever no other
/// target existed (seen on Chromium 148, headless). One connection also keeps the three in
/// the order Chrome sent them. `setDiscoverTargets` first reports every target that exists.
pub(crate) async fn spawn(
    tracker: Arc<Tracker>,
    endpoint: &CdpEndpoint,
) -> Result<JoinHandle<()>, BrowserError> {
    let (mut sink, mut stream) = Link::open(endpoint).await?.split();
    let discover = json!({"id": 1, "method": "Target.setDiscoverTargets",
        "params": {"discover": true}});
    if !sink.send(discover.to_string()).await {
        return Err(BrowserError::cdp(
            "Target.setDiscoverTargets",
            "the connection closed",
        ));
    }
    Ok(tokio::spawn(async move {
        // Kept open: dropping the sender would close our connection.
        let _sink = sink;
        while let Some(text) = stream.recv().await {
            let Ok(msg) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let params = &msg["params"];
            let info = &params["targetInfo"];
            let target = info["targetId"].as_str().unwrap_or_default();
            let url = info["url"].as_str().unwrap_or_default();
            match msg["method"].as_str().unwrap_or_default() {
                "Target.targetCreated" => {
                    tracker.touch_url(target, url);
                    if info["type"] == "page" {
                        tracker.page_opened(target);
                    }
                }
                "Target.targetInfoChanged" => tracker.touch_url(target, url),
                "Target.targetDestroyed" => {
                    if let Some(t) = params["targetId"].as_str() {
                        tracker.target_closed(t);
                    }
                }
                _ => {}
            }
        }
    }))
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
