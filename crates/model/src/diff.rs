//! What changed between two browser states, by *names only*.
//!
//! A diff is shown in terminals and logs and travels over the protocol, so it carries cookie
//! names, domains, paths and localStorage keys, and for a changed cookie the names of the fields
//! that differ, but never a cookie value or a storage value.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{BrowserState, Cookie, PartitionKey};

/// Identity of a cookie: two cookies with the same key are the same cookie in different states.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CookieKey {
    /// Cookie name.
    pub name: String,
    /// Cookie domain as stored (leading dot kept: host-only and domain cookies differ).
    pub domain: String,
    /// Cookie path.
    pub path: String,
    /// CHIPS partition, `None` for an unpartitioned cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<PartitionKey>,
}

impl CookieKey {
    /// The key of `c`.
    pub fn of(c: &Cookie) -> CookieKey {
        CookieKey {
            name: c.name.clone(),
            domain: c.domain.clone(),
            path: c.path.clone(),
            partition_key: c.partition_key.clone(),
        }
    }
}

/// A cookie present in both states whose fields differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CookieChange {
    /// Which cookie.
    pub key: CookieKey,
    /// Names of the fields that differ (CDP camelCase, e.g. `value`, `expires`, `sameSite`;
    /// unknown fields as `extra.<name>`), sorted. Never the values.
    pub fields: Vec<String>,
}

/// localStorage changes of one origin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginStorageDiff {
    /// The origin.
    pub origin: String,
    /// Keys only in the newer state, sorted.
    pub added: Vec<String>,
    /// Keys only in the older state, sorted.
    pub removed: Vec<String>,
    /// Keys in both whose value differs, sorted.
    pub changed: Vec<String>,
}

/// Differences between two states; see [`diff`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateDiff {
    /// Cookies only in the newer state, sorted by key.
    pub cookies_added: Vec<CookieKey>,
    /// Cookies only in the older state, sorted by key.
    pub cookies_removed: Vec<CookieKey>,
    /// Cookies in both with differing fields, sorted by key.
    pub cookies_changed: Vec<CookieChange>,
    /// Origins with web storage only in the newer state, sorted.
    pub origins_added: Vec<String>,
    /// Origins with web storage only in the older state, sorted.
    pub origins_removed: Vec<String>,
    /// Per-origin localStorage key changes, sorted by origin; origins without a change are left
    /// out. An added (removed) origin lists all its keys as added (removed).
    pub local_storage: Vec<OriginStorageDiff>,
}

impl StateDiff {
    /// True when the two states hold the same cookies and storage.
    pub fn is_empty(&self) -> bool {
        self.cookies_added.is_empty()
            && self.cookies_removed.is_empty()
            && self.cookies_changed.is_empty()
            && self.origins_added.is_empty()
            && self.origins_removed.is_empty()
            && self.local_storage.is_empty()
    }

    /// One line of counts, e.g. `cookies +2 -1 ~3; origins +1 -0; localStorage keys +5 -0 ~1`,
    /// or `no changes`.
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "no changes".to_owned();
        }
        let sum =
            |f: fn(&OriginStorageDiff) -> usize| self.local_storage.iter().map(f).sum::<usize>();
        format!(
            "cookies +{} -{} ~{}; origins +{} -{}; localStorage keys +{} -{} ~{}",
            self.cookies_added.len(),
            self.cookies_removed.len(),
            self.cookies_changed.len(),
            self.origins_added.len(),
            self.origins_removed.len(),
            sum(|o| o.added.len()),
            sum(|o| o.removed.len()),
            sum(|o| o.changed.len()),
        )
    }
}

/// Names of the fields in which `a` and `b` differ.
fn changed_fields(a: &Cookie, b: &Cookie) -> Vec<String> {
    let mut f = Vec::new();
    let mut check = |differs: bool, name: &str| {
        if differs {
            f.push(name.to_owned());
        }
    };
    check(a.value != b.value, "value");
    // Bit comparison: `expires` must round-trip exactly, and NaN must equal itself here.
    check(a.expires.to_bits() != b.expires.to_bits(), "expires");
    check(a.size != b.size, "size");
    check(a.http_only != b.http_only, "httpOnly");
    check(a.secure != b.secure, "secure");
    check(a.session != b.session, "session");
    check(a.same_site != b.same_site, "sameSite");
    check(a.priority != b.priority, "priority");
    check(a.source_scheme != b.source_scheme, "sourceScheme");
    check(a.source_port != b.source_port, "sourcePort");
    let keys: BTreeSet<&String> = a.extra.keys().chain(b.extra.keys()).collect();
    for k in keys {
        if a.extra.get(k) != b.extra.get(k) {
            f.push(format!("extra.{k}"));
        }
    }
    f.sort();
    f
}

fn index_cookies(s: &BrowserState) -> BTreeMap<CookieKey, &Cookie> {
    s.cookies.iter().map(|c| (CookieKey::of(c), c)).collect()
}

/// Compares two states. Cookies are matched by (name, domain, path, partitionKey); if a state
/// holds the same key twice, the last one counts (as in a browser, the later write wins).
pub fn diff(from: &BrowserState, to: &BrowserState) -> StateDiff {
    let (old, new) = (index_cookies(from), index_cookies(to));
    let mut d = StateDiff::default();
    for (k, c) in &new {
        match old.get(k) {
            None => d.cookies_added.push(k.clone()),
            Some(o) => {
                let fields = changed_fields(o, c);
                if !fields.is_empty() {
                    d.cookies_changed.push(CookieChange {
                        key: k.clone(),
                        fields,
                    });
                }
            }
        }
    }
    d.cookies_removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();

    let origins = |s: &BrowserState| -> BTreeMap<String, BTreeMap<String, String>> {
        s.origins
            .iter()
            .map(|o| {
                let items = o
                    .local_storage
                    .iter()
                    .map(|i| (i.name.clone(), i.value.clone()));
                (o.origin.clone(), items.collect())
            })
            .collect()
    };
    let (old, new) = (origins(from), origins(to));
    let empty = BTreeMap::new();
    let all: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for origin in all {
        match (old.get(origin), new.get(origin)) {
            (None, Some(_)) => d.origins_added.push(origin.clone()),
            (Some(_), None) => d.origins_removed.push(origin.clone()),
            _ => {}
        }
        let a = old.get(origin).unwrap_or(&empty);
        let b = new.get(origin).unwrap_or(&empty);
        let od = OriginStorageDiff {
            origin: origin.clone(),
            added: b.keys().filter(|k| !a.contains_key(*k)).cloned().collect(),
            removed: a.keys().filter(|k| !b.contains_key(*k)).cloned().collect(),
            changed: b
                .iter()
                .filter(|(k, v)| a.get(*k).is_some_and(|old| old != *v))
                .map(|(k, _)| k.clone())
                .collect(),
        };
        if !(od.added.is_empty() && od.removed.is_empty() && od.changed.is_empty()) {
            d.local_storage.push(od);
        }
    }
    d
}
