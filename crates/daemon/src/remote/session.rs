//! Sessions of linked profiles (`remote-format.md` 8): at start, the lease (for `--save`)
//! and a pull of the newest remote snapshots (the local copy with a warning when the remote
//! is unreachable); while running, lease renewals; at the end, the push of the final save
//! and the release.

use std::sync::Arc;
use std::time::Duration;

use pvault_protocol::{ErrorBody, SessionRemote};
use pvault_remote::RemoteError;
use tokio_util::sync::CancellationToken;

use super::sync::{PushOutcome, pull_profile, push_profile};
use super::{Held, conn, holder, remote_err, with_state};
use crate::state::Daemon;

/// Before a session of profile `name` launches: if it is linked, takes the lease (`save`)
/// and pulls. `busy` when another machine holds the lease; `remote_tampered` when the remote
/// fails the chain checks (the local copy is kept). `None` for a profile not linked.
pub(crate) async fn before_start(
    d: &Arc<Daemon>,
    name: &str,
    save: bool,
    session_id: &str,
) -> Result<Option<SessionRemote>, ErrorBody> {
    let Ok(v) = d.unlocked_vault() else {
        return Ok(None);
    };
    let Ok(profile) = v.profile(name) else {
        return Ok(None);
    };
    // A `remotes.seal` that does not open turns remotes off, not local sessions.
    let link = match with_state(d, |s| s.link(&profile.id).cloned()).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e.message, "remotes are unavailable; the session runs locally");
            None
        }
    };
    let Some(link) = link else {
        return Ok(None);
    };
    let entry = super::entry(d, &link.remote).await?;
    let mut warning = None;
    if save {
        let ttl = Duration::from_secs(entry.lease_ttl_secs);
        let got = match conn(d, &link.remote).await {
            Ok(c) => {
                let r = c
                    .lock()
                    .await
                    .acquire(
                        &link.remote_profile_id,
                        name,
                        &holder(d, Some(session_id)),
                        ttl,
                    )
                    .await;
                r.map(|l| (l, c))
            }
            Err(e) => Err(e),
        };
        match got {
            Ok((lease, c)) => {
                d.remotes.hold(
                    &profile.id,
                    Held {
                        lease,
                        conn: c,
                        session: session_id.to_owned(),
                        running: true,
                        renew: CancellationToken::new(),
                    },
                );
                spawn_renewal(d, &profile.id);
            }
            Err(e) if e.is_unreachable() => {
                warning = Some(format!(
                    "remote {} is unreachable ({e}); saving locally, pushed when it is back",
                    link.remote
                ));
            }
            Err(e) => return Err(remote_err(e)),
        }
        // Saves an earlier session left pending go first, under this lease.
        if warning.is_none() {
            let _ = push_profile(d, &profile.id).await;
        }
    }
    let state = match pull_profile(d, &profile.id).await {
        Ok(_) => "remote",
        Err(e) if e.is_unreachable() => {
            warning.get_or_insert_with(|| {
                format!(
                    "remote {} is unreachable ({e}); loading the local copy of {name}",
                    link.remote
                )
            });
            "local"
        }
        Err(e) => {
            abandon(d, &profile.id, session_id);
            return Err(remote_err(e));
        }
    };
    if let Some(w) = &warning {
        tracing::warn!(profile = %name, "{w}");
    }
    Ok(Some(SessionRemote {
        remote: link.remote,
        state: state.to_owned(),
        warning,
    }))
}

/// Renews the lease of profile `profile_id` every third of its ttl until cancelled. A lease
/// found lost is reported in the log; the session goes on locally (its saves are pushed only
/// if the remote head did not move meanwhile).
pub(crate) fn spawn_renewal(d: &Daemon, profile_id: &str) {
    let Some(h) = d.remotes.held(profile_id) else {
        return;
    };
    let every = h.lease.ttl / 3;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = h.renew.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let r = h.conn.lock().await.renew(&h.lease).await;
            match r {
                Ok(()) => {}
                Err(RemoteError::LeaseLost { .. }) => {
                    tracing::warn!(session = %h.session, "the lease expired or was taken; saves stay local until it can be taken again");
                    return;
                }
                Err(e) => {
                    tracing::warn!(session = %h.session, error = %e, "lease renewal failed; retrying");
                    let mut c = h.conn.lock().await;
                    if c.is_closed()
                        && let Ok(r) = c.reconnect().await
                    {
                        *c = r;
                    }
                }
            }
        }
    });
}

/// A session that started to launch but failed: gives its lease back at once.
pub(crate) fn abandon(d: &Daemon, profile_id: &str, session_id: &str) {
    let Some(h) = d.remotes.held(profile_id) else {
        return;
    };
    if h.session != session_id {
        return;
    }
    if let Some(h) = d.remotes.unhold(profile_id, &h.lease) {
        tokio::spawn(async move {
            let _ = h.conn.lock().await.release(&h.lease).await;
        });
    }
}

/// After a session of profile `profile_id` ended (its final save `saved`, if any, is in the
/// vault): pushes what is pending and gives the lease back. A push that cannot happen now
/// keeps the lease until it expires, and the saves pending. The answer is about `saved`
/// (the background pusher may have handled it first).
pub(crate) async fn after_end(
    d: &Daemon,
    profile_id: &str,
    session_id: &str,
    saved: Option<&str>,
) -> Option<SessionRemote> {
    let remote = with_state(d, |s| s.link(profile_id).map(|l| l.remote.clone()))
        .await
        .ok()
        .flatten()?;
    if let Some(mut h) = d.remotes.held(profile_id)
        && h.session == session_id
    {
        h.running = false;
        h.renew.cancel();
        d.remotes.hold(profile_id, h);
    }
    let why = match push_profile(d, profile_id).await {
        Ok(PushOutcome::Pending(why) | PushOutcome::Diverged(why)) => Some(why),
        Ok(PushOutcome::Nothing | PushOutcome::Pushed(_)) => None,
        Err(e) => Some(e.message),
    };
    let saved = saved?;
    let link = with_state(d, |s| s.link(profile_id).cloned())
        .await
        .ok()
        .flatten()?;
    let v = d.unlocked_vault().ok()?;
    let (l2, id) = (link.clone(), saved.to_owned());
    let (pending, marked) = crate::handlers::blocking(move || {
        let pending = super::sync::pending(&v, &l2)
            .map(|p| p.iter().any(|i| i.id == id))
            .unwrap_or(false);
        let marked = v
            .history(&l2.profile_id)
            .map(|h| h.iter().any(|i| i.id == id && i.logged_out))
            .unwrap_or(false);
        Ok((pending, marked))
    })
    .await
    .unwrap_or((false, false));
    let (state, warning) = if link.diverged.iter().any(|i| i == saved) {
        (
            "diverged",
            Some(format!(
                "the lease expired while this session ran and another machine saved to remote {remote} meanwhile: this save is kept locally and not pushed"
            )),
        )
    } else if marked {
        (
            "kept_local",
            Some(format!(
                "the logout guard marked this save: it is kept in this vault and not pushed to remote {remote}, so the machines sharing the profile keep the login"
            )),
        )
    } else if pending {
        (
            "pending",
            Some(format!(
                "the save is kept locally and pushed when remote {remote} is back ({})",
                why.unwrap_or_default()
            )),
        )
    } else {
        ("pushed", None)
    };
    Some(SessionRemote {
        remote,
        state: state.to_owned(),
        warning,
    })
}
