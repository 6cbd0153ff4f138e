//! Snapshot history: append (with retention and checkpoint collapsing), history, read,
//! restore. Each snapshot is two sealed records: `info` (its [`SnapshotInfo`], small, read by
//! `history`) and `body` (the encoded [`BrowserState`]).

use pvault_model::{BrowserState, SnapshotInfo, SnapshotKind};
use rusqlite::{OptionalExtension, Transaction, params};
use zeroize::Zeroizing;

use crate::Snapshot;
use crate::chain;
use crate::codec::{self, ChainedInfo, MAX_BODY_SEALED, RECORD_SCHEMA_VERSION};
use crate::error::{Result, VaultError};
use crate::keys::hex_id;
use crate::profiles::OpenProfile;
use crate::seal::{self, OVERHEAD, RecordKind};
use crate::snapshot_rows::{COLS, find_row, fix_id, open_body, open_info, row_from};
use crate::vault::{Keys, Vault};

/// Longest session id accepted by [`Vault::append_snapshot_for_session`].
pub const MAX_SESSION_ID_LEN: usize = 128;

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

/// A snapshot about to be appended.
#[derive(Clone, Copy)]
struct NewSnapshot<'a> {
    /// Its content.
    state: &'a BrowserState,
    /// The content encoded (the body plaintext).
    encoded: &'a [u8],
    /// How it was made.
    kind: SnapshotKind,
    /// The session that made it, if any.
    session: Option<&'a str>,
    /// Whether the logout guard applies (a `--save` session's snapshot, unless the session
    /// was started with `accept_logout`).
    guard: bool,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    /// The new snapshot (`logged_out` set when the guard marked it).
    pub info: SnapshotInfo,
    /// The offline expectations the new state failed while the current snapshot passed them:
    /// non-empty exactly when the guard marked the snapshot.
    pub guard_failures: Vec<pvault_model::HealthFailure>,
    /// The snapshot sessions load after this append (the new one unless it was marked).
    pub current: Option<SnapshotInfo>,
}

impl Vault {
    /// Appends a snapshot as the newest, applying retention, in one transaction.
    pub fn append_snapshot(
        &self,
        name_or_id: &str,
        state: &BrowserState,
        kind: SnapshotKind,
    ) -> Result<SnapshotInfo> {
        self.append_inner(name_or_id, state, kind, None, false)
            .map(|a| a.info)
    }

    /// Appends a session's snapshot under the logout guard (when `guard`): if the profile has
    /// a health definition whose offline expectations (cookies, localStorage) the new state
    /// fails while the current snapshot passes them, the snapshot is stored marked
    /// `logged_out` and the current snapshot stays current (vault-format.md 7.5).
    pub fn append_guarded(
        &self,
        name_or_id: &str,
        state: &BrowserState,
        kind: SnapshotKind,
        session_id: Option<&str>,
        guard: bool,
    ) -> Result<Appended> {
        if let Some(s) = session_id {
            validate_session_id(s)?;
        }
        self.append_inner(name_or_id, state, kind, session_id, guard)
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
        self.append_inner(name_or_id, state, kind, Some(session_id), false)
            .map(|a| a.info)
    }

