//! Which origins may have changed localStorage since it was last loaded or read, and the
//! change signal that drives checkpoints.
//!
//! An origin no frame has been at since its data was loaded or last captured cannot have
//! changed, so capture reuses the known data instead of visiting it. Signals: every page
//! target's `Page.frameNavigated` (pages of other CDP clients too: chromiumoxide attaches to
//! every page target it discovers), and the browser-level `Target.targetCreated` /
//! `targetInfoChanged` (which also covers out-of-process iframes). Capture additionally reads
//! every frame that is live at that moment, so a missed event cannot lose a change made by a
//! page that is still open.
//!
//! Every page target also has `DOMStorage` enabled on a session of *our own* raw connection
//! (`tabs/`; domains are enabled per session, so other clients see nothing of it), whose item
//! events are applied to the known data in the order Chrome sent them. A checkpoint never
//! opens a stub page (a new target would show up in a connected Playwright's context), so for
//! an origin a page wrote to and then left, those events are what a checkpoint has; the final
//! capture still re-reads such an origin exactly.
//!
//! Each page session keeps its own copy of every area it reports (its first whole read, then
//! its own events in order; see `tabs/storage.rs`), and the known data of an origin is the copy
//! of the page that reported last: two tabs of one origin both report its localStorage
//! changes, and mixing their two streams could put a change behind an older one. sessionStorage
//! is kept the same way, remembering which tab wrote last: a browser keeps sessionStorage per
//! tab, a snapshot one set per origin, and the tab that changed it last is the one whose data
//! is kept.
//!
//! IndexedDB has no item events; `Storage.trackIndexedDBForOrigin` on our session of a page
//! (per origin the page has been at) makes Chrome report `Storage.indexedDBContentUpdated` /
//! `indexedDBListUpdated` within milliseconds of a write (measured on Chromium 156; the
//! browser-level session answers "Internal error" to it). Those mark the origin's IndexedDB
//! dirty, so a checkpoint re-reads it through a live frame, and cost nothing while idle.
//!
//! Every signal (navigation, storage event, a write to Chrome's cookie or localStorage files
//! seen by the file watch in `session.rs`) bumps a counter that [`Tracker::changes`] hands out.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use pvault_model::{IdbDatabase, StorageItem};
use tokio::sync::watch;

use crate::cdp::http_origin;

/// Shared tracking state.
pub(crate) struct Tracker {
    /// The state, behind a plain mutex (never held across an `.await`).
    inner: Mutex<TrackerState>,
    /// Moves whenever the browser's state may have changed; checkpoints wait on it.
    changes: watch::Sender<ChangeSignal>,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            inner: Mutex::default(),
            changes: watch::channel(ChangeSignal::default()).0,
        }
    }
}

/// The change signal of a session (see [`crate::Session::change_watch`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeSignal {
    /// Counts the signals so far (wrapping).
    pub seq: u64,
    /// Set when the last page a person or client could see has just closed (reset when a page
    /// opens). A headful Chrome exits ~100 ms after its last window closes and answers CDP for
    /// only ~30 ms of that: a checkpointer should capture at once, without debouncing.
    pub last_page_closed: bool,
}

/// One localStorage change reported by a `DOMStorage` event.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum StorageChange {
    /// A key was added or updated.
    Set {
        /// The key.
        key: String,
        /// Its new value.
        value: String,
    },
    /// A key was removed.
    Remove {
        /// The key.
        key: String,
    },
    /// Every key was removed.
    Clear,
}

/// Per-origin counts of applied storage events, taken with the known data so that a capture
/// does not overwrite what an event changed while it was reading.
pub(crate) type EventCounts = HashMap<String, u64>;

/// Which web storage area an event or a read is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Area {
    /// localStorage (one per origin).
    Local,
    /// sessionStorage (one per tab and origin).
    Session,
}

