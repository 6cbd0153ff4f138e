//! Rows of `profiles` as stored: reading them, opening their data key and sealed metadata,
//! and checking that every plaintext column agrees with the sealed copy.

use std::sync::Arc;

use pvault_model::ProfileInfo;
use zeroize::Zeroizing;

use crate::codec::{self, MAX_META_SEALED, META_SCHEMA_VERSION, ProfileMeta};
use crate::error::{Result, VaultError};
use crate::keys::{Id, KEY_LEN, SecretKey, hex_id};
use crate::seal::{self, RecordKind};
use crate::vault::Keys;

/// Key version of data keys written by this build (bound in the data-key AAD).
pub const DK_VERSION: u32 = 1;

/// A row of `profiles`, still sealed.
#[derive(Debug)]
pub(crate) struct ProfileRow {
    /// Random id.
    pub id: Id,
    /// Version of the data-key wrap.
    pub key_version: u32,
    /// Wrapped data key.
    pub wrapped_dk: Vec<u8>,
    /// Sealed [`ProfileMeta`].
    pub meta: Vec<u8>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// Last load by a session.
    pub last_used_at: Option<i64>,
    /// Next snapshot sequence number.
    pub next_seq: i64,
    /// Snapshots currently kept.
    pub snapshot_count: i64,
}

/// A profile opened: its row, data key and decrypted metadata.
pub(crate) struct OpenProfile {
    /// The row.
    pub row: ProfileRow,
    /// The data key.
    pub dk: Arc<SecretKey>,
    /// The decrypted metadata.
    pub meta: ProfileMeta,
}

/// The columns [`row_from`] reads, in its order.
pub(crate) const ROW_COLUMNS: &str =
    "profile_id, key_version, wrapped_dk, meta, created_at, updated_at, last_used_at, next_seq,
     (SELECT count(*) FROM snapshots s WHERE s.profile_id = profiles.profile_id)";

/// Reads one row selected with [`ROW_COLUMNS`] (the id is set by [`fix_id`]).
pub(crate) fn row_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Vec<u8>, ProfileRow)> {
    let id: Vec<u8> = r.get(0)?;
    let kv: i64 = r.get(1)?;
    Ok((
        id,
        ProfileRow {
            id: [0; 16],
            key_version: u32::try_from(kv).unwrap_or(u32::MAX),
            wrapped_dk: r.get(2)?,
            meta: r.get(3)?,
            created_at: r.get(4)?,
            updated_at: r.get(5)?,
            last_used_at: r.get(6)?,
            next_seq: r.get(7)?,
            snapshot_count: r.get(8)?,
        },
    ))
}

/// Sets the row's id from the raw column, refusing one that is not 16 bytes.
pub(crate) fn fix_id((id, mut row): (Vec<u8>, ProfileRow)) -> Result<ProfileRow> {
    row.id = id
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::corrupt("profile id is not 16 bytes"))?;
    Ok(row)
}

impl OpenProfile {
    /// Records a change of the profile or its history at `now`. `updated_at` never
    /// decreases: a clock set back does not make a change look older than the one before it
    /// (the daemon compares it with the highest value it has seen to notice a file put back).
    pub(crate) fn changed_at(&mut self, now: i64) {
        self.meta.updated_at = self.meta.updated_at.max(now);
    }

    /// The public view.
    pub fn info(&self) -> ProfileInfo {
        info_of(&self.row.id, &self.meta)
    }
}

/// The public view of a profile: every value comes from the sealed metadata (the plaintext
/// columns were checked against it when the row was opened).
pub(crate) fn info_of(id: &Id, meta: &ProfileMeta) -> ProfileInfo {
    ProfileInfo {
        id: hex_id(id),
        name: meta.name.clone(),
        description: meta.description.clone(),
        settings: meta.settings.clone(),
        created_at: meta.created_at,
        updated_at: meta.updated_at,
        last_used_at: meta.last_used_at,
        snapshot_count: meta.snapshot_count,
        latest: meta.latest.clone(),
        cookie_domains: meta.cookie_domains.clone(),
        origins: meta.origins.clone(),
        current: meta
            .current
            .as_ref()
            .map(|c| c.seq)
            .filter(|&c| meta.latest.as_ref().map(|l| l.seq) != Some(c)),
        health: meta.health.clone(),
        health_result: meta.health_result.clone(),
    }
}

