//! Loading a [`BrowserState`] into a browser: cookies with one verified `Storage.setCookies`,
//! localStorage and IndexedDB through background stub pages (before any page of a fresh
//! session runs: the session is handed out only after), sessionStorage through `tabs/`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use pvault_model::{BrowserState, Cookie, OriginState, StorageItem};
use serde_json::{Value, json};

use crate::cdp::call_browser;
use crate::cookies::{cookie_problem, from_get_cookies, key_of, now_unix, to_cookie_param};
use crate::report::{LoadMethod, LoadReport, sorted, valid_origins};
use crate::stub::StubPage;
use crate::{BrowserError, Session, indexed_db};

impl Session {
    /// Loads `state` into this running browser without disturbing its pages or clients:
    /// cookies with one `Storage.setCookies`, localStorage and IndexedDB through background
    /// stub pages (databases of the same name are replaced), sessionStorage for the
    /// tabs opened from now on.
    pub async fn load_state(&self, state: &BrowserState) -> Result<LoadReport, BrowserError> {
        self.guard(self.load(state, false, false)).await
    }

    /// `fresh`: the browser had no state before, so what was loaded is all there is (and is
    /// kept as known even where writing it failed: a save must not drop what a failed load
    /// did not put in). `local_on_disk`: localStorage was written into Chrome's database
    /// before launch.
    pub(crate) async fn load(
        &self,
        state: &BrowserState,
        fresh: bool,
        local_on_disk: bool,
    ) -> Result<LoadReport, BrowserError> {
        let (origins, bad_origins) = valid_origins(&state.origins);
        let t = std::time::Instant::now();
        let cookies = async {
            let r = self.load_cookies(&state.cookies).await;
            tracing::debug!(
                ms = t.elapsed().as_millis() as u64,
                n = state.cookies.len(),
                "cookies loaded"
            );
            r
        };
        let storage = async {
            let r = self.load_storage(&origins, fresh, local_on_disk).await;
            tracing::debug!(
                ms = t.elapsed().as_millis() as u64,
                n = origins.len(),
                local_on_disk,
                "storage loaded"
            );
            r
        };
        let (cookies, storage) = tokio::join!(cookies, storage);
        let (cookies_loaded, cookies_rejected) = cookies?;
        let storage = storage?;
        let mut origins_failed = bad_origins;
        origins_failed.extend(storage.failed);
        Ok(LoadReport {
            cookies_loaded,
            cookies_rejected,
            origins_loaded: if local_on_disk {
                origins
                    .iter()
                    .filter(|o| !o.local_storage.is_empty())
                    .count()
            } else {
                storage.local_origins
            },
            session_storage_origins: storage.session_origins,
            indexed_db_databases: storage.databases,
            indexed_db_records: storage.records,
            origins_failed,
            method: if local_on_disk {
                LoadMethod::OnDisk
            } else {
                LoadMethod::StubPage
            },
        })
    }