/// What is known of every origin's storage: loaded, read, or kept up to date by events.
#[derive(Clone, Default)]
pub(crate) struct Known {
    /// localStorage per origin (an empty vec: known to be empty).
    pub local: BTreeMap<String, Vec<StorageItem>>,
    /// sessionStorage per origin.
    pub session: BTreeMap<String, Vec<StorageItem>>,
    /// IndexedDB per origin, shared so that a capture's copy costs nothing.
    pub idb: BTreeMap<String, Arc<Vec<IdbDatabase>>>,
}

/// A copy of the tracking state a capture works from.
pub(crate) struct CaptureBase {
    /// Origins a frame has been at since their data was last read.
    pub touched: BTreeSet<String>,
    /// Known data of every origin.
    pub known: Known,
    /// localStorage event counts at the time of the copy.
    pub counts: EventCounts,
    /// sessionStorage event counts at the time of the copy.
    pub session_counts: EventCounts,
    /// Origins whose IndexedDB changed since it was last read.
    pub idb_dirty: BTreeSet<String>,
    /// Per origin, the tab whose sessionStorage changed last.
    pub session_tab: HashMap<String, String>,
}

#[derive(Default)]
struct TrackerState {
    /// Origins a frame has been at since their data was last loaded or read.
    touched: BTreeSet<String>,
    /// Last loaded or captured storage per origin.
    known: Known,
    /// Our own stub pages, whose navigations change nothing; kept after they close, as
    /// their events may still be queued (target ids are never reused).
    internal: HashSet<String>,
    /// The document paths of our stub pages (`/__pvault_stub_<random>`): a target seen at
    /// one is ours, even before the `Target.createTarget` that made it has answered.
    internal_paths: HashSet<String>,
    /// Page targets open now (ours included; `internal` tells them apart).
    open_pages: HashSet<String>,
    /// Per origin, how many localStorage events were applied to `known`.
    events: EventCounts,
    /// Per origin, how many sessionStorage events were applied to `known`.
    session_events: EventCounts,
    /// Per origin, the tab whose sessionStorage changed last.
    session_tab: HashMap<String, String>,
    /// Per origin, the page whose localStorage events came last.
    local_tab: HashMap<String, String>,
    /// Areas whose known data is the copy of the page that reported last (`local_tab`,
    /// `session_tab`) as it is now, so that page's next event applies to it as is.
    synced: HashSet<(Area, String)>,
    /// `(tab, origin)`: tabs our connection held until they had `DOMStorage` on (and the
    /// sessionStorage hand-off script), seen committing their first http(s) document at that
    /// origin. Such a tab's sessionStorage there is all its own and every change to it is
    /// reported, so a read of it is the truth even when it is empty.
    held: HashSet<(String, String)>,
    /// Origins whose IndexedDB changed since it was last read.
    idb_dirty: BTreeSet<String>,
    /// `(target, origin)` pairs whose IndexedDB tracking is on.
    idb_tracked: HashSet<(String, String)>,
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

    /// The change signal (see the module comment).
    pub(crate) fn changes(&self) -> watch::Receiver<ChangeSignal> {
        self.changes.subscribe()
    }

    /// Signals a possible change (works with no receiver).
    pub(crate) fn bump(&self) {
        self.changes.send_modify(|c| c.seq = c.seq.wrapping_add(1));
    }

    /// A page target opened.
    pub(crate) fn page_opened(&self, target: &str) {
        self.with(|s| s.open_pages.insert(target.to_owned()));
        self.changes.send_if_modified(|c| {
            let was = c.last_page_closed;
            c.last_page_closed = false;
            was
        });
    }

    /// A target closed; signals `last_page_closed` when it was the last page not of ours.
    pub(crate) fn target_closed(&self, target: &str) {
        let last = self.with(|s| {
            s.open_pages.remove(target)
                && !s.internal.contains(target)
                && s.open_pages.iter().all(|p| s.internal.contains(p))
        });
        if last {
            self.changes.send_modify(|c| {
                c.seq = c.seq.wrapping_add(1);
                c.last_page_closed = true;
            });
        }
    }

