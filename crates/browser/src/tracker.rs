//! Which origins may have changed localStorage since it was last loaded or read.
//!
//! An origin no frame has been at since its data was loaded or last captured cannot have
//! changed, so capture reuses the known data instead of visiting it. Signals: every page
//! target's `Page.frameNavigated` (pages of other CDP clients too: chromiumoxide attaches to
//! every page target it discovers), and the browser-level `Target.targetCreated` /
//! `targetInfoChanged` (which also covers out-of-process iframes). Capture additionally reads
//! every frame that is live at that moment, so a missed event cannot lose a change made by a
//! page that is still open.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::Browser;
use chromiumoxide::cdp::browser_protocol::page::EventFrameNavigated;
use chromiumoxide::cdp::browser_protocol::target::{
    EventTargetCreated, EventTargetInfoChanged, TargetId,
};
use futures::StreamExt;
use pvault_model::StorageItem;
use tokio::task::JoinHandle;

use crate::cdp::http_origin;

/// Shared tracking state.
#[derive(Default)]
pub(crate) struct Tracker {
    inner: Mutex<TrackerState>,
}

#[derive(Default)]
struct TrackerState {
    /// Origins a frame has been at since their data was last loaded or read.
    touched: BTreeSet<String>,
    /// Last loaded or captured localStorage per origin (empty vec = known to be empty).
    known: BTreeMap<String, Vec<StorageItem>>,
    /// Our own stub pages, whose navigations change nothing.
    internal: HashSet<String>,
    /// Page targets that already have a navigation listener.
    watched: HashSet<String>,
}

impl std::fmt::Debug for Tracker {
    // Hand-written: `known` holds storage values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tracker { .. }")
    }
}

impl Tracker {
    fn with<R>(&self, f: impl FnOnce(&mut TrackerState) -> R) -> R {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    pub(crate) fn touch_url(&self, target: &str, url: &str) {
        if let Some(o) = http_origin(url) {
            self.with(|s| {
                if !s.internal.contains(target) {
                    s.touched.insert(o);
                }
            });
        }
    }

    pub(crate) fn set_internal(&self, target: &str, internal: bool) {
        self.with(|s| {
            if internal {
                s.internal.insert(target.to_owned());
            } else {
                s.internal.remove(target);
            }
        });
    }

    pub(crate) fn is_internal(&self, target: &str) -> bool {
        self.with(|s| s.internal.contains(target))
    }

    /// Records data just loaded into or read from the browser.
    pub(crate) fn set_known(&self, origin: &str, items: Vec<StorageItem>) {
        self.with(|s| {
            s.known.insert(origin.to_owned(), items);
        });
    }

    /// Takes the touched set (navigations during capture re-add) and a copy of known data.
    pub(crate) fn take_for_capture(
        &self,
    ) -> (BTreeSet<String>, BTreeMap<String, Vec<StorageItem>>) {
        self.with(|s| (std::mem::take(&mut s.touched), s.known.clone()))
    }

    /// Puts origins back as touched (a failed read, or a frame still live there).
    pub(crate) fn retouch(&self, origins: impl IntoIterator<Item = String>) {
        self.with(|s| s.touched.extend(origins));
    }

    fn start_watch(&self, target: &str) -> bool {
        self.with(|s| s.watched.insert(target.to_owned()))
    }
}

/// Starts the tracking task; it ends when the connection closes or it is aborted.
pub(crate) fn spawn(browser: Arc<Browser>, tracker: Arc<Tracker>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let (Ok(mut created), Ok(mut changed)) = (
            browser.event_listener::<EventTargetCreated>().await,
            browser.event_listener::<EventTargetInfoChanged>().await,
        ) else {
            return;
        };
        // Pages that existed before the listeners were registered.
        if let Ok(pages) = browser.pages().await {
            for p in pages {
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
                        watch_page(&browser, &tracker, info.target_id.clone());
                    }
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
        while let Some(ev) = navs.next().await {
            tracker.touch_url(target.as_ref(), &ev.frame.url);
        }
    });
}
