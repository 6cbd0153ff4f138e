//! Login health: what a profile's login looks like while it holds (a [`HealthDefinition`]),
//! and what the last check of it found (a [`HealthResult`]).
//!
//! A definition names a page to open and expectations that must all hold. Two of them
//! (`cookie`, `local_storage`) need no browser: they are evaluated on a stored state, which
//! is what the logout guard does at the end of a `--save` session and what the offline expiry
//! warning reads. The others (`selector`, `url_not`, `text`) need the page, opened by a check.

use serde::{Deserialize, Serialize};

use crate::BrowserState;

/// Most expectations a definition may hold (a definition is sealed in the profile's metadata,
/// whose sealed record is capped at 1 MiB).
pub const MAX_EXPECTATIONS: usize = 64;
/// Longest URL, pattern, selector or text accepted in a definition, in bytes.
pub const MAX_VALUE_LEN: usize = 4096;

/// A profile's health definition: the page a check opens and what must hold there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthDefinition {
    /// The page a check opens (`http` or `https`).
    pub url: String,
    /// Every expectation, all of which must hold; never empty.
    pub expect: Vec<Expectation>,
}

/// One expectation of a health definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Expectation {
    /// A cookie of that name (on that domain, if given) is present and not expired.
    Cookie {
        /// The cookie's name.
        name: String,
        /// Its domain (a leading dot is ignored on both sides); any domain when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        domain: Option<String>,
    },
    /// A localStorage key is present at an origin.
    LocalStorage {
        /// Serialized origin, `scheme://host[:port]`.
        origin: String,
        /// The key.
        key: String,
    },
    /// An element matching the CSS selector is in the page after load.
    Selector {
        /// The CSS selector.
        css: String,
    },
    /// The final URL after redirects does not match the regular expression.
    UrlNot {
        /// The pattern (Rust `regex` syntax, unanchored).
        regex: String,
    },
    /// The page's text contains the string.
    Text {
        /// The string looked for (case-sensitive).
        text: String,
    },
}

impl Expectation {
    /// Whether it can be evaluated on a stored state, without a browser.
    pub fn is_offline(&self) -> bool {
        matches!(
            self,
            Expectation::Cookie { .. } | Expectation::LocalStorage { .. }
        )
    }

    /// The CLI option that sets it (errors name it so the user knows what to fix).
    pub fn option(&self) -> &'static str {
        match self {
            Expectation::Cookie { .. } => "--expect-cookie",
            Expectation::LocalStorage { .. } => "--expect-local-storage",
            Expectation::Selector { .. } => "--expect-selector",
            Expectation::UrlNot { .. } => "--expect-url-not",
            Expectation::Text { .. } => "--expect-text",
        }
    }
}

impl std::fmt::Display for Expectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expectation::Cookie { name, domain: None } => write!(f, "cookie {name}"),
            Expectation::Cookie {
                name,
                domain: Some(d),
            } => write!(f, "cookie {name}@{d}"),
            Expectation::LocalStorage { origin, key } => write!(f, "local_storage {origin} {key}"),
            Expectation::Selector { css } => write!(f, "selector {css}"),
            Expectation::UrlNot { regex } => write!(f, "url_not {regex}"),
            Expectation::Text { text } => write!(f, "text {text}"),
        }
    }
}

/// A definition refused: which argument, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{argument}: {reason}")]
pub struct HealthDefinitionError {
    /// The argument at fault, as the CLI names it and with its place in the request, e.g.
    /// `--expect-url-not (expect[2].regex)`.
    pub argument: String,
    /// What is wrong with it and what is expected.
    pub reason: String,
}

