//! Cookie validation before `Storage.setCookies`, and mapping between CDP JSON and the model.
//!
//! Chrome silently drops some invalid cookies (`SameSite=None` without `Secure`, expired ones)
//! and one bad partitioned cookie fails the whole batch, so every cookie is checked here first
//! and the count is verified after. These checks live in this crate because
//! `pvault_model::cookie_rules` did not exist yet when it was written.

use pvault_model::Cookie;
use serde_json::{Map, Value, json};

/// Why Chrome would refuse or silently drop `c`, or `None` when it should be accepted.
/// The reason never contains the cookie's value.
pub fn cookie_problem(c: &Cookie, now_unix: f64) -> Option<String> {
    let domain = c.domain.trim_start_matches('.');
    if domain.is_empty() {
        return Some("empty domain".into());
    }
    if c.domain
        .chars()
        .any(|ch| ch.is_whitespace() || ch == '/' || ch == ';')
    {
        return Some("domain contains whitespace, '/' or ';'".into());
    }
    if c.name
        .chars()
        .any(|ch| ch.is_control() || ch == ';' || ch == '=')
    {
        return Some("name contains a control character, ';' or '='".into());
    }
    if c.value.chars().any(|ch| ch.is_control() || ch == ';') {
        return Some("value contains a control character or ';'".into());
    }
    if c.name.is_empty() && c.value.is_empty() {
        return Some("both name and value are empty".into());
    }
    if !c.path.starts_with('/') {
        return Some("path does not start with '/'".into());
    }
    if c.expires.is_nan() || (c.expires != -1.0 && c.expires <= now_unix) {
        return Some("expired (expires is in the past or 0; use -1 for a session cookie)".into());
    }
    match c.same_site.as_deref() {
        None | Some("Strict") | Some("Lax") => {}
        Some("None") if !c.secure => {
            return Some("SameSite=None requires Secure".into());
        }
        Some("None") => {}
        Some(other) => return Some(format!("unknown sameSite value {other:?}")),
    }
    if let Some(pk) = &c.partition_key {
        if !c.secure {
            return Some("a partitioned cookie requires Secure".into());
        }
        if !(pk.top_level_site.starts_with("https://") || pk.top_level_site.starts_with("http://"))
        {
            return Some("partition key topLevelSite must be an http(s) site".into());
        }
    }
    if c.name.starts_with("__Secure-") && !c.secure {
        return Some("__Secure- prefix requires Secure".into());
    }
    if c.name.starts_with("__Host-") && (!c.secure || c.path != "/" || c.domain.starts_with('.')) {
        return Some("__Host- prefix requires Secure, path '/' and a host-only domain".into());
    }
    None
}

/// The `Storage.setCookies` parameter for `c` (a `CookieParam`). `size` and `session` are
/// outputs only; fields the model does not know (`extra`) are not sent because Chrome may
/// reject parameters it does not expect.
pub(crate) fn to_cookie_param(c: &Cookie) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(c.name));
    m.insert("value".into(), json!(c.value));
    m.insert("domain".into(), json!(c.domain));
    m.insert("path".into(), json!(c.path));
    m.insert("secure".into(), json!(c.secure));
    m.insert("httpOnly".into(), json!(c.http_only));
    if c.expires != -1.0 {
        m.insert("expires".into(), json!(c.expires));
    }
    if let Some(v) = &c.same_site {
        m.insert("sameSite".into(), json!(v));
    }
    if let Some(v) = &c.priority {
        m.insert("priority".into(), json!(v));
    }
    if let Some(v) = &c.source_scheme {
        m.insert("sourceScheme".into(), json!(v));
    }
    if let Some(v) = c.source_port {
        m.insert("sourcePort".into(), json!(v));
    }
    if let Some(pk) = &c.partition_key {
        m.insert(
            "partitionKey".into(),
            json!({"topLevelSite": pk.top_level_site, "hasCrossSiteAncestor": pk.has_cross_site_ancestor}),
        );
    }
    Value::Object(m)
}

/// Identity of a cookie in a cookie jar: name, domain, path, partition.
pub(crate) type CookieKey = (String, String, String, Option<(String, bool)>);

pub(crate) fn key_of(c: &Cookie) -> CookieKey {
    (
        c.name.clone(),
        c.domain.clone(),
        c.path.clone(),
        c.partition_key
            .as_ref()
            .map(|p| (p.top_level_site.clone(), p.has_cross_site_ancestor)),
    )
}

/// Maps a `Storage.getCookies` result into model cookies, sorted by domain, path, name and
/// partition so equal jars give equal (and equally hashed) snapshots. Cookies that do not map
/// are returned as `(name, domain, reason)`.
pub(crate) fn from_get_cookies(result: &Value) -> (Vec<Cookie>, Vec<(String, String, String)>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    let list = result
        .get("cookies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for v in list {
        match serde_json::from_value::<Cookie>(v.clone()) {
            Ok(c) => ok.push(c),
            Err(e) => bad.push((
                v.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                v.get("domain")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                format!("unreadable cookie from Chrome: {e}"),
            )),
        }
    }
    ok.sort_by(|a, b| {
        (&a.domain, &a.path, &a.name, &a.partition_key).cmp(&(
            &b.domain,
            &b.path,
            &b.name,
            &b.partition_key,
        ))
    });
    (ok, bad)
}

pub(crate) fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
