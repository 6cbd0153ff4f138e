//! Moving snapshots between the vault and a remote (`remote-format.md` 7, 8): pulling a
//! linked profile's new remote snapshots into the vault, and pushing its pending local saves
//! under the lease with the head compare-and-swap.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use pvault_model::{SnapshotInfo, SnapshotKind};
use pvault_protocol::ErrorBody;
use pvault_remote::{Lease, NewSnapshot, RemoteError};
use pvault_vault::{Vault, VaultError};

use super::local::LinkEntry;
use super::{Held, conn, drop_conn, holder, persist, with_state};
use crate::handlers::{blocking, vault_err};
use crate::state::Daemon;

/// How often pending saves are retried.
pub(crate) const RETRY_EVERY: Duration = Duration::from_secs(10);

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PushOutcome {
    /// Nothing was pending.
    Nothing,
    /// Every pending save is on the remote.
    Pushed(u64),
    /// Saves wait (the remote is unreachable, or another machine holds the lease).
    Pending(String),
    /// The remote moved on: these saves are kept locally and never pushed.
    Diverged(String),
}

/// The link's local saves not on the remote yet, oldest first (never one the logout guard
/// marked).
pub(crate) fn pending(v: &Vault, link: &LinkEntry) -> Result<Vec<SnapshotInfo>, VaultError> {
    let mut h: Vec<SnapshotInfo> = v
        .history(&link.profile_id)?
        .into_iter()
        // A snapshot the logout guard marked stays local: pushed, it would become every other
        // machine's newest state, the logout the guard exists to keep from spreading.
        .filter(|i| i.seq > link.synced_seq && !link.diverged.contains(&i.id) && !i.logged_out)
        .collect();
    h.reverse();
    Ok(h)
}

/// The link's diverged saves that are still in the local history (a checkpoint that
/// diverged is gone once its session's final save collapsed it).
pub(crate) fn diverged(v: &Vault, link: &LinkEntry) -> Result<Vec<String>, VaultError> {
    if link.diverged.is_empty() {
        return Ok(Vec::new());
    }
    let here: HashSet<String> = v
        .history(&link.profile_id)?
        .into_iter()
        .map(|i| i.id)
        .collect();
    Ok(link
        .diverged
        .iter()
        .filter(|i| here.contains(*i))
        .cloned()
        .collect())
}

