//! Web storage events of one page session, in the order Chrome sent them.
//!
//! Every event of a page session comes on our one connection, in one ordered stream. When the
//! first event of an area arrives, the area is read whole (`DOMStorage.getDOMStorageItems` on
//! the same session): the page may have written before `DOMStorage.enable`, and other pages
//! may have. The answer is *not* in order with the events (measured on Chromium 156: an answer
//! that came after a burst of events held the state of the middle of that burst), but it is
//! the state after some prefix of the events, taken after the first one. So every event from
//! the first one on is kept while the read is in flight and replayed, in order, on its answer:
//! replaying events already in a state, in order, ends in the same state (per key, the last
//! change decides; a clear wipes and what follows rebuilds), so the copy is exact once the
//! events up to the point the read was taken at are applied (at once when the answer is the
//! later one, as measured).
//!
//! Events are never merged from two sessions: each session keeps its own copy of
//! each area it reports (two tabs of one origin both report its localStorage changes, one of
//! them later than the other), and the tracker takes the copy of the page that reported last.
//!
//! A copy is valid while its page stays at the origin; when a frame of the page commits a
//! document at the origin again (a reload, or coming back after other tabs may have changed
//! it unseen), the page's copies of that origin are dropped and its next event reads it again.

use std::collections::HashMap;

use pvault_model::StorageItem;
use serde_json::Value;

use crate::cdp::http_origin;
use crate::tracker::{Area, StorageChange, apply_change};

/// One area as one page session sees it: `(session id, area, origin)`.
pub(super) type AreaKey = (String, Area, String);

/// What to do with an event.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Seen<'a> {
    /// Applied to the session's copy, which is now this.
    Applied(&'a [StorageItem]),
    /// The first event of an area with no copy: read it whole (the event is kept for the
    /// answer).
    ReadIt,
    /// A read of the area is in flight: the event is kept for its answer.
    InRead,
}

/// Every session's copies, and the reads in flight.
#[derive(Default)]
pub(super) struct Copies {
    /// A session's copy of an area: its whole read, then its events in order (sorted by key).
    areas: HashMap<AreaKey, Vec<StorageItem>>,
    /// Areas whose whole read is in flight, with every event since the first one.
    reading: HashMap<AreaKey, Vec<StorageChange>>,
}

impl Copies {
    /// An event of a session's area, in the order the session's events come.
    pub(super) fn event(&mut self, key: AreaKey, change: &StorageChange) -> Seen<'_> {
        if let Some(kept) = self.reading.get_mut(&key) {
            kept.push(change.clone());
            return Seen::InRead;
        }
        match self.areas.get_mut(&key) {
            Some(items) => {
                apply_change(items, change);
                Seen::Applied(items)
            }
            None => {
                self.reading.insert(key, vec![change.clone()]);
                Seen::ReadIt
            }
        }
    }

    /// The answer to a whole read: the copy is the answer with every event kept meanwhile
    /// replayed (`None`: it failed, and those events are lost: the next event reads again,
    /// and the caller marks the origin for an exact read).
    pub(super) fn read_done(
        &mut self,
        key: AreaKey,
        items: Option<Vec<StorageItem>>,
    ) -> Option<&[StorageItem]> {
        let kept = self.reading.remove(&key).unwrap_or_default();
        match items {
            Some(mut items) => {
                for change in &kept {
                    apply_change(&mut items, change);
                }
                Some(self.areas.entry(key).insert_entry(items).into_mut())
            }
            None => {
                self.areas.remove(&key);
                None
            }
        }
    }

    /// A frame of the session committed a document at `origin`: its copies of the origin may
    /// have missed changes made while it was elsewhere. A read in flight stays: its answer is
    /// in order with the events that follow.
    pub(super) fn navigated(&mut self, session: &str, origin: &str) {
        self.areas
            .retain(|(s, _, o), _| !(s == session && o == origin));
    }

    /// The session is gone.
    pub(super) fn forget_session(&mut self, session: &str) {
        self.areas.retain(|(s, _, _), _| s != session);
        self.reading.retain(|(s, _, _), _| s != session);
    }
}

