//! Opening a page for a login health check: navigate a fresh tab, wait for the load (and for
//! the selectors asked for, up to a deadline), and report what the page showed. Read-only:
//! it captures nothing.

use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::target::CreateTargetParams;
use serde_json::Value;

use crate::BrowserError;
use crate::cdp::evaluate;
use crate::session::Session;

/// What a page showed a health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageProbe {
    /// `location.href` after redirects.
    pub final_url: String,
    /// The HTTP status of the final document (`PerformanceNavigationTiming.responseStatus`),
    /// when the browser reports one.
    pub http_status: Option<u16>,
    /// Per selector asked for: found (`Ok(true)`), not found by the deadline (`Ok(false)`),
    /// or refused by the browser (`Err(reason)`).
    pub selectors: Vec<Result<bool, String>>,
    /// Per text asked for: whether the page's text contains it.
    pub texts: Vec<bool>,
}

/// Waits for `document.readyState == 'complete'`, then for every selector (polling) until the
/// deadline, and reports the page. Selector and text values travel as JSON, never spliced
/// into the script as code.
const SCRIPT: &str = r#"(async (sels, texts, ms) => {
  const end = Date.now() + ms;
  const sleep = (t) => new Promise((r) => setTimeout(r, t));
  while (document.readyState !== 'complete' && Date.now() < end) await sleep(25);
  const test = (s) => { try { return document.querySelector(s) !== null; } catch (e) { return 'the browser refuses the selector: ' + e.message; } };
  let found = sels.map(test);
  while (found.some((f) => f === false) && Date.now() < end) { await sleep(50); found = sels.map(test); }
  const body = document.body ? document.body.innerText : '';
  const nav = performance.getEntriesByType('navigation')[0];
  return { url: location.href, status: nav && nav.responseStatus ? nav.responseStatus : null,
           found, texts: texts.map((t) => body.includes(t)) };
})"#;

impl Session {
    /// Opens `url` in a new tab, waits for it (and `selectors`) up to `timeout`, reports what
    /// it showed, and closes the tab. A navigation that fails (the server is down, DNS, TLS)
    /// or does not finish in time is a [`BrowserError`], never a finding about the login.
    pub async fn probe_page(
        &self,
        url: &str,
        timeout: Duration,
        selectors: &[String],
        texts: &[String],
    ) -> Result<PageProbe, BrowserError> {
        let start = Instant::now();
        let params = CreateTargetParams::builder()
            .url("about:blank")
            .build()
            .map_err(|e| BrowserError::cdp("Target.createTarget", e))?;
        let page = self
            .browser
            .new_page(params)
            .await
            .map_err(|e| BrowserError::cdp("Target.createTarget", e))?;
        let work = async {
            page.goto(url)
                .await
                .map_err(|e| BrowserError::cdp("Page.navigate", e))?;
            let args = serde_json::to_string(&(selectors, texts)).unwrap_or_default();
            let mut last = None;
            // A script redirect right after the load replaces the document the script runs
            // in: evaluate again in the new one.
            for _ in 0..5 {
                let left = timeout.saturating_sub(start.elapsed());
                let ms = left.saturating_sub(Duration::from_millis(250)).as_millis();
                let expr = format!(
                    "(() => {{ const [s, t] = {args}; return ({SCRIPT})(s, t, {ms}); }})()"
                );
                match evaluate(&page, expr, None).await {
                    Ok(v) => return Ok(v),
                    Err(e) => {
                        last = Some(e);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            Err(last.unwrap_or_else(|| BrowserError::cdp("Runtime.evaluate", "no result")))
        };
        let result = tokio::time::timeout(timeout, work).await;
        let _ = page.close().await;
        let v: Value = match result {
            Ok(r) => r?,
            Err(_) => {
                return Err(BrowserError::cdp(
                    "Page.navigate",
                    format!("the page did not load within {} s", timeout.as_secs()),
                ));
            }
        };
        let found = v["found"].as_array().cloned().unwrap_or_default();
        Ok(PageProbe {
            final_url: v["url"].as_str().unwrap_or_default().to_owned(),
            http_status: v["status"].as_u64().and_then(|s| u16::try_from(s).ok()),
            selectors: found
                .iter()
                .map(|f| match f {
                    Value::Bool(b) => Ok(*b),
                    other => Err(other.as_str().unwrap_or("refused").to_owned()),
                })
                .collect(),
            texts: v["texts"]
                .as_array()
                .map(|a| a.iter().map(|t| t.as_bool() == Some(true)).collect())
                .unwrap_or_default(),
        })
    }
}
