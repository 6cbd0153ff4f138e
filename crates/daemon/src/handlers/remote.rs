//! `remote.*`, `profile.link` and `profile.pull` handlers (protocol.md 1.9,
//! `remote-format.md`). Database work is async (tokio-postgres); vault work runs on the
//! blocking pool. Nothing is written, locally or remotely, before every check has passed.

use std::sync::Arc;

use pvault_protocol::{
    Ack, Credential, ErrorBody, ErrorCode, PendingSave, ProfileLink, ProfileLinkResponse,
    ProfilePull, RemoteAdd, RemoteAddResponse, RemoteExportKey, RemoteExportKeyResponse,
    RemoteLease, RemoteList, RemoteListResponse, RemoteRemove, RemoteStatus, RemoteStatusResponse,
    RemoteSummary,
};
use pvault_remote::keyfile::{self, Argon2Params, Protector};
use pvault_remote::{KeyChoice, NewSnapshot, Remote, Target};

use super::{blocking, vault_err};
use crate::remote::local::{LinkEntry, LocalState, RemoteEntry};
use crate::remote::sync::{diverged, pending};
use crate::remote::{self, conn, entry, persist, remote_err, with_state};
use crate::state::Daemon;

/// Lease times `remote add --lease-ttl` accepts, seconds (`remote-format.md` 6.1).
const LEASE_TTL: std::ops::RangeInclusive<u64> = 5..=3600;
/// The default lease time.
const DEFAULT_LEASE_TTL: u64 = 60;

fn invalid(msg: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidArgument, msg)
}

fn check_name(name: &str) -> Result<(), ErrorBody> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "a remote name is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'",
        ))
    }
}

fn summary(v: &pvault_vault::Vault, s: &LocalState, r: &RemoteEntry) -> RemoteSummary {
    let links: Vec<&LinkEntry> = s.links.iter().filter(|l| l.remote == r.name).collect();
    let pending: u64 = links
        .iter()
        .map(|l| {
            pending(v, l).map(|p| p.len()).unwrap_or(0) as u64
                + diverged(v, l).map(|d| d.len()).unwrap_or(0) as u64
        })
        .sum();
    RemoteSummary {
        name: r.name.clone(),
        url: r.url.clone(),
        store_id: r.store_id.clone(),
        lease_ttl_secs: r.lease_ttl_secs,
        linked: links.len() as u64,
        pending,
    }
}

async fn summary_of(d: &Daemon, name: &str) -> Result<RemoteSummary, ErrorBody> {
    let v = d.unlocked_vault()?;
    let s = with_state(d, |s| s.clone()).await?;
    let r = s
        .remote(name)
        .cloned()
        .ok_or_else(|| remote::not_found(name))?;
    blocking(move || Ok(summary(&v, &s, &r))).await
}

