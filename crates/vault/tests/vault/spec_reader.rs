//! The independent reader's core, written from `vault-format.md` alone: plain SQL through
//! `rusqlite`, the `argon2`, `chacha20poly1305`, `hmac` and `sha2` crates, and `serde_json`;
//! nothing of the vault crate. It refuses at open (section 1: `quick_check`, the application
//! id, `format_version`) and at unlock (sections 5.1 and 5.2), and reports every defect of a
//! record, a column or a history as a [`Finding`] (sections 4, 6, 7 and 11), reading on past
//! each one as `verify` does. Reading a format-1 or format-2 vault applies the checks its
//! upgrade makes (section 8): [`unlock_and_read`] refuses such a vault at unlock when one of
//! them fails.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rusqlite::Connection;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::spec_body::{check_body, parse_strict};
pub use crate::spec_unlock::master_key;
use crate::spec_unlock::{open_vault, unlock};

/// Snapshot kind names by kind code − 1 (section 2).
const KINDS: [&str; 5] = ["import", "session_save", "capture", "checkpoint", "restore"];
/// Profile metadata members, format 3 (section 6); format 2 has the first 12, format 1 the
/// first 6.
const META: [&str; 15] = [
    "name",
    "description",
    "settings",
    "latest",
    "cookie_domains",
    "origins",
    "created_at",
    "updated_at",
    "last_used_at",
    "next_seq",
    "snapshot_count",
    "anchor",
    "current",
    "health",
    "health_result",
];
/// Snapshot info members, format 3; format 2 has the first 13, format 1 the first 11 (a
/// schema-1 info the first 9).
const INFO: [&str; 14] = [
    "id",
    "seq",
    "created_at",
    "kind",
    "content_hash",
    "size_bytes",
    "cookie_count",
    "origin_count",
    "local_storage_key_count",
    "session_storage_key_count",
    "indexed_db_record_count",
    "session_id",
    "prev",
    "logged_out",
];

/// The reader refused the whole vault at `layer` (`open` or `unlock`; `op` for an SQLite
/// error while reading rows).
#[derive(Debug)]
pub struct Refusal {
    pub layer: &'static str,
    pub reason: String,
}

/// One defect: the profile (hex id), the seq when it concerns one snapshot, the record
/// (`wrapped_dk`, `meta`, `name_hash`, `snapshot-info`, `snapshot-body`, `history`).
#[derive(Debug, Clone)]
pub struct Finding {
    pub profile: String,
    pub seq: Option<u64>,
    pub record: &'static str,
    pub reason: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "profiles[{}].{}", self.profile, self.record)?;
        if let Some(s) = self.seq {
            write!(f, "[seq {s}]")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// What the reader got out of a vault it did not refuse.
pub struct Reading {
    pub version: i64,
    /// Everything that read cleanly, in the shape of `expected.json`.
    pub content: Value,
    pub findings: Vec<Finding>,
}

pub fn refuse(layer: &'static str, reason: impl std::fmt::Display) -> Refusal {
    Refusal {
        layer,
        reason: reason.to_string(),
    }
}

/// Opens a sealed blob (section 4): at least 40 bytes, authenticated under `aad`.
pub fn open_blob(key: &[u8], aad: &[u8], blob: &[u8]) -> Result<Vec<u8>, String> {
    if blob.len() < 40 {
        return Err(format!("sealed blob of {} bytes", blob.len()));
    }
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(&blob[..24]),
            Payload {
                msg: &blob[24..],
                aad,
            },
        )
        .map_err(|_| "does not authenticate".to_owned())
}

pub fn record_aad(vault_id: &[u8], pid: &[u8], sid: &[u8], kind: u8, schema: u16) -> Vec<u8> {
    let mut a = b"pvault/v1/record\0".to_vec();
    a.extend_from_slice(vault_id);
    a.extend_from_slice(pid);
    a.extend_from_slice(sid);
    a.push(kind);
    a.extend_from_slice(&schema.to_be_bytes());
    a
}

pub fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// `version ‖ JSON` with that version byte and exactly `members`, in order.
fn plaintext(plain: &[u8], version: u8, members: &[&[&str]]) -> Result<Value, String> {
    match plain.first() {
        Some(v) if *v == version => {}
        other => return Err(format!("version byte {other:?}, expected {version}")),
    }
    let v = parse_strict(&plain[1..])?;
    let keys: Vec<&str> = v
        .as_object()
        .ok_or("not an object")?
        .keys()
        .map(String::as_str)
        .collect();
    if !members.iter().any(|m| keys == *m) {
        return Err(format!("members {keys:?}"));
    }
    Ok(v)
}

