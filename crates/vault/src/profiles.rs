//! Profiles: creation, lookup by name (through the keyed name index) or id, listing, renaming,
//! updating and deletion (which shreds the profile's data key).

use std::sync::Arc;

use pvault_model::{ProfileInfo, SessionSettings};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::ProfileUpdate;
use crate::codec::{self, META_SCHEMA_VERSION, ProfileMeta};
use crate::error::{Result, VaultError};
use crate::keys::{Id, SecretKey, hmac_sha256};
pub(crate) use crate::profile_rows::{DK_VERSION, OpenProfile, ProfileRow, open_meta, unwrap_dk};
use crate::profile_rows::{ROW_COLUMNS, check_columns, fix_id, info_of, row_from};
use crate::seal::{self, RecordKind};
use crate::store;
use crate::vault::{CachedMeta, Keys, Vault};
/// Longest profile name.
pub const MAX_NAME_LEN: usize = 255;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION_LEN: usize = 4096;

/// Checks a profile name against `^[A-Za-z0-9._-]{1,255}$`.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(VaultError::InvalidName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if name.is_empty() {
        return bad("a name needs at least one character");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("a name has at most 255 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("use only letters A-Z a-z, digits, '.', '_' and '-'");
    }
    Ok(())
}

fn validate_description(d: Option<&str>) -> Result<()> {
    if d.is_some_and(|d| d.len() > MAX_DESCRIPTION_LEN) {
        return Err(VaultError::TooLarge {
            what: "description".into(),
            limit: MAX_DESCRIPTION_LEN as u64,
        });
    }
    Ok(())
}

/// Parses a 32-hex-digit id.
pub fn parse_id(s: &str) -> Option<Id> {
    if s.len() != 32 {
        return None;
    }
    hex::decode(s).ok()?.try_into().ok()
}

/// Keyed hash of a name for the unique index: HMAC-SHA256(name key, name).
pub fn name_hash(keys: &Keys, name: &str) -> [u8; 32] {
    hmac_sha256(keys.name_key.expose(), &[name.as_bytes()])
}

