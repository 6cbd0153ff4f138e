//! Opening every profile at once, for `list_profiles` and `heads`: one scan of `profiles`, one
//! count of snapshot rows per profile, the metadata cache for rows whose sealed bytes already
//! authenticated, and the others opened on every core.
//!
//! A cold listing of 10,000 profiles is 20,000 AEAD opens (each data key, then each metadata
//! record) and 10,000 JSON decodes: that is the floor, since names are sealed and the order is
//! by name. Everything around it is kept off the per-profile path: the snapshot counts come
//! from one aggregate over the `(profile_id, seq)` index instead of one correlated count per
//! row; cached rows are compared borrowed, straight out of SQLite; a data key is unwrapped
//! into a stack buffer and dropped once its metadata opened (locking a heap key's page with
//! `mlock` and unlocking it cost 5 µs, more than both AEAD opens); the opening threads share
//! no lock; the cache takes the results in one locked pass.

use std::collections::HashMap;
use std::sync::Arc;

use pvault_model::ProfileInfo;
use rusqlite::Transaction;

use crate::codec::{self, ProfileMeta};
use crate::error::{Result, VaultError};
use crate::keys::{Id, hex_id};
use crate::profile_rows::{
    ProfileColumns, ProfileRow, check_columns, info_of, open_meta_bytes, unwrap_dk_bytes,
};
use crate::vault::{CachedMeta, Keys, Vault};
use crate::{ProfileHead, ProfilePage};

/// Listings with at least this many profiles to open spread them over several threads.
const PARALLEL_OPEN_MIN: usize = 512;

/// The most threads a listing opens profiles on.
const MAX_THREADS: usize = 8;

/// A profile as a listing has it: its id and its authenticated metadata.
type Listed = (Id, Arc<ProfileMeta>);

impl Vault {
    /// Profiles ordered by name, `limit` from `offset`.
    pub fn list_profiles(&self, offset: u64, limit: u64) -> Result<ProfilePage> {
        self.with_keys(|keys| {
            let mut all = self.open_every_profile(keys)?;
            // Names are unique, so an unstable sort gives the one order.
            all.sort_unstable_by(|a, b| a.1.name.cmp(&b.1.name));
            let profiles: Vec<ProfileInfo> = all
                .iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(|(id, meta)| info_of(id, meta))
                .collect();
            Ok(ProfilePage {
                profiles,
                total: all.len() as u64,
            })
        })
    }

    /// Every profile's head as its sealed metadata states it, by profile id. Meant to be
    /// remembered outside the vault file: a later value below a remembered one means the
    /// file went back to an older copy, which nothing inside the file can show.
    pub fn heads(&self) -> Result<Vec<ProfileHead>> {
        self.with_keys(|keys| {
            let mut all = self.open_every_profile(keys)?;
            all.sort_unstable_by_key(|a| a.0);
            Ok(all
                .iter()
                .map(|(id, meta)| ProfileHead {
                    id: hex_id(id),
                    next_seq: meta.next_seq,
                    updated_at: meta.updated_at,
                    last_used_at: meta.last_used_at,
                    health_checked_at: meta.health_result.as_ref().map(|r| r.checked_at),
                })
                .collect())
        })
    }

    /// Every profile's metadata, authenticated and checked against its plaintext columns and
    /// its number of snapshot rows (vault-format.md 7.3), in no particular order. The first
    /// profile that fails fails the whole listing, as reading it alone would.
    fn open_every_profile(&self, keys: &Keys) -> Result<Vec<Listed>> {
        let (mut listed, to_open) = self.store.read(|tx| scan(tx, keys))?;
        let opened = self.open_rows(keys, to_open)?;
        listed.reserve(opened.len());
        let mut cache = keys.metas.lock().unwrap_or_else(|p| p.into_inner());
        for (row, meta) in opened {
            listed.push((row.id, meta.clone()));
            cache.insert(
                row.id,
                CachedMeta {
                    wrapped_dk: row.wrapped_dk,
                    sealed: row.meta,
                    meta,
                },
            );
        }
        Ok(listed)
    }

