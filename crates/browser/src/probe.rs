//! Opening a page for a login health check: navigate a fresh tab, wait for the load (and for
//! the selectors asked for, up to a deadline), and report what the page showed. Read-only:
//! it captures nothing.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use std::collections::BTreeMap;

use pvault_model::{BrowserState, StorageItem};

use crate::BrowserError;
use crate::cookies::{cookie_problem, now_unix, to_cookie_param};
use crate::indexed_db;
use crate::raw_cdp::{RawCdp, exception_text};
use crate::report::valid_origins;
use crate::session::Session;
use crate::stub::StubPage;

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
    /// Whether the selectors not found were waited for until the deadline (`false`: they
    /// were looked for once the page had loaded, as the check had already failed).
    pub selectors_waited: bool,
}

/// Waits for `document.readyState == 'complete'` (the load event), then, when `wait` is
/// true, for every selector (polling) until the deadline, and reports the page. Selector and
/// text values travel as JSON, never spliced into the script as code.
const SCRIPT: &str = r#"(async (sels, texts, ms, wait) => {
  const end = Date.now() + ms;
  const sleep = (t) => new Promise((r) => setTimeout(r, t));
  if (document.readyState !== 'complete')
    await new Promise((r) => { addEventListener('load', r, { once: true }); setTimeout(r, ms); });
  const test = (s) => { try { return document.querySelector(s) !== null; } catch (e) { return 'the browser refuses the selector: ' + e.message; } };
  let found = sels.map(test);
  while (wait && found.some((f) => f === false) && Date.now() < end) { await sleep(50); found = sels.map(test); }
  const body = document.body ? document.body.innerText : '';
  const nav = performance.getEntriesByType('navigation')[0];
  return { url: location.href, status: nav && nav.responseStatus ? nav.responseStatus : null,
           found, texts: texts.map((t) => body.includes(t)), waited: wait };
})"#;

/// How long after the deadline the page's answer is still taken. The page's own wait ends
/// 250 ms before the deadline; on a loaded machine its answer (a timer's late run, the
/// evaluation's trip back) can take longer than that, and a page that loaded must not be
/// reported as one that did not.
const ANSWER_GRACE: Duration = Duration::from_secs(5);

/// A predicate on the loaded page's URL: whether the check has already failed whatever its
/// selectors show, so that they are looked for once rather than waited for.
pub type FailedAt<'a> = &'a (dyn Fn(&str) -> bool + Sync);

