//! What changed between two browser states, by *names only*.
//!
//! A diff is shown in terminals and logs and travels over the protocol, so it carries cookie
//! names, domains, paths, localStorage and sessionStorage keys, IndexedDB database, store and
//! index names and record keys, and for a changed cookie the names of the fields that differ,
//! but never a cookie value, a storage value or a record's value.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{BrowserState, Cookie, IdbDatabase, IdbStore, OriginState, PartitionKey, StorageItem};

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

/// IndexedDB changes of one database of one origin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedDbDiff {
    /// The origin.
    pub origin: String,
    /// The database name.
    pub database: String,
    /// `added` or `removed` for a whole database, `changed` otherwise.
    pub status: String,
    /// Schema changes in words, e.g. `version 1 → 2`, `store "outbox" added`,
    /// `index "byEmail" of store "users" removed`, `store "users" key path changed`.
    pub schema: Vec<String>,
    /// Record changes per store, stores without a record change left out, sorted by store.
    pub stores: Vec<StoreRecordsDiff>,
}

/// Record changes of one object store, by key (the key's stored JSON form).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRecordsDiff {
    /// The store name.
    pub store: String,
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
    /// Per-origin sessionStorage key changes, as for `local_storage`.
    #[serde(default)]
    pub session_storage: Vec<OriginStorageDiff>,
    /// IndexedDB changes per origin and database, sorted; unchanged databases left out.
    #[serde(default, rename = "indexedDB")]
    pub indexed_db: Vec<IndexedDbDiff>,
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
            && self.session_storage.is_empty()
            && self.indexed_db.is_empty()
    }

    /// One line of counts, e.g. `cookies +2 -1 ~3; origins +1 -0; localStorage keys +5 -0 ~1`,
    /// or `no changes`.
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "no changes".to_owned();
        }
        let sum = |list: &[OriginStorageDiff], f: fn(&OriginStorageDiff) -> usize| {
            list.iter().map(f).sum::<usize>()
        };
        let mut line = format!(
            "cookies +{} -{} ~{}; origins +{} -{}; localStorage keys +{} -{} ~{}",
            self.cookies_added.len(),
            self.cookies_removed.len(),
            self.cookies_changed.len(),
            self.origins_added.len(),
            self.origins_removed.len(),
            sum(&self.local_storage, |o| o.added.len()),
            sum(&self.local_storage, |o| o.removed.len()),
            sum(&self.local_storage, |o| o.changed.len()),
        );
        if !self.session_storage.is_empty() {
            line += &format!(
                "; sessionStorage keys +{} -{} ~{}",
                sum(&self.session_storage, |o| o.added.len()),
                sum(&self.session_storage, |o| o.removed.len()),
                sum(&self.session_storage, |o| o.changed.len()),
            );
        }
        if !self.indexed_db.is_empty() {
            let recs = |f: fn(&StoreRecordsDiff) -> usize| {
                self.indexed_db
                    .iter()
                    .flat_map(|d| &d.stores)
                    .map(f)
                    .sum::<usize>()
            };
            let schema: usize = self.indexed_db.iter().map(|d| d.schema.len()).sum();
            line += &format!(
                "; IndexedDB databases {}, records +{} -{} ~{}, schema changes {}",
                self.indexed_db.len(),
                recs(|s| s.added.len()),
                recs(|s| s.removed.len()),
                recs(|s| s.changed.len()),
                schema,
            );
        }
        line
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

    let names = |s: &BrowserState| -> BTreeSet<String> {
        s.origins
            .iter()
            .filter(|o| !o.is_empty())
            .map(|o| o.origin.clone())
            .collect()
    };
    let (old_names, new_names) = (names(from), names(to));
    d.origins_added = new_names.difference(&old_names).cloned().collect();
    d.origins_removed = old_names.difference(&new_names).cloned().collect();
    d.local_storage = storage_diff(from, to, |o| &o.local_storage);
    d.session_storage = storage_diff(from, to, |o| o.session_items());
    d.indexed_db = indexed_db_diff(from, to);
    d
}

/// Per-origin key changes of one kind of web storage.
fn storage_diff(
    from: &BrowserState,
    to: &BrowserState,
    items: fn(&OriginState) -> &[StorageItem],
) -> Vec<OriginStorageDiff> {
    let origins = |s: &BrowserState| -> BTreeMap<String, BTreeMap<String, String>> {
        s.origins
            .iter()
            .map(|o| {
                let items = items(o).iter().map(|i| (i.name.clone(), i.value.clone()));
                (o.origin.clone(), items.collect())
            })
            .collect()
    };
    let (old, new) = (origins(from), origins(to));
    let empty = BTreeMap::new();
    let all: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    for origin in all {
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
            out.push(od);
        }
    }
    out
}