    fn append_inner(
        &self,
        name_or_id: &str,
        state: &BrowserState,
        kind: SnapshotKind,
        session: Option<&str>,
        guard: bool,
    ) -> Result<Appended> {
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
                let new = NewSnapshot {
                    state,
                    encoded: &encoded,
                    kind,
                    session,
                    guard,
                };
                self.append_in_tx(keys, tx, &mut open, &new)
            })
        })
    }

    /// The append itself, inside the caller's write transaction: collapse the session's
    /// earlier checkpoints, link the new snapshot to the head, apply retention, and re-seal
    /// the profile's metadata with the new head, all in that one transaction.
    fn append_in_tx(
        &self,
        keys: &Keys,
        tx: &Transaction<'_>,
        open: &mut OpenProfile,
        new: &NewSnapshot<'_>,
    ) -> Result<Appended> {
        let NewSnapshot {
            state,
            encoded,
            kind,
            session,
            guard,
        } = *new;
        let pid = open.row.id;
        let guard_failures = if guard {
            self.guard_verdict(tx, open, state)?
        } else {
            Vec::new()
        };
        let logged_out = !guard_failures.is_empty();
        // Any snapshot with a session id supersedes that session's earlier checkpoints: a new
        // checkpoint replaces the previous one (a running session checkpoints every few
        // seconds, which must not push real history out through retention), and the final
        // snapshot collapses the last one.
        if let Some(session) = session {
            let mut filter = format!(
                "session_id = ?2 AND kind = {}",
                codec::kind_code(SnapshotKind::Checkpoint)
            );
            // A marked final snapshot does not collapse the session's checkpoint that is
            // current: that is the newest logged-in state, the one the guard protects.
            if logged_out && let Some(c) = &open.meta.current {
                filter.push_str(&format!(" AND seq != {}", c.seq));
            }
            self.remove_relinking(tx, open, &filter, &session)?;
        }
        let sid = self.env.id()?;
        let seq = open.meta.next_seq;
        let now = self.env.now_ms();
        let mut public = codec::info_for(&hex_id(&sid), seq, now, kind, state, encoded);
        public.logged_out = logged_out;
        let aad_body = seal::aad_record(
            &self.vault_id,
            &pid,
            &sid,
            RecordKind::SnapshotBody,
            RECORD_SCHEMA_VERSION,
        );
        let body = seal::seal(&self.env, &open.dk, &aad_body, encoded)?;
        // Retention keeps the newest N by seq, the new snapshot included (N >= 1, so it always
        // stays): the oldest rows go *before* the new row is inserted. With `secure_delete`
        // the pages a pruned body frees are zeroed, and the insert then reuses them in the
        // same transaction, so each page reaches the WAL once, with the new content. Pruning
        // after the insert wrote every pruned body's pages twice (zeroes, then nothing new in
        // them): twice the bytes of a plain insert to the WAL and to the disk.
        let keep: i64 = tx
            .prepare_cached("SELECT retention FROM vault WHERE singleton = 1")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(VaultError::storage("apply retention"))?;
        self.prune(tx, open, keep.max(1) as u64 - 1, logged_out)?;
        // The predecessor is the head (or the anchor) as retention left it: the head itself
        // when only older rows went, or, when retention removed marked rows above the current
        // snapshot, the newest that remains.
        let info = ChainedInfo::new(&public, session, chain::predecessor(open));
        let sealed_info = self.seal_info(open, &sid, RECORD_SCHEMA_VERSION, &info)?;
        tx.prepare_cached(
            "INSERT INTO snapshots (snapshot_id, profile_id, seq, kind, created_at, schema_version, size_bytes,
                                    session_id, info, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                &sid[..],
                &pid[..],
                seq as i64,
                codec::kind_code(kind),
                now,
                RECORD_SCHEMA_VERSION,
                encoded.len() as i64,
                session,
                sealed_info,
                body
            ])
        })
        .map_err(VaultError::storage("insert snapshot"))?;
        open.meta.snapshot_count += 1;
        open.meta.latest = Some(public.clone());
        open.meta.cookie_domains = state.cookie_domains();
        open.meta.origins = state.origin_names();
        open.changed_at(now);
        open.meta.next_seq = seq + 1;
        if !logged_out {
            open.meta.current = Some(info.link());
        }
        self.store_meta(keys, tx, open)?;
        let current = if logged_out {
            self.current_info(tx, open)?.map(|c| c.public())
        } else {
            Some(public.clone())
        };
        Ok(Appended {
            info: public,
            guard_failures,
            current,
        })
    }

    /// The history, newest first.
    pub fn history(&self, name_or_id: &str) -> Result<Vec<SnapshotInfo>> {
        self.with_keys(|keys| {
            self.store.read(|tx| {
                let open = self.resolve(tx, keys, name_or_id)?;
                let cols = COLS.replace(", body", "");
                let mut stmt = tx
                    .prepare(&format!(
                        "SELECT {cols} FROM snapshots WHERE profile_id = ?1 ORDER BY seq DESC"
                    ))
                    .map_err(VaultError::storage("history"))?;
                let rows = stmt
                    .query_map([&open.row.id[..]], |r| row_from(r, false))
                    .map_err(VaultError::storage("history"))?;
                let mut infos = Vec::new();
                for row in rows {
                    let row = fix_id(row.map_err(VaultError::storage("history"))?)?;
                    infos.push(open_info(&self.vault_id, &open.dk, &open.row.id, &row)?);
                }
                // The whole history is at hand: refuse it unless it is exactly the chain the
                // sealed metadata names.
                if let Some((_, problem)) =
                    crate::verify::chain_problems(&open.meta, &infos).first()
                {
                    return Err(VaultError::corrupt(format!(
                        "history of profile {}: {problem}",
                        hex::encode(open.row.id)
                    )));
                }
                Ok(infos.iter().map(ChainedInfo::public).collect())
            })
        })
    }

    /// Reads a snapshot; `snapshot` is a seq number, a full id or a unique id prefix of at least
    /// 6 hex digits, `latest` for the newest, or `None` (or `current`) for the current one:
    /// the newest the logout guard did not mark (`not_found` if there is none).
    pub fn read_snapshot(&self, name_or_id: &str, snapshot: Option<&str>) -> Result<Snapshot> {
        self.with_keys(|keys| {
            self.store.read(|tx| {
                let open = self.resolve(tx, keys, name_or_id)?;
                self.load_snapshot(tx, &open, name_or_id, snapshot)
            })
        })
    }

    pub(crate) fn load_snapshot(
        &self,
        tx: &Transaction<'_>,
        open: &OpenProfile,
        name_or_id: &str,
        selector: Option<&str>,
    ) -> Result<Snapshot> {
        if matches!(selector, None | Some("current")) {
            let Some(current) = &open.meta.current else {
                return Err(VaultError::SnapshotNotFound {
                    profile: name_or_id.to_owned(),
                    snapshot: "current".into(),
                });
            };
            let row = find_row(tx, &open.row.id, name_or_id, Some(&current.seq.to_string()))?;
            let info = open_info(&self.vault_id, &open.dk, &open.row.id, &row)?;
            // The sealed metadata names the current snapshot by seq and content hash: a row
            // put back in its place must not serve another login.
            if info.link() != *current || info.logged_out {
                return Err(VaultError::corrupt(format!(
                    "the current snapshot of profile {} is not the one its sealed metadata names",
                    hex::encode(open.row.id)
                )));
            }
            // Every snapshot above it must be marked: a metadata that names an older snapshot
            // as current (an older sealed copy put back) must not serve an older login.
            for above in chain::rows_where(tx, open, "seq > ?2", &(current.seq as i64))? {
                if !open_info(&self.vault_id, &open.dk, &open.row.id, &above)?.logged_out {
                    return Err(VaultError::corrupt(format!(
                        "the current snapshot of profile {} is not the newest unmarked one",
                        hex::encode(open.row.id)
                    )));
                }
            }
            let state = open_body(&self.vault_id, &open.dk, &open.row.id, &row, &info)?;
            return Ok(Snapshot {
                info: info.public(),
                state,
            });
        }
        let row = find_row(tx, &open.row.id, name_or_id, selector)?;
        let info = open_info(&self.vault_id, &open.dk, &open.row.id, &row)?;
        // The newest row must be the head the sealed metadata names: a deleted newest row
        // (or a metadata put back from an older copy) must not silently serve an older login.
        if selector == Some("latest")
            && open.meta.latest.as_ref().map(|h| (h.seq, &h.content_hash))
                != Some((info.seq, &info.content_hash))
        {
            return Err(VaultError::corrupt(format!(
                "the newest snapshot of profile {} is not the head its sealed metadata names",
                hex::encode(open.row.id)
            )));
        }
        let state = open_body(&self.vault_id, &open.dk, &open.row.id, &row, &info)?;
        Ok(Snapshot {
            info: info.public(),
            state,
        })
    }

    /// Deletes the `checkpoint` snapshots that session `session_id` left in a profile (a
    /// session stopped with "discard" keeps nothing) and returns how many; the profile's
    /// newest-snapshot metadata then names the newest remaining one.
    pub fn discard_session_checkpoints(&self, name_or_id: &str, session_id: &str) -> Result<usize> {
        validate_session_id(session_id)?;
        self.with_keys(|keys| {
            self.store.write(|tx| {
                let mut open = self.resolve(tx, keys, name_or_id)?;
                let filter = format!(
                    "session_id = ?2 AND kind = {}",
                    codec::kind_code(SnapshotKind::Checkpoint)
                );
                let n = self.remove_relinking(tx, &mut open, &filter, &session_id)?;
                if n == 0 {
                    return Ok(0);
                }
                match self.load_snapshot(tx, &open, name_or_id, Some("latest")) {
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
                open.changed_at(self.env.now_ms());
                self.store_meta(keys, tx, &mut open)?;
                Ok(n)
            })
        })
    }

    /// Test vectors only: replaces a stored snapshot's body plaintext with `body` (version
    /// byte included) sealed under `schema_version`, and its info (content hash and size
    /// updated, nothing else: the chain then names the old content hash) likewise, as a
    /// defective writer would have left it. Never use it on a real vault: it bypasses every
    /// check of the writer.
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
                let info_pt = codec::encode_info(&info)?;
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
                // Keep the chain naming the new content, so the body is the only defect.
                let mut open = open;
                let cols = COLS.replace(", body", "");
                let next = tx
                    .query_row(
                        &format!("SELECT {cols} FROM snapshots WHERE profile_id = ?1 AND seq > ?2 ORDER BY seq LIMIT 1"),
                        params![&pid[..], row.seq],
                        |r| row_from(r, false),
                    )
                    .optional()
                    .map_err(VaultError::storage("rewrite snapshot"))?;
                match next {
                    Some(next) => {
                        let next = fix_id(next)?;
                        let mut ni = open_info(&self.vault_id, &open.dk, &pid, &next)?;
                        ni.prev = Some(info.link());
                        let schema = u16::try_from(next.schema_version).unwrap_or(u16::MAX);
                        let sealed = self.seal_info(&open, &next.id, schema, &ni)?;
                        tx.execute(
                            "UPDATE snapshots SET info = ?1 WHERE snapshot_id = ?2",
                            params![sealed, &next.id[..]],
                        )
                        .map_err(VaultError::storage("rewrite snapshot"))?;
                    }
                    None => {
                        open.meta.latest = Some(info.public());
                    }
                }
                if open.meta.current.as_ref().map(|c| c.seq) == Some(info.seq) {
                    open.meta.current = Some(info.link());
                }
                self.store_meta(keys, tx, &mut open)?;
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
                let new = NewSnapshot {
                    state: &old.state,
                    encoded: &encoded,
                    kind: SnapshotKind::Restore,
                    session: None,
                    guard: false,
                };
                self.append_in_tx(keys, tx, &mut open, &new).map(|a| a.info)
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
