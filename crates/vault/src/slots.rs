//! Keyslots: each wraps the one master key under a key-encryption key derived from a
//! credential (a passphrase through Argon2id, or a key file through HKDF-SHA256).
//!
//! The slot's KDF identifier, parameters and salt are plaintext columns, authenticated by
//! being part of the wrap's associated data (as KDBX's header HMAC authenticates its header).

use std::time::{Duration, Instant};

use rusqlite::{OptionalExtension, Transaction, params};

use crate::Credential;
use crate::error::{Result, VaultError};
use crate::kdf::{
    self, ARGON2_SALT_LEN, KDF_ARGON2ID, KDF_HKDF_SHA256, KEYFILE_SALT_LEN, KdfParams,
};
use crate::keys::{Env, Id, SecretKey};
use crate::seal;

/// `keyslots.slot_kind` of a passphrase slot.
pub const SLOT_PASSPHRASE: u8 = 1;
/// `keyslots.slot_kind` of a key-file slot.
pub const SLOT_KEYFILE: u8 = 2;

/// One row of `keyslots`.
#[derive(Debug, Clone)]
pub struct SlotRow {
    /// Random slot id.
    pub slot_id: Id,
    /// [`SLOT_PASSPHRASE`] or [`SLOT_KEYFILE`].
    pub slot_kind: u8,
    /// [`KDF_ARGON2ID`] or [`KDF_HKDF_SHA256`].
    pub kdf_id: u8,
    /// Memory cost as stored (0 for key files).
    pub m_kib: i64,
    /// Passes as stored (0 for key files).
    pub t: i64,
    /// Lanes as stored (0 for key files).
    pub p: i64,
    /// Salt.
    pub salt: Vec<u8>,
    /// `nonce ‖ ciphertext ‖ tag` of the master key.
    pub wrapped_mk: Vec<u8>,
}

fn slot_kind_of(cred: &Credential) -> u8 {
    match cred {
        Credential::Passphrase(_) => SLOT_PASSPHRASE,
        Credential::KeyFile(_) => SLOT_KEYFILE,
    }
}

impl SlotRow {
    /// Stored Argon2id parameters, range-checked as integers (before any allocation).
    fn params(&self) -> Result<Option<KdfParams>> {
        if self.kdf_id == KDF_HKDF_SHA256 {
            return Ok(None);
        }
        let conv = |v: i64, what: &str| {
            u32::try_from(v).map_err(|_| VaultError::KdfParamsRejected {
                reason: format!("stored {what} = {v} is out of range"),
            })
        };
        let p = KdfParams {
            m_kib: conv(self.m_kib, "m_kib")?,
            t: conv(self.t, "t")?,
            p: conv(self.p, "p")?,
        };
        p.check()?;
        Ok(Some(p))
    }

    fn aad(&self, vault_id: &Id) -> Result<Vec<u8>> {
        Ok(seal::aad_mk(
            vault_id,
            &self.slot_id,
            self.slot_kind,
            self.kdf_id,
            self.params()?,
            &self.salt,
        ))
    }
}

/// Builds a new slot for `cred` wrapping `mk`. For a passphrase, `params` are the Argon2id
/// parameters to use. Returns the row and the time spent in the KDF.
pub fn make_slot(
    env: &Env,
    vault_id: &Id,
    cred: &Credential,
    params: KdfParams,
    mk: &SecretKey,
) -> Result<(SlotRow, Duration)> {
    let slot_id = env.id()?;
    let start = Instant::now();
    let (row, kek) = match cred {
        Credential::Passphrase(pw) => {
            params.check()?;
            let mut salt = vec![0u8; ARGON2_SALT_LEN];
            env.fill(&mut salt)?;
            let kek = kdf::argon2id(pw.as_bytes(), &salt, params)?;
            let row = SlotRow {
                slot_id,
                slot_kind: SLOT_PASSPHRASE,
                kdf_id: KDF_ARGON2ID,
                m_kib: params.m_kib.into(),
                t: params.t.into(),
                p: params.p.into(),
                salt,
                wrapped_mk: Vec::new(),
            };
            (row, kek)
        }
        Credential::KeyFile(file) => {
            let mut salt = vec![0u8; KEYFILE_SALT_LEN];
            env.fill(&mut salt)?;
            let kek = kdf::keyfile_kek(file, &salt)?;
            let row = SlotRow {
                slot_id,
                slot_kind: SLOT_KEYFILE,
                kdf_id: KDF_HKDF_SHA256,
                m_kib: 0,
                t: 0,
                p: 0,
                salt,
                wrapped_mk: Vec::new(),
            };
            (row, kek)
        }
    };
    let kdf_time = start.elapsed();
    let mut row = row;
    let aad = row.aad(vault_id)?;
    row.wrapped_mk = seal::seal(env, &kek, &aad, mk.expose())?;
    Ok((row, kdf_time))
}

