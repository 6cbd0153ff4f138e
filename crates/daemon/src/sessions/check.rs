//! `profile.check`: a login health check. A headless, read-only browser is launched with the
//! profile's current snapshot (never a running session's live state, so a check may run while
//! a `--save` session of the same profile runs), opens the definition's page, and every
//! expectation is evaluated; the result is kept sealed in the profile and a `profile.health`
//! event is sent when it differs from the previous one. One check browser at a time.

use std::sync::Arc;
use std::time::Duration;

use pvault_browser::{LaunchOptions, Session};
use pvault_model::{
    BrowserState, Expectation, HealthDefinition, HealthFailure, HealthResult, HealthStatus,
    SessionSettings,
};
use pvault_protocol::{ErrorBody, ErrorCode, Event, ProfileCheck, ProfileCheckResponse};
use pvault_vault::VaultError;

use super::start::{find_chrome, prepare_session_dir, remove_dir, write_record};
use super::{browser_err, new_session_id, now_ms};
use crate::handlers::{blocking, vault_err};
use crate::state::Daemon;

/// Default wait for the page (and its selectors).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait a request may ask for.
const MAX_TIMEOUT_SECS: u64 = 300;

pub(crate) async fn check(
    d: &Arc<Daemon>,
    p: ProfileCheck,
) -> Result<ProfileCheckResponse, ErrorBody> {
    let timeout = match p.timeout_secs {
        None => DEFAULT_TIMEOUT,
        Some(t @ 1..=MAX_TIMEOUT_SECS) => Duration::from_secs(t),
        Some(_) => {
            return Err(ErrorBody::new(
                ErrorCode::InvalidArgument,
                format!("timeout_secs must be between 1 and {MAX_TIMEOUT_SECS}"),
            ));
        }
    };
    run_check(d, &p.name, timeout).await
}

/// Runs one check of `name` (also the scheduler's entry point).
pub(crate) async fn run_check(
    d: &Arc<Daemon>,
    name: &str,
    timeout: Duration,
) -> Result<ProfileCheckResponse, ErrorBody> {
    let t0 = std::time::Instant::now();
    let v = d.unlocked_vault()?;
    let n = name.to_owned();
    let (profile, def, state) = blocking(move || {
        let profile = v.profile(&n).map_err(vault_err)?;
        let Some(def) = profile.health.clone() else {
            return Err(ErrorBody::new(
                ErrorCode::InvalidArgument,
                format!("profile {} has no health definition", profile.name),
            )
            .with_hint("define one with `pvault profile health set NAME --url URL --expect-…`"));
        };
        let snap = match v.read_snapshot(&profile.id, None) {
            Ok(s) => s,
            Err(VaultError::SnapshotNotFound { .. }) => {
                return Err(ErrorBody::new(
                    ErrorCode::NotFound,
                    format!("profile {} has no snapshot to check", profile.name),
                ));
            }
            Err(e) => return Err(vault_err(e)),
        };
        Ok((profile, def, snap))
    })
    .await?;
    // One check browser at a time (scheduled and requested alike); the guard goes to the
    // clean-up of the check's browser.
    let one = d.check_lock.clone().lock_owned().await;
    // Reading the snapshot, and waiting for the previous check's browser to be gone.
    let before_launch_ms = t0.elapsed().as_millis() as u64;
    let seq = state.info.seq;
    let settings = profile.settings.clone();
    let (final_url, http_status, failed) =
        evaluate_in_browser(d, &def, state.state, settings, timeout, one).await?;
    let now = now_ms();
    let result = HealthResult {
        status: if failed.is_empty() {
            HealthStatus::Healthy
        } else {
            HealthStatus::LoggedOut
        },
        checked_at: now,
        since: now,
        snapshot_seq: Some(seq),
        final_url: Some(final_url),
        http_status,
        failed,
    };
    let v = d.unlocked_vault()?;
    let (pid, r, dd) = (profile.id.clone(), result.clone(), def.clone());
    let kept = blocking(move || v.record_health(&pid, &dd, r).map_err(vault_err)).await?;
    tracing::debug!(
        before_launch_ms,
        total_ms = t0.elapsed().as_millis() as u64,
        "health check"
    );
    let result = match kept {
        Some((previous, kept)) => {
            let previous = previous.map(|p| p.status);
            if previous != Some(kept.status) {
                let _ = d.events.send(Event::ProfileHealth {
                    profile: profile.name.clone(),
                    profile_id: profile.id.clone(),
                    result: kept.clone(),
                    previous,
                });
            }
            kept
        }
        // The definition changed while the check ran: its result is not kept.
        None => result,
    };
    Ok(ProfileCheckResponse {
        profile: profile.name,
        profile_id: profile.id,
        result,
    })
}