pub(super) async fn add(d: &Arc<Daemon>, p: RemoteAdd) -> Result<RemoteAddResponse, ErrorBody> {
    check_name(&p.name)?;
    let ttl = p.lease_ttl_secs.unwrap_or(DEFAULT_LEASE_TTL);
    if !LEASE_TTL.contains(&ttl) {
        return Err(invalid(format!(
            "lease time {ttl} s is out of range: give between {} and {} seconds",
            LEASE_TTL.start(),
            LEASE_TTL.end()
        )));
    }
    let target = Target::parse(&p.url).map_err(remote_err)?;
    if with_state(d, |s| s.remote(&p.name).is_some()).await? {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("a remote named {} exists already", p.name),
        )
        .with_hint("remove it first (pvault remote remove NAME), or choose another name"));
    }
    let (choice, file_store) = match p.key_file {
        Some(kf) => {
            let (store, key) = blocking(move || {
                let protector = match &kf.protector {
                    Credential::Passphrase(s) => Protector::Passphrase(s.expose()),
                    Credential::KeyFile(b) => Protector::KeyFile(b.expose()),
                };
                keyfile::import(kf.document.as_bytes(), &protector).map_err(remote_err)
            })
            .await?;
            (KeyChoice::Existing(key), Some(store))
        }
        None => (KeyChoice::CreateIfEmpty, None),
    };
    let password = p.password.map(|s| s.into_zeroizing());
    let (r, key) = Remote::connect(&target, password.clone(), choice)
        .await
        .map_err(remote_err)?;
    if let Some(store) = file_store
        && store != r.store_id_bytes()
    {
        return Err(ErrorBody::new(
            ErrorCode::AuthFailed,
            "the key file belongs to another remote store",
        ));
    }
    let e = RemoteEntry {
        name: p.name.clone(),
        url: p.url.clone(),
        password: password.map(|p| p.to_string()),
        team_key: hex::encode(key.expose()),
        store_id: r.store_id(),
        lease_ttl_secs: ttl,
    };
    let created = r.created;
    let taken = with_state(d, |s| {
        if s.remote(&e.name).is_some() {
            return true;
        }
        s.remotes.push(e);
        false
    })
    .await?;
    if taken {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("a remote named {} exists already", p.name),
        ));
    }
    if let Err(err) = persist(d).await {
        let _ = with_state(d, |s| s.remotes.retain(|x| x.name != p.name)).await;
        return Err(err);
    }
    remote::put_conn(d, &p.name, r).await;
    tracing::info!(remote = %p.name, created, "remote added");
    Ok(RemoteAddResponse {
        remote: summary_of(d, &p.name).await?,
        created,
    })
}

pub(super) async fn list(d: &Arc<Daemon>, _: RemoteList) -> Result<RemoteListResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    let s = with_state(d, |s| s.clone()).await?;
    blocking(move || {
        let mut remotes: Vec<RemoteSummary> =
            s.remotes.iter().map(|r| summary(&v, &s, r)).collect();
        remotes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(RemoteListResponse { remotes })
    })
    .await
}

pub(super) async fn remove(d: &Arc<Daemon>, p: RemoteRemove) -> Result<Ack, ErrorBody> {
    let sum = summary_of(d, &p.name).await?;
    let links = with_state(d, |s| {
        s.links
            .iter()
            .filter(|l| l.remote == p.name)
            .map(|l| l.profile_id.clone())
            .collect::<Vec<_>>()
    })
    .await?;
    if let Some(s) = d.remotes.running_on(&links).first() {
        return Err(ErrorBody::new(
            ErrorCode::Busy,
            format!(
                "session {s} is saving a profile linked to remote {}; stop it first",
                p.name
            ),
        ));
    }
    if sum.pending > 0 && !p.force {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!(
                "{} local save(s) of profiles linked to remote {} are not on it",
                sum.pending, p.name
            ),
        )
        .with_hint("see `pvault remote status NAME`; give --force to remove it anyway (the saves stay in the local history)"));
    }
    with_state(d, |s| {
        s.remotes.retain(|r| r.name != p.name);
        s.links.retain(|l| l.remote != p.name);
    })
    .await?;
    persist(d).await?;
    remote::drop_conn(d, &p.name).await;
    tracing::info!(remote = %p.name, "remote removed");
    Ok(Ack {})
}

