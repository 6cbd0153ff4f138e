//! The tracking task: which CDP events of which targets feed the [`Tracker`], and the reads
//! it makes on its own (a whole storage area at the first event of an origin, so events
//! applied afterwards are complete).

use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::Browser;
use chromiumoxide::cdp::browser_protocol::dom_storage::{
    EventDomStorageItemAdded, EventDomStorageItemRemoved, EventDomStorageItemUpdated,
    EventDomStorageItemsCleared, StorageId,
};
use chromiumoxide::cdp::browser_protocol::page::EventFrameNavigated;
use chromiumoxide::cdp::browser_protocol::storage::{
    EventIndexedDbContentUpdated, EventIndexedDbListUpdated,
};
use chromiumoxide::cdp::browser_protocol::target::TargetId;
use futures::StreamExt;
use pvault_model::StorageItem;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::BrowserError;
use crate::cdp::{call_page, http_origin};
use crate::endpoint::{CdpEndpoint, Link};
use crate::report::sorted;
use crate::stub::pairs_to_items;
use crate::tracker::{Area, StorageChange, Tracker};

/// Starts the tracking task; it ends when the connection closes or it is aborted.
///
/// Target lifecycle events (`targetCreated` / `targetInfoChanged` / `targetDestroyed`) come
/// from a CDP connection of our own with `Target.setDiscoverTargets`, not from chromiumoxide's
/// browser-level listeners: chromiumoxide 0.9 hands browser-level events to their listeners
/// only while it knows at least one target, so the `targetDestroyed` of the last page (the
/// event that says a person closed the last window) stayed queued forever whenever no other
/// target existed (seen on Chromium 148, headless). One connection also keeps the three in
/// the order Chrome sent them. `setDiscoverTargets` first reports every target that exists.
pub(crate) async fn spawn(
    browser: Arc<Browser>,
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
                        watch_page(&browser, &tracker, TargetId::from(target.to_owned()));
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

/// Subscribes to every frame navigation of one page target.
fn watch_page(browser: &Arc<Browser>, tracker: &Arc<Tracker>, target: TargetId) {
    if !tracker.start_watch(target.as_ref()) {
        return;
    }
    let browser = browser.clone();
    let tracker = tracker.clone();
    tokio::spawn(async move {
        // chromiumoxide hands out a page once it has attached to it: wait for that, bounded.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let page = loop {
            match browser.get_page(target.clone()).await {
                Ok(p) => break p,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(_) => return,
            }
        };
        let Ok(mut navs) = page.event_listener::<EventFrameNavigated>().await else {
            return;
        };
        let (Ok(mut idb_content), Ok(mut idb_list)) = (
            page.event_listener::<EventIndexedDbContentUpdated>().await,
            page.event_listener::<EventIndexedDbListUpdated>().await,
        ) else {
            return;
        };
        let (Ok(mut added), Ok(mut removed), Ok(mut updated), Ok(mut cleared)) = (
            page.event_listener::<EventDomStorageItemAdded>().await,
            page.event_listener::<EventDomStorageItemRemoved>().await,
            page.event_listener::<EventDomStorageItemUpdated>().await,
            page.event_listener::<EventDomStorageItemsCleared>().await,
        ) else {
            return;
        };
        // On our own session only: other clients' sessions are unaffected.
        if let Err(e) = call_page(&page, "DOMStorage.enable", json!({})).await {
            tracing::debug!("DOMStorage.enable on a page failed: {e}");
        }
        let t = target.as_ref();
        // Frames already there before the listener (a page opened with a URL).
        if let Ok(tree) = call_page(&page, "Page.getFrameTree", json!({})).await {
            for url in frame_urls(&tree) {
                track_indexed_db(&page, &tracker, t, &url).await;
            }
        }
        loop {
            let (id, change) = tokio::select! {
                ev = navs.next() => match ev {
                    Some(ev) => {
                        tracker.touch_url(t, &ev.frame.url);
                        track_indexed_db(&page, &tracker, t, &ev.frame.url).await;
                        continue;
                    }
                    None => break,
                },
                Some(ev) = idb_content.next() => {
                    if !tracker.is_internal(t) && let Some(o) = http_origin(&ev.origin) {
                        tracker.idb_changed(&o);
                    }
                    continue;
                }
                Some(ev) = idb_list.next() => {
                    if !tracker.is_internal(t) && let Some(o) = http_origin(&ev.origin) {
                        tracker.idb_changed(&o);
                    }
                    continue;
                }
                Some(ev) = added.next() => (ev.storage_id.clone(), StorageChange::Set {
                    key: ev.key.clone(),
                    value: ev.new_value.clone(),
                }),
                Some(ev) = updated.next() => (ev.storage_id.clone(), StorageChange::Set {
                    key: ev.key.clone(),
                    value: ev.new_value.clone(),
                }),
                Some(ev) = removed.next() => (ev.storage_id.clone(), StorageChange::Remove {
                    key: ev.key.clone(),
                }),
                Some(ev) = cleared.next() => (ev.storage_id.clone(), StorageChange::Clear),
            };
            let Some(origin) = storage_origin(&id) else {
                // A partitioned (third-party) area: not captured, but a sign that the page is
                // active.
                tracker.bump();
                continue;
            };
            let area = if id.is_local_storage {
                Area::Local
            } else {
                Area::Session
            };
            // sessionStorage is per tab: the first event of this tab is read whole too.
            let first_of_tab = area == Area::Session && !tracker.is_session_tab(&origin, t);
            if tracker.is_known(area, &origin) && !first_of_tab {
                tracker.storage_changed(t, area, &origin, change);
                continue;
            }
            // First event of an origin nobody read: the page is there now, so read it whole.
            match read_area(&page, area, &origin).await {
                Some(items) => tracker.seed(t, area, &origin, items),
                None => tracker.storage_changed(t, area, &origin, change),
            }
        }
    });
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

/// Turns on IndexedDB change events for the origin of `url` on our session of a page, once
/// per page and origin.
async fn track_indexed_db(page: &chromiumoxide::Page, tracker: &Tracker, target: &str, url: &str) {
    let Some(origin) = http_origin(url) else {
        return;
    };
    if tracker.is_internal(target) || !tracker.start_idb_tracking(target, &origin) {
        return;
    }
    if let Err(e) = call_page(
        page,
        "Storage.trackIndexedDBForOrigin",
        json!({"origin": origin}),
    )
    .await
    {
        tracing::debug!("Storage.trackIndexedDBForOrigin failed: {e}");
    }
}

/// Every frame URL of a `Page.getFrameTree` answer.
fn frame_urls(tree: &Value) -> Vec<String> {
    frame_urls_with_ids(tree)
        .into_iter()
        .map(|(u, _)| u)
        .collect()
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

/// The first-party http(s) origin of a web storage area, from `securityOrigin` or a storage
/// key without a top-level-site part (`^…` marks a partitioned, third-party key).
fn storage_origin(id: &StorageId) -> Option<String> {
    if let Some(o) = id.security_origin.as_deref().filter(|o| !o.is_empty()) {
        return http_origin(o);
    }
    let key = id.storage_key.as_ref()?.inner();
    if key.contains('^') {
        return None;
    }
    http_origin(key)
}
