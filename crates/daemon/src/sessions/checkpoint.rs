//! Crash-safe checkpoints: while a `save` session runs, its state is captured
//! whenever it may have changed and appended to the profile's history as a `checkpoint`
//! (the vault keeps one per session and drops it when the final snapshot lands), so a crash of
//! Chrome or of the daemon, or a person closing the window, loses at most the last few
//! seconds.
//!
//! When: the browser's change signal (navigations, `DOMStorage` events, Chrome writing its
//! cookie or localStorage files) schedules a capture [`DEBOUNCE`] later, at most one per
//! [`MIN_GAP`]; a timer captures every [`FLOOR`] regardless, because a cookie set by a script
//! or a `fetch` raises no event and Chrome writes its cookie file only every 30 s. The last
//! page closing is captured at once: Chrome may be about to exit.
//!
//! Cost: a capture is a few CDP calls (`Storage.getCookies`, the frame trees, the localStorage
//! of live frames) and never opens a page; a checkpoint is written only when the state differs
//! from the last one written (compared in memory, by `pvault_model::diff`), so an idle session
//! costs the captures only. Measured in `tests/bench/checkpoints.rs`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use pvault_browser::{BrowserError, ChangeSignal};
use pvault_model::{BrowserState, SnapshotKind};
use tokio::sync::watch;
use tokio::time::Instant;

use super::registry::Entry;
use super::stop::{announce_saved, append_session_snapshot};
use crate::handlers::blocking;
use crate::state::Daemon;

/// The timer: the longest a change waits for a checkpoint when nothing signals it. With a
/// capture taking tens of milliseconds this keeps "lost at most the last 5 s" with margin on a
/// loaded machine.
pub(crate) const FLOOR: Duration = Duration::from_secs(2);
/// How long after a signal the capture starts, so a burst of events (a page load writes many
/// keys) costs one capture.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// The least time between two captures caused by signals (a busy page signals constantly).
const MIN_GAP: Duration = Duration::from_secs(1);
/// A capture that takes longer is abandoned (the browser is hung; the next one retries).
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(10);

/// What one checkpoint attempt means for the loop.
enum Outcome {
    /// Captured (written or unchanged), or nothing to do now (vault locked, capture failed):
    /// the next one comes at the timer or a signal.
    Continue,
    /// The session ended or its browser is gone.
    Ended,
}

/// Runs until the session ends. `baseline` is the state loaded at start: a checkpoint is
/// written only once the browser's state differs from it (then from the last checkpoint).
pub(super) async fn run(
    d: Weak<Daemon>,
    e: Arc<Entry>,
    mut changes: watch::Receiver<ChangeSignal>,
    baseline: BrowserState,
) {
    let mut last_written = Arc::new(baseline);
    let mut last_capture = Instant::now();
    let mut due = last_capture + FLOOR;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            r = changes.changed() => {
                if r.is_err() {
                    return; // the browser connection is gone
                }
                let now = Instant::now();
                let soon = if changes.borrow_and_update().last_page_closed {
                    now
                } else {
                    (now + DEBOUNCE).max(last_capture + MIN_GAP)
                };
                due = due.min(soon);
                continue;
            }
            _ = e.relay.unregistered() => return,
        }
        let Some(daemon) = d.upgrade() else { return };
        let outcome = checkpoint_once(&daemon, &e, &mut last_written).await;
        drop(daemon);
        if let Outcome::Ended = outcome {
            return;
        }
        last_capture = Instant::now();
        due = last_capture + FLOOR;
    }
}

/// The relay's hook before a client's `Browser.close` (Puppeteer's `browser.close()`) reaches
/// Chrome: a full, exact capture (a stub page may open: the client is closing the browser
/// anyway) becomes the newest state, which the end of the session (`browser_closed`) saves.
pub(super) async fn before_close(e: &Entry) {
    let slot = e.slot.lock().await;
    let Some(session) = slot.as_ref() else { return };
    match tokio::time::timeout(CAPTURE_TIMEOUT, session.capture()).await {
        Ok(Ok((state, _))) => e.set_latest(Arc::new(state)),
        Ok(Err(err)) => {
            tracing::warn!(session = %e.id, error = %err, "capture before a client's Browser.close failed; the newest checkpoint will be saved")
        }
        Err(_) => {
            tracing::warn!(session = %e.id, "capture before a client's Browser.close timed out; the newest checkpoint will be saved")
        }
    }
}

/// Captures the session and appends a checkpoint if the state changed. The session's slot is
/// held throughout, so a checkpoint can never land after (and shadow) the final snapshot.
async fn checkpoint_once(
    d: &Arc<Daemon>,
    e: &Entry,
    last_written: &mut Arc<BrowserState>,
) -> Outcome {
    let Some(profile) = e.save_profile() else {
        return Outcome::Ended;
    };
    // Locked: nothing could be written. The lock itself took a checkpoint.
    let Ok(v) = d.unlocked_vault() else {
        return Outcome::Continue;
    };
    let slot = e.slot.lock().await;
    let Some(session) = slot.as_ref() else {
        return Outcome::Ended;
    };
    let started = Instant::now();
    let captured = tokio::time::timeout(CAPTURE_TIMEOUT, session.capture_checkpoint()).await;
    let state = match captured {
        // Shared, not copied: the latest state, the write and the comparison base are one.
        Ok(Ok((state, _report))) => Arc::new(state),
        Ok(Err(BrowserError::Gone(_))) => return Outcome::Ended,
        Ok(Err(err)) => {
            tracing::warn!(session = %e.id, error = %err, "checkpoint capture failed; retrying at the next one");
            return Outcome::Continue;
        }
        Err(_) => {
            tracing::warn!(session = %e.id, "checkpoint capture timed out; retrying at the next one");
            return Outcome::Continue;
        }
    };
    e.set_latest(state.clone());
    // Equality first: it allocates nothing, where a diff serializes every IndexedDB record;
    // an idle session with megabytes of IndexedDB compares every 2 s.
    if **last_written == *state || pvault_model::diff(last_written, &state).is_empty() {
        e.count_checkpoint(started.elapsed().as_millis() as u64, false);
        return Outcome::Continue;
    }
    let (pid, sid, name, guard) = (
        profile.id.clone(),
        e.id.clone(),
        profile.name.clone(),
        e.guard,
    );
    let to_write = state.clone();
    let r = blocking(move || {
        append_session_snapshot(
            &v,
            guard,
            &name,
            &pid,
            &to_write,
            SnapshotKind::Checkpoint,
            &sid,
        )
    })
    .await;
    drop(slot);
    let ms = started.elapsed().as_millis() as u64;
    e.count_checkpoint(ms, r.is_ok());
    match r {
        Ok(saved) => {
            let info = &saved.info;
            // Names only: a diff summary never holds a value.
            if tracing::enabled!(tracing::Level::DEBUG) {
                let changes = pvault_model::diff(last_written, &state).summary();
                tracing::debug!(session = %e.id, seq = info.seq, changes = %changes, ms, "checkpoint written");
            }
            *last_written = state;
            announce_saved(d, &e.id, &profile.name, &profile.id, &saved);
        }
        Err(err) => {
            tracing::warn!(session = %e.id, error = %err.message, "checkpoint not saved; retrying at the next one")
        }
    }
    Outcome::Continue
}
