//! The history chain, on the writing side: linking a new snapshot to the head, removing
//! snapshots (retention, collapsed or discarded checkpoints) so that the chain still
//! verifies, and the checks a read applies to the head.
//!
//! Every snapshot's sealed info names its predecessor by seq and content hash; the profile's
//! sealed metadata names the head (`latest`), the number of snapshots and the anchor (the last
//! snapshot retention removed). Removing a snapshot from the middle (a collapsed checkpoint)
//! re-seals its successor's info to name the removed one's predecessor; removing the oldest
//! (retention) moves the anchor instead. The successor's own hash is the hash of its body,
//! which a relink does not change, so a relink never cascades up the chain.

use rusqlite::{Transaction, params};

use crate::codec::{self, ChainedInfo, Link};
use crate::error::{Result, VaultError};
use crate::profiles::OpenProfile;
use crate::seal::{self, RecordKind};
use crate::snapshot_rows::{self, COLS, SnapshotRow, fix_id, row_from};
use crate::store;
use crate::vault::Vault;

/// The link a new snapshot names as its predecessor: the head, or the anchor when the
/// history is empty.
pub(crate) fn predecessor(open: &OpenProfile) -> Option<Link> {
    match &open.meta.latest {
        Some(head) => Some(Link {
            seq: head.seq,
            content_hash: head.content_hash.clone(),
        }),
        None => open.meta.anchor.clone(),
    }
}

/// Rows of a profile selected by `filter` (an SQL condition on `snapshots` with `?2` bound
/// to `arg`, then its ordering and limit), without bodies.
pub(crate) fn rows_where(
    tx: &Transaction<'_>,
    open: &OpenProfile,
    filter: &str,
    arg: &dyn rusqlite::ToSql,
) -> Result<Vec<SnapshotRow>> {
    let cols = COLS.replace(", body", "");
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT {cols} FROM snapshots WHERE profile_id = ?1 AND {filter}"
        ))
        .map_err(VaultError::storage("read history"))?;
    let rows = stmt
        .query_map(params![&open.row.id[..], arg], |r| row_from(r, false))
        .map_err(VaultError::storage("read history"))?;
    rows.map(|r| fix_id(r.map_err(VaultError::storage("read history"))?))
        .collect()
}

impl Vault {
    /// Seals a chained info for snapshot `snapshot_id` of `open`'s profile.
    pub(crate) fn seal_info(
        &self,
        open: &OpenProfile,
        snapshot_id: &crate::keys::Id,
        schema_version: u16,
        info: &ChainedInfo,
    ) -> Result<Vec<u8>> {
        let aad = seal::aad_record(
            &self.vault_id,
            &open.row.id,
            snapshot_id,
            RecordKind::SnapshotInfo,
            schema_version,
        );
        seal::seal(&self.env, &open.dk, &aad, &codec::encode_info(info)?)
    }

    /// Removes the snapshots of `open`'s profile that `filter` selects (see [`rows_where`]),
    /// keeping the chain whole: each removed snapshot's successor is relinked to the removed
    /// one's predecessor. Updates the metadata's count and, when the head goes, its head (to
    /// the newest remaining snapshot, or none). Returns how many were removed. Every removed
    /// row's info is opened first, so plaintext columns edited to select a row are refused.
    pub(crate) fn remove_relinking(
        &self,
        tx: &Transaction<'_>,
        open: &mut OpenProfile,
        filter: &str,
        arg: &dyn rusqlite::ToSql,
    ) -> Result<usize> {
        let victims = rows_where(tx, open, &format!("{filter} ORDER BY seq"), arg)?;
        for v in &victims {
            // Read afresh: an earlier removal may have relinked this one.
            let row = rows_where(tx, open, "seq = ?2", &v.seq)?
                .pop()
                .ok_or_else(|| VaultError::corrupt("a snapshot vanished during removal"))?;
            let info = snapshot_rows::open_info(&self.vault_id, &open.dk, &open.row.id, &row)?;
            store::exec(
                tx,
                "DELETE FROM snapshots WHERE snapshot_id = ?1",
                [&row.id[..]],
            )
            .map_err(VaultError::storage("remove snapshot"))?;
            open.meta.snapshot_count = open.meta.snapshot_count.saturating_sub(1);
            let next = rows_where(tx, open, "seq > ?2 ORDER BY seq LIMIT 1", &row.seq)?.pop();
            match next {
                Some(next) => {
                    let mut ni =
                        snapshot_rows::open_info(&self.vault_id, &open.dk, &open.row.id, &next)?;
                    ni.prev = info.prev.clone();
                    let schema = u16::try_from(next.schema_version).unwrap_or(u16::MAX);
                    let sealed = self.seal_info(open, &next.id, schema, &ni)?;
                    store::exec(
                        tx,
                        "UPDATE snapshots SET info = ?1 WHERE snapshot_id = ?2",
                        params![sealed, &next.id[..]],
                    )
                    .map_err(VaultError::storage("relink snapshot"))?;
                }
                None => {
                    // The head went: the newest remaining snapshot (or none) is the head.
                    let newest = self.newest_info(tx, open)?;
                    open.meta.latest = newest.map(|i| i.public());
                }
            }
            if open.meta.current.as_ref().map(|c| c.seq) == Some(info.seq) {
                // The current snapshot went (a collapsed or discarded checkpoint): the newest
                // unmarked one that remains is current.
                open.meta.current = self.newest_unmarked(tx, open)?.map(|i| i.link());
            }
        }
        Ok(victims.len())
    }