/// Reads a vault as section 12 orders it; a format-1 or format-2 vault is refused at unlock
/// when any check its upgrade makes (section 8) fails.
pub fn unlock_and_read(
    dir: &Path,
    passphrase: &str,
    keyfile: Option<&[u8]>,
) -> Result<Reading, Refusal> {
    let r = read(dir, passphrase, keyfile)?;
    if r.version < 3 && !r.findings.is_empty() {
        let all: Vec<String> = r.findings.iter().map(ToString::to_string).collect();
        return Err(refuse(
            "unlock",
            format!("the upgrade refuses: {}", all.join("; ")),
        ));
    }
    Ok(r)
}

/// Reads everything in the vault in `dir` (as it is: nothing is upgraded or written).
pub fn read(dir: &Path, passphrase: &str, keyfile: Option<&[u8]>) -> Result<Reading, Refusal> {
    let (db, version, vault_id) = open_vault(dir)?;
    let mk = unlock(&db, &vault_id, passphrase, keyfile)?;
    let ctx = Ctx {
        db: &db,
        version,
        vault_id: &vault_id,
        mk: &mk,
        name_key: hmac(&mk, &[b"pvault/v1/name-index"]),
    };
    let rows: Vec<ProfileCols> = db
        .prepare("SELECT profile_id, name_hash, key_version, wrapped_dk, meta, created_at, updated_at, last_used_at, next_seq FROM profiles")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
            })?
            .collect()
        })
        .map_err(|e| refuse("op", e))?;
    let mut profiles = Vec::new();
    let mut findings = Vec::new();
    for row in rows {
        if let Some(p) = ctx.profile(row, &mut findings)? {
            profiles.push(p);
        }
    }
    profiles.sort_by(|a, b| a.0.cmp(&b.0));
    let content = json!({
        "vault_id": hex::encode(&vault_id),
        "profiles": profiles.into_iter().map(|p| p.1).collect::<Vec<_>>(),
    });
    Ok(Reading {
        version,
        content,
        findings,
    })
}

/// A `profiles` row in column order: profile_id, name_hash, key_version, wrapped_dk, meta,
/// created_at, updated_at, last_used_at, next_seq.
type ProfileCols = (
    Vec<u8>,
    Vec<u8>,
    i64,
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    Option<i64>,
    i64,
);

struct Ctx<'a> {
    db: &'a Connection,
    version: i64,
    vault_id: &'a [u8],
    mk: &'a [u8],
    name_key: Vec<u8>,
}

/// A profile's metadata as far as it read, for its snapshots.
struct Profile<'a> {
    pid: &'a [u8],
    hex: String,
    dk: &'a [u8],
}

