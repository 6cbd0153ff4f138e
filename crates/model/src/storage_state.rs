//! Playwright `storageState` JSON import (and pvault's own JSON, the same shape plus
//! `"pvault": 1`); writing is in `export.rs`.
//!
//! The accepted shape is exactly what Playwright writes (`context.storageState()`) and reads
//! (`newContext({ storageState })` → `addCookies`): cookies with `domain`/`path` or a `url`,
//! `expires: -1` for a session cookie, `partitionKey` as a top-level-site string plus Chromium's
//! `_crHasCrossSiteAncestor`, and origins with `localStorage`, `sessionStorage` and `indexedDB`
//! (validated in `idb_interop.rs`).
//!
//! Limits (refused beyond them, so a hostile file cannot exhaust memory): input
//! [`MAX_INPUT_BYTES`] (16 MiB), [`MAX_COOKIES`] cookies, [`MAX_ORIGINS`] origins and
//! [`MAX_ITEMS_PER_ORIGIN`] storage items per origin. JSON nesting is capped at 128 levels by
//! the parser.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::{BrowserState, Cookie, OriginState, PartitionKey, StorageItem};

/// Largest accepted input, in bytes.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;
/// Most cookies accepted in one file.
pub const MAX_COOKIES: usize = 100_000;
/// Most origins accepted in one file.
pub const MAX_ORIGINS: usize = 10_000;
/// Most localStorage (or sessionStorage) items accepted per origin.
pub const MAX_ITEMS_PER_ORIGIN: usize = 100_000;
/// Top-level member that marks pvault's own JSON (`profile export --format pvault`).
pub const PVAULT_MARKER: &str = "pvault";
/// The version of pvault's own JSON this build writes and reads.
pub const PVAULT_JSON_VERSION: u64 = 1;
/// Latest expiry Playwright accepts: 9999-12-31T23:59:59Z, in Unix seconds.
pub const MAX_EXPIRES: f64 = 253_402_300_799.0;

/// A storageState file that cannot be imported. Nothing of it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageStateError {
    /// Where the problem is, e.g. `cookies[3].sameSite`; empty for the document itself.
    pub path: String,
    /// What is wrong there and what to do about it.
    pub reason: String,
}

impl fmt::Display for StorageStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.path.is_empty() {
            "the document"
        } else {
            self.path.as_str()
        };
        write!(
            f,
            "invalid storageState at {at}: {}; fix the file (it must be Playwright's storageState JSON) and import again, nothing was imported",
            self.reason
        )
    }
}

impl std::error::Error for StorageStateError {}

pub(crate) fn err(path: impl Into<String>, reason: impl Into<String>) -> StorageStateError {
    StorageStateError {
        path: path.into(),
        reason: reason.into(),
    }
}

/// Parses Playwright storageState JSON into a [`BrowserState`], validating every field.
pub fn import_storage_state(bytes: &[u8]) -> Result<BrowserState, StorageStateError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(err(
            "",
            format!(
                "file is {} bytes, more than the limit of {MAX_INPUT_BYTES} bytes",
                bytes.len()
            ),
        ));
    }
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| err("", format!("not valid JSON ({e})")))?;
    let Value::Object(top) = doc else {
        return Err(err(
            "",
            format!("expected a JSON object, found {}", kind(&doc)),
        ));
    };
    let mut state = BrowserState::default();
    for (key, value) in &top {
        match key.as_str() {
            "cookies" => state.cookies = import_cookies(value)?,
            "origins" => state.origins = import_origins(value)?,
            // Where a state read from the user's browser came from: pvault's JSON only.
            "source" if top.contains_key(PVAULT_MARKER) => {
                state.source = Some(serde_json::from_value(value.clone()).map_err(|e| {
                    err(
                        "source",
                        format!(
                            "expected {{\"browser\", \"browserProfile\", \"userDataDir\"}} ({e})"
                        ),
                    )
                })?);
            }
            PVAULT_MARKER => {
                if value.as_u64() != Some(PVAULT_JSON_VERSION) {
                    return Err(err(
                        PVAULT_MARKER,
                        format!("this build reads pvault JSON version {PVAULT_JSON_VERSION} only"),
                    ));
                }
            }
            other => {
                return Err(err(
                    other,
                    "unknown top-level field (storageState has only `cookies` and `origins`, and pvault's JSON also `pvault` and `source`); remove it",
                ));
            }
        }
    }
    Ok(state)
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn as_array<'a>(
    v: &'a Value,
    path: &str,
    limit: usize,
) -> Result<&'a Vec<Value>, StorageStateError> {
    let Value::Array(a) = v else {
        return Err(err(path, format!("expected an array, found {}", kind(v))));
    };
    if a.len() > limit {
        return Err(err(
            path,
            format!("{} entries, more than the limit of {limit}", a.len()),
        ));
    }
    Ok(a)
}