    /// The newest snapshot the logout guard did not mark, opened and checked.
    pub(crate) fn newest_unmarked(
        &self,
        tx: &Transaction<'_>,
        open: &OpenProfile,
    ) -> Result<Option<ChainedInfo>> {
        for row in rows_where(tx, open, "1 = ?2 ORDER BY seq DESC", &1)? {
            let info = snapshot_rows::open_info(&self.vault_id, &open.dk, &open.row.id, &row)?;
            if !info.logged_out {
                return Ok(Some(info));
            }
        }
        Ok(None)
    }

    /// The current snapshot's info (the one the metadata names), opened and checked.
    pub(crate) fn current_info(
        &self,
        tx: &Transaction<'_>,
        open: &OpenProfile,
    ) -> Result<Option<ChainedInfo>> {
        let Some(current) = &open.meta.current else {
            return Ok(None);
        };
        let row = rows_where(tx, open, "seq = ?2", &current.seq)?
            .pop()
            .ok_or_else(|| VaultError::corrupt("the current snapshot has no row"))?;
        let info = snapshot_rows::open_info(&self.vault_id, &open.dk, &open.row.id, &row)?;
        if info.link() != *current {
            return Err(VaultError::corrupt(
                "the current snapshot is not the one the sealed metadata names",
            ));
        }
        Ok(Some(info))
    }

    /// The newest snapshot's chained info, opened and checked.
    pub(crate) fn newest_info(
        &self,
        tx: &Transaction<'_>,
        open: &OpenProfile,
    ) -> Result<Option<ChainedInfo>> {
        let cols = COLS.replace(", body", "");
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {cols} FROM snapshots WHERE profile_id = ?1 ORDER BY seq DESC LIMIT 1"
            ))
            .map_err(VaultError::storage("read history"))?;
        let mut rows = stmt
            .query_map(params![&open.row.id[..]], |r| row_from(r, false))
            .map_err(VaultError::storage("read history"))?;
        match rows.next() {
            None => Ok(None),
            Some(r) => {
                let row = fix_id(r.map_err(VaultError::storage("read history"))?)?;
                snapshot_rows::open_info(&self.vault_id, &open.dk, &open.row.id, &row).map(Some)
            }
        }
    }

    /// Retention: removes the oldest snapshots beyond `keep`, never the current one, and moves
    /// the anchor to the newest removed one below it (the oldest kept snapshot already names
    /// it as its predecessor; when none is kept, the snapshot being appended names it, the
    /// head it links to). Marked snapshots above the current one that retention removes are
    /// taken out of the middle of the chain, relinking their successors. The current snapshot
    /// is protected only when `protect_current` (the snapshot being appended is marked; an
    /// unmarked one becomes current itself).
    pub(crate) fn prune(
        &self,
        tx: &Transaction<'_>,
        open: &mut OpenProfile,
        keep: u64,
        protect_current: bool,
    ) -> Result<()> {
        let excess = open.meta.snapshot_count.saturating_sub(keep);
        if excess == 0 {
            return Ok(());
        }
        // No `LIMIT ?`: SQLite recompiles a statement whose LIMIT is a bound parameter every
        // time it is bound (the value may change its plan), which cost more than the prune.
        // The rows come in index order, so taking the first `excess` reads no more.
        let cols = COLS.replace(", body", "");
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {cols} FROM snapshots WHERE profile_id = ?1 ORDER BY seq"
            ))
            .map_err(VaultError::storage("apply retention"))?;
        let current = open
            .meta
            .current
            .as_ref()
            .filter(|_| protect_current)
            .map(|c| c.seq as i64);
        let rows: Vec<SnapshotRow> = stmt
            .query_map(params![&open.row.id[..]], |r| row_from(r, false))
            .map_err(VaultError::storage("apply retention"))?
            .map(|r| fix_id(r.map_err(VaultError::storage("apply retention"))?))
            .filter(|r| r.as_ref().map_or(true, |r| Some(r.seq) != current))
            .take(usize::try_from(excess).unwrap_or(usize::MAX))
            .collect::<Result<_>>()?;
        drop(stmt);
        let (rows, above): (Vec<SnapshotRow>, Vec<SnapshotRow>) = rows
            .into_iter()
            .partition(|r| current.is_none_or(|c| r.seq < c));
        for r in &above {
            self.remove_relinking(tx, open, "seq = ?2", &r.seq)?;
        }
        let Some(last) = rows.last() else {
            return Ok(());
        };
        let info = snapshot_rows::open_info(&self.vault_id, &open.dk, &open.row.id, last)?;
        store::exec(
            tx,
            "DELETE FROM snapshots WHERE profile_id = ?1 AND seq <= ?2",
            params![&open.row.id[..], last.seq],
        )
        .map_err(VaultError::storage("apply retention"))?;
        open.meta.snapshot_count -= rows.len() as u64;
        open.meta.anchor = Some(info.link());
        Ok(())
    }
}