impl Session {
    /// Opens `url` with `state` loaded, waits for it (and `selectors`) up to `timeout`, and
    /// reports what it showed: what a login health check runs. A navigation that fails (the
    /// server is down, DNS, TLS) or does not finish in time is a [`BrowserError`], never a
    /// finding about the login.
    ///
    /// Selectors not found once the page has loaded are waited for until the deadline (a page
    /// may render them late), unless `failed_at` says the check has failed already at the
    /// loaded page's URL (a redirect to a login page, or an expectation that failed before the
    /// page opened): a logged-out check then answers once the page has loaded, rather than
    /// after the whole timeout.
    ///
    /// It runs in a browser context of its
    /// own (its own cookie jar and storage, nothing of the browser's other contexts seen or
    /// changed), created for this probe and disposed of after it, so one browser can check
    /// one profile after another. The state is written by the probe's own tab, which serves
    /// itself an empty document at each origin with localStorage or IndexedDB (as the stub
    /// page does) before it opens `url`; the cookies are set meanwhile.
    pub async fn probe_isolated(
        &self,
        state: &BrowserState,
        url: &str,
        timeout: Duration,
        selectors: &[String],
        texts: &[String],
        failed_at: FailedAt<'_>,
    ) -> Result<PageProbe, BrowserError> {
        let start = Instant::now();
        let (origins, _) = valid_origins(&state.origins);
        let work = async {
            let mut cdp = RawCdp::open(&self.endpoint).await?;
            // Disposed of by Chrome when this connection goes, however the probe ends.
            let created = cdp
                .call(
                    None,
                    "Target.createBrowserContext",
                    json!({"disposeOnDetach": true}),
                )
                .await?;
            let context = created["browserContextId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let now = now_unix();
            let cookies: Vec<Value> = state
                .cookies
                .iter()
                .filter(|c| cookie_problem(c, now).is_none())
                .map(to_cookie_param)
                .collect();
            let set_cookies = if cookies.is_empty() {
                None
            } else {
                let params = json!({"cookies": cookies, "browserContextId": context});
                Some(cdp.send_tracked(None, "Storage.setCookies", params).await)
            };
            let mut stub = StubPage::open_in(cdp, self.tracker.clone(), Some(context)).await?;
            for o in &origins {
                let databases = o.databases();
                if o.local_storage.is_empty() && databases.is_empty() {
                    continue;
                }
                stub.goto(&o.origin).await?;
                if !o.local_storage.is_empty() {
                    stub.write_local(&o.local_storage).await?;
                }
                if !databases.is_empty() {
                    let r = indexed_db::restore(indexed_db::Doc::Stub(&mut stub), databases, false)
                        .await?;
                    if let Some(f) = r.failures.first() {
                        tracing::debug!(origin = %o.origin, "IndexedDB record not written for the probe: {f}");
                    }
                }
            }
            // The tab goes with the context.
            let (cdp, _, session_id) = stub.into_tab().await?;
            let mut tab = ProbeTab { cdp, session_id };
            if let Some(id) = set_cookies {
                tab.cdp.wait(id, "Storage.setCookies").await?;
            }
            let session: BTreeMap<String, Vec<StorageItem>> = origins
                .iter()
                .map(|o| (o.origin.clone(), o.session_items().to_vec()))
                .collect();
            let (script, _) = crate::tabs::hand_off_script(&session);
            let v = tab
                .probe(script, url, timeout, start, (selectors, texts), failed_at)
                .await?;
            let context = json!({"browserContextId": created["browserContextId"]});
            tab.cdp
                .send(None, "Target.disposeBrowserContext", context)
                .await;
            Ok(v)
        };
        let v = within(timeout, work).await;
        tracing::debug!(
            ms = start.elapsed().as_millis() as u64,
            "probe in a context of its own"
        );
        Ok(page_probe(&v?))
    }
}

/// Runs `work` within `timeout`; running out is a failed navigation.
async fn within(
    timeout: Duration,
    work: impl std::future::Future<Output = Result<Value, BrowserError>>,
) -> Result<Value, BrowserError> {
    match tokio::time::timeout(timeout + ANSWER_GRACE, work).await {
        Ok(r) => r,
        Err(_) => Err(BrowserError::cdp(
            "Page.navigate",
            format!("the page did not load within {} s", timeout.as_secs()),
        )),
    }
}

/// The probe script's answer as a [`PageProbe`].
fn page_probe(v: &Value) -> PageProbe {
    let found = v["found"].as_array().cloned().unwrap_or_default();
    PageProbe {
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
        selectors_waited: v["waited"].as_bool() == Some(true),
    }
}

/// The probe's tab, on a CDP connection of its own ([`RawCdp`]: no chromiumoxide page set-up
/// chain before it can be used, and `Page.navigate` says at once when a navigation failed).
pub(crate) struct ProbeTab {
    /// The connection the tab is attached on.
    cdp: RawCdp,
    /// Our (flat) session with it.
    session_id: String,
}

impl ProbeTab {
    /// Puts `script` (the sessionStorage hand-off) on the tab, opens `url`, and runs the probe
    /// script; returns its answer. `start` is when the probe began (`timeout` counts from it).
    /// The page is looked at once it has loaded; only when a selector is missing and
    /// `failed_at` does not accept its URL is it looked at again, waiting for the selectors.
    async fn probe(
        &mut self,
        script: Option<std::sync::Arc<str>>,
        url: &str,
        timeout: Duration,
        start: Instant,
        (selectors, texts): (&[String], &[String]),
        failed_at: FailedAt<'_>,
    ) -> Result<Value, BrowserError> {
        let (cdp, session) = (&mut self.cdp, Some(self.session_id.as_str()));
        if let Some(source) = script {
            // Without the Page domain on, Chrome 148 did not run the script in a tab that was
            // created at a URL (the isolated probe's tab): its sessionStorage stayed empty.
            cdp.call(session, "Page.enable", json!({})).await?;
            cdp.call(
                session,
                "Page.addScriptToEvaluateOnNewDocument",
                json!({"source": &*source}),
            )
            .await?;
        }
        cdp.navigate(&self.session_id, url).await?;
        let args = serde_json::to_string(&(selectors, texts)).unwrap_or_default();
        let mut last = None;
        let mut wait = false;
        // A script redirect right after the load replaces the document the script runs in:
        // evaluate again in the new one.
        for _ in 0..5 {
            let left = timeout.saturating_sub(start.elapsed());
            let ms = left.saturating_sub(Duration::from_millis(250)).as_millis();
            let expr = format!(
                "(() => {{ const [s, t] = {args}; return ({SCRIPT})(s, t, {ms}, {wait}); }})()"
            );
            let params = json!({"expression": expr, "returnByValue": true, "awaitPromise": true});
            match cdp.call(session, "Runtime.evaluate", params).await {
                Ok(r) if r.get("exceptionDetails").is_none() => {
                    let v = r.pointer("/result/value").cloned().unwrap_or(Value::Null);
                    let all_found = v["found"]
                        .as_array()
                        .is_some_and(|f| f.iter().all(|f| f != &Value::Bool(false)));
                    if wait || all_found || failed_at(v["url"].as_str().unwrap_or_default()) {
                        return Ok(v);
                    }
                    wait = true;
                    continue;
                }
                Ok(r) => last = Some(BrowserError::cdp("Runtime.evaluate", exception_text(&r))),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(last.unwrap_or_else(|| BrowserError::cdp("Runtime.evaluate", "no result")))
    }
}