    pub(crate) fn touch_url(&self, target: &str, url: &str) {
        if let Some(o) = http_origin(url) {
            let touched = self.with(|s| {
                if s.internal_paths.iter().any(|p| url.contains(p.as_str())) {
                    s.internal.insert(target.to_owned());
                }
                !s.internal.contains(target) && {
                    s.touched.insert(o);
                    true
                }
            });
            if touched {
                self.bump();
            }
        }
    }

    /// Applies a `DOMStorage` event of a (non-internal) page to the known data of `origin`
    /// and marks the origin touched, so the next full capture reads it exactly. `copy` is that
    /// page's copy of the area with the change applied (see the module comment): it becomes the
    /// known data when another page (or a read) set it last.
    pub(crate) fn storage_changed(
        &self,
        target: &str,
        area: Area,
        origin: &str,
        change: &StorageChange,
        copy: &[StorageItem],
    ) {
        let applied = self.with(|s| {
            if s.internal.contains(target) {
                return false;
            }
            // `synced` stays true for this page until a read or a load replaces the data.
            let synced = !s.synced.insert((area, origin.to_owned()));
            let (known, from, counts) = s.area_mut(area);
            let last = from.insert(origin.to_owned(), target.to_owned());
            let items = known.entry(origin.to_owned()).or_default();
            if synced && last.as_deref() == Some(target) {
                apply_change(items, change);
            } else {
                *items = copy.to_vec();
            }
            *counts.entry(origin.to_owned()).or_default() += 1;
            s.touched.insert(origin.to_owned());
            true
        });
        if applied {
            self.bump();
        }
    }

    /// Records a whole read of an area made on a page's session of our connection, in order
    /// with its events: the page's copy starts from it (see the module comment).
    pub(crate) fn storage_read(
        &self,
        target: &str,
        area: Area,
        origin: &str,
        items: &[StorageItem],
    ) {
        let applied = self.with(|s| {
            if s.internal.contains(target) {
                return false;
            }
            s.synced.insert((area, origin.to_owned()));
            s.touched.insert(origin.to_owned());
            let (known, from, counts) = s.area_mut(area);
            from.insert(origin.to_owned(), target.to_owned());
            known.insert(origin.to_owned(), items.to_vec());
            *counts.entry(origin.to_owned()).or_default() += 1;
            true
        });
        if applied {
            self.bump();
        }
    }

    /// A tab held by our connection committed its first http(s) document at `origin`.
    pub(crate) fn tab_held(&self, target: &str, origin: &str) {
        self.with(|s| s.held.insert((target.to_owned(), origin.to_owned())));
    }

    /// Whether `target` is a tab held at its first document, at `origin` (see `held`).
    pub(crate) fn is_held(&self, target: &str, origin: &str) -> bool {
        self.with(|s| s.held.contains(&(target.to_owned(), origin.to_owned())))
    }

