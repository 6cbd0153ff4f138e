//! Loading a [`BrowserState`] into a browser: cookies with one verified `Storage.setCookies`,
//! web storage through a background stub page.

use std::collections::BTreeSet;

use pvault_model::{BrowserState, Cookie, OriginState};
use serde_json::{Value, json};

use crate::cdp::call_browser;
use crate::cookies::{cookie_problem, from_get_cookies, key_of, now_unix, to_cookie_param};
use crate::report::{LoadMethod, LoadReport, sorted, valid_origins};
use crate::stub::StubPage;
use crate::{BrowserError, Session};

impl Session {
    /// Loads `state` into this running browser without disturbing its pages or clients:
    /// cookies with one `Storage.setCookies`, localStorage through a new background stub page.
    pub async fn load_state(&self, state: &BrowserState) -> Result<LoadReport, BrowserError> {
        self.guard(self.load(state, false)).await
    }

    /// `fresh`: the browser had no state before, so what was written is all there is.
    pub(crate) async fn load(
        &self,
        state: &BrowserState,
        fresh: bool,
    ) -> Result<LoadReport, BrowserError> {
        let (origins, bad_origins) = valid_origins(&state.origins);
        let cookies = self.load_cookies(&state.cookies);
        let storage = async {
            let mut loaded = 0;
            let mut failed = bad_origins;
            let todo: Vec<&OriginState> = origins
                .iter()
                .filter(|o| !o.local_storage.is_empty())
                .collect();
            if todo.is_empty() {
                return Ok::<_, BrowserError>((loaded, failed));
            }
            let stub = StubPage::open(&self.browser, self.tracker.clone()).await?;
            for o in todo {
                match stub.write(&o.origin, &o.local_storage).await {
                    Ok(()) => {
                        loaded += 1;
                        if fresh {
                            self.tracker.set_known(&o.origin, sorted(&o.local_storage));
                        } else {
                            // Keys already there make the known data partial: read it next time.
                            self.tracker.retouch([o.origin.clone()]);
                        }
                    }
                    Err(e) => failed.push((o.origin.clone(), e.to_string())),
                }
            }
            stub.close(&self.browser).await;
            Ok((loaded, failed))
        };
        let (cookies, storage) = tokio::join!(cookies, storage);
        let (cookies_loaded, cookies_rejected) = cookies?;
        let (origins_loaded, origins_failed) = storage?;
        Ok(LoadReport {
            cookies_loaded,
            cookies_rejected,
            origins_loaded,
            origins_failed,
            method: LoadMethod::StubPage,
        })
    }

    /// Validates, sets with one `Storage.setCookies`, then counts what Chrome kept.
    pub(crate) async fn load_cookies(
        &self,
        cookies: &[Cookie],
    ) -> Result<(usize, Vec<(String, String, String)>), BrowserError> {
        let now = now_unix();
        let mut rejected = Vec::new();
        let mut valid: Vec<&Cookie> = Vec::new();
        for c in cookies {
            match cookie_problem(c, now) {
                Some(reason) => rejected.push((c.name.clone(), c.domain.clone(), reason)),
                None => valid.push(c),
            }
        }
        if valid.is_empty() {
            return Ok((0, rejected));
        }
        let params: Vec<Value> = valid.iter().map(|c| to_cookie_param(c)).collect();
        let batch = call_browser(
            &self.browser,
            "Storage.setCookies",
            json!({"cookies": params}),
        )
        .await;
        if let Err(batch_err) = batch {
            // One bad cookie fails the whole batch: find it by setting them one at a time.
            tracing::debug!("setCookies batch failed ({batch_err}); retrying one by one");
            let mut kept = Vec::new();
            for (c, p) in valid.iter().zip(params) {
                match call_browser(&self.browser, "Storage.setCookies", json!({"cookies": [p]}))
                    .await
                {
                    Ok(_) => kept.push(*c),
                    Err(e) => rejected.push((
                        c.name.clone(),
                        c.domain.clone(),
                        format!("Chrome refused it: {e}"),
                    )),
                }
            }
            valid = kept;
        }
        let now_in = call_browser(&self.browser, "Storage.getCookies", json!({})).await?;
        let (present, _) = from_get_cookies(&now_in);
        let keys: BTreeSet<_> = present.iter().map(key_of).collect();
        let mut loaded = 0;
        for c in valid {
            if keys.contains(&key_of(c)) {
                loaded += 1;
            } else {
                rejected.push((
                    c.name.clone(),
                    c.domain.clone(),
                    "silently dropped by Chrome after Storage.setCookies (e.g. over its limit of 180 cookies per site)".into(),
                ));
            }
        }
        Ok((loaded, rejected))
    }
}