pub(crate) fn as_object<'a>(
    v: &'a Value,
    path: &str,
) -> Result<&'a Map<String, Value>, StorageStateError> {
    match v {
        Value::Object(o) => Ok(o),
        _ => Err(err(path, format!("expected an object, found {}", kind(v)))),
    }
}

pub(crate) fn as_string(v: &Value, path: &str) -> Result<String, StorageStateError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(err(path, format!("expected a string, found {}", kind(v)))),
    }
}

pub(crate) fn as_bool(v: &Value, path: &str) -> Result<bool, StorageStateError> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(err(
            path,
            format!("expected true or false, found {}", kind(v)),
        )),
    }
}

pub(crate) fn required<'a>(
    o: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Value, StorageStateError> {
    o.get(key)
        .ok_or_else(|| err(format!("{path}.{key}"), "required field is missing"))
}

/// Fields of a storageState cookie this importer understands; anything else goes to `extra`.
const COOKIE_FIELDS: &[&str] = &[
    "name",
    "value",
    "url",
    "domain",
    "path",
    "expires",
    "httpOnly",
    "secure",
    "sameSite",
    "partitionKey",
    "_crHasCrossSiteAncestor",
    "session",
    "size",
    "priority",
    "sourceScheme",
    "sourcePort",
];

fn import_cookies(v: &Value) -> Result<Vec<Cookie>, StorageStateError> {
    let arr = as_array(v, "cookies", MAX_COOKIES)?;
    arr.iter()
        .enumerate()
        .map(|(i, c)| import_cookie(c, &format!("cookies[{i}]")))
        .collect()
}

