//! `profile.*` handlers. Each runs its vault calls on the blocking pool; writes that append a
//! snapshot publish a `snapshot.saved` event.

use std::sync::Arc;

use pvault_model::{BrowserState, SnapshotKind};
use pvault_protocol::frame::{encode_chunk, encode_error, encode_result};
use pvault_protocol::{
    Ack, EXPORT_CHUNK_BYTES, ErrorBody, ErrorCode, Event, ExportFormat, MAX_MESSAGE_BYTES,
    ProfileCreate, ProfileDelete, ProfileDiff, ProfileDiffResponse, ProfileExport,
    ProfileExportResponse, ProfileHistory, ProfileHistoryResponse, ProfileImport,
    ProfileImportResponse, ProfileList, ProfileListResponse, ProfileRename, ProfileResponse,
    ProfileRestore, ProfileRestoreResponse, ProfileShow, ProfileUpdate,
};

use pvault_vault::VaultError;
use serde_json::value::RawValue;

use super::{blocking, vault_err};
use crate::state::Daemon;

/// Reads a Playwright storageState into the model (validated by the model crate).
fn import_state(v: &serde_json::Value) -> Result<BrowserState, ErrorBody> {
    use pvault_model::storage_state::{MAX_INPUT_BYTES, import_storage_state};
    let bytes = serde_json::to_vec(v).map_err(|e| {
        ErrorBody::new(
            ErrorCode::Internal,
            format!("cannot re-encode the state: {e}"),
        )
    })?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(ErrorBody::new(
            ErrorCode::TooLarge,
            format!(
                "storageState is {} bytes; the limit is {MAX_INPUT_BYTES} bytes",
                bytes.len()
            ),
        ));
    }
    import_storage_state(&bytes)
        .map_err(|e| ErrorBody::new(ErrorCode::InvalidArgument, e.to_string()))
}

pub(super) async fn create(
    d: &Arc<Daemon>,
    p: ProfileCreate,
) -> Result<ProfileResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    blocking(move || {
        let settings = p.settings.unwrap_or_default();
        let profile = v
            .create_profile(&p.name, p.description.as_deref(), &settings)
            .map_err(vault_err)?;
        Ok(ProfileResponse { profile })
    })
    .await
}

pub(super) async fn list(
    d: &Arc<Daemon>,
    p: ProfileList,
) -> Result<ProfileListResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    let limit = p
        .limit
        .unwrap_or(ProfileList::MAX_LIMIT)
        .min(ProfileList::MAX_LIMIT);
    blocking(move || {
        let page = v.list_profiles(p.offset, limit).map_err(vault_err)?;
        Ok(ProfileListResponse {
            profiles: page.profiles,
            total: page.total,
            offset: p.offset,
        })
    })
    .await
}

pub(super) async fn show(d: &Arc<Daemon>, p: ProfileShow) -> Result<ProfileResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    blocking(move || {
        Ok(ProfileResponse {
            profile: v.profile(&p.name).map_err(vault_err)?,
        })
    })
    .await
}

pub(super) async fn rename(
    d: &Arc<Daemon>,
    p: ProfileRename,
) -> Result<ProfileResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    blocking(move || {
        Ok(ProfileResponse {
            profile: v.rename_profile(&p.name, &p.new_name).map_err(vault_err)?,
        })
    })
    .await
}

pub(super) async fn update(
    d: &Arc<Daemon>,
    p: ProfileUpdate,
) -> Result<ProfileResponse, ErrorBody> {
    if p.clear_description && p.description.is_some() {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            "give either description or clear_description, not both",
        ));
    }
    let v = d.unlocked_vault()?;
    let upd = pvault_vault::ProfileUpdate {
        description: if p.clear_description {
            Some(None)
        } else {
            p.description.map(Some)
        },
        settings: p.settings,
    };
    blocking(move || {
        Ok(ProfileResponse {
            profile: v.update_profile(&p.name, &upd).map_err(vault_err)?,
        })
    })
    .await
}

pub(super) async fn delete(d: &Arc<Daemon>, p: ProfileDelete) -> Result<Ack, ErrorBody> {
    let v = d.unlocked_vault()?;
    // A running save session would lose its final save: refuse while one holds the profile.
    let (v2, name) = (v.clone(), p.name.clone());
    let info = blocking(move || v2.profile(&name).map_err(vault_err)).await?;
    if let Some(holder) = d.sessions.writer_of(&info.id) {
        return Err(ErrorBody::new(
            ErrorCode::Busy,
            format!(
                "profile {} is being saved by session {holder}; stop that session first",
                info.name
            ),
        ));
    }
    blocking(move || v.delete_profile(&info.id).map_err(vault_err)).await?;
    Ok(Ack {})
}

pub(super) async fn import(
    d: &Arc<Daemon>,
    p: ProfileImport,
) -> Result<ProfileImportResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    let state = import_state(&p.state)?;
    let name = p.name;
    let create = p.create;
    let resp = blocking(move || {
        let mut created = false;
        match v.profile(&name) {
            Ok(_) => {}
            Err(VaultError::ProfileNotFound { .. }) if create => {
                match v.create_profile(&name, None, &Default::default()) {
                    Ok(_) => created = true,
                    // Another client created it between our two calls: import into theirs.
                    Err(VaultError::NameTaken { .. }) => {}
                    Err(e) => return Err(vault_err(e)),
                }
            }
            Err(e) => return Err(vault_err(e)),
        }
        let snapshot = v
            .append_snapshot(&name, &state, SnapshotKind::Import)
            .map_err(vault_err)?;
        let profile = v.profile(&name).map_err(vault_err)?;
        Ok(ProfileImportResponse {
            profile,
            snapshot,
            created,
        })
    })
    .await?;
    let _ = d.events.send(Event::SnapshotSaved {
        profile: resp.profile.name.clone(),
        profile_id: resp.profile.id.clone(),
        snapshot: resp.snapshot.clone(),
    });
    Ok(resp)
}