/// Reads pending saves as the remote wants them: body plaintext and info.
fn pending_bodies(
    v: &Vault,
    link: &LinkEntry,
    session: Option<&str>,
) -> Result<Vec<NewSnapshot>, VaultError> {
    let mut out = Vec::new();
    for info in pending(v, link)? {
        let snap = match v.read_snapshot(&link.profile_id, Some(&info.id)) {
            Ok(s) => s,
            // A checkpoint the session's final save collapsed meanwhile.
            Err(VaultError::SnapshotNotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let body = pvault_vault::body::encode_state(&snap.state)?;
        // The session's id lets the remote collapse its checkpoints as the vault does.
        let session_id = matches!(
            info.kind,
            SnapshotKind::Checkpoint | SnapshotKind::SessionSave
        )
        .then(|| session.map(str::to_owned))
        .flatten();
        out.push(NewSnapshot {
            body,
            info: snap.info,
            session_id,
        });
    }
    Ok(out)
}

/// Pushes every linked profile's pending saves (of remote `only`, or of all).
pub(crate) async fn push_all(d: &Arc<Daemon>, only: Option<&str>) {
    let Ok(links) = with_state(d, |s| {
        s.links
            .iter()
            .filter(|l| only.is_none_or(|o| l.remote == o))
            .map(|l| l.profile_id.clone())
            .collect::<Vec<_>>()
    })
    .await
    else {
        return;
    };
    for p in links {
        match push_profile(d, &p).await {
            Ok(PushOutcome::Pending(why)) => {
                tracing::debug!(profile = %p, why, "saves still pending")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(profile = %p, error = %e.message, "push of pending saves failed")
            }
        }
    }
}

/// Pushes profile `profile_id`'s pending saves, under the lease its session holds or one
/// taken for the push, only over the remote head last seen (never over a newer save).
pub(crate) async fn push_profile(d: &Daemon, profile_id: &str) -> Result<PushOutcome, ErrorBody> {
    let _one = d.remotes.sync.lock().await;
    let Some(link) = with_state(d, |s| s.link(profile_id).cloned()).await? else {
        return Ok(PushOutcome::Nothing);
    };
    let v = d.unlocked_vault()?;
    // A linked profile deleted locally has nothing to push.
    let name = match v.profile(profile_id) {
        Ok(p) => p.name,
        Err(VaultError::ProfileNotFound { .. }) => return Ok(PushOutcome::Nothing),
        Err(e) => return Err(vault_err(e)),
    };
    let held = d.remotes.held(profile_id);
    let session = held.as_ref().map(|h| h.session.clone());
    let (l2, v2) = (link.clone(), v.clone());
    let news =
        blocking(move || pending_bodies(&v2, &l2, session.as_deref()).map_err(vault_err)).await?;
    if news.is_empty() {
        release_ended(d, profile_id).await;
        return Ok(PushOutcome::Nothing);
    }
    let c = match conn(d, &link.remote).await {
        Ok(c) => c,
        Err(e) => return Ok(PushOutcome::Pending(e.to_string())),
    };
    let entry = super::entry(d, &link.remote).await?;
    let ttl = Duration::from_secs(entry.lease_ttl_secs);
    // The session's lease, or one taken now (and given back after the push).
    let (mut lease, mut own): (Lease, bool) = match &held {
        Some(h) => (h.lease.clone(), false),
        None => match acquire(d, &c, &link, &name, None, ttl).await {
            Ok(l) => (l, true),
            Err(p) => return Ok(p),
        },
    };
    let retention = u64::from(d.config().retention);
    let writer = holder(d, held.as_ref().map(|h| h.session.as_str()));
    let mut retried = false;
    let result = loop {
        let r = c
            .lock()
            .await
            .push(&lease, &link.memory, &news, &writer, retention)
            .await;
        match r {
            Err(RemoteError::LeaseLost { .. }) if !retried => {
                // The session's lease expired (the remote was away longer than its ttl): take
                // it again if it is free; the head check still refuses a push over a newer save.
                retried = true;
                match acquire(
                    d,
                    &c,
                    &link,
                    &name,
                    held.as_ref().map(|h| h.session.as_str()),
                    ttl,
                )
                .await
                {
                    Ok(l) => {
                        if let Some(h) = &held {
                            d.remotes.hold(
                                profile_id,
                                Held {
                                    lease: l.clone(),
                                    renew: tokio_util::sync::CancellationToken::new(),
                                    ..h.clone()
                                },
                            );
                            if h.running {
                                super::session::spawn_renewal(d, profile_id);
                            }
                        } else {
                            own = true;
                        }
                        lease = l;
                    }
                    Err(p) => return Ok(p),
                }
            }
            r => break r,
        }
    };
    let pushed_ids: Vec<String> = news.iter().map(|n| n.info.id.clone()).collect();
    let max_seq = news.iter().map(|n| n.info.seq).max().unwrap_or(0);
    let outcome = match result {
        Ok(pulled) => {
            let n = pushed_ids.len() as u64;
            let chain: HashSet<String> = pulled.chain.iter().map(|i| i.id.clone()).collect();
            with_state(d, |s| {
                if let Some(l) = s.link_mut(profile_id) {
                    l.memory = pulled.memory();
                    l.synced_seq = l.synced_seq.max(max_seq);
                    for (rid, lid) in pulled.inserted.iter().zip(&pushed_ids) {
                        if let Some(rid) = rid {
                            l.pairs.push((rid.clone(), lid.clone()));
                        }
                    }
                    l.pairs.retain(|(r, _)| chain.contains(r));
                }
            })
            .await?;
            persist(d).await?;
            tracing::info!(profile = %name, snapshots = n, "pushed to the remote");
            PushOutcome::Pushed(n)
        }
        Err(RemoteError::HeadMoved { .. }) => {
            with_state(d, |s| {
                if let Some(l) = s.link_mut(profile_id) {
                    l.diverged.extend(pushed_ids.iter().cloned());
                    l.synced_seq = l.synced_seq.max(max_seq);
                }
            })
            .await?;
            persist(d).await?;
            let msg = format!(
                "the remote history of {name} moved on while {} local save(s) waited (another machine saved after this one lost the lease): they are kept locally and will not be pushed",
                pushed_ids.len()
            );
            tracing::warn!(profile = %name, "{msg}");
            PushOutcome::Diverged(msg)
        }
        Err(e) => {
            if e.is_unreachable() {
                drop_conn(d, &link.remote).await;
            } else {
                tracing::warn!(profile = %name, error = %e, "push refused");
            }
            PushOutcome::Pending(e.to_string())
        }
    };
    if own {
        let _ = c.lock().await.release(&lease).await;
    }
    if !matches!(outcome, PushOutcome::Pending(_)) {
        release_ended(d, profile_id).await;
    }
    Ok(outcome)
}

/// Takes the lease for a push; `Err` is what to report (busy, unreachable).
async fn acquire(
    d: &Daemon,
    c: &super::Conn,
    link: &LinkEntry,
    name: &str,
    session: Option<&str>,
    ttl: Duration,
) -> Result<Lease, PushOutcome> {
    let r = c
        .lock()
        .await
        .acquire(&link.remote_profile_id, name, &holder(d, session), ttl)
        .await;
    r.map_err(|e| PushOutcome::Pending(e.to_string()))
}

/// Gives back the lease an ended session kept while its final save waited.
async fn release_ended(d: &Daemon, profile_id: &str) {
    if let Some(h) = d.remotes.held(profile_id)
        && !h.running
        && let Some(h) = d.remotes.unhold(profile_id, &h.lease)
    {
        let _ = h.conn.lock().await.release(&h.lease).await;
    }
}

/// Pulls profile `profile_id`'s new remote snapshots into the vault (after the chain checks
/// of `remote-format.md` 7.1 and 7.3). Returns how many were added. Local saves still
/// pending when the remote moved on become diverged (kept, reported, never pushed).
pub(crate) async fn pull_profile(d: &Daemon, profile_id: &str) -> Result<u64, RemoteError> {
    let _one = d.remotes.sync.lock().await;
    let internal = |e: ErrorBody| RemoteError::Database { detail: e.message };
    let Some(link) = with_state(d, |s| s.link(profile_id).cloned())
        .await
        .map_err(internal)?
    else {
        return Ok(0);
    };
    let c = conn(d, &link.remote).await?;
    let have: HashSet<String> = link.pairs.iter().map(|(r, _)| r.clone()).collect();
    let pulled = {
        let r = c.lock().await;
        r.pull(&link.remote_profile_id, Some(&link.memory), &|id| {
            have.contains(id)
        })
        .await
    };
    let pulled = match pulled {
        Ok(p) => p,
        Err(e) => {
            if e.is_unreachable() {
                drop_conn(d, &link.remote).await;
            }
            return Err(e);
        }
    };
    let v = d.unlocked_vault().map_err(internal)?;
    let (l2, pid) = (link.clone(), profile_id.to_owned());
    let bodies = pulled.bodies;
    let (added, diverged) = blocking(move || {
        let mut diverged = Vec::new();
        if !bodies.is_empty() {
            diverged = pending(&v, &l2).map_err(vault_err)?;
        }
        let mut added = Vec::new();
        for (info, body) in bodies {
            let state = pvault_vault::body::decode_state(&body, pvault_vault::body::SCHEMA_VERSION)
                .or_else(|_| pvault_vault::body::decode_state(&body, 1))
                .map_err(vault_err)?;
            let local = v
                .append_snapshot(&pid, &state, info.kind)
                .map_err(vault_err)?;
            added.push((info.id, local));
        }
        Ok((added, diverged))
    })
    .await
    .map_err(internal)?;
    let n = added.len() as u64;
    let chain: HashSet<String> = pulled.chain.iter().map(|i| i.id.clone()).collect();
    let memory = pulled_memory(&pulled.head, &pulled.head_id);
    with_state(d, |s| {
        if let Some(l) = s.link_mut(profile_id) {
            l.memory = memory;
            l.diverged.extend(diverged.iter().map(|i| i.id.clone()));
            for (rid, local) in &added {
                l.pairs.push((rid.clone(), local.id.clone()));
                l.synced_seq = l.synced_seq.max(local.seq);
            }
            l.pairs.retain(|(r, _)| chain.contains(r));
        }
    })
    .await
    .map_err(internal)?;
    if !diverged.is_empty() {
        tracing::warn!(profile = %profile_id, saves = diverged.len(), "local saves diverged from the remote: kept locally, not pushed");
    }
    persist(d).await.map_err(internal)?;
    Ok(n)
}

fn pulled_memory(head: &pvault_remote::Head, head_id: &str) -> pvault_remote::Memory {
    pvault_remote::Memory {
        next_seq: head.next_seq,
        latest: head.latest.clone(),
        head_id: head_id.to_owned(),
    }
}
