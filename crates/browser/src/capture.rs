//! Capturing a browser's state back: cookies, and the web storage of every origin that was
//! loaded or that a frame has been at, without disturbing pages or connected clients.

use std::collections::{BTreeMap, BTreeSet};

use chromiumoxide::Page;
use pvault_model::{BrowserState, OriginState, StorageItem};
use serde_json::{Value, json};

use crate::cdp::{call_browser, call_page, http_origin};
use crate::cookies::from_get_cookies;
use crate::report::CaptureReport;
use crate::stub::{StubPage, pairs_to_items};
use crate::{BrowserError, Session};

/// How a capture treats origins no live frame shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaptureMode {
    /// Reuse untouched known data; read touched origins through a stub page.
    Cached,
    /// Read every origin without a live frame through a stub page.
    Uncached,
    /// Never open a page: touched origins without a live frame keep their known data as
    /// updated by storage events (see `tracker.rs`), and stay touched for the next capture.
    Checkpoint,
}

impl Session {
    /// Captures cookies and the localStorage of every origin that was loaded or that a frame has
    /// been at, without disturbing pages or connected clients.
    pub async fn capture(&self) -> Result<(BrowserState, CaptureReport), BrowserError> {
        self.guard(self.capture_with(CaptureMode::Cached)).await
    }

    /// A capture for a checkpoint: like [`Session::capture`] but it never opens a page, so
    /// nothing a client can see happens. An origin a page wrote to and left since the last
    /// read is taken from the `DOMStorage` events seen meanwhile (counted in
    /// [`CaptureReport::origins_from_events`]); the next full capture reads it exactly.
    pub async fn capture_checkpoint(&self) -> Result<(BrowserState, CaptureReport), BrowserError> {
        self.guard(self.capture_with(CaptureMode::Checkpoint)).await
    }

    /// Like [`Session::capture`] but reads every origin from the browser, reusing nothing:
    /// for verification (it costs a stub-page visit per origin without a live frame).
    pub async fn capture_uncached(&self) -> Result<(BrowserState, CaptureReport), BrowserError> {
        self.guard(self.capture_with(CaptureMode::Uncached)).await
    }

