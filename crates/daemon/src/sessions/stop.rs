//! Ending sessions: `session.stop` (final capture BEFORE the browser closes), the end at
//! daemon shutdown, and the exit watch that marks a session crashed when its browser dies.

use std::sync::{Arc, Weak};

use pvault_browser::{BrowserError, BrowserExit, Session};
use pvault_model::{SnapshotInfo, SnapshotKind};
use pvault_protocol::{
    CaptureReport, EndReason, ErrorBody, ErrorCode, Event, LogoutGuard, SessionState, SessionStop,
    SessionStopResponse,
};
use tokio::sync::watch;

use super::registry::{Entry, Launch, ProfileRef};
use super::start::remove_dir;
use super::{capture_report, now_ms};
use crate::handlers::{blocking, vault_err};
use crate::state::Daemon;

pub(crate) async fn stop(
    d: &Arc<Daemon>,
    p: SessionStop,
) -> Result<SessionStopResponse, ErrorBody> {
    let entry = d.sessions.running(&p.session_id)?;
    let reason = match entry.launch {
        Launch::Attached => EndReason::Detached,
        Launch::Launched { .. } if p.discard => EndReason::Discarded,
        Launch::Launched { .. } => EndReason::Stopped,
    };
    end(d, &entry, !p.discard, reason, false).await
}

/// Ends every session at shutdown. A `save` session that cannot save (vault locked, capture
/// failed) is closed anyway — the daemon is going away — and the reason is logged and sent
/// in the `session.ended` event's note.
pub(super) async fn end_at_shutdown(d: &Arc<Daemon>, e: &Arc<Entry>) {
    if let Err(err) = end(d, e, true, EndReason::Shutdown, true).await {
        // Only when the session ended by itself meanwhile (crash): nothing left to do.
        tracing::debug!(session = %e.id, error = %err.message, "session ended before shutdown reached it");
    }
}

/// The one end path. With `save`, a `save` session's state is captured while the browser
/// still runs and appended (kind `session_save`, collapsing its checkpoints). If that fails,
/// the browser keeps running and the error is returned — unless `force` (shutdown), where the
/// browser is closed anyway and the failure is reported in the event's note.
pub(super) async fn end(
    d: &Arc<Daemon>,
    e: &Arc<Entry>,
    save: bool,
    reason: EndReason,
    force: bool,
) -> Result<SessionStopResponse, ErrorBody> {
    let mut slot = e.slot.lock().await;
    let Some(session) = slot.take() else {
        return Err(d.sessions.running(&e.id).err().unwrap_or_else(|| {
            ErrorBody::new(
                ErrorCode::NotFound,
                format!("session {} is no longer running", e.id),
            )
        }));
    };
    e.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut note = None;
    let mut saved: Option<(Saved, CaptureReport)> = None;
    if let (true, Some(profile)) = (save, e.save_profile()) {
        match final_save(d, e, profile, &session).await {
            Ok(s) => saved = Some(s),
            Err(SaveError::Gone(detail)) => {
                drop(slot);
                crashed(d, e, Some(session), &detail).await;
                return Err(ErrorBody::new(
                    ErrorCode::BrowserError,
                    format!(
                        "session {} crashed before its final state could be captured ({detail}); nothing was saved by this stop",
                        e.id
                    ),
                ));
            }
            Err(SaveError::Failed(err)) if !force => {
                // The browser keeps running: the session stays as it was.
                *slot = Some(session);
                e.stopping
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                return Err(err);
            }
            Err(SaveError::Failed(err)) => {
                tracing::warn!(session = %e.id, error = %err.message, "shutdown: the session's final state could not be saved");
                note = Some(format!("final state not saved: {}", err.message));
            }
        }
    }
    drop(slot);
    match &e.launch {
        Launch::Attached => session.detach(),
        Launch::Launched { dir, .. } => {
            if let Err(err) = session.close().await {
                tracing::warn!(session = %e.id, error = %err, "browser did not close cleanly");
            }
            remove_dir(dir.clone()).await;
        }
    }
    if let (Some(profile), EndReason::Discarded) = (e.save_profile(), reason) {
        note = discard_checkpoints(d, e, profile).await;
    }
    let snapshot = saved.as_ref().map(|(s, _)| s.info.clone());
    if let Some((Saved { guard: Some(g), .. }, _)) = &saved {
        note = Some(g.hint.clone());
    }
    // Linked profile: the final save (already in the vault) goes to the remote, or waits.
    let remote = match e.save_profile() {
        Some(profile) => {
            let id = snapshot.as_ref().map(|s| s.id.as_str());
            crate::remote::session::after_end(d, &profile.id, &e.id, id).await
        }
        None => None,
    };
    finish(d, e, SessionState::Ended, reason, snapshot.clone(), note);
    tracing::info!(session = %e.id, ?reason, saved = snapshot.is_some(), "session ended");
    let (capture, logout_guard) = match saved {
        Some((s, c)) => (Some(c), s.guard),
        None => (None, None),
    };
    Ok(SessionStopResponse {
        session_id: e.id.clone(),
        capture,
        snapshot,
        remote,
        logout_guard,
    })
}