impl Ctx<'_> {
    /// One profile: its data key, metadata, name index, columns, snapshots and chain. Returns
    /// its name and content when its metadata read.
    fn profile(
        &self,
        (pid, name_hash, kv, wdk, meta, created, updated, used, next_seq): ProfileCols,
        findings: &mut Vec<Finding>,
    ) -> Result<Option<(String, Value)>, Refusal> {
        let hex = hex::encode(&pid);
        let mut find = |seq, record, reason: String| {
            findings.push(Finding {
                profile: hex.clone(),
                seq,
                record,
                reason,
            })
        };
        if kv != 1 {
            find(None, "wrapped_dk", format!("key_version {kv}"));
            return Ok(None);
        }
        let mut dk_aad = b"pvault/v1/dk-wrap\0".to_vec();
        dk_aad.extend_from_slice(self.vault_id);
        dk_aad.extend_from_slice(&pid);
        dk_aad.extend_from_slice(&1u32.to_be_bytes());
        let dk = match open_blob(self.mk, &dk_aad, &wdk) {
            Ok(dk) if dk.len() == 32 => dk,
            Ok(_) => {
                find(None, "wrapped_dk", "not 32 bytes".into());
                return Ok(None);
            }
            Err(e) => {
                find(None, "wrapped_dk", e);
                return Ok(None);
            }
        };
        if meta.len() > 1 << 20 {
            find(None, "meta", format!("{} bytes, above the cap", meta.len()));
            return Ok(None);
        }
        let v = self.version as usize;
        let members = &META[..[6, 12, 15][v - 1]];
        let meta = match open_blob(&dk, &record_aad(self.vault_id, &pid, &[0; 16], 1, 1), &meta)
            .and_then(|p| plaintext(&p, v as u8, &[members]))
        {
            Ok(m) => m,
            Err(e) => {
                find(None, "meta", e);
                return Ok(None);
            }
        };
        let name = meta["name"].as_str().unwrap_or_default().to_owned();
        let valid = (1..=255).contains(&name.len())
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c));
        if !valid {
            find(None, "meta", format!("invalid name {name:?}"));
        }
        if hmac(&self.name_key, &[name.as_bytes()]) != name_hash {
            find(None, "name_hash", "the name index points elsewhere".into());
        }
        let count: i64 = self
            .db
            .query_row(
                "SELECT count(*) FROM snapshots WHERE profile_id = ?1",
                [&pid],
                |r| r.get(0),
            )
            .map_err(|e| refuse("op", e))?;
        if v >= 2 {
            // Section 7.3: every plaintext column equals its sealed copy.
            for (col, column, sealed) in [
                ("created_at", json!(created), &meta["created_at"]),
                ("updated_at", json!(updated), &meta["updated_at"]),
                ("last_used_at", json!(used), &meta["last_used_at"]),
                ("next_seq", json!(next_seq), &meta["next_seq"]),
                ("snapshot_count", json!(count), &meta["snapshot_count"]),
            ] {
                if column != *sealed {
                    find(
                        None,
                        "meta",
                        format!("{col}: column {column}, sealed {sealed}"),
                    );
                }
            }
        }
        let p = Profile {
            pid: &pid,
            hex: hex.clone(),
            dk: &dk,
        };
        let (snaps, infos) = self.snapshots(&p, findings)?;
        let mut find = |seq, record, reason: String| {
            findings.push(Finding {
                profile: hex.clone(),
                seq,
                record,
                reason,
            })
        };
        if v >= 2 {
            for problem in crate::spec_format2::chain_problems(&meta, &infos) {
                find(None, "history", problem);
            }
        } else {
            // Section 8, the format-1 upgrade's checks: `latest` is the highest row, and
            // `next_seq` is above every seq.
            let newest = infos
                .iter()
                .max_by_key(|i| i["seq"].as_u64())
                .map(|i| (&i["seq"], &i["content_hash"]));
            let head = (!meta["latest"].is_null())
                .then(|| (&meta["latest"]["seq"], &meta["latest"]["content_hash"]));
            if newest != head || infos.len() as i64 != count {
                find(
                    None,
                    "history",
                    format!("newest row {newest:?}, latest {head:?}"),
                );
            }
            if let Some(i) = infos
                .iter()
                .find(|i| i["seq"].as_i64().is_none_or(|s| s >= next_seq))
            {
                find(
                    None,
                    "history",
                    format!("seq {} not below next_seq", i["seq"]),
                );
            }
        }
        let mut profile = json!({
            "id": hex, "name": name, "settings": meta["settings"],
            "created_at": created, "updated_at": updated,
            "snapshot_count": snaps.len(), "cookie_domains": meta["cookie_domains"],
            "origins": meta["origins"],
        });
        for k in ["description", "latest"] {
            if !meta[k].is_null() {
                profile[k] = meta[k].clone();
            }
        }
        if let Some(u) = used {
            profile["last_used_at"] = json!(u);
        }
        // Format 3: the current snapshot is shown when it is not the newest; health when set.
        if v >= 3 {
            if !meta["current"].is_null() && meta["current"]["seq"] != meta["latest"]["seq"] {
                profile["current"] = meta["current"]["seq"].clone();
            }
            for k in ["health", "health_result"] {
                if !meta[k].is_null() {
                    profile[k] = meta[k].clone();
                }
            }
        }
        Ok(Some((
            name,
            json!({ "profile": profile, "snapshots": snaps }),
        )))
    }

    /// Every snapshot row of a profile, newest first: the content of those that read, and the
    /// sealed infos of those whose info opened (for the chain).
    fn snapshots(
        &self,
        p: &Profile<'_>,
        findings: &mut Vec<Finding>,
    ) -> Result<(Vec<Value>, Vec<Value>), Refusal> {
        type SnapshotCols = (
            Vec<u8>,
            i64,
            i64,
            i64,
            Vec<u8>,
            Vec<u8>,
            i64,
            i64,
            Option<String>,
        );
        let rows: Vec<SnapshotCols> = self
            .db
            .prepare("SELECT snapshot_id, seq, kind, schema_version, info, body, created_at, size_bytes, session_id FROM snapshots WHERE profile_id = ?1 ORDER BY seq DESC")
            .and_then(|mut s| {
                s.query_map([p.pid], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
                })?
                .collect()
            })
            .map_err(|e| refuse("op", e))?;
        let (mut snaps, mut infos) = (Vec::new(), Vec::new());
        for (sid, seq, kind, schema, info, body, created, size, session) in rows {
            let mut find = |seq: i64, record, reason: String| {
                findings.push(Finding {
                    profile: p.hex.clone(),
                    seq: u64::try_from(seq).ok(),
                    record,
                    reason,
                })
            };
            // Section 6.1: an unknown schema is refused before it builds an AAD.
            if !(1..=2).contains(&schema) {
                find(seq, "snapshot-info", format!("schema_version {schema}"));
                continue;
            }
            if let Some(reason) = above_cap(info.len(), 64 << 10) {
                find(seq, "snapshot-info", reason);
                continue;
            }
            let v = self.version as usize;
            let members: Vec<&[&str]> = match v {
                1 => vec![&INFO[..11], &INFO[..9]],
                2 => vec![&INFO[..13]],
                _ => vec![&INFO[..]],
            };
            let aad = record_aad(self.vault_id, p.pid, &sid, 3, schema as u16);
            let mut info =
                match open_blob(p.dk, &aad, &info).and_then(|x| plaintext(&x, v as u8, &members)) {
                    Ok(i) => i,
                    Err(e) => {
                        find(seq, "snapshot-info", e);
                        continue;
                    }
                };
            let sealed_seq = info["seq"].as_i64().unwrap_or(seq);
            infos.push(info.clone());
            // Section 7.3 (and the format-1 upgrade's checks of section 8).
            let kind_name = usize::try_from(kind - 1).ok().and_then(|k| KINDS.get(k));
            let mut edited = Vec::new();
            for (col, column, sealed) in [
                ("id", json!(hex::encode(&sid)), &info["id"]),
                ("seq", json!(seq), &info["seq"]),
                ("kind", json!(kind_name), &info["kind"]),
                ("created_at", json!(created), &info["created_at"]),
                ("size_bytes", json!(size), &info["size_bytes"]),
                ("session_id", json!(session), &info["session_id"]),
            ] {
                if column != *sealed && (v >= 2 || col != "session_id") {
                    edited.push(format!("{col}: column {column}, sealed {sealed}"));
                }
            }
            if !edited.is_empty() {
                find(sealed_seq, "snapshot-info", edited.join(", "));
                continue;
            }
            if let Some(reason) = above_cap(body.len(), 256 << 20) {
                find(seq, "snapshot-body", reason);
                continue;
            }
            let aad = record_aad(self.vault_id, p.pid, &sid, 2, schema as u16);
            let state = open_blob(p.dk, &aad, &body).and_then(|b| {
                if json!(hex::encode(Sha256::digest(&b))) != info["content_hash"] {
                    return Err("content hash differs".into());
                }
                if json!(b.len()) != info["size_bytes"] {
                    return Err("size differs".into());
                }
                if b.first() != Some(&1) {
                    return Err(format!("body version byte {:?}", b.first()));
                }
                let state = parse_strict(&b[1..]).map_err(|e| format!("body {e}"))?;
                check_body(&state, schema)?;
                Ok(state)
            });
            let state = match state {
                Ok(s) => s,
                Err(e) => {
                    find(seq, "snapshot-body", e);
                    continue;
                }
            };
            if v >= 2 {
                // What a reader shows of an info: everything but the chain members.
                let o = info.as_object_mut().unwrap();
                o.remove("session_id");
                o.remove("prev");
                if o.get("logged_out") == Some(&json!(false)) {
                    o.remove("logged_out");
                }
            }
            snaps.push(json!({ "info": info, "state": state }));
        }
        Ok((snaps, infos))
    }
}

/// Section 6.1's size caps: the reason a record of `len` bytes is refused, if it is.
fn above_cap(len: usize, cap: usize) -> Option<String> {
    (len > cap).then(|| format!("{len} bytes, above the cap of {cap}"))
}
