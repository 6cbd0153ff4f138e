//! Rows of `snapshots` as stored: reading them, opening their sealed info and body, and
//! checking that every plaintext column agrees with the sealed info.

use pvault_model::BrowserState;
use rusqlite::{OptionalExtension, Transaction, params};
use zeroize::Zeroizing;

use crate::codec::{
    self, ChainedInfo, MAX_BODY_SEALED, MAX_INFO_SEALED, READABLE_SNAPSHOT_SCHEMAS,
};
use crate::error::{Result, VaultError};
use crate::keys::{Id, SecretKey};
use crate::seal::{self, RecordKind};

/// A row of `snapshots` (body loaded only when needed).
#[derive(Debug)]
pub(crate) struct SnapshotRow {
    /// Random id.
    pub id: Id,
    /// Sequence number (plaintext copy; the sealed info is authoritative).
    pub seq: i64,
    /// Kind code (plaintext copy).
    pub kind: i64,
    /// Schema version of the records.
    pub schema_version: i64,
    /// Creation time (plaintext copy).
    pub created_at: i64,
    /// Body plaintext length (plaintext copy).
    pub size_bytes: i64,
    /// Session that wrote it (plaintext copy).
    pub session_id: Option<String>,
    /// Sealed info.
    pub info: Vec<u8>,
    /// Sealed body, if loaded.
    pub body: Option<Vec<u8>>,
}

/// `snapshots[profile/snapshot].kind`, the name errors and `verify` give a record.
pub(crate) fn record_name(profile: &Id, snap: &Id, kind: RecordKind) -> String {
    format!(
        "snapshots[{}/{}].{}",
        hex::encode(profile),
        hex::encode(snap),
        kind.name()
    )
}

/// Opens a sealed snapshot record, checking its size before anything else.
pub(crate) fn open_record(
    vault_id: &Id,
    dk: &SecretKey,
    profile: &Id,
    row: &SnapshotRow,
    kind: RecordKind,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let cap = if kind == RecordKind::SnapshotBody {
        MAX_BODY_SEALED
    } else {
        MAX_INFO_SEALED
    };
    if blob.len() > cap {
        return Err(VaultError::TooLarge {
            what: record_name(profile, &row.id, kind),
            limit: cap as u64,
        });
    }
    let sv = schema_of(row)?;
    let aad = seal::aad_record(vault_id, profile, &row.id, kind, sv);
    seal::open(dk, &aad, blob).ok_or_else(|| VaultError::DecryptionFailed {
        record: record_name(profile, &row.id, kind),
    })
}

/// The row's schema version, if this build reads it (refused before any decryption).
fn schema_of(row: &SnapshotRow) -> Result<u16> {
    u16::try_from(row.schema_version)
        .ok()
        .filter(|v| READABLE_SNAPSHOT_SCHEMAS.contains(v))
        .ok_or(VaultError::UnsupportedVersion {
            what: "snapshot schema",
            found: row.schema_version as u64,
            supported: "1, 2".into(),
        })
}

/// Opens a snapshot's sealed info (format 2) without checking the columns against it.
pub(crate) fn open_chained(
    vault_id: &Id,
    dk: &SecretKey,
    profile: &Id,
    row: &SnapshotRow,
) -> Result<ChainedInfo> {
    let pt = open_record(
        vault_id,
        dk,
        profile,
        row,
        RecordKind::SnapshotInfo,
        &row.info,
    )?;
    codec::decode_info(&pt)
}

/// The plaintext columns of a snapshot row that disagree with its sealed info.
pub(crate) fn edited_columns(row: &SnapshotRow, info: &ChainedInfo) -> Vec<&'static str> {
    let mut out = Vec::new();
    if info.id != hex::encode(row.id) {
        out.push("snapshot_id");
    }
    if u64::try_from(row.seq).ok() != Some(info.seq) {
        out.push("seq");
    }
    if codec::kind_code(info.kind) != row.kind {
        out.push("kind");
    }
    if row.created_at != info.created_at {
        out.push("created_at");
    }
    if u64::try_from(row.size_bytes).ok() != Some(info.size_bytes) {
        out.push("size_bytes");
    }
    if row.session_id != info.session_id {
        out.push("session_id");
    }
    out
}

/// Opens a snapshot's info and checks that every plaintext column agrees with it.
pub(crate) fn open_info(
    vault_id: &Id,
    dk: &SecretKey,
    profile: &Id,
    row: &SnapshotRow,
) -> Result<ChainedInfo> {
    let info = open_chained(vault_id, dk, profile, row)?;
    let edited = edited_columns(row, &info);
    if !edited.is_empty() {
        return Err(VaultError::corrupt(format!(
            "{} of {} disagree with its sealed info",
            edited.join(", "),
            record_name(profile, &row.id, RecordKind::SnapshotInfo)
        )));
    }
    Ok(info)
}