/// A `save` session stopped with `discard` keeps nothing: its checkpoint leaves the history.
/// Returns the event's note when that could not be done.
async fn discard_checkpoints(d: &Arc<Daemon>, e: &Entry, profile: &ProfileRef) -> Option<String> {
    let Ok(v) = d.unlocked_vault() else {
        return Some(format!(
            "the vault is locked, so this session's checkpoint stays in {}'s history",
            profile.name
        ));
    };
    let (pid, sid) = (profile.id.clone(), e.id.clone());
    match blocking(move || v.discard_session_checkpoints(&pid, &sid).map_err(vault_err)).await {
        Ok(n) => {
            tracing::debug!(session = %e.id, checkpoints = n, "discarded the session's checkpoints");
            None
        }
        Err(err) => {
            tracing::warn!(session = %e.id, error = %err.message, "could not discard the session's checkpoint");
            Some(format!(
                "this session's checkpoint stays in {}'s history: {}",
                profile.name, err.message
            ))
        }
    }
}

enum SaveError {
    /// The browser went away during the capture.
    Gone(String),
    /// Anything else; the browser still runs.
    Failed(ErrorBody),
}

/// Captures the running browser and appends the state as the session's final snapshot.
async fn final_save(
    d: &Arc<Daemon>,
    e: &Entry,
    profile: &ProfileRef,
    session: &Session,
) -> Result<(Saved, CaptureReport), SaveError> {
    // Checked first: locked means the browser must stay up until the vault is unlocked.
    let v = d.unlocked_vault().map_err(|_| {
        SaveError::Failed(
            ErrorBody::new(
                ErrorCode::Locked,
                format!(
                    "the vault is locked, so session {} cannot save into {}; the browser keeps running, and its state when the vault locked is in the history as a checkpoint",
                    e.id, profile.name
                ),
            )
            .with_hint("run `pvault unlock` and stop it again, or stop it with --discard"),
        )
    })?;
    let (state, rep) = match session.capture().await {
        Ok(x) => x,
        Err(BrowserError::Gone(detail)) => return Err(SaveError::Gone(detail)),
        Err(err) => {
            return Err(SaveError::Failed(ErrorBody::new(
                ErrorCode::BrowserError,
                format!(
                    "capturing the final state of session {} failed: {err}; the browser keeps running: retry the stop, or stop with --discard",
                    e.id
                ),
            )));
        }
    };
    let report = capture_report(&state, &rep);
    let (sid, pid, name, guard) = (
        e.id.clone(),
        profile.id.clone(),
        profile.name.clone(),
        e.guard,
    );
    let saved = blocking(move || {
        append_session_snapshot(&v, guard, &name, &pid, &state, SnapshotKind::SessionSave, &sid)
    })
    .await
    .map_err(|mut err| {
        err.message = format!(
            "saving session {} into {} failed: {}; the browser keeps running: retry the stop, capture it into another profile, or stop with --discard",
            e.id, profile.name, err.message
        );
        SaveError::Failed(err)
    })?;
    announce_saved(d, &e.id, &profile.name, &profile.id, &saved);
    Ok((saved, report))
}

