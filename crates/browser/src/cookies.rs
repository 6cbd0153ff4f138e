//! Cookie validation before `Storage.setCookies`, and mapping between CDP JSON and the model.
//!
//! Chrome silently drops some invalid cookies (`SameSite=None` without `Secure`, expired ones)
//! and one bad partitioned cookie fails the whole batch, so every cookie is checked here first
//! and the count is verified after.

use pvault_model::Cookie;
use serde_json::{Map, Value, json};

/// Why Chrome would refuse or silently drop `c`, or `None` when it should be accepted:
/// the shared rules of [`pvault_model::cdp_cookie_problem_at`] plus a few checks on values
/// CDP would otherwise reject for the whole batch. The reason never contains the value.
pub(crate) fn cookie_problem(c: &Cookie, now_unix: f64) -> Option<String> {
    if let Some(p) = pvault_model::cookie_rules::cdp_cookie_problem_at(c, now_unix) {
        return Some(p);
    }
    if c.domain
        .chars()
        .any(|ch| ch.is_whitespace() || ch == '/' || ch == ';')
    {
        return Some("domain contains whitespace, '/' or ';'".into());
    }
    if let Some(v) = c.same_site.as_deref()
        && !matches!(v, "Strict" | "Lax" | "None")
    {
        return Some(format!("unknown sameSite value {v:?}"));
    }
    if let Some(pk) = &c.partition_key
        && !(pk.top_level_site.starts_with("https://") || pk.top_level_site.starts_with("http://"))
    {
        return Some("partition key topLevelSite must be an http(s) site".into());
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
    if c.expires != -1.0 && c.session != Some(true) {
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
