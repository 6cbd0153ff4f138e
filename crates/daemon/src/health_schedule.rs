//! Scheduled login health checks: every `[health] interval_secs` (0 = off), each profile with
//! a health definition is checked, one at a time and only while the vault is unlocked (a
//! locked vault has no keys to read a snapshot with, and a check must not unlock anything).
//! Each check is `profile.check`'s, so a result that differs from the previous one sends a
//! `profile.health` event and a repeat sends none.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::handlers::blocking;
use crate::state::Daemon;

/// How long a scheduled check waits for its page.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a disabled schedule looks at the configuration again (a reload may turn it on).
const IDLE_POLL: Duration = Duration::from_secs(5);
/// Tests only: the interval in milliseconds instead of `[health] interval_secs` (which must
/// be at least 60 s), while that is not 0.
const TEST_INTERVAL_ENV: &str = "PVAULT_TEST_HEALTH_INTERVAL_MS";

/// Counters `status` shows, so a test (or a person) can see the schedule work.
#[derive(Debug, Default)]
pub(crate) struct ScheduleCounters {
    /// Rounds that ran checks.
    pub rounds: std::sync::atomic::AtomicU64,
    /// Checks run by the schedule.
    pub checks: std::sync::atomic::AtomicU64,
    /// Rounds skipped because the vault was locked.
    pub skipped_locked: std::sync::atomic::AtomicU64,
}

/// The schedule's interval, `None` when off.
fn interval(d: &Daemon) -> Option<Duration> {
    let secs = d.config().health.interval_secs;
    if secs == 0 {
        return None;
    }
    let test_ms = std::env::var(TEST_INTERVAL_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    Some(test_ms.map_or(Duration::from_secs(secs), Duration::from_millis))
}

/// Runs the schedule until the daemon shuts down.
pub(crate) async fn run(d: Arc<Daemon>) {
    loop {
        let wait = interval(&d);
        tokio::select! {
            _ = d.shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait.unwrap_or(IDLE_POLL)) => {}
        }
        if wait.is_none() {
            continue;
        }
        let Ok(v) = d.unlocked_vault() else {
            d.health_schedule
                .skipped_locked
                .fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let names = blocking(move || {
            v.list_profiles(0, u64::MAX)
                .map(|p| {
                    p.profiles
                        .into_iter()
                        .filter(|p| p.health.is_some())
                        .map(|p| p.id)
                        .collect::<Vec<_>>()
                })
                .map_err(crate::handlers::vault_err)
        })
        .await;
        let ids = match names {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e.message, "scheduled health checks: cannot list profiles");
                continue;
            }
        };
        d.health_schedule.rounds.fetch_add(1, Ordering::Relaxed);
        for id in ids {
            if d.shutdown.is_cancelled() {
                return;
            }
            // Locked meanwhile: stop this round.
            if d.unlocked_vault().is_err() {
                d.health_schedule
                    .skipped_locked
                    .fetch_add(1, Ordering::Relaxed);
                break;
            }
            d.health_schedule.checks.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = crate::sessions::run_check(&d, &id, CHECK_TIMEOUT).await {
                // Profile ids only: a name is the user's.
                tracing::warn!(profile = %id, code = %e.code, error = %e.message, "scheduled health check failed");
            }
        }
    }
}