/// Opens and decodes a snapshot's body, checking its content hash.
pub(crate) fn open_body(
    vault_id: &Id,
    dk: &SecretKey,
    profile: &Id,
    row: &SnapshotRow,
    info: &ChainedInfo,
) -> Result<BrowserState> {
    let body = row.body.as_deref().unwrap_or_default();
    let pt = open_record(vault_id, dk, profile, row, RecordKind::SnapshotBody, body)?;
    if codec::content_hash(&pt) != info.content_hash {
        return Err(VaultError::corrupt(format!(
            "content hash of {} does not match its info",
            record_name(profile, &row.id, RecordKind::SnapshotBody)
        )));
    }
    codec::decode_state(&pt, schema_of(row)?)
}

/// Reads one row selected with [`COLS`] (the body only when `with_body`; the id is set by
/// [`fix_id`]).
pub(crate) fn row_from(
    r: &rusqlite::Row<'_>,
    with_body: bool,
) -> rusqlite::Result<(Vec<u8>, SnapshotRow)> {
    Ok((
        r.get(0)?,
        SnapshotRow {
            id: [0; 16],
            seq: r.get(1)?,
            kind: r.get(2)?,
            schema_version: r.get(3)?,
            created_at: r.get(4)?,
            size_bytes: r.get(5)?,
            session_id: r.get(6)?,
            info: r.get(7)?,
            body: if with_body { Some(r.get(8)?) } else { None },
        },
    ))
}

/// Sets the row's id from the raw column, refusing one that is not 16 bytes.
pub(crate) fn fix_id((id, mut row): (Vec<u8>, SnapshotRow)) -> Result<SnapshotRow> {
    row.id = id
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::corrupt("snapshot id is not 16 bytes"))?;
    Ok(row)
}

/// The columns [`row_from`] reads, in its order (the body last).
pub(crate) const COLS: &str =
    "snapshot_id, seq, kind, schema_version, created_at, size_bytes, session_id, info, body";

/// Finds one snapshot row of a profile by selector.
pub(crate) fn find_row(
    tx: &Transaction<'_>,
    pid: &Id,
    name_or_id: &str,
    selector: Option<&str>,
) -> Result<SnapshotRow> {
    let not_found = || VaultError::SnapshotNotFound {
        profile: name_or_id.to_owned(),
        snapshot: selector.unwrap_or("latest").to_owned(),
    };
    let one = |sql: &str, arg: &dyn rusqlite::ToSql| -> Result<Option<SnapshotRow>> {
        tx.prepare_cached(sql)
            .and_then(|mut s| {
                s.query_row(params![&pid[..], arg], |r| row_from(r, true))
                    .optional()
            })
            .map_err(VaultError::storage("find snapshot"))?
            .map(fix_id)
            .transpose()
    };
    let sel = match selector {
        None | Some("latest") => {
            let sql = format!(
                "SELECT {COLS} FROM snapshots WHERE profile_id = ?1 AND ?2 ORDER BY seq DESC LIMIT 1"
            );
            return one(&sql, &1i64)?.ok_or_else(not_found);
        }
        Some(s) => s.to_ascii_lowercase(),
    };
    if let Ok(seq) = sel.parse::<i64>()
        && let Some(row) = one(
            &format!("SELECT {COLS} FROM snapshots WHERE profile_id = ?1 AND seq = ?2"),
            &seq,
        )?
    {
        return Ok(row);
    }
    if sel.len() >= 6 && sel.len() <= 32 && sel.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut stmt = tx
            .prepare(&format!(
                "SELECT {COLS} FROM snapshots WHERE profile_id = ?1 AND lower(hex(snapshot_id)) LIKE ?2 LIMIT 2"
            ))
            .map_err(VaultError::storage("find snapshot"))?;
        let mut rows: Vec<SnapshotRow> = stmt
            .query_map(params![&pid[..], format!("{sel}%")], |r| row_from(r, true))
            .map_err(VaultError::storage("find snapshot"))?
            .map(|r| {
                r.map_err(VaultError::storage("find snapshot"))
                    .and_then(fix_id)
            })
            .collect::<Result<_>>()?;
        if rows.len() > 1 {
            return Err(VaultError::InvalidArgument {
                what: "snapshot",
                reason: format!("{sel:?} matches several snapshots; give more digits of the id"),
            });
        }
        if let Some(row) = rows.pop() {
            return Ok(row);
        }
    }
    Err(not_found())
}
