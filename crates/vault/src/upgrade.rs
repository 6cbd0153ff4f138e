//! Upgrades of older vaults to format 3, in place, at the first unlock (the master key is
//! needed to re-seal). One `BEGIN IMMEDIATE` transaction re-seals every profile's metadata
//! and every snapshot's info in the format-3 shape and only then writes `format_version = 3`:
//! a crash before the commit leaves the old format untouched, after it the whole of format 3.
//! Bodies are not touched (their encoding did not change).
//!
//! Format 2 → 3 adds members with nothing to carry over (no snapshot was ever marked, so the
//! head is current; no health was defined). Every format-2 rule is checked first (the
//! columns, the chain): the upgrade must not vouch for a damaged history.
//!
//! Format 1 authenticated neither the profile times, `next_seq`, nor the snapshots'
//! `session_id`: their values are taken as found. Everything format 1 did authenticate is
//! checked first, and more: each info's time and size against its columns, the metadata's
//! newest snapshot against the newest row. Any failure refuses the whole upgrade (the vault
//! stays format 1, unchanged), naming the record, since a chain built over a damaged history
//! would vouch for it.

use rusqlite::{Transaction, params};

use crate::codec::{self, ChainedInfo, Link, ProfileMeta};
use crate::error::{Result, VaultError};
use crate::keys::Env;
use crate::keys::Id;
use crate::profile_rows::check_columns;
use crate::profile_rows::{self, OpenProfile, ROW_COLUMNS, fix_id, row_from};
use crate::seal::{self, RecordKind};
use crate::snapshot_rows::{self, COLS, SnapshotRow};
use crate::store::FORMAT_VERSION;
use crate::vault::Keys;

/// Upgrades the vault in `tx` to format 3 if it is format 1 or 2; returns whether it did.
pub(crate) fn upgrade(tx: &Transaction<'_>, vault_id: &Id, keys: &Keys, env: &Env) -> Result<bool> {
    let version: i64 = tx
        .query_row(
            "SELECT format_version FROM vault WHERE singleton = 1",
            [],
            |r| r.get(0),
        )
        .map_err(VaultError::storage("read format version"))?;
    match version {
        1 => upgrade_from_1(tx, vault_id, keys, env)?,
        2 => upgrade_from_2(tx, vault_id, keys, env)?,
        v if v == FORMAT_VERSION => return Ok(false),
        v => {
            return Err(VaultError::UnsupportedVersion {
                what: "vault format",
                found: v as u64,
                supported: format!("1, 2, {FORMAT_VERSION}"),
            });
        }
    }
    tx.execute(
        "UPDATE vault SET format_version = ?1 WHERE singleton = 1",
        [FORMAT_VERSION],
    )
    .map_err(VaultError::storage("write format version"))?;
    Ok(true)
}

/// Every profile row, sealed.
fn profile_rows_of(tx: &Transaction<'_>) -> Result<Vec<profile_rows::ProfileRow>> {
    let mut stmt = tx
        .prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM profiles ORDER BY profile_id"
        ))
        .map_err(VaultError::storage("upgrade"))?;
    stmt.query_map([], row_from)
        .map_err(VaultError::storage("upgrade"))?
        .map(|r| fix_id(r.map_err(VaultError::storage("upgrade"))?))
        .collect::<Result<Vec<_>>>()
}

/// Format 2 → 3: opens every format-2 metadata and info, checks the columns and the chain as
/// a format-2 reader would, and re-seals them in the format-3 shape.
fn upgrade_from_2(tx: &Transaction<'_>, vault_id: &Id, keys: &Keys, env: &Env) -> Result<()> {
    for row in profile_rows_of(tx)? {
        let dk = profile_rows::unwrap_dk(vault_id, keys, &row)?;
        let meta =
            codec::decode_meta_v2(&profile_rows::open_meta_bytes(vault_id, dk.expose(), &row)?)?
                .upgraded();
        check_columns(&row.id, &row.columns(), &meta)?;
        let snaps = snapshot_rows_of(tx, &row.id)?;
        let mut infos = Vec::with_capacity(snaps.len());
        for s in &snaps {
            let pt = snapshot_rows::open_record(
                vault_id,
                &dk,
                &row.id,
                s,
                RecordKind::SnapshotInfo,
                &s.info,
            )?;
            let info = codec::decode_info_v2(&pt)?.upgraded();
            let edited = snapshot_rows::edited_columns(s, &info);
            if !edited.is_empty() {
                return Err(VaultError::corrupt(format!(
                    "{} of {} disagree with its sealed info; the format-2 vault was not upgraded",
                    edited.join(", "),
                    snapshot_rows::record_name(&row.id, &s.id, RecordKind::SnapshotInfo)
                )));
            }
            infos.push(info);
        }
        if let Some((_, problem)) = crate::verify::chain_problems(&meta, &infos).first() {
            return Err(VaultError::corrupt(format!(
                "history of profile {}: {problem}; the format-2 vault was not upgraded",
                hex::encode(row.id)
            )));
        }
        for (s, info) in snaps.iter().zip(&infos) {
            let schema = u16::try_from(s.schema_version).unwrap_or(u16::MAX);
            let aad = seal::aad_record(vault_id, &row.id, &s.id, RecordKind::SnapshotInfo, schema);
            let sealed = seal::seal(env, &dk, &aad, &codec::encode_info(info)?)?;
            tx.execute(
                "UPDATE snapshots SET info = ?1 WHERE snapshot_id = ?2",
                params![sealed, &s.id[..]],
            )
            .map_err(VaultError::storage("upgrade snapshot info"))?;
        }
        let aad = seal::aad_record(
            vault_id,
            &row.id,
            &[0; 16],
            RecordKind::ProfileMeta,
            codec::META_SCHEMA_VERSION,
        );
        let sealed = seal::seal(env, &dk, &aad, &codec::encode_meta(&meta)?)?;
        tx.execute(
            "UPDATE profiles SET meta = ?1 WHERE profile_id = ?2",
            params![sealed, &row.id[..]],
        )
        .map_err(VaultError::storage("upgrade profile metadata"))?;
    }
    Ok(())
}