    /// Forgets what is kept per tab of a tab that is gone.
    pub(crate) fn forget_tab(&self, target: &str) {
        self.with(|s| s.held.retain(|(t, _)| t != target));
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

    /// Registers the document path of a stub page about to be opened (see `internal_paths`).
    pub(crate) fn add_internal_path(&self, path: &str) {
        self.with(|s| s.internal_paths.insert(path.to_owned()));
    }

    pub(crate) fn is_internal(&self, target: &str) -> bool {
        self.with(|s| s.internal.contains(target))
    }

    /// Records localStorage just loaded into or read from the browser.
    pub(crate) fn set_known(&self, origin: &str, items: Vec<StorageItem>) {
        self.with(|s| {
            s.known.local.insert(origin.to_owned(), items);
            s.synced.remove(&(Area::Local, origin.to_owned()));
        });
    }

    /// Records sessionStorage just loaded (handed to new tabs) or read.
    pub(crate) fn set_known_session(&self, origin: &str, items: Vec<StorageItem>) {
        self.with(|s| {
            s.known.session.insert(origin.to_owned(), items);
            s.synced.remove(&(Area::Session, origin.to_owned()));
        });
    }

    /// Records IndexedDB just loaded into or read from the browser; `read_at` is the dirty
    /// state taken before the read: a change reported since keeps the origin dirty.
    pub(crate) fn set_known_idb(
        &self,
        origin: &str,
        dbs: Arc<Vec<IdbDatabase>>,
        read_at: Option<&BTreeSet<String>>,
    ) {
        self.with(|s| {
            s.known.idb.insert(origin.to_owned(), dbs);
            if read_at.is_none_or(|d| d.contains(origin) == s.idb_dirty.contains(origin)) {
                s.idb_dirty.remove(origin);
            }
        });
    }

    /// Marks an origin's IndexedDB changed.
    pub(crate) fn idb_changed(&self, origin: &str) {
        self.with(|s| s.idb_dirty.insert(origin.to_owned()));
        self.bump();
    }

    /// Whether IndexedDB tracking still has to be turned on for `origin` in `target`.
    pub(crate) fn start_idb_tracking(&self, target: &str, origin: &str) -> bool {
        self.with(|s| s.idb_tracked.insert((target.to_owned(), origin.to_owned())))
    }

    /// Records data read from the browser during a capture, unless a storage event changed the
    /// origin after the capture took its copy (`counts`): then the event's data is newer.
    pub(crate) fn set_read(
        &self,
        area: Area,
        origin: &str,
        items: Vec<StorageItem>,
        counts: &EventCounts,
    ) {
        self.with(|s| {
            let (known, now) = match area {
                Area::Local => (&mut s.known.local, &s.events),
                Area::Session => (&mut s.known.session, &s.session_events),
            };
            if now.get(origin) == counts.get(origin) {
                known.insert(origin.to_owned(), items);
                s.synced.remove(&(area, origin.to_owned()));
            }
        });
    }

    /// Takes the touched set (navigations during capture re-add) and a copy of everything
    /// else a capture needs, at this moment.
    pub(crate) fn take_for_capture(&self) -> CaptureBase {
        self.with(|s| CaptureBase {
            touched: std::mem::take(&mut s.touched),
            known: s.known.clone(),
            counts: s.events.clone(),
            session_counts: s.session_events.clone(),
            idb_dirty: s.idb_dirty.clone(),
            session_tab: s.session_tab.clone(),
        })
    }

    /// The known localStorage and sessionStorage of `origin`.
    pub(crate) fn known_storage(&self, origin: &str) -> (Vec<StorageItem>, Vec<StorageItem>) {
        self.with(|s| {
            let get = |m: &BTreeMap<String, Vec<StorageItem>>| m.get(origin).cloned();
            (
                get(&s.known.local).unwrap_or_default(),
                get(&s.known.session).unwrap_or_default(),
            )
        })
    }

    /// Puts origins back as touched (a failed read, or a frame still live there).
    pub(crate) fn retouch(&self, origins: impl IntoIterator<Item = String>) {
        self.with(|s| s.touched.extend(origins));
    }
}

impl TrackerState {
    /// The known data of `area`, which page reported it last, and its event counts.
    #[allow(clippy::type_complexity)]
    fn area_mut(
        &mut self,
        area: Area,
    ) -> (
        &mut BTreeMap<String, Vec<StorageItem>>,
        &mut HashMap<String, String>,
        &mut EventCounts,
    ) {
        match area {
            Area::Local => (&mut self.known.local, &mut self.local_tab, &mut self.events),
            Area::Session => (
                &mut self.known.session,
                &mut self.session_tab,
                &mut self.session_events,
            ),
        }
    }
}

/// Applies one change to items sorted by key.
pub(crate) fn apply_change(items: &mut Vec<StorageItem>, change: &StorageChange) {
    match change {
        StorageChange::Set { key, value } => {
            match items.binary_search_by(|i| i.name.as_str().cmp(key)) {
                Ok(at) => items[at].value.clone_from(value),
                Err(at) => items.insert(
                    at,
                    StorageItem {
                        name: key.clone(),
                        value: value.clone(),
                    },
                ),
            }
        }
        StorageChange::Remove { key } => items.retain(|i| &i.name != key),
        StorageChange::Clear => items.clear(),
    }
}