/// `profile.export`: the document inside the result, or with `chunked` in `chunk` frames
/// followed by a result without it. Every frame is returned in one buffer, in order, so the
/// connection's writer sends them back to back.
pub(super) async fn export_frames(d: &Arc<Daemon>, id: u64, params: &RawValue) -> Vec<u8> {
    let p = match super::parse::<ProfileExport>(params.get()) {
        Ok(p) => p,
        Err(e) => return encode_error(Some(id), &e),
    };
    let v = match d.unlocked_vault() {
        Ok(v) => v,
        Err(e) => return encode_error(Some(id), &e),
    };
    let frames = blocking(move || {
        let snap = v
            .read_snapshot(&p.name, p.snapshot.as_deref())
            .map_err(vault_err)?;
        let format = match p.format.unwrap_or_default() {
            ExportFormat::Playwright => pvault_model::ExportFormat::Playwright,
            ExportFormat::Pvault => pvault_model::ExportFormat::Pvault,
        };
        let export = pvault_model::export_as(&snap.state, format);
        drop(snap.state);
        let mut resp = ProfileExportResponse {
            snapshot: snap.info,
            state: serde_json::Value::Null,
            left_out: export.left_out,
            state_bytes: None,
            state_chunks: None,
        };
        if p.chunked {
            let doc = serde_json::to_vec(&export.json).map_err(|e| {
                ErrorBody::new(ErrorCode::Internal, format!("cannot encode the export: {e}"))
            })?;
            drop(export.json);
            let mut out = Vec::with_capacity(doc.len() / 3 * 4 + 4096);
            let mut n = 0u64;
            for piece in doc.chunks(EXPORT_CHUNK_BYTES) {
                out.extend_from_slice(&encode_chunk(id, piece));
                n += 1;
            }
            resp.state_bytes = Some(doc.len() as u64);
            resp.state_chunks = Some(n);
            out.extend_from_slice(&encode_result(id, &resp));
            return Ok(out);
        }
        resp.state = export.json;
        let line = encode_result(id, &resp);
        if line.len() > MAX_MESSAGE_BYTES + 1 {
            return Err(ErrorBody::new(
                ErrorCode::TooLarge,
                format!(
                    "snapshot #{} of profile {} exports to {} bytes, more than one message of {MAX_MESSAGE_BYTES} bytes; request it with \"chunked\": true (the pvault CLI and clients do)",
                    resp.snapshot.seq,
                    p.name,
                    line.len()
                ),
            ));
        }
        Ok(line)
    })
    .await;
    frames.unwrap_or_else(|e| encode_error(Some(id), &e))
}

pub(super) async fn history(
    d: &Arc<Daemon>,
    p: ProfileHistory,
) -> Result<ProfileHistoryResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    blocking(move || {
        let profile = v.profile(&p.name).map_err(vault_err)?;
        let snapshots = v.history(&profile.id).map_err(vault_err)?;
        Ok(ProfileHistoryResponse {
            profile_id: profile.id,
            snapshots,
        })
    })
    .await
}

pub(super) async fn diff(
    d: &Arc<Daemon>,
    p: ProfileDiff,
) -> Result<ProfileDiffResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    blocking(move || {
        // Without `to`, the newest snapshot (marked or not): a diff shows what the newest
        // session changed, including what a logout removed.
        let to = v
            .read_snapshot(&p.name, Some(p.to.as_deref().unwrap_or("latest")))
            .map_err(vault_err)?;
        let from_sel = match p.from {
            Some(f) => f,
            None => {
                // The snapshot just before `to` in the history (newest first).
                let hist = v.history(&p.name).map_err(vault_err)?;
                let pos = hist.iter().position(|s| s.id == to.info.id);
                match pos.and_then(|i| hist.get(i + 1)) {
                    Some(prev) => prev.id.clone(),
                    None => {
                        return Err(ErrorBody::new(
                            ErrorCode::NotFound,
                            format!(
                                "snapshot {} of {} has no older snapshot to compare with",
                                to.info.seq, p.name
                            ),
                        ));
                    }
                }
            }
        };
        let from = v
            .read_snapshot(&p.name, Some(&from_sel))
            .map_err(vault_err)?;
        let diff = pvault_model::diff::diff(&from.state, &to.state);
        let diff = serde_json::to_value(&diff).map_err(|e| {
            ErrorBody::new(ErrorCode::Internal, format!("cannot encode the diff: {e}"))
        })?;
        Ok(ProfileDiffResponse {
            from: from.info,
            to: to.info,
            diff,
        })
    })
    .await
}

pub(super) async fn restore(
    d: &Arc<Daemon>,
    p: ProfileRestore,
) -> Result<ProfileRestoreResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    let (resp, profile) = blocking(move || {
        let restored_from = v
            .read_snapshot(&p.name, Some(&p.snapshot))
            .map_err(vault_err)?
            .info;
        let snapshot = v.restore(&p.name, &p.snapshot).map_err(vault_err)?;
        let profile = v.profile(&p.name).map_err(vault_err)?;
        Ok((
            ProfileRestoreResponse {
                snapshot,
                restored_from,
            },
            profile,
        ))
    })
    .await?;
    let _ = d.events.send(Event::SnapshotSaved {
        profile: profile.name,
        profile_id: profile.id,
        snapshot: resp.snapshot.clone(),
    });
    Ok(resp)
}
