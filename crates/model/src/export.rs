//! Writing a state as JSON: Playwright's `storageState` (what `newContext({ storageState })`
//! reads, with a list of what that shape cannot hold) or pvault's own JSON (everything).
//!
//! Export writes keys in Playwright's order (name, value, domain, path, expires, httpOnly,
//! secure, sameSite, partitionKey, _crHasCrossSiteAncestor) and integral numbers without a
//! fraction, so a file Playwright wrote comes back byte-for-byte from
//! [`export_storage_state_string`].

use serde_json::{Map, Number, Value};

use crate::storage_state::{PVAULT_JSON_VERSION, PVAULT_MARKER};
use crate::{BrowserState, Cookie, StorageItem};

/// Writes `expires` the way JavaScript's `JSON.stringify` does: integral values without `.0`.
fn js_number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        Value::Number(Number::from(x as i64))
    } else {
        Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

/// Which JSON an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Playwright's `storageState` (what `newContext({ storageState })` reads): what that shape
    /// cannot hold is left out and listed in [`Export::left_out`].
    Playwright,
    /// pvault's own JSON: Playwright's shape plus `"pvault": 1`, `sessionStorage`, each
    /// IndexedDB store's `keyGenerator`, every record's key, and the pvault value tags.
    /// Nothing is left out; `pvault profile import` reads it back exactly.
    Pvault,
}

/// An exported document and what it had to leave out.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// The JSON document.
    pub json: Value,
    /// One line per kind of data the format could not hold (empty for [`ExportFormat::Pvault`]).
    /// Names only, never values.
    pub left_out: Vec<String>,
}

/// Converts a state to Playwright storageState JSON (see [`export_as`]).
pub fn export_storage_state(state: &BrowserState) -> Value {
    export_as(state, ExportFormat::Playwright).json
}

/// Converts a state to JSON of `format`.
///
/// Cookies without `sameSite` are written as `"Lax"`, as Playwright reads Chrome's cookies.
/// CDP-only fields (`size`, `priority`, `sourceScheme`, `sourcePort`) and unknown fields are
/// written after Playwright's fields when present (Playwright ignores them); `session` is not
/// written because `expires: -1` already says it.
pub fn export_as(state: &BrowserState, format: ExportFormat) -> Export {
    let cookies = state.cookies.iter().map(export_cookie).collect();
    let mut left_out = Vec::new();
    let mut session_origins = Vec::new();
    let mut idb = crate::idb_interop::LeftOut::default();
    let origins = state
        .origins
        .iter()
        .map(|o| {
            let mut v = Map::new();
            v.insert("origin".into(), o.origin.clone().into());
            v.insert("localStorage".into(), export_items(&o.local_storage));
            match format {
                ExportFormat::Pvault => {
                    if let Some(dbs) = o.indexed_db.as_ref().filter(|d| !d.is_empty()) {
                        v.insert(
                            "indexedDB".into(),
                            serde_json::to_value(dbs).unwrap_or(Value::Null),
                        );
                    }
                    if let Some(ss) = o.session_storage.as_ref().filter(|s| !s.is_empty()) {
                        v.insert("sessionStorage".into(), export_items(ss));
                    }
                }
                ExportFormat::Playwright => {
                    if let Some(dbs) = o.indexed_db.as_ref().filter(|d| !d.is_empty()) {
                        let mut here = crate::idb_interop::LeftOut::default();
                        let json = crate::idb_interop::export_playwright(dbs, &mut here);
                        v.insert("indexedDB".into(), json);
                        idb.records.extend(
                            here.records
                                .into_iter()
                                .map(|r| format!("{} {r}", o.origin)),
                        );
                        idb.key_generators.extend(
                            here.key_generators
                                .into_iter()
                                .map(|r| format!("{} {r}", o.origin)),
                        );
                    }
                    if !o.session_items().is_empty() {
                        session_origins.push(o.origin.clone());
                    }
                }
            }
            for (k, x) in &o.extra {
                v.entry(k.clone()).or_insert_with(|| x.clone());
            }
            Value::Object(v)
        })
        .collect();
    if !session_origins.is_empty() {
        left_out.push(format!(
            "sessionStorage of {} origin{} ({}): Playwright's storageState has no sessionStorage",
            session_origins.len(),
            if session_origins.len() == 1 { "" } else { "s" },
            session_origins.join(", ")
        ));
    }
    for r in idb.records {
        left_out.push(format!(
            "IndexedDB {r}: values Playwright's encoding cannot hold"
        ));
    }
    if !idb.key_generators.is_empty() {
        left_out.push(format!(
            "IndexedDB key generator positions of {}: Playwright restores the generator from the largest key only",
            idb.key_generators.join(", ")
        ));
    }
    let mut top = Map::new();
    if format == ExportFormat::Pvault {
        top.insert(PVAULT_MARKER.into(), PVAULT_JSON_VERSION.into());
    }
    top.insert("cookies".into(), Value::Array(cookies));
    top.insert("origins".into(), Value::Array(origins));
    // Not browser state, so Playwright's format has nothing to leave out here.
    if format == ExportFormat::Pvault
        && let Some(source) = &state.source
    {
        top.insert(
            "source".into(),
            serde_json::to_value(source).unwrap_or(Value::Null),
        );
    }
    Export {
        json: Value::Object(top),
        left_out,
    }
}

fn export_cookie(c: &Cookie) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), c.name.clone().into());
    o.insert("value".into(), c.value.clone().into());
    o.insert("domain".into(), c.domain.clone().into());
    o.insert("path".into(), c.path.clone().into());
    let expires = if c.session == Some(true) {
        -1.0
    } else {
        c.expires
    };
    o.insert("expires".into(), js_number(expires));
    o.insert("httpOnly".into(), c.http_only.into());
    o.insert("secure".into(), c.secure.into());
    o.insert(
        "sameSite".into(),
        c.same_site.clone().unwrap_or_else(|| "Lax".into()).into(),
    );
    if let Some(pk) = &c.partition_key {
        o.insert("partitionKey".into(), pk.top_level_site.clone().into());
        o.insert(
            "_crHasCrossSiteAncestor".into(),
            pk.has_cross_site_ancestor.into(),
        );
    }
    if let Some(s) = c.size {
        o.insert("size".into(), s.into());
    }
    if let Some(p) = &c.priority {
        o.insert("priority".into(), p.clone().into());
    }
    if let Some(s) = &c.source_scheme {
        o.insert("sourceScheme".into(), s.clone().into());
    }
    if let Some(p) = c.source_port {
        o.insert("sourcePort".into(), p.into());
    }
    for (k, v) in &c.extra {
        o.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(o)
}

fn export_items(items: &[StorageItem]) -> Value {
    items
        .iter()
        .map(|i| {
            let mut o = Map::new();
            o.insert("name".into(), i.name.clone().into());
            o.insert("value".into(), i.value.clone().into());
            Value::Object(o)
        })
        .collect()
}

/// [`export_storage_state`] as text, indented by two spaces like Playwright's
/// `JSON.stringify(state, undefined, 2)` (no trailing newline).
pub fn export_storage_state_string(state: &BrowserState) -> String {
    // Serializing a `Value` cannot fail: every key is a string.
    serde_json::to_string_pretty(&export_storage_state(state)).unwrap_or_default()
}
