//! Capturing a browser's state back: cookies, and the localStorage, sessionStorage and
//! IndexedDB of every origin that was loaded or that a frame has been at, without disturbing
//! pages or connected clients.
//!
//! Per origin, each part is read where it can be read without a visible side effect, or kept
//! as known (loaded, last read, or kept up to date by events): a part that was not read back
//! is never dropped. localStorage: `DOMStorage` on a live page, else the stub page.
//! sessionStorage: `DOMStorage` on the tab that changed it last (a stub page is a tab of its
//! own and has none of it). IndexedDB: the script of `indexed_db.rs` in an isolated world of a
//! live frame (a checkpoint only when Chrome reported a change), else the stub page.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chromiumoxide::Page;
use pvault_model::{BrowserState, IdbDatabase, OriginState, StorageItem};
use serde_json::json;

use crate::cdp::{call_browser, call_page, http_origin};
use crate::cookies::from_get_cookies;
use crate::page_events::{frame_urls_with_ids, read_area};
use crate::report::CaptureReport;
use crate::stub::StubPage;
use crate::tracker::{Area, CaptureBase};
use crate::{BrowserError, Session, indexed_db};

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

    /// What the session knows of `origin`'s localStorage and sessionStorage without reading
    /// it now (loaded, last read, or kept up to date by storage events): what a checkpoint
    /// takes once no page is at the origin. For tests.
    #[doc(hidden)]
    pub fn known_storage(&self, origin: &str) -> (Vec<StorageItem>, Vec<StorageItem>) {
        self.tracker.known_storage(origin)
    }

    async fn capture_with(
        &self,
        mode: CaptureMode,
    ) -> Result<(BrowserState, CaptureReport), BrowserError> {
        let mut report = CaptureReport::default();
        let raw = call_browser(&self.browser, "Storage.getCookies", json!({})).await?;
        let (cookies, bad) = from_get_cookies(&raw);
        report.cookies_failed = bad;

        let base = self.tracker.take_for_capture();
        let live = self.live_frames().await;
        let mut result: BTreeMap<String, Parts> = BTreeMap::new();
        let mut need_stub: Vec<String> = Vec::new();
        // Checkpoint mode: origins whose data came from events, left touched for the next read.
        let mut estimated: Vec<String> = Vec::new();
        let known = &base.known;
        let all: BTreeSet<String> = known
            .local
            .keys()
            .chain(known.session.keys())
            .chain(known.idb.keys())
            .chain(base.touched.iter())
            .chain(live.keys())
            .cloned()
            .collect();
        for origin in all {
            let mut parts = Parts::known(known, &origin);
            let touched = base.touched.contains(&origin);
            if let Some(frames) = live.get(&origin) {
                self.read_live(&base, mode, &origin, frames, &mut parts)
                    .await;
                if parts.local_read.is_none() {
                    // The page left the origin between the frame tree and the read (a busy
                    // script does that all the time): a checkpoint must still open no page,
                    // so it takes what the storage events said, as for any origin left.
                    if mode == CaptureMode::Checkpoint {
                        report.origins_from_events += 1;
                        estimated.push(origin.clone());
                    } else {
                        need_stub.push(origin.clone());
                    }
                } else if parts.idb_unread.is_some() {
                    // IndexedDB could not be read in a live frame: the stub page tries.
                    need_stub.push(origin.clone());
                } else {
                    report.origins_read_live += 1;
                }
            } else if mode == CaptureMode::Checkpoint {
                if touched {
                    report.origins_from_events += 1;
                    estimated.push(origin.clone());
                } else {
                    report.origins_reused += 1;
                }
            } else if mode == CaptureMode::Uncached || touched || !known.local.contains_key(&origin)
            {
                need_stub.push(origin.clone());
            } else {
                report.origins_reused += 1;
            }
            result.insert(origin, parts);
        }
        if !need_stub.is_empty() {
            self.read_through_stub(&base, need_stub, &mut result, &mut report)
                .await;
        }
        for (origin, parts) in &mut result {
            if let Some(items) = parts.local_read.take() {
                if !estimated.contains(origin) {
                    self.tracker
                        .set_read(Area::Local, origin, items.clone(), &base.counts);
                }
                parts.local = items;
            }
            if let Some(items) = parts.session_read.take() {
                self.tracker
                    .set_read(Area::Session, origin, items.clone(), &base.session_counts);
                parts.session = items;
            }
            if let Some(dbs) = parts.idb_read.take() {
                let dbs = Arc::new(dbs);
                self.tracker
                    .set_known_idb(origin, dbs.clone(), Some(&base.idb_dirty));
                parts.idb = dbs;
            }
        }
        // A frame still at an origin may change it at any moment.
        self.tracker.retouch(live.into_keys().chain(estimated));
        let origins: Vec<OriginState> = result
            .into_iter()
            .map(|(origin, p)| OriginState {
                origin,
                local_storage: p.local,
                session_storage: Some(p.session).filter(|s| !s.is_empty()),
                indexed_db: Some(p.idb).filter(|d| !d.is_empty()),
                extra: Default::default(),
            })
            .filter(|o| !o.is_empty())
            .collect();
        report.count(&origins);
        Ok((
            BrowserState {
                cookies,
                origins,
                source: None,
            },
            report,
        ))
    }

    /// Reads what can be read of `origin` through the live frames showing it.
    async fn read_live(
        &self,
        base: &CaptureBase,
        mode: CaptureMode,
        origin: &str,
        frames: &[LiveFrame],
        parts: &mut Parts,
    ) {
        let pages: Vec<&Page> = frames.iter().map(|f| &f.page).collect();
        for page in &pages {
            if let Some(items) = read_area(page, Area::Local, origin).await {
                parts.local_read = Some(items);
                break;
            }
        }
        // sessionStorage: the tab that changed it last, if it is still at the origin. With no
        // event handled yet, a tab held by our page connection when it committed its first
        // document at the origin (it had the saved items then, and every change since is its
        // own: a logout whose events are still on their way is taken as it is), else the first
        // tab holding items other than the known ones (a write made before our `DOMStorage`
        // was on in that tab). An empty tab that was not held does not replace known items:
        // its first document may have run before the hand-off could seed it, and taking it
        // would drop the saved login.
        match base.session_tab.get(origin) {
            Some(tab) => {
                if let Some(page) = pages.iter().find(|p| p.target_id().as_ref() == tab)
                    && let Some(items) = read_area(page, Area::Session, origin).await
                {
                    parts.session_read = Some(items);
                }
            }
            None => {
                for page in &pages {
                    let held = self.tracker.is_held(page.target_id().as_ref(), origin);
                    if let Some(items) = read_area(page, Area::Session, origin).await
                        && (held || !items.is_empty())
                        && items != parts.session
                    {
                        parts.session_read = Some(items);
                        break;
                    }
                }
            }
        }
        let idb_needed = mode != CaptureMode::Checkpoint
            || base.idb_dirty.contains(origin)
            || !base.known.idb.contains_key(origin);
        if !idb_needed {
            return;
        }
        let mut last_err = None;
        for f in frames {
            let read = async {
                let ctx = indexed_db::isolated_world(&f.page, &f.frame_id).await?;
                indexed_db::collect(indexed_db::Doc::Live(&f.page, ctx), origin).await
            };
            match read.await {
                Ok(dbs) => {
                    parts.idb_read = Some(dbs);
                    return;
                }
                Err(e) => last_err = Some(e),
            }
        }
        if let Some(e) = last_err {
            if mode == CaptureMode::Checkpoint {
                // Kept as known; the origin stays dirty for the next capture.
                tracing::debug!("IndexedDB of a live frame not read: {e}");
            } else {
                parts.idb_unread = Some(e.to_string());
            }
        }
    }

    /// Reads localStorage and IndexedDB of origins no live frame could give, through one stub
    /// page. sessionStorage stays as known: the stub page is a tab of its own.
    async fn read_through_stub(
        &self,
        base: &CaptureBase,
        origins: Vec<String>,
        result: &mut BTreeMap<String, Parts>,
        report: &mut CaptureReport,
    ) {
        let mut stub = match StubPage::open(&self.endpoint, self.tracker.clone()).await {
            Ok(stub) => stub,
            Err(e) => {
                for origin in origins {
                    self.capture_failed(report, origin, e.to_string());
                }
                return;
            }
        };
        for origin in origins {
            let Some(parts) = result.get_mut(&origin) else {
                continue;
            };
            match stub.read(&origin).await {
                Ok(items) => {
                    report.origins_read_stub += 1;
                    parts.local_read = Some(items);
                }
                Err(e) => {
                    self.capture_failed(report, origin, e);
                    continue;
                }
            }
            let idb_wanted = parts.idb_unread.is_some()
                || base.touched.contains(&origin)
                || parts.idb.is_empty();
            if idb_wanted {
                match indexed_db::collect(indexed_db::Doc::Stub(&mut stub), &origin).await {
                    Ok(dbs) => {
                        parts.idb_unread = None;
                        parts.idb_read = Some(dbs);
                    }
                    Err(e) => {
                        self.tracker.retouch([origin.clone()]);
                        report
                            .origins_failed
                            .push((origin.clone(), format!("IndexedDB: {e}")));
                    }
                }
            }
        }
        for (origin, parts) in result.iter_mut() {
            if let Some(e) = parts.idb_unread.take() {
                self.tracker.retouch([origin.clone()]);
                report
                    .origins_failed
                    .push((origin.clone(), format!("IndexedDB: {e}")));
            }
        }
        stub.close().await;
    }

    /// Records a failed read of `origin`: its known data stays in the capture, and the origin
    /// stays touched so the next capture tries again.
    fn capture_failed(&self, report: &mut CaptureReport, origin: String, err: impl ToString) {
        self.tracker.retouch([origin.clone()]);
        report.origins_failed.push((origin, err.to_string()));
    }

    /// Every http(s) origin a frame of a (non-stub) page is at now, with those frames.
    async fn live_frames(&self) -> BTreeMap<String, Vec<LiveFrame>> {
        let mut out: BTreeMap<String, Vec<LiveFrame>> = BTreeMap::new();
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
            for (url, frame_id) in frame_urls_with_ids(&tree) {
                if let Some(o) = http_origin(&url) {
                    out.entry(o).or_default().push(LiveFrame {
                        page: page.clone(),
                        frame_id,
                    });
                }
            }
        }
        out
    }
}

/// A frame of a page, at some origin.
struct LiveFrame {
    /// The page (our CDP session of it).
    page: Page,
    /// The frame's id in that page.
    frame_id: String,
}

/// One origin's parts during a capture: the known data, and what was read.
struct Parts {
    /// localStorage as known.
    local: Vec<StorageItem>,
    /// sessionStorage as known.
    session: Vec<StorageItem>,
    /// IndexedDB as known.
    idb: Arc<Vec<IdbDatabase>>,
    /// localStorage read now.
    local_read: Option<Vec<StorageItem>>,
    /// sessionStorage read now.
    session_read: Option<Vec<StorageItem>>,
    /// IndexedDB read now.
    idb_read: Option<Vec<IdbDatabase>>,
    /// Why a live read of IndexedDB failed (the stub page gets a try).
    idb_unread: Option<String>,
}

impl Parts {
    fn known(known: &crate::tracker::Known, origin: &str) -> Parts {
        Parts {
            local: known.local.get(origin).cloned().unwrap_or_default(),
            session: known.session.get(origin).cloned().unwrap_or_default(),
            idb: known.idb.get(origin).cloned().unwrap_or_default(),
            local_read: None,
            session_read: None,
            idb_read: None,
            idb_unread: None,
        }
    }
}
