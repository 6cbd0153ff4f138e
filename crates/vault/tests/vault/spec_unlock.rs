//! The independent reader (`spec_reader.rs`), opening and unlocking, from vault-format.md
//! alone: the file through SQLite (section 1: `quick_check`, the application id, the format
//! version), then the passphrase slot (sections 5.1 and 5.2: the parameters checked before
//! anything is derived, the KDF id, the salt, the master-key wrap and its AAD).

use std::path::Path;

use rusqlite::Connection;

use crate::spec_reader::{Refusal, hmac, open_blob, refuse};

/// Section 5.1: the Argon2id parameters, checked before anything is derived.
fn check_kdf_params(m: i64, t: i64, p: i64) -> Result<(), String> {
    let fits = |x: i64| (0..=i64::from(u32::MAX)).contains(&x);
    if !(fits(m) && fits(t) && fits(p)) {
        return Err("a parameter is not a u32".into());
    }
    if m > 4_194_304 || t > 64 || !(1..=16).contains(&p) {
        return Err(format!("parameters above the caps: m {m}, t {t}, p {p}"));
    }
    if m < 19_456 || t < 2 {
        return Err(format!("parameters below the minimum: m {m}, t {t}"));
    }
    if m < 8 * p {
        return Err(format!("m {m} below 8 · p"));
    }
    Ok(())
}

/// Section 1: opens the file through SQLite, `quick_check`, application id, format version.
pub fn open_vault(dir: &Path) -> Result<(Connection, i64, Vec<u8>), Refusal> {
    let db = Connection::open(dir.join("vault.db")).map_err(|e| refuse("open", e))?;
    let check: Vec<String> = db
        .prepare("PRAGMA quick_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| refuse("open", format!("quick_check: {e}")))?;
    if check != ["ok"] {
        return Err(refuse("open", format!("quick_check: {check:?}")));
    }
    let app_id: i64 = db
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| refuse("open", e))?;
    if app_id != 0x7076_6c74 {
        return Err(refuse("open", format!("application_id {app_id:#x}")));
    }
    let (version, vault_id): (i64, Vec<u8>) = db
        .query_row("SELECT format_version, vault_id FROM vault", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(|e| refuse("open", e))?;
    if !(1..=3).contains(&version) {
        return Err(refuse("open", format!("format version {version}")));
    }
    if vault_id.len() != 16 {
        return Err(refuse("open", "vault id not 16 bytes"));
    }
    Ok((db, version, vault_id))
}

/// Section 5.2: the master key from the passphrase slot; with `keyfile`, the key-file slot
/// (when there is one) must open the same key.
pub fn unlock(
    db: &Connection,
    vault_id: &[u8],
    passphrase: &str,
    keyfile: Option<&[u8]>,
) -> Result<Vec<u8>, Refusal> {
    type Slot = (Vec<u8>, i64, i64, i64, i64, Vec<u8>, Vec<u8>);
    let slot = |kind: i64| -> Result<Option<Slot>, Refusal> {
        let r = db.query_row(
            "SELECT slot_id, kdf_id, m_kib, t, p, salt, wrapped_mk FROM keyslots WHERE slot_kind = ?1",
            [kind],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        );
        match r {
            Ok(s) => Ok(Some(s)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(refuse("unlock", e)),
        }
    };
    let (slot_id, kdf_id, m, t, p, salt, wrapped) =
        slot(1)?.ok_or_else(|| refuse("unlock", "no passphrase slot"))?;
    if kdf_id != 2 {
        check_kdf_params(m, t, p).map_err(|e| refuse("unlock", e))?;
    }
    if kdf_id != 1 {
        return Err(refuse("unlock", format!("KDF id {kdf_id}")));
    }
    if salt.len() != 16 {
        return Err(refuse("unlock", "passphrase salt not 16 bytes"));
    }
    let (m, t, p) = (m as u32, t as u32, p as u32);
    let mut kek = [0u8; 32];
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(m, t, p, Some(32)).map_err(|e| refuse("unlock", e))?,
    )
    .hash_password_into(passphrase.as_bytes(), &salt, &mut kek)
    .map_err(|e| refuse("unlock", e))?;
    let mut aad = b"pvault/v1/mk-wrap\0".to_vec();
    aad.extend_from_slice(vault_id);
    aad.extend_from_slice(&slot_id);
    aad.extend_from_slice(&[1, 1]);
    for x in [m, t, p] {
        aad.extend_from_slice(&x.to_be_bytes());
    }
    aad.push(16);
    aad.extend_from_slice(&salt);
    let mk = open_blob(&kek, &aad, &wrapped).map_err(|e| refuse("unlock", e))?;
    if mk.len() != 32 {
        return Err(refuse("unlock", "master key not 32 bytes"));
    }
    if let (Some(file), Some((kslot, kkdf, _, _, _, ksalt, kwrapped))) = (keyfile, slot(2)?) {
        if kkdf != 2 {
            return Err(refuse("unlock", format!("key-file slot KDF id {kkdf}")));
        }
        let kek = hmac(&hmac(&ksalt, &[file]), &[b"pvault/v1/keyfile-kek", &[1]]);
        let mut aad = b"pvault/v1/mk-wrap\0".to_vec();
        aad.extend_from_slice(vault_id);
        aad.extend_from_slice(&kslot);
        aad.extend_from_slice(&[2, 2]);
        aad.extend_from_slice(&[0; 12]);
        aad.push(ksalt.len() as u8);
        aad.extend_from_slice(&ksalt);
        if open_blob(&kek, &aad, &kwrapped).map_err(|e| refuse("unlock", e))? != mk {
            return Err(refuse("unlock", "the key-file slot opens another key"));
        }
    }
    Ok(mk)
}

/// The master key of the vault in `dir`, from its passphrase slot (panics on a refusal).
pub fn master_key(dir: &Path, passphrase: &str) -> Vec<u8> {
    let (db, _, vault_id) = open_vault(dir).unwrap();
    unlock(&db, &vault_id, passphrase, None).unwrap()
}