impl HealthDefinition {
    /// Checks the definition: an `http(s)` URL, at least one expectation, valid patterns,
    /// selectors and origins, bounded sizes. The error names the argument.
    pub fn validate(&self) -> Result<(), HealthDefinitionError> {
        let err = |argument: String, reason: String| HealthDefinitionError { argument, reason };
        check_url(&self.url).map_err(|r| err("--url (url)".into(), r))?;
        if self.expect.is_empty() {
            return Err(err(
                "expect".into(),
                "a health definition needs at least one expectation (--expect-cookie, \
                 --expect-local-storage, --expect-selector, --expect-url-not or --expect-text)"
                    .into(),
            ));
        }
        if self.expect.len() > MAX_EXPECTATIONS {
            return Err(err(
                "expect".into(),
                format!("at most {MAX_EXPECTATIONS} expectations"),
            ));
        }
        for (i, e) in self.expect.iter().enumerate() {
            let member = match e {
                Expectation::Cookie { .. } => "name",
                Expectation::LocalStorage { .. } => "origin",
                Expectation::Selector { .. } => "css",
                Expectation::UrlNot { .. } => "regex",
                Expectation::Text { .. } => "text",
            };
            let arg = |m: &str| format!("{} (expect[{i}].{m})", e.option());
            check_expectation(e).map_err(|(m, r)| err(arg(m.unwrap_or(member)), r))?;
        }
        Ok(())
    }

    /// Whether any expectation can be evaluated without a browser.
    pub fn has_offline(&self) -> bool {
        self.expect.iter().any(Expectation::is_offline)
    }

    /// Evaluates the offline expectations (cookies, localStorage) on a stored state at
    /// `now_secs` (Unix seconds); returns the failed ones with why.
    pub fn failed_offline(&self, state: &BrowserState, now_secs: f64) -> Vec<HealthFailure> {
        self.expect
            .iter()
            .filter_map(|e| {
                offline_failure(e, state, now_secs).map(|reason| HealthFailure {
                    expectation: e.to_string(),
                    reason,
                })
            })
            .collect()
    }

    /// Cookies named by an expectation that are present and expire after `now_secs` but
    /// before `now_secs + within_secs`: `(expectation, expiry in Unix seconds)`, soonest first.
    pub fn expiring_cookies(
        &self,
        state: &BrowserState,
        now_secs: f64,
        within_secs: f64,
    ) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = self
            .expect
            .iter()
            .filter_map(|e| {
                let Expectation::Cookie { name, domain } = e else {
                    return None;
                };
                // The expectation holds while any matching cookie lives: warn about the one
                // that lives longest.
                let expires = matching_cookies(state, name, domain.as_deref())
                    .map(|c| c.expires)
                    .filter(|&x| x > now_secs || x < 0.0)
                    .fold(None, |acc: Option<f64>, x| {
                        Some(acc.map_or(x, |a| if a < 0.0 || x < 0.0 { -1.0 } else { a.max(x) }))
                    })?;
                (expires >= 0.0 && expires < now_secs + within_secs)
                    .then(|| (e.to_string(), expires))
            })
            .collect();
        out.sort_by(|a, b| a.1.total_cmp(&b.1));
        out
    }
}

fn matching_cookies<'a>(
    state: &'a BrowserState,
    name: &'a str,
    domain: Option<&'a str>,
) -> impl Iterator<Item = &'a crate::Cookie> + 'a {
    let want = domain.map(|d| d.trim_start_matches('.').to_ascii_lowercase());
    state.cookies.iter().filter(move |c| {
        c.name == name
            && want
                .as_deref()
                .is_none_or(|d| c.domain.trim_start_matches('.').eq_ignore_ascii_case(d))
    })
}

fn offline_failure(e: &Expectation, state: &BrowserState, now_secs: f64) -> Option<String> {
    match e {
        Expectation::Cookie { name, domain } => {
            let mut found = false;
            for c in matching_cookies(state, name, domain.as_deref()) {
                found = true;
                // -1 (or any negative value) is a session cookie: it does not expire.
                if c.expires < 0.0 || c.expires > now_secs {
                    return None;
                }
            }
            Some(if found {
                "the cookie has expired".into()
            } else {
                "no such cookie".into()
            })
        }
        Expectation::LocalStorage { origin, key } => {
            let o = state.origins.iter().find(|o| o.origin == *origin);
            match o {
                None => Some("no localStorage at that origin".into()),
                Some(o) if o.local_storage.iter().any(|i| i.name == *key) => None,
                Some(_) => Some("no such localStorage key".into()),
            }
        }
        _ => None,
    }
}

