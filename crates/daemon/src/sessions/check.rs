//! `profile.check`: a login health check. A headless, read-only browser is launched with the
//! profile's current snapshot (never a running session's live state, so a check may run while
//! a `--save` session of the same profile runs), opens the definition's page, and every
//! expectation is evaluated; the result is kept sealed in the profile and a `profile.health`
//! event is sent when it differs from the previous one. One check browser at a time.

use std::path::PathBuf;
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
    // One check browser at a time (scheduled and requested alike).
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

/// The check browser, and the one kept running between checks. Held (locked) by a check
/// while it runs: one check browser at a time.
#[derive(Debug, Default)]
pub(crate) struct CheckSlot {
    /// The browser the last check ran in, kept for the next one (see
    /// `[health] keep_browser_secs`); `None` when there is none.
    kept: Option<CheckBrowser>,
    /// Counts kept browsers, so that an idle timer only ever ends the one it was set for.
    generation: u64,
}

/// A running check browser: empty (each check runs in a browser context of its own, which
/// is disposed of after it), headless, in its own directory.
#[derive(Debug)]
struct CheckBrowser {
    /// The browser.
    session: Session,
    /// Its session directory (record and profile), removed when it is killed.
    dir: PathBuf,
    /// What it was launched with: a check whose profile needs another command line (proxy,
    /// user agent, locale, window size, binary, extra flags) needs another browser.
    launched_as: LaunchKey,
}

/// The launch options a check browser cannot change once it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LaunchKey {
    /// The Chrome binary.
    executable: PathBuf,
    /// Proxy, user agent, locale, viewport.
    settings: SessionSettings,
    /// `[browser] extra_flags`.
    extra_args: Vec<String>,
    /// `[browser] allow_port_fallback`.
    allow_port_fallback: bool,
}

impl CheckBrowser {
    /// Launches an empty headless check browser.
    async fn launch(d: &Arc<Daemon>, key: LaunchKey) -> Result<CheckBrowser, ErrorBody> {
        let id = format!("check-{}", new_session_id());
        let (dir, mut record) = prepare_session_dir(d, &id).await?;
        let mut opts = LaunchOptions::new(key.executable.clone(), dir.join("chrome"));
        opts.settings = key.settings.clone();
        opts.extra_args = key.extra_args.clone();
        opts.allow_port_fallback = key.allow_port_fallback;
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
        Ok(CheckBrowser {
            session,
            dir,
            launched_as: key,
        })
    }

    /// Whether the process still runs.
    fn alive(&self) -> bool {
        self.session.exit_watch().borrow().is_none()
    }

    /// Kills it (at once: read-only and thrown away with its directory, it has nothing to
    /// flush); its exit and the directory's removal go on as a clean-up shutdown waits for.
    fn kill(self, d: &Daemon) {
        let exited = self.session.kill();
        let dir = self.dir;
        d.check_cleanups.spawn(async move {
            let t = std::time::Instant::now();
            exited.await;
            let kill_ms = t.elapsed().as_millis() as u64;
            remove_dir(dir).await;
            tracing::debug!(
                kill_ms,
                cleanup_ms = t.elapsed().as_millis() as u64 - kill_ms,
                "check browser gone"
            );
        });
    }
}

/// Kills the kept check browser, if any (vault lock, shutdown).
pub(crate) async fn end_kept_browser(d: &Arc<Daemon>) {
    let kept = d.check_lock.lock().await.kept.take();
    if let Some(b) = kept {
        b.kill(d);
    }
}

/// Ends the check browser kept as `generation` once it has been idle for `keep`, or at once
/// when the vault locks or the daemon stops.
fn end_when_idle(d: &Arc<Daemon>, generation: u64, keep: Duration) {
    let d = d.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(keep) => {}
            _ = d.check_browser_end.notified() => {}
            _ = d.shutdown.cancelled() => {}
        }
        let mut slot = d.check_lock.lock().await;
        if slot.generation == generation
            && let Some(b) = slot.kept.take()
        {
            b.kill(&d);
        }
    });
}

/// Runs the check of `def` on `state` in the check browser (the kept one when it can serve,
/// else a new one), keeps or kills the browser, and evaluates every expectation. Returns the
/// final URL, the HTTP status and the failed expectations.
async fn evaluate_in_browser(
    d: &Arc<Daemon>,
    def: &HealthDefinition,
    state: BrowserState,
    settings: SessionSettings,
    timeout: Duration,
    mut slot: tokio::sync::OwnedMutexGuard<CheckSlot>,
) -> Result<(String, Option<u16>, Vec<HealthFailure>), ErrorBody> {
    let now = now_ms() as f64 / 1000.0;
    // The offline expectations read the stored state itself.
    let mut failed = def.failed_offline(&state, now);
    let cfg = d.config();
    let key = LaunchKey {
        executable: find_chrome(cfg.browser.path.clone())?,
        settings: settings.or(&cfg.session.defaults),
        extra_args: cfg.browser.extra_flags.clone(),
        allow_port_fallback: cfg.browser.allow_port_fallback,
    };
    let t0 = std::time::Instant::now();
    let browser = match slot.kept.take() {
        Some(b) if b.alive() && b.launched_as == key => b,
        other => {
            if let Some(b) = other {
                b.kill(d);
            }
            CheckBrowser::launch(d, key).await?
        }
    };
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
    // Where the check has failed whatever the selectors show: an expectation on the stored
    // state already failed, or the loaded page is at a URL a `url_not` forbids (the site sent
    // the browser to its login page). The selectors are then looked for once the page has
    // loaded rather than waited for until the timeout, so a logged-out check answers at once.
    let url_not: Vec<regex::Regex> = def
        .expect
        .iter()
        .filter_map(|e| match e {
            Expectation::UrlNot { regex } => regex::Regex::new(regex).ok(),
            _ => None,
        })
        .collect();
    let failed_already = !failed.is_empty();
    let failed_at = |url: &str| failed_already || url_not.iter().any(|re| re.is_match(url));
    let launched = t0.elapsed();
    let probe = browser
        .session
        .probe_isolated(&state, &def.url, timeout, &selectors, &texts, &failed_at)
        .await;
    tracing::debug!(
        launch_ms = launched.as_millis() as u64,
        page_ms = (t0.elapsed() - launched).as_millis() as u64,
        "health check browser"
    );
    // Kept for the next check unless configured off, the vault locked meanwhile, or the
    // browser died; its context (the state) is already gone.
    let keep = Duration::from_secs(d.config().health.keep_browser_secs);
    if keep.is_zero() || !browser.alive() || d.unlocked_vault().is_err() {
        browser.kill(d);
    } else {
        slot.generation += 1;
        slot.kept = Some(browser);
        end_when_idle(d, slot.generation, keep);
    }
    drop(slot);
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
                    Ok(false) if probe.selectors_waited => Some(format!(
                        "no element matches it within {} s",
                        timeout.as_secs()
                    )),
                    Ok(false) => Some(
                        "no element matches it once the page had loaded (not waited for: \
                         the check had already failed)"
                            .to_owned(),
                    ),
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
