//! What loading and capturing report back, and the checks on origins before loading.

use pvault_model::{OriginState, StorageItem};

use crate::cdp::http_origin;

/// How localStorage was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMethod {
    /// Written into Chrome's on-disk database before launch.
    OnDisk,
    /// Written through a stub page over CDP.
    StubPage,
}

/// What a load did. Names and domains only: never cookie or storage values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Cookies Chrome holds after the load (sent and not dropped).
    pub cookies_loaded: usize,
    /// Cookies not loaded, as `(name, domain, reason)`.
    pub cookies_rejected: Vec<(String, String, String)>,
    /// Origins whose localStorage was loaded.
    pub origins_loaded: usize,
    /// Origins whose sessionStorage new tabs get (see `tabs/`).
    pub session_storage_origins: usize,
    /// IndexedDB databases written.
    pub indexed_db_databases: usize,
    /// IndexedDB records written.
    pub indexed_db_records: usize,
    /// What of an origin could not be loaded, as `(origin, "part: reason")`; the part is
    /// `localStorage`, `sessionStorage` or `IndexedDB <database>/<store> …`.
    pub origins_failed: Vec<(String, String)>,
    /// How localStorage was loaded.
    pub method: LoadMethod,
}

/// What a capture could not read. Empty lists mean the state is complete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureReport {
    /// Cookies Chrome reported that could not be mapped, as `(name, domain, reason)`.
    pub cookies_failed: Vec<(String, String, String)>,
    /// Origins whose localStorage could not be read, as `(origin, reason)`. When the origin
    /// had known data, that data is kept in the captured state.
    pub origins_failed: Vec<(String, String)>,
    /// Origins read from a live frame.
    pub origins_read_live: usize,
    /// Origins read through the stub page.
    pub origins_read_stub: usize,
    /// Origins whose loaded or last captured data was reused (no frame has been there since).
    pub origins_reused: usize,
    /// Checkpoint captures only: origins a page changed and left, taken as the `DOMStorage`
    /// events since the last read left them (a full capture reads them again).
    pub origins_from_events: usize,
    /// Origins with localStorage in the captured state.
    pub local_storage_origins: usize,
    /// Origins with sessionStorage in the captured state.
    pub session_storage_origins: usize,
    /// IndexedDB databases in the captured state.
    pub indexed_db_databases: usize,
    /// IndexedDB records in the captured state.
    pub indexed_db_records: usize,
    /// Records holding values that could not be serialized (kept by type name only, never
    /// loaded), as `origin database/store: N records (Blob, …)`.
    pub unsupported: Vec<String>,
}

impl CaptureReport {
    /// Fills the counts and the unsupported list from the captured origins.
    pub(crate) fn count(&mut self, origins: &[OriginState]) {
        for o in origins {
            self.local_storage_origins += usize::from(!o.local_storage.is_empty());
            self.session_storage_origins += usize::from(!o.session_items().is_empty());
            self.indexed_db_databases += o.databases().len();
            for db in o.databases() {
                for store in &db.stores {
                    self.indexed_db_records += store.records.len();
                    let mut names = std::collections::BTreeSet::new();
                    let mut n = 0;
                    for r in &store.records {
                        let info = r.value_info();
                        if !info.unsupported.is_empty() {
                            n += 1;
                            names.extend(info.unsupported);
                        }
                    }
                    if n > 0 {
                        self.unsupported.push(format!(
                            "{} {}/{}: {n} record{} holding {} (kept by type name only)",
                            o.origin,
                            db.name,
                            store.name,
                            if n == 1 { "" } else { "s" },
                            names.into_iter().collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
            }
        }
    }
}

pub(crate) fn sorted(items: &[StorageItem]) -> Vec<StorageItem> {
    let mut v = items.to_vec();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Splits origins into serialized http(s) origins (merged, see [`dedup_origins`]) and the
/// rest, reported as `(origin, reason)`.
pub(crate) fn valid_origins(origins: &[OriginState]) -> (Vec<OriginState>, Vec<(String, String)>) {
    let mut bad = Vec::new();
    let ok: Vec<OriginState> = origins
        .iter()
        .filter(|o| {
            let valid = http_origin(&o.origin).as_deref() == Some(o.origin.as_str());
            if !valid {
                bad.push((
                    o.origin.clone(),
                    "not a serialized http(s) origin (scheme://host[:port], lowercase, no path)"
                        .to_owned(),
                ));
            }
            valid
        })
        .cloned()
        .collect();
    (dedup_origins(&ok), bad)
}

/// Merges repeated origins (the model says at most once, but an imported file may not).
fn dedup_origins(origins: &[OriginState]) -> Vec<OriginState> {
    let mut out: Vec<OriginState> = Vec::new();
    for o in origins {
        match out.iter_mut().find(|x| x.origin == o.origin) {
            Some(x) => {
                for i in &o.local_storage {
                    match x.local_storage.iter_mut().find(|y| y.name == i.name) {
                        Some(y) => y.value = i.value.clone(),
                        None => x.local_storage.push(i.clone()),
                    }
                }
            }
            None => out.push(o.clone()),
        }
    }
    out
}