    /// Opens rows the cache did not have: spread over the available cores when there are many.
    fn open_rows(
        &self,
        keys: &Keys,
        rows: Vec<ProfileRow>,
    ) -> Result<Vec<(ProfileRow, Arc<ProfileMeta>)>> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_THREADS);
        if rows.len() < PARALLEL_OPEN_MIN || threads < 2 {
            return rows
                .into_iter()
                .map(|r| self.open_listed(keys, r))
                .collect();
        }
        let per = rows.len().div_ceil(threads);
        let mut chunks: Vec<Vec<ProfileRow>> = Vec::with_capacity(threads);
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            chunks.push(rows.by_ref().take(per).collect());
        }
        let open_chunk = |chunk: Vec<ProfileRow>| {
            chunk
                .into_iter()
                .map(|r| self.open_listed(keys, r))
                .collect::<Result<Vec<_>>>()
        };
        std::thread::scope(|s| {
            // The calling thread opens the first chunk itself.
            let mut chunks = chunks.into_iter();
            let first = chunks.next().unwrap_or_default();
            let handles: Vec<_> = chunks.map(|c| s.spawn(move || open_chunk(c))).collect();
            let mut out = open_chunk(first)?;
            for h in handles {
                out.extend(
                    h.join()
                        .map_err(|_| VaultError::corrupt("a listing thread panicked"))??,
                );
            }
            Ok(out)
        })
    }

    /// Opens one row for a listing: its data key only for as long as its metadata takes.
    fn open_listed(&self, keys: &Keys, row: ProfileRow) -> Result<(ProfileRow, Arc<ProfileMeta>)> {
        let dk = unwrap_dk_bytes(&self.vault_id, keys, &row)?;
        let meta = codec::decode_meta(&open_meta_bytes(&self.vault_id, &dk, &row)?)?;
        check_columns(&row.id, &row.columns(), &meta)?;
        Ok((row, Arc::new(meta)))
    }
}

/// Reads every profile row in one pass: rows whose sealed bytes are those the cache holds are
/// checked and listed at once (compared in place, nothing copied); the others are returned
/// to be opened.
fn scan(tx: &Transaction<'_>, keys: &Keys) -> Result<(Vec<Listed>, Vec<ProfileRow>)> {
    let counts = snapshot_counts(tx)?;
    let storage = VaultError::storage("list profiles");
    let mut stmt = tx
        .prepare_cached(
            "SELECT profile_id, key_version, wrapped_dk, meta, created_at, updated_at,
                    last_used_at, next_seq FROM profiles",
        )
        .map_err(storage)?;
    let mut rows = stmt
        .query([])
        .map_err(VaultError::storage("list profiles"))?;
    let (mut listed, mut to_open) = (Vec::new(), Vec::new());
    while let Some(r) = rows.next().map_err(VaultError::storage("list profiles"))? {
        let read = || -> rusqlite::Result<_> {
            let cols = ProfileColumns {
                created_at: r.get(4)?,
                updated_at: r.get(5)?,
                last_used_at: r.get(6)?,
                next_seq: r.get(7)?,
                snapshot_count: 0,
            };
            Ok((
                blob(r, 0)?,
                r.get::<_, i64>(1)?,
                blob(r, 2)?,
                blob(r, 3)?,
                cols,
            ))
        };
        let (id, key_version, wrapped_dk, meta, mut cols) =
            read().map_err(VaultError::storage("list profiles"))?;
        let id: Id = id
            .try_into()
            .map_err(|_| VaultError::corrupt("profile id is not 16 bytes"))?;
        cols.snapshot_count = counts.get(&id).copied().unwrap_or(0);
        let cached = keys
            .metas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .filter(|c| c.wrapped_dk == wrapped_dk && c.sealed == meta)
            .map(|c| c.meta.clone());
        match cached {
            Some(m) => {
                check_columns(&id, &cols, &m)?;
                listed.push((id, m));
            }
            None => to_open.push(ProfileRow {
                id,
                key_version: u32::try_from(key_version).unwrap_or(u32::MAX),
                wrapped_dk: wrapped_dk.to_vec(),
                meta: meta.to_vec(),
                created_at: cols.created_at,
                updated_at: cols.updated_at,
                last_used_at: cols.last_used_at,
                next_seq: cols.next_seq,
                snapshot_count: cols.snapshot_count,
            }),
        }
    }
    Ok((listed, to_open))
}

/// The number of snapshot rows of every profile that has any, in one pass over the
/// `(profile_id, seq)` index.
fn snapshot_counts(tx: &Transaction<'_>) -> Result<HashMap<Id, i64>> {
    let mut stmt = tx
        .prepare_cached("SELECT profile_id, count(*) FROM snapshots GROUP BY profile_id")
        .map_err(VaultError::storage("count snapshots"))?;
    let mut rows = stmt
        .query([])
        .map_err(VaultError::storage("count snapshots"))?;
    let mut counts = HashMap::new();
    while let Some(r) = rows
        .next()
        .map_err(VaultError::storage("count snapshots"))?
    {
        let id = blob(r, 0).map_err(VaultError::storage("count snapshots"))?;
        // A snapshot row naming no possible profile id belongs to no profile listed here.
        if let Ok(id) = Id::try_from(id) {
            counts.insert(
                id,
                r.get(1).map_err(VaultError::storage("count snapshots"))?,
            );
        }
    }
    Ok(counts)
}

/// A BLOB column, borrowed from the row (another type is a storage error, as `get` would say).
fn blob<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r [u8]> {
    let v = r.get_ref(i)?;
    v.as_blob()
        .map_err(|_| rusqlite::Error::InvalidColumnType(i, format!("column {i}"), v.data_type()))
}