pub(super) async fn status(
    d: &Arc<Daemon>,
    p: RemoteStatus,
) -> Result<RemoteStatusResponse, ErrorBody> {
    entry(d, &p.name).await?;
    // Pending saves are retried first, so the answer shows what still waits.
    remote::sync::push_all(d, Some(&p.name)).await;
    let (mut reachable, mut error, mut schema_version, mut profiles, mut leases) =
        (false, None, None, None, Vec::new());
    match conn(d, &p.name).await {
        Ok(c) => {
            let st = c.lock().await.status().await;
            match st {
                Ok(st) => {
                    reachable = true;
                    schema_version = Some(st.schema_version);
                    profiles = Some(st.profiles);
                    leases = st
                        .leases
                        .into_iter()
                        .map(|l| RemoteLease {
                            profile: l.profile,
                            host: l.holder.as_ref().map(|h| h.host.clone()),
                            session: l.holder.and_then(|h| h.session),
                            fence: l.fence,
                            expires_in_ms: l.expires_in_ms,
                        })
                        .collect();
                }
                Err(e) => {
                    reachable = !e.is_unreachable();
                    if e.is_unreachable() {
                        remote::drop_conn(d, &p.name).await;
                    }
                    error = Some(remote_err(e));
                }
            }
        }
        Err(e) => error = Some(remote_err(e)),
    }
    let v = d.unlocked_vault()?;
    let s = with_state(d, |s| s.clone()).await?;
    let name = p.name.clone();
    let pending = blocking(move || {
        let mut out = Vec::new();
        for l in s.links.iter().filter(|l| l.remote == name) {
            let profile = v
                .profile(&l.profile_id)
                .map(|p| p.name)
                .unwrap_or_else(|_| l.profile_id.clone());
            for i in pending(&v, l).map_err(vault_err)? {
                out.push(PendingSave {
                    profile: profile.clone(),
                    snapshot: i.id,
                    session_id: None,
                    state: "pending".into(),
                });
            }
            for id in diverged(&v, l).map_err(vault_err)? {
                out.push(PendingSave {
                    profile: profile.clone(),
                    snapshot: id,
                    session_id: None,
                    state: "diverged".into(),
                });
            }
        }
        Ok(out)
    })
    .await?;
    Ok(RemoteStatusResponse {
        remote: summary_of(d, &p.name).await?,
        reachable,
        error,
        schema_version,
        profiles,
        leases,
        pending,
    })
}

pub(super) async fn export_key(
    d: &Arc<Daemon>,
    p: RemoteExportKey,
) -> Result<RemoteExportKeyResponse, ErrorBody> {
    let e = entry(d, &p.name).await?;
    let key = e
        .key()
        .ok_or_else(|| ErrorBody::new(ErrorCode::Internal, "the team key is damaged"))?;
    let store: [u8; 16] = hex::decode(&e.store_id)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ErrorBody::new(ErrorCode::Internal, "the store id is damaged"))?;
    // Test daemons use the cheapest parameters the caps allow, as they do for the vault.
    let params = if d.opts.fast_kdf {
        Argon2Params::MINIMUM
    } else {
        Argon2Params::DEFAULT
    };
    let doc = blocking(move || {
        let protector = match &p.protector {
            Credential::Passphrase(s) => Protector::Passphrase(s.expose()),
            Credential::KeyFile(b) => Protector::KeyFile(b.expose()),
        };
        keyfile::export(&key, &store, &protector, params).map_err(remote_err)
    })
    .await?;
    let document = String::from_utf8(doc)
        .map_err(|_| ErrorBody::new(ErrorCode::Internal, "the export is not UTF-8"))?;
    Ok(RemoteExportKeyResponse { document })
}

pub(super) async fn link(
    d: &Arc<Daemon>,
    p: ProfileLink,
) -> Result<ProfileLinkResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    let info = {
        let (v, n) = (v.clone(), p.name.clone());
        blocking(move || v.profile(&n).map_err(vault_err)).await?
    };
    entry(d, &p.remote).await?;
    if let Some(l) = with_state(d, |s| s.link(&info.id).cloned()).await? {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!(
                "profile {} is linked to remote {} already",
                info.name, l.remote
            ),
        ));
    }
    let (v2, pid) = (v.clone(), info.id.clone());
    let (snaps, max_seq) = blocking(move || {
        let mut history = v2.history(&pid).map_err(vault_err)?;
        history.reverse();
        let max_seq = history.iter().map(|i| i.seq).max().unwrap_or(0);
        let mut out = Vec::new();
        for i in history {
            let s = v2.read_snapshot(&pid, Some(&i.id)).map_err(vault_err)?;
            let body = pvault_vault::body::encode_state(&s.state).map_err(vault_err)?;
            out.push(NewSnapshot {
                body,
                info: s.info,
                session_id: None,
            });
        }
        Ok((out, max_seq))
    })
    .await?;
    let c = conn(d, &p.remote).await.map_err(remote_err)?;
    let writer = remote::holder(d, None);
    let retention = u64::from(d.config().retention);
    let pulled = c
        .lock()
        .await
        .create_profile(&info.name, &snaps, &writer, retention)
        .await
        .map_err(remote_err)?;
    let pairs = pulled
        .inserted
        .iter()
        .zip(&snaps)
        .filter_map(|(r, s)| r.clone().map(|r| (r, s.info.id.clone())))
        .collect();
    let link = LinkEntry {
        profile_id: info.id.clone(),
        remote: p.remote.clone(),
        remote_profile_id: pulled.profile_id.clone(),
        memory: pulled.memory(),
        synced_seq: max_seq,
        pairs,
        diverged: vec![],
    };
    with_state(d, |s| s.links.push(link)).await?;
    persist(d).await?;
    tracing::info!(profile = %info.name, remote = %p.remote, snapshots = snaps.len(), "profile linked");
    Ok(ProfileLinkResponse {
        profile: info,
        remote: p.remote,
        snapshots: snaps.len() as u64,
    })
}

