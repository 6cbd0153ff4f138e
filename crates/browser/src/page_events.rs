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
use chromiumoxide::cdp::browser_protocol::target::{
    EventTargetCreated, EventTargetDestroyed, EventTargetInfoChanged, TargetId,
};
use futures::StreamExt;
use pvault_model::StorageItem;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::cdp::{call_page, http_origin};
use crate::report::sorted;
use crate::stub::pairs_to_items;
use crate::tracker::{Area, StorageChange, Tracker};

/// Starts the tracking task; it ends when the connection closes or it is aborted.
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
                watch_page(&browser, &tracker, p.target_id().clone());
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
                        watch_page(&browser, &tracker, info.target_id.clone());
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
