//! Opening a page for a login health check: navigate a fresh tab, wait for the load (and for
//! the selectors asked for, up to a deadline), and report what the page showed. Read-only:
//! it captures nothing.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::BrowserError;
use crate::endpoint::CdpEndpoint;
use crate::raw_cdp::{RawCdp, exception_text};
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

/// Waits for `document.readyState == 'complete'` (the load event), then for every selector (polling) until the
/// deadline, and reports the page. Selector and text values travel as JSON, never spliced
/// into the script as code.
const SCRIPT: &str = r#"(async (sels, texts, ms) => {
  const end = Date.now() + ms;
  const sleep = (t) => new Promise((r) => setTimeout(r, t));
  if (document.readyState !== 'complete')
    await new Promise((r) => { addEventListener('load', r, { once: true }); setTimeout(r, ms); });
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
    ///
    /// It speaks CDP on a connection of its own ([`RawCdp`]) rather than through a
    /// chromiumoxide `Page`, which is handed out only after a dozen set-up commands: here the
    /// tab can be opened before the state is loaded ([`crate::LaunchOptions::probe_tab`]),
    /// and `Page.navigate` says at once when the navigation failed.
    pub async fn probe_page(
        &self,
        url: &str,
        timeout: Duration,
        selectors: &[String],
        texts: &[String],
    ) -> Result<PageProbe, BrowserError> {
        let start = Instant::now();
        let prepared = self
            .probe_tab
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let work = async {
            let mut tab = match prepared {
                Some(tab) => tab,
                None => ProbeTab::open(&self.endpoint).await?,
            };
            let (cdp, session) = (&mut tab.cdp, Some(tab.session_id.as_str()));
            // The saved sessionStorage, on our own session of the tab: the page connection
            // (`tabs/`) puts it on every new tab too, but only once it has seen the tab
            // attach, and this navigation may come first (seen when the tab opens during the
            // load). The script writes nothing into a tab that already has sessionStorage,
            // so running twice is harmless.
            if let Some(source) = self.tabs.script() {
                cdp.call(
                    session,
                    "Page.addScriptToEvaluateOnNewDocument",
                    json!({"source": &*source}),
                )
                .await?;
            }
            // Answers when the navigation has committed (HTTP redirects followed), or at
            // once with `errorText` when it failed.
            let nav = cdp
                .call(session, "Page.navigate", json!({"url": url}))
                .await?;
            if let Some(err) = nav
                .get("errorText")
                .and_then(Value::as_str)
                .filter(|e| !e.is_empty())
            {
                return Err(BrowserError::cdp(
                    "Page.navigate",
                    format!("{url} could not be opened: {err}"),
                ));
            }
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
                let params =
                    json!({"expression": expr, "returnByValue": true, "awaitPromise": true});
                match cdp.call(session, "Runtime.evaluate", params).await {
                    Ok(r) if r.get("exceptionDetails").is_none() => {
                        return Ok((tab, r.pointer("/result/value").cloned()));
                    }
                    Ok(r) => last = Some(BrowserError::cdp("Runtime.evaluate", exception_text(&r))),
                    Err(e) => last = Some(e),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(last.unwrap_or_else(|| BrowserError::cdp("Runtime.evaluate", "no result")))
        };
        let result = tokio::time::timeout(timeout, work).await;
        tracing::debug!(ms = start.elapsed().as_millis() as u64, "probe page");
        let v: Value = match result {
            Ok(Ok((mut tab, v))) => {
                // Not waited for: the tab's answer changes nothing of the result.
                let close = json!({"targetId": tab.target_id});
                tab.cdp.send(None, "Target.closeTarget", close).await;
                v.unwrap_or(Value::Null)
            }
            Ok(Err(e)) => return Err(e),
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

/// A blank tab on a CDP connection of its own, for [`Session::probe_page`]. Opening it costs
/// a renderer's start (about 80 ms measured on Chromium 148): a health check opens it while
/// the state loads (see [`crate::LaunchOptions::probe_tab`]).
pub(crate) struct ProbeTab {
    /// The connection the tab is attached on.
    cdp: RawCdp,
    /// The tab.
    target_id: String,
    /// Our (flat) session with it.
    session_id: String,
}

impl ProbeTab {
    /// Opens an about:blank tab and attaches to it.
    pub(crate) async fn open(endpoint: &CdpEndpoint) -> Result<ProbeTab, BrowserError> {
        let mut cdp = RawCdp::open(endpoint).await?;
        let target = cdp
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_owned();
        let attached = cdp
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await?;
        let session_id = attached["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok(ProbeTab {
            cdp,
            target_id,
            session_id,
        })
    }
}