pub(super) async fn pull(
    d: &Arc<Daemon>,
    p: ProfilePull,
) -> Result<ProfileLinkResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    entry(d, &p.remote).await?;
    {
        let (v, n) = (v.clone(), p.name.clone());
        let exists = blocking(move || Ok(v.profile(&n).is_ok())).await?;
        if exists {
            return Err(ErrorBody::new(
                ErrorCode::Conflict,
                format!("a local profile named {} exists already", p.name),
            )
            .with_hint("rename or delete it first; a linked profile is pulled by its sessions"));
        }
    }
    let c = conn(d, &p.remote).await.map_err(remote_err)?;
    let (found, pulled) = {
        let r = c.lock().await;
        let found = r.find(&p.name).await.map_err(remote_err)?.ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::NotFound,
                format!("profile {} is not on remote {}", p.name, p.remote),
            )
        })?;
        let pulled = r
            .pull(&found.id, None, &|_| false)
            .await
            .map_err(remote_err)?;
        (found, pulled)
    };
    let name = p.name.clone();
    let bodies = pulled.bodies;
    let v2 = v.clone();
    let (info, pairs, max_seq) = blocking(move || {
        let info = v2
            .create_profile(&name, None, &Default::default())
            .map_err(vault_err)?;
        let fill = || -> Result<_, ErrorBody> {
            let mut pairs = Vec::new();
            let mut max_seq = 0;
            for (ri, body) in &bodies {
                let state =
                    pvault_vault::body::decode_state(body, pvault_vault::body::SCHEMA_VERSION)
                        .or_else(|_| pvault_vault::body::decode_state(body, 1))
                        .map_err(vault_err)?;
                let local = v2
                    .append_snapshot(&info.id, &state, ri.kind)
                    .map_err(vault_err)?;
                max_seq = local.seq;
                pairs.push((ri.id.clone(), local.id));
            }
            Ok((pairs, max_seq))
        };
        match fill() {
            Ok((pairs, max_seq)) => Ok((v2.profile(&info.id).map_err(vault_err)?, pairs, max_seq)),
            Err(e) => {
                // Nothing half-pulled stays behind.
                let _ = v2.delete_profile(&info.id);
                Err(e)
            }
        }
    })
    .await?;
    let n = pairs.len() as u64;
    let link = LinkEntry {
        profile_id: info.id.clone(),
        remote: p.remote.clone(),
        remote_profile_id: found.id,
        memory: pvault_remote::Memory {
            next_seq: pulled.head.next_seq,
            latest: pulled.head.latest.clone(),
            head_id: pulled.head_id.clone(),
        },
        synced_seq: max_seq,
        pairs,
        diverged: vec![],
    };
    with_state(d, |s| s.links.push(link)).await?;
    persist(d).await?;
    tracing::info!(profile = %p.name, remote = %p.remote, snapshots = n, "profile pulled");
    Ok(ProfileLinkResponse {
        profile: info,
        remote: p.remote,
        snapshots: n,
    })
}