/// The change a `DOMStorage` event reports, with its storage id, or `None` for other methods.
pub(super) fn storage_event(method: &str, params: &Value) -> Option<StorageChange> {
    let text = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(match method {
        "DOMStorage.domStorageItemAdded" | "DOMStorage.domStorageItemUpdated" => {
            StorageChange::Set {
                key: text("key")?,
                value: text("newValue")?,
            }
        }
        "DOMStorage.domStorageItemRemoved" => StorageChange::Remove { key: text("key")? },
        "DOMStorage.domStorageItemsCleared" => StorageChange::Clear,
        _ => return None,
    })
}

/// The first-party http(s) origin of a web storage area, from `securityOrigin` or a storage
/// key without a top-level-site part (`^…` marks a partitioned, third-party key).
pub(super) fn storage_origin(id: &Value) -> Option<String> {
    if let Some(o) = id
        .get("securityOrigin")
        .and_then(Value::as_str)
        .filter(|o| !o.is_empty())
    {
        return http_origin(o);
    }
    let key = id.get("storageKey").and_then(Value::as_str)?;
    if key.contains('^') {
        return None;
    }
    http_origin(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(session: &str) -> AreaKey {
        (session.into(), Area::Local, "http://a.test".into())
    }

    fn set(k: &str, v: &str) -> StorageChange {
        StorageChange::Set {
            key: k.into(),
            value: v.into(),
        }
    }

    fn item(k: &str, v: &str) -> StorageItem {
        StorageItem {
            name: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn events_while_a_read_is_in_flight_are_replayed_on_its_answer_in_order() {
        let remove_k = StorageChange::Remove { key: "k".into() };
        // The answer was taken after the first event only: the others are replayed.
        let mut c = Copies::default();
        assert_eq!(c.event(key("s1"), &set("k", "1")), Seen::ReadIt);
        assert_eq!(c.event(key("s1"), &remove_k), Seen::InRead);
        assert_eq!(c.event(key("s1"), &set("x", "1")), Seen::InRead);
        assert_eq!(
            c.read_done(key("s1"), Some(vec![item("k", "1"), item("z", "0")])),
            Some(&[item("x", "1"), item("z", "0")][..])
        );
        // The answer already had them all: replaying them changes nothing.
        let mut c = Copies::default();
        c.event(key("s1"), &set("k", "1"));
        c.event(key("s1"), &remove_k);
        c.event(key("s1"), &StorageChange::Clear);
        c.event(key("s1"), &set("y", "2"));
        assert_eq!(
            c.read_done(key("s1"), Some(vec![item("y", "2")])),
            Some(&[item("y", "2")][..])
        );
        // Later events apply in order.
        assert_eq!(
            c.event(key("s1"), &StorageChange::Clear),
            Seen::Applied(&[])
        );
        assert_eq!(
            c.event(key("s1"), &set("y", "3")),
            Seen::Applied(&[item("y", "3")])
        );
        // Another session's area is its own.
        assert_eq!(c.event(key("s2"), &set("y", "3")), Seen::ReadIt);
    }

    #[test]
    fn coming_back_to_an_origin_or_a_failed_read_reads_again() {
        let mut c = Copies::default();
        assert_eq!(c.event(key("s1"), &set("k", "1")), Seen::ReadIt);
        c.read_done(key("s1"), Some(vec![item("k", "1")]));
        c.navigated("s1", "http://other.test");
        assert!(matches!(
            c.event(key("s1"), &set("k", "2")),
            Seen::Applied(_)
        ));
        c.navigated("s1", "http://a.test");
        assert_eq!(c.event(key("s1"), &set("k", "3")), Seen::ReadIt);
        assert_eq!(c.read_done(key("s1"), None), None);
        assert_eq!(c.event(key("s1"), &set("k", "4")), Seen::ReadIt);
        c.forget_session("s1");
        assert_eq!(c.event(key("s1"), &set("k", "5")), Seen::ReadIt);
    }

    #[test]
    fn partitioned_areas_have_no_origin() {
        assert_eq!(
            storage_origin(&serde_json::json!({"securityOrigin": "https://a.test"})).as_deref(),
            Some("https://a.test")
        );
        assert_eq!(
            storage_origin(&serde_json::json!({"storageKey": "https://a.test/"})).as_deref(),
            Some("https://a.test")
        );
        assert_eq!(
            storage_origin(&serde_json::json!({"storageKey": "https://a.test/^0https://b.test"})),
            None
        );
    }
}
