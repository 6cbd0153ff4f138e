//! Checks a cookie against the rules Chrome's `Storage.setCookies` enforces, *before* sending it.
//!
//! Why: Chrome is inconsistent about refusing cookies. A `SameSite=None` cookie without
//! `secure`, or one with expiry 0 or in the past, is silently not stored while the call still
//! succeeds; a partitioned cookie without `secure` fails the **whole batch** with "Invalid
//! cookie fields". The browser crate filters with this function so
//! one bad cookie neither vanishes unnoticed nor takes the others down with it.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::Cookie;

/// Why Chrome would refuse or silently drop `cookie`, or `None` when it would store it.
///
/// The message names the cookie (its name, domain and path, never its value) and the rule.
pub fn cdp_cookie_problem(cookie: &Cookie) -> Option<String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    cdp_cookie_problem_at(cookie, now)
}

/// [`cdp_cookie_problem`] with an explicit "now" in Unix seconds, for deterministic tests.
pub fn cdp_cookie_problem_at(cookie: &Cookie, now_unix_secs: f64) -> Option<String> {
    let who = format!(
        "cookie {:?} (domain {:?}, path {:?})",
        cookie.name, cookie.domain, cookie.path
    );
    let problem = |rule: &str| Some(format!("{who}: {rule}"));
    let domain = cookie.domain.trim_start_matches('.');
    if domain.is_empty() {
        return problem("empty domain; Chrome cannot place it");
    }
    if !cookie.path.starts_with('/') {
        return problem("path must start with `/`");
    }
    if cookie.name.is_empty() && cookie.value.is_empty() {
        return problem("both name and value are empty; Chrome refuses such a cookie");
    }
    let bad_char =
        |s: &str, extra: &[char]| s.chars().any(|c| c.is_control() || extra.contains(&c));
    if bad_char(&cookie.name, &[';', '=']) {
        return problem("name contains `;`, `=` or a control character");
    }
    if bad_char(&cookie.value, &[';']) {
        return problem("value contains `;` or a control character");
    }
    let session = cookie.session == Some(true) || cookie.expires == -1.0;
    if !session {
        if !cookie.expires.is_finite() || cookie.expires <= 0.0 {
            return problem(
                "expires is 0, negative (other than -1) or not a number; Chrome silently drops it",
            );
        }
        if cookie.expires <= now_unix_secs {
            return problem("already expired; Chrome silently drops it");
        }
    }
    if cookie.same_site.as_deref() == Some("None") && !cookie.secure {
        return problem("SameSite=None without `secure`; Chrome silently drops it");
    }
    if let Some(pk) = &cookie.partition_key {
        if !cookie.secure {
            return problem(
                "partitioned without `secure`; Chrome fails the whole setCookies batch",
            );
        }
        if pk.top_level_site.is_empty() {
            return problem("partition key has an empty top-level site");
        }
    }
    if cookie.name.starts_with("__Secure-") && !cookie.secure {
        return problem("`__Secure-` prefix requires `secure`");
    }
    if cookie.name.starts_with("__Host-")
        && (!cookie.secure || cookie.path != "/" || cookie.domain.starts_with('.'))
    {
        return problem("`__Host-` prefix requires `secure`, path `/` and a host-only domain");
    }
    None
}