/// A snapshot a session wrote, and what the logout guard did to it.
#[derive(Debug, Clone)]
pub(super) struct Saved {
    /// The snapshot.
    pub info: SnapshotInfo,
    /// Set when the guard marked it `logged_out` (it is kept, not current).
    pub guard: Option<LogoutGuard>,
}

/// Appends a session's snapshot under the logout guard (when `guard`), on the blocking pool's
/// thread: the vault decides in the append's transaction whether the state looks logged out
/// while the current snapshot does not (vault-format.md 7.5).
pub(super) fn append_session_snapshot(
    v: &pvault_vault::Vault,
    guard: bool,
    profile: &str,
    profile_id: &str,
    state: &pvault_model::BrowserState,
    kind: SnapshotKind,
    session_id: &str,
) -> Result<Saved, ErrorBody> {
    let a = v
        .append_guarded(profile_id, state, kind, Some(session_id), guard)
        .map_err(vault_err)?;
    let guard = (!a.guard_failures.is_empty()).then(|| {
        LogoutGuard::new(
            profile,
            a.info.seq,
            a.guard_failures,
            a.current.map(|c| c.seq),
        )
    });
    if guard.is_some() {
        tracing::warn!(session = %session_id, seq = a.info.seq, "the saved state looks logged out: kept, marked, not current");
    }
    Ok(Saved {
        info: a.info,
        guard,
    })
}

/// Sends `snapshot.saved` and `session.saved` for a snapshot a session wrote.
pub(super) fn announce_saved(
    d: &Daemon,
    session_id: &str,
    profile: &str,
    profile_id: &str,
    saved: &Saved,
) {
    // A linked profile's save is pushed by the background pusher.
    d.remotes.kick();
    let snapshot = &saved.info;
    let _ = d.events.send(Event::SnapshotSaved {
        profile: profile.to_owned(),
        profile_id: profile_id.to_owned(),
        snapshot: snapshot.clone(),
    });
    let _ = d.events.send(Event::SessionSaved {
        session_id: session_id.to_owned(),
        profile: profile.to_owned(),
        profile_id: profile_id.to_owned(),
        snapshot: snapshot.clone(),
        logout_guard: saved.guard.clone(),
    });
}

/// Moves the session to the ended list and announces its end.
fn finish(
    d: &Daemon,
    e: &Entry,
    state: SessionState,
    reason: EndReason,
    snapshot: Option<SnapshotInfo>,
    note: Option<String>,
) {
    if d.sessions.remove(e, state, now_ms()).is_some() {
        let _ = d.events.send(Event::SessionEnded {
            session_id: e.id.clone(),
            reason,
            snapshot,
            note,
        });
    }
}

/// A session whose browser died: drop the handle, remove its directory, mark it crashed and
/// announce it.
async fn crashed(d: &Daemon, e: &Entry, session: Option<Session>, detail: &str) {
    drop(session);
    if let Some(dir) = e.dir() {
        remove_dir(dir.to_owned()).await;
    }
    if let Some(profile) = e.save_profile() {
        crate::remote::session::after_end(d, &profile.id, &e.id, None).await;
    }
    if d.sessions
        .remove(e, SessionState::Crashed, now_ms())
        .is_some()
    {
        tracing::warn!(session = %e.id, detail, save = e.is_save(), "browser exited unexpectedly; session marked crashed");
        let _ = d.events.send(Event::SessionCrashed {
            session_id: e.id.clone(),
            profile: e.profile().map(|p| p.name),
            detail: detail.to_owned(),
        });
    }
}