/// Replaces the slot of the same kind (if any) by `row`.
pub fn put_slot(tx: &Transaction<'_>, row: &SlotRow, created_at: i64) -> Result<()> {
    tx.execute("DELETE FROM keyslots WHERE slot_kind = ?1", [row.slot_kind])
        .map_err(VaultError::storage("delete keyslot"))?;
    tx.execute(
        "INSERT INTO keyslots (slot_id, slot_kind, kdf_id, m_kib, t, p, salt, wrapped_mk, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            &row.slot_id[..],
            row.slot_kind,
            row.kdf_id,
            row.m_kib,
            row.t,
            row.p,
            row.salt,
            row.wrapped_mk,
            created_at
        ],
    )
    .map_err(VaultError::storage("insert keyslot"))?;
    Ok(())
}

/// Reads the slot of one kind.
pub fn slot_of_kind(tx: &Transaction<'_>, kind: u8) -> Result<Option<SlotRow>> {
    tx.query_row(
        "SELECT slot_id, slot_kind, kdf_id, m_kib, t, p, salt, wrapped_mk FROM keyslots WHERE slot_kind = ?1",
        [kind],
        |r| {
            let id: Vec<u8> = r.get(0)?;
            Ok((id, SlotRow {
                slot_id: [0; 16],
                slot_kind: r.get(1)?,
                kdf_id: r.get(2)?,
                m_kib: r.get(3)?,
                t: r.get(4)?,
                p: r.get(5)?,
                salt: r.get(6)?,
                wrapped_mk: r.get(7)?,
            }))
        },
    )
    .optional()
    .map_err(VaultError::storage("read keyslot"))?
    .map(|(id, mut row)| {
        row.slot_id = id.as_slice().try_into().map_err(|_| VaultError::corrupt("keyslot id is not 16 bytes"))?;
        Ok(row)
    })
    .transpose()
}

/// The Argon2id parameters of the passphrase slot, if any (used to keep the cost on change).
pub fn passphrase_params(row: &SlotRow) -> Result<Option<KdfParams>> {
    row.params()
}

/// Opens the slot matching `cred`'s kind. Parameters are checked before the KDF runs.
/// Returns the master key and the KDF time; `AuthFailed` if the credential does not open it.
pub fn open_slot(
    tx: &Transaction<'_>,
    vault_id: &Id,
    cred: &Credential,
) -> Result<(SecretKey, Duration)> {
    let row = slot_of_kind(tx, slot_kind_of(cred))?.ok_or(VaultError::AuthFailed)?;
    let aad = row.aad(vault_id)?;
    let start = Instant::now();
    let kek = match cred {
        Credential::Passphrase(pw) => {
            if row.kdf_id != KDF_ARGON2ID {
                return Err(VaultError::UnsupportedVersion {
                    what: "passphrase KDF id",
                    found: row.kdf_id.into(),
                    supported: KDF_ARGON2ID.to_string(),
                });
            }
            if row.salt.len() != ARGON2_SALT_LEN {
                return Err(VaultError::corrupt("passphrase slot salt is not 16 bytes"));
            }
            let params = row.params()?.ok_or(VaultError::AuthFailed)?;
            kdf::argon2id(pw.as_bytes(), &row.salt, params)?
        }
        Credential::KeyFile(file) => {
            if row.kdf_id != KDF_HKDF_SHA256 {
                return Err(VaultError::UnsupportedVersion {
                    what: "key-file KDF id",
                    found: row.kdf_id.into(),
                    supported: KDF_HKDF_SHA256.to_string(),
                });
            }
            kdf::keyfile_kek(file, &row.salt)?
        }
    };
    let kdf_time = start.elapsed();
    let mk = seal::open(&kek, &aad, &row.wrapped_mk).ok_or(VaultError::AuthFailed)?;
    let mk = SecretKey::from_slice(&mk).ok_or(VaultError::AuthFailed)?;
    Ok((mk, kdf_time))
}