type DbIndex<'a> = BTreeMap<(String, String), &'a IdbDatabase>;

fn databases(s: &BrowserState) -> DbIndex<'_> {
    s.origins
        .iter()
        .flat_map(|o| {
            o.databases()
                .iter()
                .map(|d| ((o.origin.clone(), d.name.clone()), d))
        })
        .collect()
}

fn indexed_db_diff(from: &BrowserState, to: &BrowserState) -> Vec<IndexedDbDiff> {
    let (old, new) = (databases(from), databases(to));
    let keys: BTreeSet<&(String, String)> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let (a, b) = (old.get(key).copied(), new.get(key).copied());
        let mut d = IndexedDbDiff {
            origin: key.0.clone(),
            database: key.1.clone(),
            status: match (a, b) {
                (None, _) => "added",
                (_, None) => "removed",
                _ => "changed",
            }
            .to_owned(),
            ..Default::default()
        };
        if let (Some(a), Some(b)) = (a, b)
            && a.version != b.version
        {
            d.schema
                .push(format!("version {} → {}", a.version, b.version));
        }
        let (sa, sb) = (stores_of(a), stores_of(b));
        let names: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
        for name in names {
            let (x, y) = (sa.get(name).copied(), sb.get(name).copied());
            if a.is_some() && b.is_some() {
                match (x, y) {
                    (None, Some(_)) => d.schema.push(format!("store {name:?} added")),
                    (Some(_), None) => d.schema.push(format!("store {name:?} removed")),
                    (Some(x), Some(y)) => store_schema_diff(x, y, &mut d.schema),
                    (None, None) => {}
                }
            }
            let records = |s: Option<&IdbStore>| -> BTreeMap<String, String> {
                s.into_iter()
                    .flat_map(|s| &s.records)
                    .enumerate()
                    .map(|(i, r)| {
                        let value = serde_json::to_string(&(&r.value, &r.value_encoded))
                            .unwrap_or_default();
                        (
                            r.key_json().unwrap_or_else(|| format!("(no key #{i})")),
                            value,
                        )
                    })
                    .collect()
            };
            let (ra, rb) = (records(x), records(y));
            let rd = StoreRecordsDiff {
                store: name.clone(),
                added: rb
                    .keys()
                    .filter(|k| !ra.contains_key(*k))
                    .cloned()
                    .collect(),
                removed: ra
                    .keys()
                    .filter(|k| !rb.contains_key(*k))
                    .cloned()
                    .collect(),
                changed: rb
                    .iter()
                    .filter(|(k, v)| ra.get(*k).is_some_and(|o| o != *v))
                    .map(|(k, _)| k.clone())
                    .collect(),
            };
            if !(rd.added.is_empty() && rd.removed.is_empty() && rd.changed.is_empty()) {
                d.stores.push(rd);
            }
        }
        if d.status != "changed" || !d.schema.is_empty() || !d.stores.is_empty() {
            out.push(d);
        }
    }
    out
}

fn stores_of(db: Option<&IdbDatabase>) -> BTreeMap<String, &IdbStore> {
    db.into_iter()
        .flat_map(|db| db.stores.iter().map(|s| (s.name.clone(), s)))
        .collect()
}

/// Schema differences of a store present in both states.
fn store_schema_diff(a: &IdbStore, b: &IdbStore, out: &mut Vec<String>) {
    let name = &a.name;
    if a.key_path_value() != b.key_path_value() {
        out.push(format!("store {name:?} key path changed"));
    }
    if a.auto_increment != b.auto_increment {
        out.push(format!("store {name:?} autoIncrement changed"));
    }
    if a.key_generator != b.key_generator {
        out.push(format!("store {name:?} key generator moved"));
    }
    let idx = |s: &IdbStore| -> BTreeMap<String, String> {
        s.indexes
            .iter()
            .map(|i| {
                let shape = serde_json::to_string(&(
                    &i.key_path,
                    &i.key_path_array,
                    i.multi_entry,
                    i.unique,
                ))
                .unwrap_or_default();
                (i.name.clone(), shape)
            })
            .collect()
    };
    let (ia, ib) = (idx(a), idx(b));
    let names: BTreeSet<&String> = ia.keys().chain(ib.keys()).collect();
    for n in names {
        match (ia.get(n), ib.get(n)) {
            (None, Some(_)) => out.push(format!("index {n:?} of store {name:?} added")),
            (Some(_), None) => out.push(format!("index {n:?} of store {name:?} removed")),
            (Some(x), Some(y)) if x != y => {
                out.push(format!("index {n:?} of store {name:?} changed"))
            }
            _ => {}
        }
    }
}