/// Checks an expectation; the error names the member at fault (or `None` for the main one).
fn check_expectation(e: &Expectation) -> Result<(), (Option<&'static str>, String)> {
    let bounded = |m: Option<&'static str>, v: &str| {
        if v.len() > MAX_VALUE_LEN {
            Err((m, format!("longer than {MAX_VALUE_LEN} bytes")))
        } else {
            Ok(())
        }
    };
    match e {
        Expectation::Cookie { name, domain } => {
            bounded(None, name)?;
            if name.is_empty() {
                return Err((None, "a cookie name is needed: NAME or NAME@DOMAIN".into()));
            }
            if let Some(d) = domain {
                bounded(Some("domain"), d)?;
                let bare = d.trim_start_matches('.');
                if bare.is_empty()
                    || !bare
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
                {
                    return Err((
                        Some("domain"),
                        "not a domain: expected e.g. example.com or .example.com".into(),
                    ));
                }
            }
            Ok(())
        }
        Expectation::LocalStorage { origin, key } => {
            bounded(None, origin)?;
            bounded(Some("key"), key)?;
            check_origin(origin).map_err(|r| (None, r))?;
            if key.is_empty() {
                return Err((Some("key"), "a localStorage key is needed".into()));
            }
            Ok(())
        }
        Expectation::Selector { css } => {
            bounded(None, css)?;
            check_selector(css).map_err(|r| (None, r))
        }
        Expectation::UrlNot { regex } => {
            bounded(None, regex)?;
            regex::Regex::new(regex).map(drop).map_err(|e| {
                (
                    None,
                    format!(
                        "not a valid regular expression: {}",
                        first_line(&e.to_string())
                    ),
                )
            })
        }
        Expectation::Text { text } => {
            bounded(None, text)?;
            if text.is_empty() {
                return Err((None, "the text looked for cannot be empty".into()));
            }
            Ok(())
        }
    }
}

fn first_line(s: &str) -> String {
    // regex's messages draw the pattern over several lines; the last line says what is wrong.
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_owned()
}

/// Checks an `http(s)` URL: a scheme, `://`, a non-empty host.
fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_VALUE_LEN {
        return Err(format!("longer than {MAX_VALUE_LEN} bytes"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("expected an http:// or https:// URL")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.chars().any(char::is_whitespace) || url.chars().any(char::is_control)
    {
        return Err("expected an http:// or https:// URL with a host".into());
    }
    Ok(())
}

/// Checks a serialized origin: `scheme://host[:port]`, no path, query, fragment or user info,
/// no trailing slash (as origins are stored in snapshots).
pub fn check_origin(origin: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "not an origin: expected scheme://host[:port] with no path or trailing slash, e.g. \
             https://app.example.com (got {} bytes)",
            origin.len()
        )
    };
    let (scheme, rest) = origin.split_once("://").ok_or_else(bad)?;
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_lowercase())
        || !scheme.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
        })
    {
        return Err(bad());
    }
    let (host, port, v6) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            a => Some(a.strip_prefix(':').ok_or_else(bad)?),
        };
        (h, port, true)
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p), false),
            None => (rest, None, false),
        }
    };
    let host_ok = |b: u8| {
        if v6 {
            b.is_ascii_hexdigit() || matches!(b, b':' | b'.')
        } else {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        }
    };
    if host.is_empty() || !host.bytes().all(host_ok) {
        return Err(bad());
    }
    if let Some(p) = port
        && (p.is_empty()
            || p.len() > 5
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u32>().map_or(true, |n| n > 65535))
    {
        return Err(bad());
    }
    Ok(())
}