impl Vault {
    /// Unwraps a profile's data key (cached while unlocked).
    pub(crate) fn data_key(&self, keys: &Keys, row: &ProfileRow) -> Result<Arc<SecretKey>> {
        if let Some(k) = keys
            .dks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&row.id)
        {
            return Ok(k.clone());
        }
        let dk = unwrap_dk(&self.vault_id, keys, row)?;
        let dk = Arc::new(dk);
        keys.dks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(row.id, dk.clone());
        Ok(dk)
    }

    /// Opens a profile row: data key and metadata (from the caches when the sealed bytes are
    /// exactly those that already authenticated), and checks its plaintext columns.
    pub(crate) fn open_row(&self, keys: &Keys, row: ProfileRow) -> Result<OpenProfile> {
        let dk = self.data_key(keys, &row)?;
        let cached = keys
            .metas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&row.id)
            .filter(|c| c.wrapped_dk == row.wrapped_dk && c.sealed == row.meta)
            .map(|c| c.meta.clone());
        let meta = match cached {
            Some(meta) => {
                check_columns(&row.id, &row.columns(), &meta)?;
                meta
            }
            None => {
                let meta = Arc::new(open_meta(&self.vault_id, dk.expose(), &row)?);
                check_columns(&row.id, &row.columns(), &meta)?;
                keys.metas.lock().unwrap_or_else(|p| p.into_inner()).insert(
                    row.id,
                    CachedMeta {
                        wrapped_dk: row.wrapped_dk.clone(),
                        sealed: row.meta.clone(),
                        meta: meta.clone(),
                    },
                );
                meta
            }
        };
        Ok(OpenProfile {
            row,
            dk,
            meta: ProfileMeta::clone(&meta),
        })
    }

    /// Finds a profile by name, or by id when no profile has that name.
    pub(crate) fn resolve(
        &self,
        tx: &Transaction<'_>,
        keys: &Keys,
        name_or_id: &str,
    ) -> Result<OpenProfile> {
        if validate_name(name_or_id).is_ok() {
            let h = name_hash(keys, name_or_id);
            let row = tx
                .prepare_cached(&format!(
                    "SELECT {ROW_COLUMNS} FROM profiles WHERE name_hash = ?1"
                ))
                .and_then(|mut s| s.query_row([&h[..]], row_from).optional())
                .map_err(VaultError::storage("find profile by name"))?;
            if let Some(row) = row {
                let open = self.open_row(keys, fix_id(row)?)?;
                if open.meta.name != name_or_id {
                    // The name index points at a profile whose sealed name differs: the
                    // plaintext index column was moved or edited.
                    return Err(VaultError::corrupt(format!(
                        "name index of profile {} does not match its sealed name",
                        hex::encode(open.row.id)
                    )));
                }
                return Ok(open);
            }
        }
        if let Some(id) = parse_id(&name_or_id.to_ascii_lowercase()) {
            let row = tx
                .prepare_cached(&format!(
                    "SELECT {ROW_COLUMNS} FROM profiles WHERE profile_id = ?1"
                ))
                .and_then(|mut s| s.query_row([&id[..]], row_from).optional())
                .map_err(VaultError::storage("find profile by id"))?;
            if let Some(row) = row {
                return self.open_row(keys, fix_id(row)?);
            }
        }
        Err(VaultError::ProfileNotFound {
            name: name_or_id.to_owned(),
        })
    }

    /// Seals profile metadata with the profile's data key.
    pub(crate) fn seal_meta(&self, dk: &SecretKey, id: &Id, meta: &ProfileMeta) -> Result<Vec<u8>> {
        let pt = zeroize::Zeroizing::new(codec::encode_meta(meta)?);
        let aad = seal::aad_record(
            &self.vault_id,
            id,
            &[0; 16],
            RecordKind::ProfileMeta,
            META_SCHEMA_VERSION,
        );
        seal::seal(&self.env, dk, &aad, &pt)
    }

    /// Re-seals a profile's metadata and writes it with the plaintext columns it carries, in
    /// the caller's write transaction: the sealed copy and the columns always change together.
    pub(crate) fn store_meta(
        &self,
        keys: &Keys,
        tx: &Transaction<'_>,
        open: &mut OpenProfile,
    ) -> Result<()> {
        let sealed = self.seal_meta(&open.dk, &open.row.id, &open.meta)?;
        let m = &open.meta;
        store::exec(
            tx,
            "UPDATE profiles SET meta = ?1, created_at = ?2, updated_at = ?3, last_used_at = ?4,
                                 next_seq = ?5 WHERE profile_id = ?6",
            params![
                sealed,
                m.created_at,
                m.updated_at,
                m.last_used_at,
                m.next_seq as i64,
                &open.row.id[..]
            ],
        )
        .map_err(VaultError::storage("update profile"))?;
        // The next operation on this profile (a session checkpoints every few seconds) finds
        // the metadata it just wrote without opening and decoding it again. Should this
        // transaction roll back, the entry matches no bytes in the file and is never used.
        keys.metas.lock().unwrap_or_else(|p| p.into_inner()).insert(
            open.row.id,
            CachedMeta {
                wrapped_dk: open.row.wrapped_dk.clone(),
                sealed: sealed.clone(),
                meta: Arc::new(m.clone()),
            },
        );
        open.row.meta = sealed;
        open.row.created_at = m.created_at;
        open.row.updated_at = m.updated_at;
        open.row.last_used_at = m.last_used_at;
        open.row.next_seq = m.next_seq as i64;
        open.row.snapshot_count = m.snapshot_count as i64;
        Ok(())
    }

    /// Creates an empty profile. `conflict` on a duplicate name, `invalid_argument` on a bad one.
    pub fn create_profile(
        &self,
        name: &str,
        description: Option<&str>,
        settings: &SessionSettings,
    ) -> Result<ProfileInfo> {
        validate_name(name)?;
        validate_description(description)?;
        self.with_keys(|keys| {
            let id = self.env.id()?;
            let dk = self.env.key()?;
            let wrapped_dk =
                seal::seal(&self.env, &keys.mk, &seal::aad_dk(&self.vault_id, &id, DK_VERSION), dk.expose())?;
            let now = self.env.now_ms();
            let meta = ProfileMeta {
                name: name.to_owned(),
                description: description.map(str::to_owned),
                settings: settings.clone(),
                latest: None,
                cookie_domains: Vec::new(),
                origins: Vec::new(),
                created_at: now,
                updated_at: now,
                last_used_at: None,
                next_seq: 1,
                snapshot_count: 0,
                anchor: None,
                current: None,
                health: None,
                health_result: None,
            };
            let sealed_meta = self.seal_meta(&dk, &id, &meta)?;
            let h = name_hash(keys, name);
            self.store.write(|tx| {
                let taken: bool = tx
                    .query_row("SELECT EXISTS (SELECT 1 FROM profiles WHERE name_hash = ?1)", [&h[..]], |r| r.get(0))
                    .map_err(VaultError::storage("check name"))?;
                if taken {
                    return Err(VaultError::NameTaken { name: name.to_owned() });
                }
                tx.execute(
                    "INSERT INTO profiles (profile_id, name_hash, key_version, wrapped_dk, meta, created_at,
                                           updated_at, last_used_at, next_seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, NULL, 1)",
                    params![&id[..], &h[..], DK_VERSION, wrapped_dk, sealed_meta, now],
                )
                .map_err(VaultError::storage("insert profile"))?;
                Ok(())
            })?;
            keys.dks.lock().unwrap_or_else(|p| p.into_inner()).insert(id, Arc::new(dk));
            Ok(info_of(&id, &meta))
        })
    }

    /// A profile by name, or by id (32 hex digits) when no profile has that name.
    pub fn profile(&self, name_or_id: &str) -> Result<ProfileInfo> {
        self.with_keys(|keys| {
            self.store
                .read(|tx| Ok(self.resolve(tx, keys, name_or_id)?.info()))
        })
    }

    /// Renames; `conflict` if the new name is taken.
    pub fn rename_profile(&self, name_or_id: &str, new_name: &str) -> Result<ProfileInfo> {
        validate_name(new_name)?;
        self.modify(name_or_id, |keys, open, tx| {
            let h = name_hash(keys, new_name);
            if open.meta.name != new_name {
                let taken: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM profiles WHERE name_hash = ?1)",
                        [&h[..]],
                        |r| r.get(0),
                    )
                    .map_err(VaultError::storage("check name"))?;
                if taken {
                    return Err(VaultError::NameTaken {
                        name: new_name.to_owned(),
                    });
                }
            }
            tx.execute(
                "UPDATE profiles SET name_hash = ?1 WHERE profile_id = ?2",
                params![&h[..], &open.row.id[..]],
            )
            .map_err(VaultError::storage("rename profile"))?;
            open.meta.name = new_name.to_owned();
            Ok(())
        })
    }

    /// Changes description or default settings.
    pub fn update_profile(&self, name_or_id: &str, update: &ProfileUpdate) -> Result<ProfileInfo> {
        if let Some(d) = &update.description {
            validate_description(d.as_deref())?;
        }
        self.modify(name_or_id, |_, open, _| {
            if let Some(d) = &update.description {
                open.meta.description = d.clone();
            }
            if let Some(s) = &update.settings {
                open.meta.settings = s.clone();
            }
            Ok(())
        })
    }

    /// Applies `f` to a profile's metadata and re-seals it, in one write transaction.
    fn modify(
        &self,
        name_or_id: &str,
        f: impl FnOnce(&Keys, &mut OpenProfile, &Transaction<'_>) -> Result<()>,
    ) -> Result<ProfileInfo> {
        self.with_keys(|keys| {
            self.store.write(|tx| {
                let mut open = self.resolve(tx, keys, name_or_id)?;
                f(keys, &mut open, tx)?;
                open.changed_at(self.env.now_ms());
                self.store_meta(keys, tx, &mut open)?;
                Ok(open.info())
            })
        })
    }

    /// Deletes the profile and shreds its data key.
    pub fn delete_profile(&self, name_or_id: &str) -> Result<()> {
        self.with_keys(|keys| {
            let id = self.store.write(|tx| {
                let open = self.resolve(tx, keys, name_or_id)?;
                // Snapshots go by ON DELETE CASCADE; secure_delete zeroes the freed pages.
                tx.execute(
                    "DELETE FROM profiles WHERE profile_id = ?1",
                    [&open.row.id[..]],
                )
                .map_err(VaultError::storage("delete profile"))?;
                Ok(open.row.id)
            })?;
            keys.dks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            keys.metas
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            Ok(())
        })?;
        // The wrapped data key must not survive in the WAL either.
        self.store.checkpoint_truncate()
    }

    /// Test vectors only: re-seals a profile's metadata with the top-level members of
    /// `patch` replaced (and the plaintext columns it carries written to match), as a
    /// defective writer holding the keys would. Never use it on a real vault: it bypasses
    /// every check of the writer.
    #[doc(hidden)]
    pub fn reseal_profile_meta_for_test_vectors(
        &self,
        name_or_id: &str,
        patch: &serde_json::Value,
    ) -> Result<()> {
        self.with_keys(|keys| {
            self.store.write(|tx| {
                let mut open = self.resolve(tx, keys, name_or_id)?;
                let mut meta = serde_json::to_value(&open.meta)
                    .map_err(|e| VaultError::corrupt(format!("meta: {e}")))?;
                if let (Some(m), Some(p)) = (meta.as_object_mut(), patch.as_object()) {
                    for (k, v) in p {
                        m.insert(k.clone(), v.clone());
                    }
                }
                open.meta = serde_json::from_value(meta)
                    .map_err(|e| VaultError::corrupt(format!("meta: {e}")))?;
                self.store_meta(keys, tx, &mut open)
            })
        })
    }

    /// Records that a session loaded the profile now. `last_used_at` never decreases (a clock
    /// set back does not move it back), so that a file put back over a last use is noticed
    /// by whoever remembers the value.
    pub fn touch_profile(&self, name_or_id: &str) -> Result<()> {
        self.with_keys(|keys| {
            self.store.write(|tx| {
                let mut open = self.resolve(tx, keys, name_or_id)?;
                let now = self.env.now_ms();
                open.meta.last_used_at = Some(open.meta.last_used_at.map_or(now, |t| t.max(now)));
                self.store_meta(keys, tx, &mut open)
            })
        })
    }
}