/// The browser exited cleanly without a stop (a person closed its last window, a client sent
/// `Browser.close`): the session ends with reason `browser_closed`, and a `save` session saves
/// the newest state its checkpoints captured — Chrome can no longer be asked, and its files
/// lack session cookies. That state is at most a checkpoint interval old, and was captured
/// at once when the last page closed.
async fn closed_by_browser(d: &Arc<Daemon>, e: &Arc<Entry>, session: Session) {
    drop(session);
    if let Some(dir) = e.dir() {
        remove_dir(dir.to_owned()).await;
    }
    let mut note = None;
    let mut snapshot = None;
    if let Some(profile) = e.save_profile() {
        match (e.take_latest(), d.unlocked_vault()) {
            (None, _) => {
                note = Some(
                    "the browser closed before its first checkpoint; the profile keeps its previous snapshot"
                        .to_owned(),
                )
            }
            (Some(_), Err(_)) => {
                note = Some("the vault is locked, so the final state was not saved; the newest checkpoint from before the lock is in the history".to_owned())
            }
            (Some(state), Ok(v)) => {
                let (pid, sid, name, guard) =
                    (profile.id.clone(), e.id.clone(), profile.name.clone(), e.guard);
                let r = blocking(move || {
                    append_session_snapshot(&v, guard, &name, &pid, &state, SnapshotKind::SessionSave, &sid)
                })
                .await;
                match r {
                    Ok(saved) => {
                        announce_saved(d, &e.id, &profile.name, &profile.id, &saved);
                        note = saved.guard.as_ref().map(|g| g.hint.clone());
                        snapshot = Some(saved.info);
                    }
                    Err(err) => {
                        tracing::warn!(session = %e.id, error = %err.message, "the closed browser's state could not be saved; its newest checkpoint stays in the history");
                        note = Some(format!(
                            "final state not saved ({}); the newest checkpoint is in the history",
                            err.message
                        ));
                    }
                }
            }
        }
    }
    if let Some(profile) = e.save_profile() {
        let id = snapshot.as_ref().map(|s: &SnapshotInfo| s.id.as_str());
        crate::remote::session::after_end(d, &profile.id, &e.id, id).await;
    }
    tracing::info!(session = %e.id, saved = snapshot.is_some(), "the browser closed on its own; session ended");
    finish(
        d,
        e,
        SessionState::Ended,
        EndReason::BrowserClosed,
        snapshot,
        note,
    );
}

/// Waits for the browser to exit (or, attached, for the connection to close). If nobody
/// ended the session first, it crashed (launched) or went away (attached).
pub(super) async fn watch_exit(
    d: Weak<Daemon>,
    e: Arc<Entry>,
    mut exit: watch::Receiver<Option<BrowserExit>>,
) {
    let how = match exit.wait_for(|x| x.is_some()).await {
        Ok(x) => x.clone(),
        // The session was closed or detached: its watcher went with it.
        Err(_) => return,
    };
    let Some(d) = d.upgrade() else { return };
    let mut slot = e.slot.lock().await;
    let Some(session) = slot.take() else {
        return; // ended by a stop
    };
    drop(slot);
    match how {
        Some(BrowserExit::Disconnected) => {
            session.detach();
            tracing::info!(session = %e.id, "the attached browser went away; session ended");
            finish(
                &d,
                &e,
                SessionState::Ended,
                EndReason::Disconnected,
                None,
                None,
            );
        }
        // Exit code 0 is Chrome shutting down normally, not a crash.
        Some(BrowserExit::Exited {
            code: Some(0),
            signal: None,
        }) if matches!(e.launch, Launch::Launched { .. }) => {
            closed_by_browser(&d, &e, session).await
        }
        Some(BrowserExit::Exited { code, signal }) => {
            let detail = match (code, signal) {
                (_, Some(s)) => format!("browser killed by signal {s}"),
                (Some(c), None) => format!("browser exited with code {c}"),
                (None, None) => "browser exited".to_owned(),
            };
            crashed(&d, &e, Some(session), &detail).await;
        }
        None => {}
    }
}
