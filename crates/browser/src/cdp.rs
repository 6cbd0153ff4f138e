//! Raw CDP commands with `serde_json::Value` responses.
//!
//! chromiumoxide's typed responses use strict enums generated for about Chromium 145; one new
//! value from Chrome (a new `sameSite`, `priority`, frame flag...) makes decoding fail. Every
//! command whose answer we keep goes through [`Raw`] instead, so unknown values survive. All
//! state traffic goes through [`call_browser`] and [`call_page`].

use chromiumoxide::types::{Command, Method, MethodId};
use chromiumoxide::{Browser, Page};
use serde::Serialize;
use serde_json::Value;

use crate::BrowserError;

/// A CDP command given by name, with JSON params and a JSON result.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    /// Method name, e.g. `Storage.getCookies`.
    method: &'static str,
    /// The `params` object.
    params: Value,
}

impl Serialize for Raw {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.params.serialize(s)
    }
}

impl Method for Raw {
    fn identifier(&self) -> MethodId {
        self.method.into()
    }
}

impl Command for Raw {
    type Response = Value;
}

/// Sends `method` on the browser session (no target).
pub(crate) async fn call_browser(
    browser: &Browser,
    method: &'static str,
    params: Value,
) -> Result<Value, BrowserError> {
    browser
        .execute(Raw { method, params })
        .await
        .map(|r| r.result)
        .map_err(|e| BrowserError::cdp(method, e))
}

/// Sends `method` on a page's session.
pub(crate) async fn call_page(
    page: &Page,
    method: &'static str,
    params: Value,
) -> Result<Value, BrowserError> {
    page.execute(Raw { method, params })
        .await
        .map(|r| r.result)
        .map_err(|e| BrowserError::cdp(method, e))
}

/// Evaluates `expression` in a page (in the execution context `context`, else the main
/// world), awaiting a returned promise, and returns the result by value. A script exception
/// is an error carrying its description.
pub(crate) async fn evaluate(
    page: &Page,
    expression: String,
    context: Option<i64>,
) -> Result<Value, BrowserError> {
    let mut params = serde_json::json!({
        "expression": expression,
        "returnByValue": true,
        "awaitPromise": true,
    });
    if let Some(id) = context {
        params["contextId"] = id.into();
    }
    let r = call_page(page, "Runtime.evaluate", params).await?;
    if let Some(ex) = r.get("exceptionDetails") {
        let text = ex
            .pointer("/exception/description")
            .or_else(|| ex.get("text"))
            .and_then(Value::as_str)
            .unwrap_or("script exception");
        return Err(BrowserError::cdp("Runtime.evaluate", text));
    }
    Ok(r.pointer("/result/value").cloned().unwrap_or(Value::Null))
}

/// The origin (`scheme://host[:port]`) of an http(s) URL, or `None` for anything else
/// (about:blank, data:, chrome:, opaque origins), which has no localStorage we keep.
pub(crate) fn http_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // Drop userinfo.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return None;
    }
    let host_port = host_port.to_ascii_lowercase();
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    let host_port = host_port
        .strip_suffix(default_port)
        .unwrap_or(&host_port)
        .to_owned();
    Some(format!("{scheme}://{host_port}"))
}

#[cfg(test)]
mod tests {
    use super::http_origin;

    #[test]
    fn origins() {
        assert_eq!(
            http_origin("http://127.0.0.1:8080/a?b").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            http_origin("https://Example.com:443/").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(http_origin("about:blank"), None);
        assert_eq!(http_origin("data:text/html,x"), None);
    }
}