/// Launches a headless browser with `state`, opens the page, evaluates every expectation,
/// and has the browser killed. Returns the final URL, the HTTP status and the failed
/// expectations. `one` (the check lock) is held until the browser has been sent its kill.
async fn evaluate_in_browser(
    d: &Arc<Daemon>,
    def: &HealthDefinition,
    state: BrowserState,
    settings: SessionSettings,
    timeout: Duration,
    one: tokio::sync::OwnedMutexGuard<()>,
) -> Result<(String, Option<u16>, Vec<HealthFailure>), ErrorBody> {
    let now = now_ms() as f64 / 1000.0;
    // The offline expectations read the stored state itself.
    let mut failed = def.failed_offline(&state, now);
    let cfg = d.config();
    let executable = find_chrome(cfg.browser.path.clone())?;
    let id = format!("check-{}", new_session_id());
    let (dir, mut record) = prepare_session_dir(d, &id).await?;
    let mut opts = LaunchOptions::new(executable, dir.join("chrome"));
    opts.settings = settings.or(&cfg.session.defaults);
    opts.extra_args = cfg.browser.extra_flags.clone();
    opts.allow_port_fallback = cfg.browser.allow_port_fallback;
    opts.state = Some(state);
    opts.probe_tab = true;
    let t0 = std::time::Instant::now();
    let session = match Session::launch(opts).await {
        Ok((s, _)) => s,
        Err(e) => {
            remove_dir(dir).await;
            return Err(browser_err(e));
        }
    };
    record.browser_pid = session.pid();
    let record_dir = dir.clone();
    let _ = tokio::task::spawn_blocking(move || write_record(&record_dir, &record)).await;
    let selectors: Vec<String> = def
        .expect
        .iter()
        .filter_map(|e| match e {
            Expectation::Selector { css } => Some(css.clone()),
            _ => None,
        })
        .collect();
    let texts: Vec<String> = def
        .expect
        .iter()
        .filter_map(|e| match e {
            Expectation::Text { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    let launched = t0.elapsed();
    let probe = session
        .probe_page(&def.url, timeout, &selectors, &texts)
        .await;
    let probed = t0.elapsed();
    // Read-only and thrown away with its directory: killed, not closed (nothing to flush),
    // at once, and its exit and the directory's removal go on after the answer: the result
    // is known, and a caller (like a Playwright script, whose `browser.close()` comes after
    // its last page step) need not wait for them. The check lock goes with the kill signal:
    // a browser that was sent SIGKILL runs nothing more, and the next check need not wait
    // for the kernel to tear it down (30–50 ms measured). Shutdown waits for the clean-up
    // (`check_cleanups`); a daemon that dies before it ran leaves the session record, and
    // the next start cleans up.
    let page_ms = (probed - launched).as_millis() as u64;
    let exited = session.kill();
    drop(one);
    d.check_cleanups.spawn(async move {
        let t1 = std::time::Instant::now();
        exited.await;
        let kill_ms = t1.elapsed().as_millis() as u64;
        remove_dir(dir).await;
        tracing::debug!(
            launch_ms = launched.as_millis() as u64,
            page_ms,
            kill_ms,
            cleanup_ms = t1.elapsed().as_millis() as u64 - kill_ms,
            "health check browser"
        );
    });
    // A page that did not load is the browser's or the network's failure, never a logout.
    let probe = probe.map_err(|e| {
        ErrorBody::new(
            ErrorCode::BrowserError,
            format!("the check could not open its page: {e}"),
        )
        .with_hint("a server that is down is not a logout: the last result is kept")
    })?;
    let (mut si, mut ti) = (0, 0);
    for e in &def.expect {
        let reason = match e {
            Expectation::Selector { .. } => {
                let r = probe.selectors.get(si).cloned().unwrap_or(Ok(false));
                si += 1;
                match r {
                    Ok(true) => None,
                    Ok(false) => Some(format!(
                        "no element matches it within {} s",
                        timeout.as_secs()
                    )),
                    Err(why) => Some(why),
                }
            }
            Expectation::Text { .. } => {
                let found = probe.texts.get(ti).copied().unwrap_or(false);
                ti += 1;
                (!found).then(|| "the page's text does not contain it".to_owned())
            }
            Expectation::UrlNot { regex } => match regex::Regex::new(regex) {
                Ok(re) if re.is_match(&probe.final_url) => {
                    Some("the final URL matches it".to_owned())
                }
                Ok(_) => None,
                Err(_) => Some("the pattern is not a valid regular expression".to_owned()),
            },
            Expectation::Cookie { .. } | Expectation::LocalStorage { .. } => None,
        };
        if let Some(reason) = reason {
            failed.push(HealthFailure {
                expectation: e.to_string(),
                reason,
            });
        }
    }
    Ok((probe.final_url, probe.http_status, failed))
}
