//! Snapshot history: append (with retention and checkpoint collapsing), history, read,
//! restore. Each snapshot is two sealed records: `info` (its [`SnapshotInfo`], small, read by
//! `history`) and `body` (the encoded [`BrowserState`]).

use pvault_model::{BrowserState, SnapshotInfo, SnapshotKind};
use rusqlite::{OptionalExtension, Transaction, params};
use zeroize::Zeroizing;

use crate::Snapshot;
use crate::codec::{
    self, MAX_BODY_SEALED, MAX_INFO_SEALED, READABLE_SNAPSHOT_SCHEMAS, RECORD_SCHEMA_VERSION,
};
use crate::error::{Result, VaultError};
use crate::keys::{Id, SecretKey};
use crate::profiles::OpenProfile;
use crate::seal::{self, OVERHEAD, RecordKind};
use crate::vault::Vault;

/// Longest session id accepted by [`Vault::append_snapshot_for_session`].
pub const MAX_SESSION_ID_LEN: usize = 128;

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
    /// Sealed info.
    pub info: Vec<u8>,
    /// Sealed body, if loaded.
    pub body: Option<Vec<u8>>,
}

fn record_name(profile: &Id, snap: &Id, kind: RecordKind) -> String {
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

/// Opens a snapshot's info and checks the plaintext columns agree with it.
pub(crate) fn open_info(
    vault_id: &Id,
    dk: &SecretKey,
    profile: &Id,
    row: &SnapshotRow,
) -> Result<SnapshotInfo> {
    let pt = open_record(
        vault_id,
        dk,
        profile,
        row,
        RecordKind::SnapshotInfo,
        &row.info,
    )?;
    let info = codec::decode_info(&pt)?;
    if info.seq as i64 != row.seq
        || codec::kind_code(info.kind) != row.kind
        || info.id != hex::encode(row.id)
    {
        return Err(VaultError::corrupt(format!(
            "plaintext columns of {} disagree with its sealed info",
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
    info: &SnapshotInfo,
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

fn row_from(r: &rusqlite::Row<'_>, with_body: bool) -> rusqlite::Result<(Vec<u8>, SnapshotRow)> {
    Ok((
        r.get(0)?,
        SnapshotRow {
            id: [0; 16],
            seq: r.get(1)?,
            kind: r.get(2)?,
            schema_version: r.get(3)?,
            info: r.get(4)?,
            body: if with_body { Some(r.get(5)?) } else { None },
        },
    ))
}

fn fix_id((id, mut row): (Vec<u8>, SnapshotRow)) -> Result<SnapshotRow> {
    row.id = id
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::corrupt("snapshot id is not 16 bytes"))?;
    Ok(row)
}

const COLS: &str = "snapshot_id, seq, kind, schema_version, info, body";

/// Checks a session id: `^[A-Za-z0-9._-]{1,128}$` (it is stored in plaintext, so it must be
/// a random identifier, never a secret).
fn validate_session_id(s: &str) -> Result<()> {
    if s.is_empty()
        || s.len() > MAX_SESSION_ID_LEN
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(VaultError::InvalidArgument {
            what: "session id",
            reason: "expected 1-128 characters of A-Z a-z 0-9 . _ -".into(),
        });
    }
    Ok(())
}

impl Vault {
    /// Appends a snapshot as the newest, applying retention, in one transaction.
    pub fn append_snapshot(
        &self,
        name_or_id: &str,
        state: &BrowserState,
        kind: SnapshotKind,
    ) -> Result<SnapshotInfo> {
        self.append_inner(name_or_id, state, kind, None)
    }

    /// Like [`Vault::append_snapshot`], tagging the snapshot with the session that made it.
    /// Appending a snapshot of any kind other than `checkpoint` deletes that session's earlier
    /// checkpoints in the same transaction (a session's final snapshot supersedes them).
    pub fn append_snapshot_for_session(
        &self,
        name_or_id: &str,
        state: &BrowserState,
        kind: SnapshotKind,
        session_id: &str,
    ) -> Result<SnapshotInfo> {
        validate_session_id(session_id)?;
        self.append_inner(name_or_id, state, kind, Some(session_id))
    }

    fn append_inner(
        &self,
        name_or_id: &str,
        state: &BrowserState,
        kind: SnapshotKind,
        session: Option<&str>,
    ) -> Result<SnapshotInfo> {
        let encoded = Zeroizing::new(codec::encode_state(state)?);
        if encoded.len() + OVERHEAD > MAX_BODY_SEALED {
            return Err(VaultError::TooLarge {
                what: format!(
                    "snapshot of profile {name_or_id:?} ({} bytes encoded{})",
                    encoded.len(),
                    largest_part(state)
                ),
                limit: (MAX_BODY_SEALED - OVERHEAD) as u64,
            });
        }
        self.with_keys(|keys| {
            self.store.write(|tx| {
                let mut open = self.resolve(tx, keys, name_or_id)?;
                self.append_in_tx(tx, &mut open, state, &encoded, kind, session)
            })
        })
    }

    /// The append itself, inside the caller's write transaction.
    fn append_in_tx(
        &self,
        tx: &Transaction<'_>,
        open: &mut OpenProfile,
        state: &BrowserState,
        encoded: &[u8],
        kind: SnapshotKind,
        session: Option<&str>,
    ) -> Result<SnapshotInfo> {
        let pid = open.row.id;
        let sid = self.env.id()?;
        let seq = open.row.next_seq;
        let now = self.env.now_ms();
        let info = codec::info_for(&hex::encode(sid), seq as u64, now, kind, state, encoded);
        let aad_body = seal::aad_record(
            &self.vault_id,
            &pid,
            &sid,
            RecordKind::SnapshotBody,
            RECORD_SCHEMA_VERSION,
        );
        let aad_info = seal::aad_record(
            &self.vault_id,
            &pid,
            &sid,
            RecordKind::SnapshotInfo,
            RECORD_SCHEMA_VERSION,
        );
        let body = seal::seal(&self.env, &open.dk, &aad_body, encoded)?;
        let sealed_info = seal::seal(&self.env, &open.dk, &aad_info, &codec::encode_info(&info)?)?;
        tx.execute(
            "INSERT INTO snapshots (snapshot_id, profile_id, seq, kind, created_at, schema_version, size_bytes,
                                    session_id, info, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                &sid[..],
                &pid[..],
                seq,
                codec::kind_code(kind),
                now,
                RECORD_SCHEMA_VERSION,
                encoded.len() as i64,
                session,
                sealed_info,
                body
            ],
        )
        .map_err(VaultError::storage("insert snapshot"))?;
        // Any snapshot with a session id supersedes that session's earlier checkpoints: a new
        // checkpoint replaces the previous one (a running session checkpoints every few
        // seconds, which must not push real history out through retention), and the final
        // snapshot collapses the last one.
        if let Some(session) = session {
            tx.execute(
                "DELETE FROM snapshots WHERE profile_id = ?1 AND session_id = ?2 AND kind = ?3 AND seq <> ?4",
                params![
                    &pid[..],
                    session,
                    codec::kind_code(SnapshotKind::Checkpoint),
                    seq
                ],
            )
            .map_err(VaultError::storage("collapse checkpoints"))?;
        }
        // Retention: keep the newest N by seq (N >= 1, so the new snapshot always stays).
        tx.execute(
            "DELETE FROM snapshots WHERE profile_id = ?1 AND seq NOT IN (
                 SELECT seq FROM snapshots WHERE profile_id = ?1 ORDER BY seq DESC
                 LIMIT (SELECT retention FROM vault WHERE singleton = 1))",
            [&pid[..]],
        )
        .map_err(VaultError::storage("apply retention"))?;
        open.meta.latest = Some(info.clone());
        open.meta.cookie_domains = state.cookie_domains();
        open.meta.origins = state.origin_names();
        let sealed_meta = self.seal_meta(&open.dk, &pid, &open.meta)?;
        tx.execute(
            "UPDATE profiles SET meta = ?1, updated_at = ?2, next_seq = ?3 WHERE profile_id = ?4",
            params![sealed_meta, now, seq + 1, &pid[..]],
        )
        .map_err(VaultError::storage("update profile after append"))?;
        Ok(info)
    }

    /// The history, newest first.
    pub fn history(&self, name_or_id: &str) -> Result<Vec<SnapshotInfo>> {
        self.with_keys(|keys| {
            self.store.read(|tx| {
                let open = self.resolve(tx, keys, name_or_id)?;
                let mut stmt = tx
                    .prepare(
                        "SELECT snapshot_id, seq, kind, schema_version, info FROM snapshots
                              WHERE profile_id = ?1 ORDER BY seq DESC",
                    )
                    .map_err(VaultError::storage("history"))?;
                let rows = stmt
                    .query_map([&open.row.id[..]], |r| row_from(r, false))
                    .map_err(VaultError::storage("history"))?;
                let mut out = Vec::new();
                for row in rows {
                    let row = fix_id(row.map_err(VaultError::storage("history"))?)?;
                    out.push(open_info(&self.vault_id, &open.dk, &open.row.id, &row)?);
                }
                Ok(out)
            })
        })
    }

    /// Reads a snapshot; `snapshot` is a seq number, a full id or a unique id prefix of at least
    /// 6 hex digits, or `None` for the newest (`not_found` if the history is empty).
    pub fn read_snapshot(&self, name_or_id: &str, snapshot: Option<&str>) -> Result<Snapshot> {
        self.with_keys(|keys| {
            self.store.read(|tx| {
                let open = self.resolve(tx, keys, name_or_id)?;
                self.load_snapshot(tx, &open, name_or_id, snapshot)
            })
        })
    }

    fn load_snapshot(
        &self,
        tx: &Transaction<'_>,
        open: &OpenProfile,
        name_or_id: &str,
        selector: Option<&str>,
    ) -> Result<Snapshot> {
        let row = find_row(tx, &open.row.id, name_or_id, selector)?;
        let info = open_info(&self.vault_id, &open.dk, &open.row.id, &row)?;
        let state = open_body(&self.vault_id, &open.dk, &open.row.id, &row, &info)?;
        Ok(Snapshot { info, state })
    }

    /// Deletes the `checkpoint` snapshots that session `session_id` left in a profile (a
    /// session stopped with "discard" keeps nothing) and returns how many; the profile's
    /// newest-snapshot metadata then names the newest remaining one.
    pub fn discard_session_checkpoints(&self, name_or_id: &str, session_id: &str) -> Result<usize> {
        validate_session_id(session_id)?;
        self.with_keys(|keys| {
            self.store.write(|tx| {
                let mut open = self.resolve(tx, keys, name_or_id)?;
                let pid = open.row.id;
                let n = tx
                    .execute(
                        "DELETE FROM snapshots WHERE profile_id = ?1 AND session_id = ?2 AND kind = ?3",
                        params![
                            &pid[..],
                            session_id,
                            codec::kind_code(SnapshotKind::Checkpoint)
                        ],
                    )
                    .map_err(VaultError::storage("discard checkpoints"))?;
                if n == 0 {
                    return Ok(0);
                }
                match self.load_snapshot(tx, &open, name_or_id, None) {
                    Ok(newest) => {
                        open.meta.cookie_domains = newest.state.cookie_domains();
                        open.meta.origins = newest.state.origin_names();
                        open.meta.latest = Some(newest.info);
                    }
                    Err(VaultError::SnapshotNotFound { .. }) => {
                        open.meta.latest = None;
                        open.meta.cookie_domains.clear();
                        open.meta.origins.clear();
                    }
                    Err(e) => return Err(e),
                }
                let sealed_meta = self.seal_meta(&open.dk, &pid, &open.meta)?;
                tx.execute(
                    "UPDATE profiles SET meta = ?1, updated_at = ?2 WHERE profile_id = ?3",
                    params![sealed_meta, self.env.now_ms(), &pid[..]],
                )
                .map_err(VaultError::storage("update profile after discard"))?;
                Ok(n)
            })
        })
    }

    /// Test vectors only: replaces a stored snapshot's body plaintext with `body` (version
    /// byte included) sealed under `schema_version`, and its info (content hash and size
    /// updated; the schema-2 counts left out for schema 1, whose info had none) likewise,
    /// as an older build or a defective writer would have left it. Never use it on a real
    /// vault: it bypasses every check of the writer.
    #[doc(hidden)]
    pub fn rewrite_snapshot_for_test_vectors(
        &self,
        name_or_id: &str,
        snapshot: &str,
        schema_version: u16,
        body: &[u8],
    ) -> Result<()> {
        self.with_keys(|keys| {
            self.store.write(|tx| {
                let open = self.resolve(tx, keys, name_or_id)?;
                let row = find_row(tx, &open.row.id, name_or_id, Some(snapshot))?;
                let mut info = open_info(&self.vault_id, &open.dk, &open.row.id, &row)?;
                info.content_hash = codec::content_hash(body);
                info.size_bytes = body.len() as u64;
                let mut info_json = serde_json::to_value(&info)
                    .map_err(|e| VaultError::corrupt(format!("info: {e}")))?;
                if schema_version == 1
                    && let Some(o) = info_json.as_object_mut()
                {
                    o.remove("session_storage_key_count");
                    o.remove("indexed_db_record_count");
                }
                let mut info_pt = vec![codec::PLAINTEXT_VERSION];
                serde_json::to_writer(&mut info_pt, &info_json)
                    .map_err(|e| VaultError::corrupt(format!("info: {e}")))?;
                let pid = open.row.id;
                let aad = |kind| seal::aad_record(&self.vault_id, &pid, &row.id, kind, schema_version);
                let sealed_body = seal::seal(&self.env, &open.dk, &aad(RecordKind::SnapshotBody), body)?;
                let sealed_info =
                    seal::seal(&self.env, &open.dk, &aad(RecordKind::SnapshotInfo), &info_pt)?;
                tx.execute(
                    "UPDATE snapshots SET schema_version = ?1, size_bytes = ?2, info = ?3, body = ?4 WHERE snapshot_id = ?5",
                    params![schema_version, body.len() as i64, sealed_info, sealed_body, &row.id[..]],
                )
                .map_err(VaultError::storage("rewrite snapshot"))?;
                Ok(())
            })
        })
    }

    /// Appends a copy of an older snapshot as the newest (kind `restore`).
    pub fn restore(&self, name_or_id: &str, snapshot: &str) -> Result<SnapshotInfo> {
        self.with_keys(|keys| {
            self.store.write(|tx| {
                let mut open = self.resolve(tx, keys, name_or_id)?;
                let old = self.load_snapshot(tx, &open, name_or_id, Some(snapshot))?;
                let encoded = Zeroizing::new(codec::encode_state(&old.state)?);
                self.append_in_tx(
                    tx,
                    &mut open,
                    &old.state,
                    &encoded,
                    SnapshotKind::Restore,
                    None,
                )
            })
        })
    }
}

/// Names the origin (and its IndexedDB database) taking the most room, so a refusal says
/// where the size comes from. Names only, never content.
fn largest_part(state: &BrowserState) -> String {
    let Some((origin, bytes)) = state
        .origins
        .iter()
        .map(|o| (o, json_len(o)))
        .max_by_key(|(_, n)| *n)
    else {
        return String::new();
    };
    let mut out = format!("; largest origin {} with {bytes} bytes", origin.origin);
    if let Some((db, n)) = origin
        .databases()
        .iter()
        .map(|d| (d, json_len(d)))
        .max_by_key(|(_, n)| *n)
    {
        out.push_str(&format!(
            ", its largest IndexedDB database {:?} with {n} bytes",
            db.name
        ));
    }
    out
}

/// Length of a value's compact JSON, counted without keeping the bytes.
fn json_len<T: serde::Serialize>(v: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// Finds one snapshot row of a profile by selector.
fn find_row(
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
        tx.query_row(sql, params![&pid[..], arg], |r| row_from(r, true))
            .optional()
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