    /// Loads every origin's web storage; see [`Session::load`].
    async fn load_storage(
        &self,
        origins: &[OriginState],
        fresh: bool,
        local_on_disk: bool,
    ) -> Result<StorageLoad, BrowserError> {
        let mut out = StorageLoad::default();
        let session: BTreeMap<String, Vec<StorageItem>> = origins
            .iter()
            .filter(|o| !o.session_items().is_empty())
            .map(|o| (o.origin.clone(), o.session_items().to_vec()))
            .collect();
        if !session.is_empty() {
            out.session_origins = self.tabs.hand_out(&session).await;
        }
        let write_local = |o: &OriginState| !local_on_disk && !o.local_storage.is_empty();
        let mut todo: Vec<&OriginState> = origins
            .iter()
            .filter(|o| write_local(o) || !o.databases().is_empty())
            .collect();
        if !todo.is_empty() {
            // Origins are written in parallel through up to STUB_PAGES stub pages, each taking
            // the next origin when it is done, the ones with most IndexedDB records first:
            // IndexedDB writes of different origins go to different backing stores and
            // overlap (a record costs about 0.1 ms of round trips to Chrome's storage
            // service, so 10,000 records in one page take a second).
            todo.sort_by_key(|o| std::cmp::Reverse(idb_records(o)));
            let lanes = todo.len().min(STUB_PAGES);
            let next = AtomicUsize::new(0);
            // Each lane opens its stub page and starts on the next origin at once (its first
            // origin costs a target and a renderer process: the lanes must not wait for the
            // slowest). A lane whose page does not open takes nothing;
            // what no lane could take is reported with the last opening error.
            let lane_results = futures::future::join_all((0..lanes).map(|_| async {
                let mut out = StorageLoad::default();
                let t = std::time::Instant::now();
                let mut stub = StubPage::open(&self.endpoint, self.tracker.clone()).await;
                tracing::debug!(ms = t.elapsed().as_millis() as u64, "stub page opened");
                if let Ok(stub) = &mut stub {
                    while let Some(o) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                        self.load_origin(stub, o, fresh, local_on_disk, &mut out)
                            .await;
                    }
                }
                (stub, out)
            }))
            .await;
            let mut results = Vec::with_capacity(lanes);
            let mut open_err = None;
            // One at a time: a stub page that is the browser's last page is replaced first.
            for (stub, r) in lane_results {
                match stub {
                    Ok(stub) => stub.close().await,
                    Err(e) => open_err = Some(e),
                }
                results.push(r);
            }
            if let Some(e) = open_err {
                let taken = next.load(Ordering::Relaxed);
                for o in todo.iter().skip(taken) {
                    out.failed
                        .push((o.origin.clone(), format!("web storage: {e}")));
                }
            }
            for r in results {
                out.local_origins += r.local_origins;
                out.databases += r.databases;
                out.records += r.records;
                out.failed.extend(r.failed);
            }
        }
        for o in origins {
            self.tracker
                .set_known_session(&o.origin, sorted(o.session_items()));
            if fresh {
                self.tracker.set_known(&o.origin, sorted(&o.local_storage));
                self.tracker.set_known_idb(
                    &o.origin,
                    o.indexed_db.clone().unwrap_or_default(),
                    None,
                );
            } else {
                // Data already there makes the known data partial: read it next time.
                self.tracker.retouch([o.origin.clone()]);
            }
        }
        Ok(out)
    }

    /// Writes localStorage (unless already on disk) and IndexedDB of `o` through `stub`,
    /// adding what happened to `out`.
    async fn load_origin(
        &self,
        stub: &mut StubPage,
        o: &OriginState,
        fresh: bool,
        local_on_disk: bool,
        out: &mut StorageLoad,
    ) {
        let write_local = !local_on_disk && !o.local_storage.is_empty();
        let t0 = std::time::Instant::now();
        if let Err(e) = stub.goto(&o.origin).await {
            if write_local {
                out.failed
                    .push((o.origin.clone(), format!("localStorage: {e}")));
            }
            if !o.databases().is_empty() {
                out.failed
                    .push((o.origin.clone(), format!("IndexedDB: {e}")));
            }
            return;
        }
        let t1 = std::time::Instant::now();
        if write_local {
            match stub.write_local(&o.local_storage).await {
                Ok(()) => out.local_origins += 1,
                Err(e) => out
                    .failed
                    .push((o.origin.clone(), format!("localStorage: {e}"))),
            }
        }
        if !o.databases().is_empty() {
            match indexed_db::restore(indexed_db::Doc::Stub(stub), o.databases(), !fresh).await {
                Ok(r) => {
                    out.databases += o.databases().len();
                    out.records += r.records;
                    out.failed.extend(
                        r.failures
                            .into_iter()
                            .map(|f| (o.origin.clone(), format!("IndexedDB {f}"))),
                    );
                }
                Err(e) => out
                    .failed
                    .push((o.origin.clone(), format!("IndexedDB: {e}"))),
            }
        }
        tracing::debug!(
            goto_ms = (t1 - t0).as_millis() as u64,
            write_ms = t1.elapsed().as_millis() as u64,
            "web storage of an origin loaded"
        );
    }

    /// Validates, sets with one `Storage.setCookies`, then counts what Chrome kept.
    pub(crate) async fn load_cookies(
        &self,
        cookies: &[Cookie],
    ) -> Result<(usize, Vec<(String, String, String)>), BrowserError> {
        let now = now_unix();
        let mut rejected = Vec::new();
        let mut valid: Vec<&Cookie> = Vec::new();
        for c in cookies {
            match cookie_problem(c, now) {
                Some(reason) => rejected.push((c.name.clone(), c.domain.clone(), reason)),
                None => valid.push(c),
            }
        }
        if valid.is_empty() {
            return Ok((0, rejected));
        }
        let params: Vec<Value> = valid.iter().map(|c| to_cookie_param(c)).collect();
        let batch = call_browser(
            &self.browser,
            "Storage.setCookies",
            json!({"cookies": params}),
        )
        .await;
        if let Err(batch_err) = batch {
            // One bad cookie fails the whole batch: find it by setting them one at a time.
            tracing::debug!("setCookies batch failed ({batch_err}); retrying one by one");
            let mut kept = Vec::new();
            for (c, p) in valid.iter().zip(params) {
                match call_browser(&self.browser, "Storage.setCookies", json!({"cookies": [p]}))
                    .await
                {
                    Ok(_) => kept.push(*c),
                    Err(e) => rejected.push((
                        c.name.clone(),
                        c.domain.clone(),
                        format!("Chrome refused it: {e}"),
                    )),
                }
            }
            valid = kept;
        }
        let now_in = call_browser(&self.browser, "Storage.getCookies", json!({})).await?;
        let (present, _) = from_get_cookies(&now_in);
        let keys: BTreeSet<_> = present.iter().map(key_of).collect();
        let mut loaded = 0;
        for c in valid {
            if keys.contains(&key_of(c)) {
                loaded += 1;
            } else {
                rejected.push((
                    c.name.clone(),
                    c.domain.clone(),
                    "silently dropped by Chrome after Storage.setCookies (e.g. over its limit of 180 cookies per site)".into(),
                ));
            }
        }
        Ok((loaded, rejected))
    }
}

/// IndexedDB records of an origin: what its load costs, in the main.
fn idb_records(o: &OriginState) -> usize {
    o.databases()
        .iter()
        .flat_map(|d| &d.stores)
        .map(|s| s.records.len())
        .sum()
}

/// Stub pages a load writes through at the same time.
const STUB_PAGES: usize = 6;

/// What loading web storage did.
#[derive(Default)]
struct StorageLoad {
    /// Origins whose localStorage was written through the stub page.
    local_origins: usize,
    /// Origins whose sessionStorage new tabs get.
    session_origins: usize,
    /// IndexedDB databases written.
    databases: usize,
    /// IndexedDB records written.
    records: usize,
    /// What failed, as `(origin, "part: reason")`.
    failed: Vec<(String, String)>,
}