/// The plaintext copies a profile row holds of its sealed metadata, and the number of its
/// snapshot rows: what a reader compares with the metadata (vault-format.md 7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProfileColumns {
    /// `profiles.created_at`.
    pub created_at: i64,
    /// `profiles.updated_at`.
    pub updated_at: i64,
    /// `profiles.last_used_at`.
    pub last_used_at: Option<i64>,
    /// `profiles.next_seq`.
    pub next_seq: i64,
    /// Snapshot rows of the profile.
    pub snapshot_count: i64,
}

impl ProfileRow {
    /// The row's plaintext copies.
    pub fn columns(&self) -> ProfileColumns {
        ProfileColumns {
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_used_at: self.last_used_at,
            next_seq: self.next_seq,
            snapshot_count: self.snapshot_count,
        }
    }
}

/// The plaintext columns of a profile row (and its snapshot count) that disagree with its
/// sealed metadata, by column name.
pub(crate) fn edited_columns(cols: &ProfileColumns, meta: &ProfileMeta) -> Vec<&'static str> {
    let mut out = Vec::new();
    if cols.created_at != meta.created_at {
        out.push("created_at");
    }
    if cols.updated_at != meta.updated_at {
        out.push("updated_at");
    }
    if cols.last_used_at != meta.last_used_at {
        out.push("last_used_at");
    }
    if u64::try_from(cols.next_seq).ok() != Some(meta.next_seq) {
        out.push("next_seq");
    }
    if u64::try_from(cols.snapshot_count).ok() != Some(meta.snapshot_count) {
        out.push("snapshot count");
    }
    out
}

/// Refuses a row whose plaintext columns disagree with its sealed metadata (`Corrupt`).
pub(crate) fn check_columns(id: &Id, cols: &ProfileColumns, meta: &ProfileMeta) -> Result<()> {
    let edited = edited_columns(cols, meta);
    if edited.is_empty() {
        return Ok(());
    }
    Err(VaultError::corrupt(format!(
        "{} of profile {} disagree with its sealed metadata",
        edited.join(", "),
        hex::encode(id)
    )))
}

/// Unwraps a data key with the master key (no cache).
pub(crate) fn unwrap_dk(vault_id: &Id, keys: &Keys, row: &ProfileRow) -> Result<SecretKey> {
    let mut dk = unwrap_dk_bytes(vault_id, keys, row)?;
    Ok(SecretKey::from_bytes(&mut dk))
}

/// Unwraps a data key into a zeroizing stack buffer, for a caller that needs it only for a
/// moment (listing): no allocation, no `mlock`.
pub(crate) fn unwrap_dk_bytes(
    vault_id: &Id,
    keys: &Keys,
    row: &ProfileRow,
) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    if row.key_version != DK_VERSION {
        return Err(VaultError::UnsupportedVersion {
            what: "data-key",
            found: row.key_version.into(),
            supported: DK_VERSION.to_string(),
        });
    }
    seal::open_key(
        keys.mk.expose(),
        &seal::aad_dk(vault_id, &row.id, row.key_version),
        &row.wrapped_dk,
    )
    .ok_or_else(|| VaultError::DecryptionFailed {
        record: format!("profiles[{}].wrapped_dk", hex::encode(row.id)),
    })
}

/// Opens and decodes a profile's sealed metadata (format 2).
pub(crate) fn open_meta(
    vault_id: &Id,
    dk: &[u8; KEY_LEN],
    row: &ProfileRow,
) -> Result<ProfileMeta> {
    codec::decode_meta(&open_meta_bytes(vault_id, dk, row)?)
}

/// Opens a profile's sealed metadata without decoding it (the upgrade decodes format 1).
pub(crate) fn open_meta_bytes(
    vault_id: &Id,
    dk: &[u8; KEY_LEN],
    row: &ProfileRow,
) -> Result<Zeroizing<Vec<u8>>> {
    let record = || format!("profiles[{}].meta", hex::encode(row.id));
    if row.meta.len() > MAX_META_SEALED {
        return Err(VaultError::TooLarge {
            what: record(),
            limit: MAX_META_SEALED as u64,
        });
    }
    let aad = seal::aad_record(
        vault_id,
        &row.id,
        &[0; 16],
        RecordKind::ProfileMeta,
        META_SCHEMA_VERSION,
    );
    seal::open_with(dk, &aad, &row.meta)
        .ok_or_else(|| VaultError::DecryptionFailed { record: record() })
}