/// A structural check of a CSS selector list, done without a browser: balanced brackets,
/// parentheses and quotes, no empty selector between commas, no combinator at either end
/// or two in a row, no empty `#`/`.` name. It catches what people mistype; a selector it
/// lets through that the browser still refuses fails its check with the browser's reason.
fn check_selector(css: &str) -> Result<(), String> {
    let s = css.trim();
    if s.is_empty() {
        return Err("a CSS selector is needed".into());
    }
    let mut stack: Vec<char> = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    // At the top level: what the last significant token was, to find empty selectors and
    // dangling combinators.
    let mut expecting_compound = true; // at the start, after a comma or a combinator
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if escaped {
            escaped = false;
            expecting_compound = false;
            prev = Some('a');
            continue;
        }
        if c == '\\' {
            escaped = true;
            continue;
        }
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                if stack.last() != Some(&'[') && stack.last() != Some(&'(') {
                    return Err("a quoted string outside [attribute] or (arguments)".into());
                }
                quote = Some(c);
            }
            '[' | '(' => {
                if c == '[' && stack.last() == Some(&'[') {
                    return Err("'[' inside an attribute selector".into());
                }
                stack.push(c);
                expecting_compound = false;
            }
            ']' | ')' => {
                let open = if c == ']' { '[' } else { '(' };
                if stack.pop() != Some(open) {
                    return Err(format!("unbalanced '{c}'"));
                }
                if c == ']' && prev == Some('[') {
                    return Err("an empty attribute selector []".into());
                }
            }
            _ if !stack.is_empty() => {}
            ',' => {
                if expecting_compound {
                    return Err("an empty selector before ','".into());
                }
                expecting_compound = true;
            }
            '>' | '+' | '~' => {
                if expecting_compound {
                    return Err(format!("the combinator '{c}' has no selector before it"));
                }
                expecting_compound = true;
            }
            c if c.is_whitespace() => {}
            '#' | '.' => {
                if matches!(prev, Some('#' | '.')) {
                    return Err(format!("'{}' needs a name after it", prev.unwrap_or('#')));
                }
                expecting_compound = true;
                prev = Some(c);
                continue;
            }
            ':' => {
                expecting_compound = false;
            }
            '{' | '}' | ';' | '@' | '!' | '$' | '%' | '&' | '?' | '`' => {
                return Err(format!("'{c}' cannot appear in a selector"));
            }
            _ => {
                if matches!(prev, Some('#' | '.')) && !(c.is_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(format!("'{}' needs a name after it", prev.unwrap_or('#')));
                }
                expecting_compound = false;
            }
        }
        if matches!(prev, Some('#' | '.')) && !(c.is_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("'{}' needs a name after it", prev.unwrap_or('#')));
        }
        prev = Some(c);
    }
    if quote.is_some() {
        return Err("an unterminated string".into());
    }
    if let Some(open) = stack.pop() {
        return Err(format!("an unclosed '{open}'"));
    }
    if escaped {
        return Err("a dangling backslash".into());
    }
    if expecting_compound {
        return Err(match prev {
            Some('#' | '.') => format!("'{}' needs a name after it", prev.unwrap_or('#')),
            Some(',') => "an empty selector after ','".into(),
            _ => "the selector ends with a combinator".into(),
        });
    }
    Ok(())
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Every expectation held.
    Healthy,
    /// At least one expectation failed: the login is gone.
    LoggedOut,
}

impl HealthStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::LoggedOut => "logged_out",
        }
    }
}

/// One expectation that did not hold, and why (names and reasons only, never values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthFailure {
    /// The expectation as written (`cookie sid@example.com`, `url_not /login`…).
    pub expectation: String,
    /// Why it failed.
    pub reason: String,
}

/// The result of the last check of a profile, kept sealed in its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthResult {
    /// What it found.
    pub status: HealthStatus,
    /// When the check ran, Unix milliseconds.
    pub checked_at: i64,
    /// Since when the status has been what it is (the first check that found it), Unix
    /// milliseconds: `logged out since …`.
    pub since: i64,
    /// The seq of the snapshot checked.
    pub snapshot_seq: Option<u64>,
    /// The page's final URL after redirects.
    pub final_url: Option<String>,
    /// The HTTP status of the final document.
    pub http_status: Option<u16>,
    /// The expectations that failed, and why (empty when healthy).
    pub failed: Vec<HealthFailure>,
}

#[cfg(test)]
mod tests {
    //! Validation rules of health definitions (protocol.md §5.3 "Login health"), and the
    //! offline evaluation the logout guard uses.

    use super::*;
    use crate::{Cookie, OriginState, StorageItem};

    fn def(e: Expectation) -> HealthDefinition {
        HealthDefinition {
            url: "https://app.example.com/home".into(),
            expect: vec![e],
        }
    }

    fn cookie(name: &str, domain: &str, expires: f64) -> Cookie {
        serde_json::from_value(serde_json::json!({
            "name": name, "value": "v", "domain": domain, "path": "/", "expires": expires
        }))
        .unwrap()
    }

