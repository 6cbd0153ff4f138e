//! `verify`: authenticates every sealed record and names each one that fails.
//!
//! Keyslots other than the one that unlocked cannot be opened without their credential, so
//! `verify` requires an unlocked vault and checks everything under the master key: every data
//! key wrap, profile metadata (and its name-index entry), and every snapshot's info and body.

use rusqlite::Transaction;

use crate::VerifyReport;
use crate::error::{Result, VaultError};
use crate::keys::Id;
use crate::profiles::{self, ProfileRow};
use crate::snapshots::{self, SnapshotRow};
use crate::vault::{Keys, Vault};

/// `profile_id, key_version, wrapped_dk, meta, name_hash` of one profile row.
type ProfileCols = (Vec<u8>, i64, Vec<u8>, Vec<u8>, Vec<u8>);

impl Vault {
    /// Authenticates every sealed record; lists every failure.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.with_keys(|keys| self.store.read(|tx| self.verify_in(tx, keys)))
    }

    fn verify_in(&self, tx: &Transaction<'_>, keys: &Keys) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut stmt = tx
            .prepare(
                "SELECT profile_id, key_version, wrapped_dk, meta, name_hash FROM profiles ORDER BY profile_id",
            )
            .map_err(VaultError::storage("verify"))?;
        let rows: Vec<ProfileCols> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(VaultError::storage("verify"))?
            .collect::<rusqlite::Result<_>>()
            .map_err(VaultError::storage("verify"))?;
        for (id, kv, wrapped_dk, meta, name_hash) in rows {
            let Ok(pid) = <Id>::try_from(id.as_slice()) else {
                report.failures.push(format!(
                    "profiles[{}]: id is not 16 bytes",
                    hex::encode(&id)
                ));
                continue;
            };
            let row = ProfileRow {
                id: pid,
                key_version: u32::try_from(kv).unwrap_or(u32::MAX),
                wrapped_dk,
                meta,
                created_at: 0,
                updated_at: 0,
                last_used_at: None,
                next_seq: 0,
                snapshot_count: 0,
            };
            let p = hex::encode(pid);
            let dk = match profiles::unwrap_dk(&self.vault_id, keys, &row) {
                Ok(dk) => {
                    report.ok += 1;
                    dk
                }
                Err(e) => {
                    report
                        .failures
                        .push(format!("profiles[{p}].wrapped_dk: {e}"));
                    let n: i64 = tx
                        .query_row(
                            "SELECT count(*) FROM snapshots WHERE profile_id = ?1",
                            [&pid[..]],
                            |r| r.get(0),
                        )
                        .map_err(VaultError::storage("verify"))?;
                    report.failures.push(format!(
                        "profiles[{p}].meta and {n} snapshot(s): not checkable without the data key"
                    ));
                    continue;
                }
            };
            match profiles::open_meta(&self.vault_id, &dk, &row) {
                Ok(meta) => {
                    report.ok += 1;
                    if profiles::name_hash(keys, &meta.name)[..] != name_hash[..] {
                        report.failures.push(format!(
                            "profiles[{p}].name_hash: does not match the sealed name"
                        ));
                    }
                }
                Err(e) => report.failures.push(format!("profiles[{p}].meta: {e}")),
            }
            let mut stmt = tx
                .prepare("SELECT snapshot_id, seq, kind, schema_version, info, body FROM snapshots WHERE profile_id = ?1 ORDER BY seq")
                .map_err(VaultError::storage("verify"))?;
            let snaps: Vec<(Vec<u8>, SnapshotRow)> = stmt
                .query_map([&pid[..]], |r| {
                    Ok((
                        r.get(0)?,
                        SnapshotRow {
                            id: [0; 16],
                            seq: r.get(1)?,
                            kind: r.get(2)?,
                            schema_version: r.get(3)?,
                            info: r.get(4)?,
                            body: Some(r.get(5)?),
                        },
                    ))
                })
                .map_err(VaultError::storage("verify"))?
                .collect::<rusqlite::Result<_>>()
                .map_err(VaultError::storage("verify"))?;
            for (sid, mut srow) in snaps {
                let Ok(sid) = <Id>::try_from(sid.as_slice()) else {
                    report.failures.push(format!(
                        "snapshots[{p}/{}]: id is not 16 bytes",
                        hex::encode(&sid)
                    ));
                    continue;
                };
                srow.id = sid;
                let s = hex::encode(sid);
                match snapshots::open_info(&self.vault_id, &dk, &pid, &srow) {
                    Ok(info) => {
                        report.ok += 1;
                        match snapshots::open_body(&self.vault_id, &dk, &pid, &srow, &info) {
                            Ok(_) => report.ok += 1,
                            Err(e) => report
                                .failures
                                .push(format!("snapshots[{p}/{s}].snapshot-body: {e}")),
                        }
                    }
                    Err(e) => {
                        report
                            .failures
                            .push(format!("snapshots[{p}/{s}].snapshot-info: {e}"));
                        report.failures.push(format!(
                            "snapshots[{p}/{s}].snapshot-body: not checkable without its info"
                        ));
                    }
                }
            }
        }
        Ok(report)
    }
}