fn import_cookie(v: &Value, path: &str) -> Result<Cookie, StorageStateError> {
    let o = as_object(v, path)?;
    let field = |k: &str| format!("{path}.{k}");
    let name = as_string(required(o, "name", path)?, &field("name"))?;
    let value = as_string(required(o, "value", path)?, &field("value"))?;
    let url = o
        .get("url")
        .map(|u| as_string(u, &field("url")))
        .transpose()?;
    let domain = o
        .get("domain")
        .map(|d| as_string(d, &field("domain")))
        .transpose()?;
    let cpath = o
        .get("path")
        .map(|p| as_string(p, &field("path")))
        .transpose()?;
    let mut secure = o
        .get("secure")
        .map(|b| as_bool(b, &field("secure")))
        .transpose()?;
    let (domain, cpath) = match (url, domain, cpath) {
        (Some(_), Some(_), _) => {
            return Err(err(
                field("domain"),
                "give either `url` or `domain`/`path`, not both",
            ));
        }
        (Some(_), _, Some(_)) => {
            return Err(err(
                field("path"),
                "give either `url` or `domain`/`path`, not both",
            ));
        }
        (Some(u), None, None) => {
            let (https, host, p) = split_url(&u).map_err(|r| err(field("url"), r))?;
            // Playwright (network.rewriteCookies) makes a url cookie secure exactly for https.
            secure = Some(https);
            (host, p)
        }
        (None, Some(d), Some(p)) => {
            if d.is_empty() {
                return Err(err(field("domain"), "empty domain; give the cookie's host"));
            }
            (d, p)
        }
        (None, None, _) => {
            return Err(err(
                field("domain"),
                "missing: a cookie needs `url` or `domain` and `path`",
            ));
        }
        (None, Some(_), None) => {
            return Err(err(
                field("path"),
                "missing: a cookie with `domain` needs `path` too",
            ));
        }
    };
    let expires = match o.get("expires") {
        None => -1.0,
        Some(e) => {
            let x = e.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
                err(
                    field("expires"),
                    format!("expected a number, found {}", kind(e)),
                )
            })?;
            if !(x == -1.0 || (x > 0.0 && x <= MAX_EXPIRES)) {
                return Err(err(
                    field("expires"),
                    format!(
                        "{x} is not -1 (session) or a Unix time in seconds in (0, {MAX_EXPIRES}]"
                    ),
                ));
            }
            x
        }
    };
    let session = expires == -1.0;
    if let Some(s) = o.get("session")
        && as_bool(s, &field("session"))? != session
    {
        return Err(err(
            field("session"),
            "disagrees with `expires` (-1 means session)",
        ));
    }
    let same_site = match o.get("sameSite") {
        None => None,
        Some(s) => {
            let s = as_string(s, &field("sameSite"))?;
            if !matches!(s.as_str(), "Strict" | "Lax" | "None") {
                return Err(err(
                    field("sameSite"),
                    format!("{s:?} is not one of \"Strict\", \"Lax\", \"None\" (case matters)"),
                ));
            }
            Some(s)
        }
    };
    let cross = o
        .get("_crHasCrossSiteAncestor")
        .map(|b| as_bool(b, &field("_crHasCrossSiteAncestor")))
        .transpose()?;
    let mut extra = Map::new();
    let partition_key = match o.get("partitionKey") {
        None => None,
        Some(p) => Some(PartitionKey {
            top_level_site: as_string(p, &field("partitionKey")).map_err(|e| {
                err(
                    e.path,
                    format!(
                        "{}: Playwright writes the top-level site as a string",
                        e.reason
                    ),
                )
            })?,
            // Playwright's addCookies defaults a missing flag to true for a partitioned cookie.
            has_cross_site_ancestor: cross.unwrap_or(true),
        }),
    };
    if partition_key.is_none()
        && let Some(c) = cross
    {
        // Meaningless without a partition; keep it verbatim rather than lose it.
        extra.insert("_crHasCrossSiteAncestor".into(), Value::Bool(c));
    }
    let size = o
        .get("size")
        .map(|s| {
            s.as_u64()
                .ok_or_else(|| err(field("size"), "expected a non-negative integer"))
        })
        .transpose()?;
    let priority = o
        .get("priority")
        .map(|s| as_string(s, &field("priority")))
        .transpose()?;
    let source_scheme = o
        .get("sourceScheme")
        .map(|s| as_string(s, &field("sourceScheme")))
        .transpose()?;
    let source_port = o
        .get("sourcePort")
        .map(|s| {
            s.as_i64()
                .ok_or_else(|| err(field("sourcePort"), "expected an integer"))
        })
        .transpose()?;
    let http_only = o
        .get("httpOnly")
        .map(|b| as_bool(b, &field("httpOnly")))
        .transpose()?;
    for (k, v) in o {
        if !COOKIE_FIELDS.contains(&k.as_str()) {
            extra.insert(k.clone(), v.clone());
        }
    }
    Ok(Cookie {
        name,
        value,
        domain,
        path: cpath,
        expires,
        size,
        http_only: http_only.unwrap_or(false),
        secure: secure.unwrap_or(false),
        session: Some(session),
        same_site,
        priority,
        source_scheme,
        source_port,
        partition_key,
        extra,
    })
}

/// Splits an `http(s)://` URL into (is https, host, directory path) the way Playwright's
/// `rewriteCookies` uses `new URL(url)`: hostname lowercased, path up to the last `/`.
fn split_url(u: &str) -> Result<(bool, String, String), String> {
    let (scheme, rest) = u
        .split_once("://")
        .ok_or_else(|| format!("{u:?} is not an absolute URL"))?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => {
            return Err(format!(
                "scheme {scheme:?} is not http or https; cookies need a web URL"
            ));
        }
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        let close = host_port.find(']').ok_or("unclosed `[` in IPv6 host")?;
        &host_port[..=close]
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(format!("{u:?} has no host"));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_[]:".contains(c))
    {
        return Err(format!(
            "host {host:?} has characters a URL host cannot have; use its punycode (xn--) form"
        ));
    }
    let tail = &rest[end..];
    let pathname = tail.split(['?', '#']).next().unwrap_or_default();
    let pathname = if pathname.is_empty() { "/" } else { pathname };
    let dir = &pathname[..=pathname.rfind('/').unwrap_or(0)];
    Ok((https, host.to_ascii_lowercase(), dir.to_owned()))
}