    #[test]
    fn bad_definitions_are_refused_naming_the_argument() {
        let none = HealthDefinition {
            url: "https://a.example".into(),
            expect: vec![],
        };
        assert_eq!(none.validate().unwrap_err().argument, "expect");
        let bad_url = HealthDefinition {
            url: "ftp://a.example".into(),
            ..def(Expectation::Text { text: "x".into() })
        };
        assert_eq!(bad_url.validate().unwrap_err().argument, "--url (url)");
        let e = def(Expectation::UrlNot {
            regex: "/login(".into(),
        })
        .validate()
        .unwrap_err();
        assert_eq!(e.argument, "--expect-url-not (expect[0].regex)");
        assert!(e.reason.contains("regular expression"), "{}", e.reason);
        for css in [
            "div[", "a,,b", "> a", "a >", "#", "a..b", "div)", "a{b}", "[]", "'x'",
        ] {
            let e = def(Expectation::Selector { css: css.into() })
                .validate()
                .expect_err(css);
            assert_eq!(e.argument, "--expect-selector (expect[0].css)", "{css}");
        }
        for css in [
            "#user-menu",
            "div.account > a[href^='/logout']",
            "a:not(.x), b ~ c + d",
            "[data-x=\"a]b\"]",
            "li:nth-child(2n+1)",
        ] {
            def(Expectation::Selector { css: css.into() })
                .validate()
                .unwrap_or_else(|e| panic!("{css}: {e}"));
        }
        for origin in [
            "https://a.example/",
            "https://a.example/path",
            "a.example",
            "https://",
            "https://a.example:99999",
            "https://A.example",
            "https://user@a.example",
        ] {
            let e = def(Expectation::LocalStorage {
                origin: origin.into(),
                key: "k".into(),
            })
            .validate()
            .unwrap_err();
            assert_eq!(
                e.argument, "--expect-local-storage (expect[0].origin)",
                "{origin}"
            );
        }
        for origin in [
            "https://a.example",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
        ] {
            check_origin(origin).unwrap_or_else(|e| panic!("{origin}: {e}"));
        }
        let e = def(Expectation::Cookie {
            name: "sid".into(),
            domain: Some("a b".into()),
        })
        .validate()
        .unwrap_err();
        assert_eq!(e.argument, "--expect-cookie (expect[0].domain)");
    }

    #[test]
    fn offline_expectations_are_evaluated_on_a_state() {
        let d = HealthDefinition {
            url: "https://a.example".into(),
            expect: vec![
                Expectation::Cookie {
                    name: "sid".into(),
                    domain: Some("a.example".into()),
                },
                Expectation::LocalStorage {
                    origin: "https://a.example".into(),
                    key: "token".into(),
                },
                Expectation::Selector { css: "#me".into() },
            ],
        };
        let mut origin = OriginState::new("https://a.example");
        origin.local_storage.push(StorageItem {
            name: "token".into(),
            value: "t".into(),
        });
        let good = BrowserState {
            cookies: vec![cookie("sid", ".a.example", 2000.0)],
            origins: vec![origin],
            source: None,
        };
        assert!(d.failed_offline(&good, 1000.0).is_empty());
        let expired = d.failed_offline(&good, 3000.0);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].reason, "the cookie has expired");
        let empty = d.failed_offline(&BrowserState::default(), 1000.0);
        assert_eq!(empty.len(), 2);
        assert_eq!(empty[0].expectation, "cookie sid@a.example");
        // A session cookie never expires; the expiry warning names a cookie expiring soon.
        let session = BrowserState {
            cookies: vec![cookie("sid", "a.example", -1.0)],
            ..good.clone()
        };
        assert!(d.failed_offline(&session, 9e9).is_empty());
        assert!(d.expiring_cookies(&session, 1000.0, 1e6).is_empty());
        assert_eq!(
            d.expiring_cookies(&good, 1000.0, 1500.0),
            vec![("cookie sid@a.example".to_owned(), 2000.0)]
        );
        assert!(d.expiring_cookies(&good, 1000.0, 500.0).is_empty());
    }
}
