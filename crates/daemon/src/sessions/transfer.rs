//! State in and out of running sessions: `session.capture` (into any profile, without
//! disturbing the browser or its clients), `session.load` (into a session that has no profile
//! yet), and the checkpoint every `save` session gets just before the vault locks.

use std::sync::Arc;
use std::time::Duration;

use pvault_browser::BrowserError;
use pvault_model::SnapshotKind;
use pvault_protocol::{
    ErrorBody, ErrorCode, SessionCapture, SessionCaptureResponse, SessionLoad, SessionLoadResponse,
};

use super::registry::ProfileRef;
use super::stop::{Saved, announce_saved, append_session_snapshot};
use super::{browser_err, capture_report, load_report};
use crate::handlers::{blocking, vault_err};
use crate::state::Daemon;

/// A capture at lock time must not hold the lock (and the user) for long.
const LOCK_CHECKPOINT_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) async fn capture(
    d: &Arc<Daemon>,
    p: SessionCapture,
) -> Result<SessionCaptureResponse, ErrorBody> {
    let entry = d.sessions.running(&p.session_id)?;
    let v = d.unlocked_vault()?;
    // Refuse early (before the browser is touched) when another session owns the profile.
    let name = p.into.clone();
    let v2 = v.clone();
    let existing = blocking(move || match v2.profile(&name) {
        Ok(info) => Ok(Some(info)),
        Err(pvault_vault::VaultError::ProfileNotFound { .. }) => Ok(None),
        Err(e) => Err(vault_err(e)),
    })
    .await?;
    if let Some(info) = &existing {
        check_writer(d, &info.id, &info.name, &entry.id)?;
    }
    let (state, rep) = {
        let slot = entry.slot.lock().await;
        let session = slot
            .as_ref()
            .ok_or_else(|| d.sessions.running(&entry.id).err().unwrap_or_else(gone))?;
        session.capture().await.map_err(|e| match e {
            BrowserError::Gone(detail) => ErrorBody::new(
                ErrorCode::BrowserError,
                format!("session {} crashed during the capture ({detail})", entry.id),
            ),
            e => browser_err(e),
        })?
    };
    let report = capture_report(&state, &rep);
    let (name, sid) = (p.into.clone(), entry.id.clone());
    let (profile, snapshot) = blocking(move || {
        let (profile, _) = super::profile_or_create(&v, &name)?;
        let snapshot = v
            .append_snapshot_for_session(&profile.id, &state, SnapshotKind::Capture, &sid)
            .map_err(vault_err)?;
        Ok((profile, snapshot))
    })
    .await?;
    let saved = Saved {
        info: snapshot.clone(),
        guard: None,
    };
    announce_saved(d, &entry.id, &profile.name, &profile.id, &saved);
    Ok(SessionCaptureResponse {
        profile: profile.name,
        snapshot,
        capture: report,
    })
}

/// `busy` when a `save` session other than `session_id` holds the profile.
fn check_writer(
    d: &Daemon,
    profile_id: &str,
    name: &str,
    session_id: &str,
) -> Result<(), ErrorBody> {
    match d.sessions.writer_of(profile_id) {
        Some(holder) if holder != session_id => Err(ErrorBody::new(
            ErrorCode::Busy,
            format!(
                "profile {name} is being saved by session {holder}; capture into another profile, or stop that session first"
            ),
        )),
        _ => Ok(()),
    }
}

fn gone() -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, "the session is no longer running")
}

pub(crate) async fn load(
    d: &Arc<Daemon>,
    p: SessionLoad,
) -> Result<SessionLoadResponse, ErrorBody> {
    let entry = d.sessions.running(&p.session_id)?;
    // Held for the whole load: two loads into one session cannot both pass the check below.
    let slot = entry.slot.lock().await;
    let session = slot
        .as_ref()
        .ok_or_else(|| d.sessions.running(&entry.id).err().unwrap_or_else(gone))?;
    let v = d.unlocked_vault()?;
    let name = p.profile.clone();
    let v2 = v.clone();
    let (info, snapshot, state) = blocking(move || {
        let info = v2.profile(&name).map_err(vault_err)?;
        match v2.read_snapshot(&info.id, None) {
            Ok(s) => Ok((info, Some(s.info), s.state)),
            Err(pvault_vault::VaultError::SnapshotNotFound { .. }) => {
                Ok((info, None, Default::default()))
            }
            Err(e) => Err(vault_err(e)),
        }
    })
    .await?;
    // Checked after the profile is found, so an unknown name is `not_found` in any session.
    if let Some(has) = entry.profile() {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!(
                "session {} already has profile {} loaded; a session holds one profile: start a new session with --profile {}",
                entry.id, has.name, p.profile
            ),
        ));
    }
    let report = session.load_state(&state).await.map_err(browser_err)?;
    // The session now shows this profile; it stays read-only (`save` is fixed at start).
    entry.set_loaded(ProfileRef {
        id: info.id.clone(),
        name: info.name.clone(),
    });
    drop(slot);
    let pid = info.id.clone();
    if let Err(e) = blocking(move || v.touch_profile(&pid).map_err(vault_err)).await {
        tracing::warn!(error = %e.message, "could not record the profile's use");
    }
    Ok(SessionLoadResponse {
        load: load_report(&report, snapshot),
    })
}

/// Called with the daemon's lifecycle lock held, just before the vault locks: every `save`
/// session's current state is appended as a checkpoint (collapsed when its final save lands),
/// so locking never loses what was done up to that moment. Failures are logged, not fatal:
/// the lock proceeds (a lock that could be blocked by a hung browser would be no lock).
pub(crate) async fn checkpoint_before_lock(d: &Arc<Daemon>) {
    let Ok(v) = d.unlocked_vault() else { return };
    for e in d.sessions.all_running() {
        let Some(profile) = e.save_profile() else {
            continue;
        };
        let captured = tokio::time::timeout(LOCK_CHECKPOINT_TIMEOUT, async {
            let slot = e.slot.lock().await;
            match slot.as_ref() {
                // Like every checkpoint: nothing a connected client could see (no stub page).
                Some(s) => Some(s.capture_checkpoint().await),
                None => None,
            }
        })
        .await;
        let state = match captured {
            Ok(Some(Ok((state, _)))) => state,
            Ok(None) => continue,
            Ok(Some(Err(err))) => {
                tracing::warn!(session = %e.id, error = %err, "checkpoint before lock failed");
                continue;
            }
            Err(_) => {
                tracing::warn!(session = %e.id, "checkpoint before lock timed out");
                continue;
            }
        };
        let (v, pid, sid, name, guard) = (
            v.clone(),
            profile.id.clone(),
            e.id.clone(),
            profile.name.clone(),
            e.guard,
        );
        let r = blocking(move || {
            append_session_snapshot(
                &v,
                guard,
                &name,
                &pid,
                &state,
                SnapshotKind::Checkpoint,
                &sid,
            )
        })
        .await;
        match r {
            Ok(info) => announce_saved(d, &e.id, &profile.name, &profile.id, &info),
            Err(err) => {
                tracing::warn!(session = %e.id, error = %err.message, "checkpoint before lock not saved")
            }
        }
    }
}