/// Fields of a storageState origin this importer understands; anything else goes to `extra`.
const ORIGIN_FIELDS: &[&str] = &["origin", "localStorage", "sessionStorage", "indexedDB"];

fn import_origins(v: &Value) -> Result<Vec<OriginState>, StorageStateError> {
    let arr = as_array(v, "origins", MAX_ORIGINS)?;
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(arr.len());
    for (i, o) in arr.iter().enumerate() {
        let path = format!("origins[{i}]");
        let obj = as_object(o, &path)?;
        let opath = format!("{path}.origin");
        let origin = as_string(required(obj, "origin", &path)?, &opath)?;
        check_origin(&origin).map_err(|r| err(&opath, r))?;
        if !seen.insert(origin.clone()) {
            return Err(err(
                opath,
                format!("{origin:?} appears twice; merge its entries into one"),
            ));
        }
        let local_storage = match obj.get("localStorage") {
            None => Vec::new(),
            Some(l) => import_items(l, &format!("{path}.localStorage"))?,
        };
        let session_storage = obj
            .get("sessionStorage")
            .map(|l| import_items(l, &format!("{path}.sessionStorage")))
            .transpose()?;
        let extra = obj
            .iter()
            .filter(|(k, _)| !ORIGIN_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let indexed_db = obj
            .get("indexedDB")
            .map(|d| crate::idb_interop::import_databases(d, &format!("{path}.indexedDB")))
            .transpose()?;
        out.push(OriginState {
            origin,
            local_storage,
            session_storage,
            indexed_db: indexed_db.map(std::sync::Arc::new),
            extra,
        });
    }
    Ok(out)
}

fn import_items(v: &Value, path: &str) -> Result<Vec<StorageItem>, StorageStateError> {
    let arr = as_array(v, path, MAX_ITEMS_PER_ORIGIN)?;
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(arr.len());
    for (i, item) in arr.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        let o = as_object(item, &ipath)?;
        let name = as_string(required(o, "name", &ipath)?, &format!("{ipath}.name"))?;
        let value = as_string(required(o, "value", &ipath)?, &format!("{ipath}.value"))?;
        if let Some(k) = o.keys().find(|k| *k != "name" && *k != "value") {
            return Err(err(
                format!("{ipath}.{k}"),
                "unknown field; a storage item has only `name` and `value`",
            ));
        }
        if !seen.insert(name.clone()) {
            return Err(err(
                format!("{ipath}.name"),
                "the same key appears twice in this origin; keep one",
            ));
        }
        out.push(StorageItem { name, value });
    }
    Ok(out)
}

/// Checks `scheme://host[:port]` with nothing after it, as `location.origin` prints it.
fn check_origin(o: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "{o:?} is not an origin like \"https://app.example.com\" or \"http://localhost:3000\" (no path, no trailing slash)"
        )
    };
    let (scheme, rest) = o.split_once("://").ok_or_else(bad)?;
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    if !scheme_ok || rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad());
    }
    let (host, port) = if rest.starts_with('[') {
        let close = rest.find(']').ok_or_else(bad)?;
        (&rest[..=close], rest[close + 1..].strip_prefix(':'))
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() || (!host.starts_with('[') && host.contains([':', '[', ']'])) {
        return Err(bad());
    }
    if let Some(p) = port {
        if p.is_empty()
            || p.len() > 5
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u32>().map_or(true, |n| n > 65535)
        {
            return Err(bad());
        }
    } else if host.len() + scheme.len() + 3 != o.len() {
        return Err(bad());
    }
    Ok(())
}