    async fn capture_with(
        &self,
        mode: CaptureMode,
    ) -> Result<(BrowserState, CaptureReport), BrowserError> {
        let mut report = CaptureReport::default();
        let raw = call_browser(&self.browser, "Storage.getCookies", json!({})).await?;
        let (cookies, bad) = from_get_cookies(&raw);
        report.cookies_failed = bad;

        let (touched, known, counts) = self.tracker.take_for_capture();
        let live = self.live_frames().await;
        let mut result: BTreeMap<String, Vec<StorageItem>> = BTreeMap::new();
        let mut need_stub: Vec<String> = Vec::new();
        // Checkpoint mode: origins whose data came from events, left touched for the next read.
        let mut estimated: Vec<String> = Vec::new();
        let all: BTreeSet<String> = known
            .keys()
            .cloned()
            .chain(touched.iter().cloned())
            .chain(live.keys().cloned())
            .collect();
        for origin in all {
            if let Some(pages) = live.get(&origin) {
                match read_live(pages, &origin).await {
                    Some(items) => {
                        report.origins_read_live += 1;
                        result.insert(origin, items);
                    }
                    // The page left the origin between the frame tree and the read (a busy
                    // script does that all the time): a checkpoint must still open no page,
                    // so it takes what the storage events said, as for any origin left.
                    None if mode == CaptureMode::Checkpoint => {
                        report.origins_from_events += 1;
                        estimated.push(origin.clone());
                        if let Some(items) = known.get(&origin) {
                            result.insert(origin, items.clone());
                        }
                    }
                    None => need_stub.push(origin),
                }
            } else if mode == CaptureMode::Checkpoint {
                if touched.contains(&origin) {
                    report.origins_from_events += 1;
                    estimated.push(origin.clone());
                } else {
                    report.origins_reused += 1;
                }
                if let Some(items) = known.get(&origin) {
                    result.insert(origin, items.clone());
                }
            } else if mode == CaptureMode::Uncached
                || touched.contains(&origin)
                || !known.contains_key(&origin)
            {
                need_stub.push(origin);
            } else {
                report.origins_reused += 1;
                result.insert(origin.clone(), known[&origin].clone());
            }
        }
        if !need_stub.is_empty() {
            match StubPage::open(&self.browser, self.tracker.clone()).await {
                Ok(stub) => {
                    for origin in need_stub {
                        match stub.read(&origin).await {
                            Ok(items) => {
                                report.origins_read_stub += 1;
                                result.insert(origin, items);
                            }
                            Err(e) => {
                                self.capture_failed(&mut report, &mut result, &known, origin, e)
                            }
                        }
                    }
                    stub.close(&self.browser).await;
                }
                Err(e) => {
                    for origin in need_stub {
                        self.capture_failed(
                            &mut report,
                            &mut result,
                            &known,
                            origin,
                            e.to_string(),
                        );
                    }
                }
            }
        }
        for (origin, items) in &result {
            if !estimated.contains(origin) {
                self.tracker.set_read(origin, items.clone(), &counts);
            }
        }
        // A frame still at an origin may change it at any moment.
        self.tracker.retouch(live.into_keys().chain(estimated));
        let origins = result
            .into_iter()
            .filter(|(_, items)| !items.is_empty())
            .map(|(origin, local_storage)| OriginState {
                origin,
                local_storage,
                session_storage: None,
                indexed_db: None,
                extra: Default::default(),
            })
            .collect();
        Ok((BrowserState { cookies, origins }, report))
    }

    fn capture_failed(
        &self,
        report: &mut CaptureReport,
        result: &mut BTreeMap<String, Vec<StorageItem>>,
        known: &BTreeMap<String, Vec<StorageItem>>,
        origin: String,
        err: impl ToString,
    ) {
        self.tracker.retouch([origin.clone()]);
        if let Some(k) = known.get(&origin) {
            result.insert(origin.clone(), k.clone());
        }
        report.origins_failed.push((origin, err.to_string()));
    }

    /// Every http(s) origin a frame of a (non-stub) page is at now, with the pages showing it.
    async fn live_frames(&self) -> BTreeMap<String, Vec<Page>> {
        let mut out: BTreeMap<String, Vec<Page>> = BTreeMap::new();
        let Ok(pages) = self.browser.pages().await else {
            return out;
        };
        for page in pages {
            if self.tracker.is_internal(page.target_id().as_ref()) {
                continue;
            }
            let Ok(tree) = call_page(&page, "Page.getFrameTree", json!({})).await else {
                continue;
            };
            let mut stack = vec![tree.get("frameTree").cloned().unwrap_or(Value::Null)];
            while let Some(node) = stack.pop() {
                let url = node
                    .pointer("/frame/url")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if let Some(o) = http_origin(url) {
                    let e = out.entry(o).or_default();
                    if !e.iter().any(|p| p.target_id() == page.target_id()) {
                        e.push(page.clone());
                    }
                }
                if let Some(children) = node.get("childFrames").and_then(Value::as_array) {
                    stack.extend(children.iter().cloned());
                }
            }
        }
        out
    }
}

/// Reads an origin's localStorage through a live frame's page session.
async fn read_live(pages: &[Page], origin: &str) -> Option<Vec<StorageItem>> {
    for page in pages {
        let r = call_page(
            page,
            "DOMStorage.getDOMStorageItems",
            json!({"storageId": {"securityOrigin": origin, "isLocalStorage": true}}),
        )
        .await;
        if let Ok(v) = r {
            return Some(pairs_to_items(v.get("entries").unwrap_or(&Value::Null)));
        }
    }
    None
}