/// Format 1 → 3 (as format 1 → 2 was specified, writing the format-3 shapes at once).
fn upgrade_from_1(tx: &Transaction<'_>, vault_id: &Id, keys: &Keys, env: &Env) -> Result<()> {
    let rows = {
        let mut stmt = tx
            .prepare(&format!(
                "SELECT {ROW_COLUMNS} FROM profiles ORDER BY profile_id"
            ))
            .map_err(VaultError::storage("upgrade"))?;
        stmt.query_map([], row_from)
            .map_err(VaultError::storage("upgrade"))?
            .map(|r| fix_id(r.map_err(VaultError::storage("upgrade"))?))
            .collect::<Result<Vec<_>>>()?
    };
    for row in rows {
        let dk = std::sync::Arc::new(profile_rows::unwrap_dk(vault_id, keys, &row)?);
        let v1 =
            codec::decode_meta_v1(&profile_rows::open_meta_bytes(vault_id, dk.expose(), &row)?)?;
        let snaps = snapshot_rows_of(tx, &row.id)?;
        let mut prev: Option<Link> = None;
        let mut newest = None;
        for s in &snaps {
            let info = open_info_v1(vault_id, &dk, &row.id, s)?;
            let chained = ChainedInfo::new(&info, s.session_id.as_deref(), prev.take());
            let schema = u16::try_from(s.schema_version).unwrap_or(u16::MAX);
            let aad = seal::aad_record(vault_id, &row.id, &s.id, RecordKind::SnapshotInfo, schema);
            let sealed = seal::seal(env, &dk, &aad, &codec::encode_info(&chained)?)?;
            tx.execute(
                "UPDATE snapshots SET info = ?1 WHERE snapshot_id = ?2",
                params![sealed, &s.id[..]],
            )
            .map_err(VaultError::storage("upgrade snapshot info"))?;
            prev = Some(chained.link());
            newest = Some(info);
        }
        let pid = hex::encode(row.id);
        if v1.latest != newest {
            return Err(VaultError::corrupt(format!(
                "profile {pid}: its newest snapshot row is not the one its metadata names; \
                 the format-1 vault was not upgraded"
            )));
        }
        let max_seq = newest.as_ref().map_or(0, |i| i.seq);
        let next_seq = u64::try_from(row.next_seq).unwrap_or(0);
        if next_seq <= max_seq {
            return Err(VaultError::corrupt(format!(
                "profile {pid}: next_seq {next_seq} is not above its newest seq {max_seq}; \
                 the format-1 vault was not upgraded"
            )));
        }
        let meta = ProfileMeta {
            name: v1.name,
            description: v1.description,
            settings: v1.settings,
            latest: v1.latest,
            cookie_domains: v1.cookie_domains,
            origins: v1.origins,
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_used_at: row.last_used_at,
            next_seq,
            snapshot_count: snaps.len() as u64,
            anchor: None,
            current: prev.clone(),
            health: None,
            health_result: None,
        };
        let mut open = OpenProfile { row, dk, meta };
        let aad = seal::aad_record(
            vault_id,
            &open.row.id,
            &[0; 16],
            RecordKind::ProfileMeta,
            codec::META_SCHEMA_VERSION,
        );
        let sealed = seal::seal(env, &open.dk, &aad, &codec::encode_meta(&open.meta)?)?;
        tx.execute(
            "UPDATE profiles SET meta = ?1 WHERE profile_id = ?2",
            params![sealed, &open.row.id[..]],
        )
        .map_err(VaultError::storage("upgrade profile metadata"))?;
        open.row.meta = sealed;
    }
    Ok(())
}

/// A profile's snapshot rows without bodies, oldest first.
fn snapshot_rows_of(tx: &Transaction<'_>, pid: &Id) -> Result<Vec<SnapshotRow>> {
    let cols = COLS.replace(", body", "");
    let mut stmt = tx
        .prepare(&format!(
            "SELECT {cols} FROM snapshots WHERE profile_id = ?1 ORDER BY seq"
        ))
        .map_err(VaultError::storage("upgrade"))?;
    stmt.query_map([&pid[..]], |r| snapshot_rows::row_from(r, false))
        .map_err(VaultError::storage("upgrade"))?
        .map(|r| snapshot_rows::fix_id(r.map_err(VaultError::storage("upgrade"))?))
        .collect()
}

/// Opens a format-1 info and checks it against its row: the columns format 1 checked (id,
/// seq, kind) and the two it carried without checking (time, size).
fn open_info_v1(
    vault_id: &Id,
    dk: &crate::keys::SecretKey,
    pid: &Id,
    s: &SnapshotRow,
) -> Result<pvault_model::SnapshotInfo> {
    let pt = snapshot_rows::open_record(vault_id, dk, pid, s, RecordKind::SnapshotInfo, &s.info)?;
    let info = codec::decode_info_v1(&pt)?;
    if info.id != hex::encode(s.id)
        || info.seq as i64 != s.seq
        || codec::kind_code(info.kind) != s.kind
        || info.created_at != s.created_at
        || info.size_bytes as i64 != s.size_bytes
    {
        return Err(VaultError::corrupt(format!(
            "plaintext columns of {} disagree with its sealed info; the format-1 vault was not upgraded",
            snapshot_rows::record_name(pid, &s.id, RecordKind::SnapshotInfo)
        )));
    }
    Ok(info)
}
