//! The inactivity timeout: a launched session with no CDP client connected through
//! the relay for its `timeout` ends on its own, saving first when it is a `save` session —
//! the same path as `session.stop`. The relay's client count is the only signal: the daemon's
//! own CDP connection (capture, load, checkpoints) does not count as a client.

use std::sync::{Arc, Weak};
use std::time::Duration;

use pvault_protocol::EndReason;
use tokio::time::Instant;

use super::registry::Entry;
use super::stop;
use crate::state::Daemon;

/// Waits until the session has had no relay client for `timeout`, then ends it. Returns when
/// the session ends for any reason (its relay registration goes with it).
pub(super) async fn watch_idle(d: Weak<Daemon>, e: Arc<Entry>, timeout: Duration) {
    let mut rx = e.relay.watch();
    // When a save failed (vault locked, capture failed) the session keeps running and the
    // count starts again from the failure, so nothing unsaved is ever thrown away here.
    let mut retry_from: Option<Instant> = None;
    loop {
        let since = rx.borrow_and_update().idle_since;
        let Some(since) = since else {
            // A client is connected: wait for a change.
            tokio::select! {
                r = rx.changed() => if r.is_err() { return },
                _ = e.relay.unregistered() => return,
            }
            retry_from = None;
            continue;
        };
        let deadline = retry_from.map_or(since, |r| r.max(since)) + timeout;
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            r = rx.changed() => {
                if r.is_err() { return }
                continue;
            }
            _ = e.relay.unregistered() => return,
        }
        if rx.borrow().idle_since != Some(since) {
            continue; // a client came and went meanwhile
        }
        let Some(daemon) = d.upgrade() else { return };
        tracing::info!(session = %e.id, timeout_secs = timeout.as_secs(), save = e.is_save(), "no CDP client for the inactivity timeout; ending the session");
        match stop::end(&daemon, &e, true, EndReason::TimedOut, false).await {
            Ok(_) => return,
            Err(err) => {
                if daemon.sessions.running(&e.id).is_err() {
                    return; // it ended (or crashed) meanwhile
                }
                tracing::warn!(session = %e.id, error = %err.message, "inactivity timeout: the session could not save, so it keeps running; trying again after another timeout");
                retry_from = Some(Instant::now());
            }
        }
    }
}
