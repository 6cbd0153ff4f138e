//! `verify`: authenticates every sealed record, checks every plaintext column against its
//! sealed copy and every profile's history against its chain, and names each defect.
//!
//! Keyslots other than the one that unlocked cannot be opened without their credential, so
//! `verify` requires an unlocked vault and checks everything under the master key.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Transaction;

use crate::VerifyReport;
use crate::codec::{ChainedInfo, ProfileMeta};
use crate::error::{Result, VaultError};
use crate::keys::Id;
use crate::profile_rows::{self, ProfileRow};
use crate::profiles;
use crate::report::{Finding, Problem, RecordRef};
use crate::snapshot_rows::{self, COLS, SnapshotRow};
use crate::vault::{Keys, Vault};

/// Every defect of a profile's history given its sealed metadata and the sealed infos of its
/// rows (any order), as `(seq, problem)`. Empty when the rows are exactly the chain the
/// metadata names: the head, each predecessor down to the anchor, nothing else.
pub(crate) fn chain_problems(
    meta: &ProfileMeta,
    infos: &[ChainedInfo],
) -> Vec<(Option<u64>, Problem)> {
    chain_problems_with(meta, infos, 0)
}

/// [`chain_problems`] when `unreadable` more rows exist whose info did not open (reported on
/// their own): they count as rows, but a link to one of them is a link to a missing snapshot,
/// never proof that the anchor is wrong.
fn chain_problems_with(
    meta: &ProfileMeta,
    infos: &[ChainedInfo],
    unreadable: u64,
) -> Vec<(Option<u64>, Problem)> {
    let mut out = Vec::new();
    let by_seq: BTreeMap<u64, &ChainedInfo> = infos.iter().map(|i| (i.seq, i)).collect();
    let head = meta
        .latest
        .as_ref()
        .map(|h| (h.seq, h.content_hash.clone()));
    let head_seq = head.as_ref().map_or(0, |h| h.0);
    let mut flagged = BTreeSet::new();
    for &seq in by_seq.keys() {
        if seq > head_seq || seq >= meta.next_seq {
            out.push((Some(seq), Problem::RolledBack { head_seq }));
            flagged.insert(seq);
        }
    }
    let mut visited = BTreeSet::new();
    // Walk from the head down. When a link is broken, carry on from the next row below it,
    // so one deletion does not hide other defects.
    let mut cur = head;
    while let Some((seq, hash)) = cur.take() {
        let node = match by_seq.get(&seq) {
            Some(n) if n.content_hash == hash => *n,
            Some(n) => {
                out.push((Some(seq), Problem::ContentMismatch { seq }));
                *n
            }
            None => {
                out.push((Some(seq), Problem::Missing { seq }));
                cur = by_seq
                    .range(..seq)
                    .next_back()
                    .map(|(s, i)| (*s, i.content_hash.clone()));
                continue;
            }
        };
        if !visited.insert(seq) {
            break;
        }
        match &node.prev {
            None => {
                if meta.anchor.is_some() {
                    out.push((Some(seq), Problem::AnchorMismatch));
                }
            }
            // The anchor ends the chain even if a row with its seq is there: retention
            // removed that snapshot, so such a row was put back.
            Some(link) if meta.anchor.as_ref() == Some(link) => {}
            Some(link) if link.seq >= seq => {
                out.push((
                    Some(seq),
                    Problem::Reordered {
                        sealed_seq: link.seq,
                        column_seq: seq as i64,
                    },
                ));
            }
            Some(link) if by_seq.contains_key(&link.seq) => {
                cur = Some((link.seq, link.content_hash.clone()));
            }
            Some(link) => {
                // At the bottom of the chain, with every counted row present, nothing was
                // deleted: the anchor itself is wrong.
                let bottom = by_seq.range(..link.seq).next().is_none();
                let all_there = unreadable == 0 && infos.len() as u64 == meta.snapshot_count;
                match &meta.anchor {
                    Some(a) if a.seq == link.seq => out.push((Some(seq), Problem::AnchorMismatch)),
                    _ if bottom && all_there => out.push((Some(seq), Problem::AnchorMismatch)),
                    _ => {
                        out.push((Some(link.seq), Problem::Missing { seq: link.seq }));
                    }
                }
                cur = by_seq
                    .range(..link.seq)
                    .next_back()
                    .map(|(s, i)| (*s, i.content_hash.clone()));
            }
        }
    }
    for &seq in by_seq.keys() {
        if !visited.contains(&seq) && !flagged.contains(&seq) {
            out.push((Some(seq), Problem::Unexpected));
        }
    }
    // The current snapshot is the newest unmarked one (vault-format.md 7.5).
    let newest_unmarked = by_seq
        .values()
        .rev()
        .find(|i| !i.logged_out)
        .map(|i| i.link());
    if newest_unmarked != meta.current {
        out.push((
            meta.current.as_ref().map(|c| c.seq),
            Problem::CurrentMismatch {
                sealed: meta.current.as_ref().map(|c| c.seq),
            },
        ));
    }
    let found = infos.len() as u64 + unreadable;
    if found != meta.snapshot_count {
        out.push((
            None,
            Problem::CountMismatch {
                sealed: meta.snapshot_count,
                found,
            },
        ));
    }
    out
}

/// `profile_id, key_version, wrapped_dk, meta, name_hash, created_at, updated_at,
/// last_used_at, next_seq` of one profile row.
type ProfileCols = (
    Vec<u8>,
    i64,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    Option<i64>,
    i64,
);

impl Vault {
    /// Authenticates every sealed record and checks every history; lists every defect.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.with_keys(|keys| self.store.read(|tx| self.verify_in(tx, keys)))
    }

    fn verify_in(&self, tx: &Transaction<'_>, keys: &Keys) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut stmt = tx
            .prepare(
                "SELECT profile_id, key_version, wrapped_dk, meta, name_hash, created_at,
                        updated_at, last_used_at, next_seq FROM profiles ORDER BY profile_id",
            )
            .map_err(VaultError::storage("verify"))?;
        let rows: Vec<ProfileCols> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .map_err(VaultError::storage("verify"))?
            .collect::<rusqlite::Result<_>>()
            .map_err(VaultError::storage("verify"))?;
        for (id, kv, wrapped_dk, meta, name_hash, created, updated, used, next_seq) in rows {
            let Ok(pid) = <Id>::try_from(id.as_slice()) else {
                report.push(Finding {
                    profile: hex::encode(&id),
                    snapshot: None,
                    seq: None,
                    record: RecordRef::ProfileMeta,
                    problem: Problem::Edited {
                        column: "profile_id",
                    },
                });
                continue;
            };
            let snaps = self.snapshot_rows(tx, &pid)?;
            let row = ProfileRow {
                id: pid,
                key_version: u32::try_from(kv).unwrap_or(u32::MAX),
                wrapped_dk,
                meta,
                created_at: created,
                updated_at: updated,
                last_used_at: used,
                next_seq,
                snapshot_count: snaps.len() as i64,
            };
            self.verify_profile(keys, &row, &name_hash, snaps, &mut report);
        }
        Ok(report)
    }

    /// Every snapshot row of a profile, bodies included, by seq column.
    fn snapshot_rows(&self, tx: &Transaction<'_>, pid: &Id) -> Result<Vec<SnapshotRow>> {
        let mut stmt = tx
            .prepare(&format!(
                "SELECT {COLS} FROM snapshots WHERE profile_id = ?1 ORDER BY seq"
            ))
            .map_err(VaultError::storage("verify"))?;
        let rows = stmt
            .query_map([&pid[..]], |r| snapshot_rows::row_from(r, true))
            .map_err(VaultError::storage("verify"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(VaultError::storage("verify"))?;
        // A snapshot id of the wrong length is kept with a zero id: its info will not open.
        Ok(rows
            .into_iter()
            .map(|(id, mut row)| {
                row.id = <Id>::try_from(id.as_slice()).unwrap_or([0; 16]);
                row
            })
            .collect())
    }

    fn verify_profile(
        &self,
        keys: &Keys,
        row: &ProfileRow,
        name_hash: &[u8],
        snaps: Vec<SnapshotRow>,
        report: &mut VerifyReport,
    ) {
        let p = hex::encode(row.id);
        let finding = |record, snapshot: Option<&SnapshotRow>, seq, problem| Finding {
            profile: p.clone(),
            snapshot: snapshot.map(|s| hex::encode(s.id)),
            seq,
            record,
            problem,
        };
        let unreadable = |e: VaultError| Problem::Unreadable {
            code: e.code(),
            error: e.to_string(),
        };
        let dk = match profile_rows::unwrap_dk(&self.vault_id, keys, row) {
            Ok(dk) => {
                report.ok += 1;
                dk
            }
            Err(e) => {
                report.push(finding(RecordRef::DataKey, None, None, unreadable(e)));
                report.push(finding(
                    RecordRef::ProfileMeta,
                    None,
                    None,
                    Problem::NotCheckable {
                        because: "the data key",
                    },
                ));
                for s in &snaps {
                    report.push(finding(
                        RecordRef::SnapshotInfo,
                        Some(s),
                        u64::try_from(s.seq).ok(),
                        Problem::NotCheckable {
                            because: "the data key",
                        },
                    ));
                }
                return;
            }
        };
        let meta = match profile_rows::open_meta(&self.vault_id, dk.expose(), row) {
            Ok(meta) => {
                report.ok += 1;
                if profiles::name_hash(keys, &meta.name)[..] != name_hash[..] {
                    report.push(finding(
                        RecordRef::NameIndex,
                        None,
                        None,
                        Problem::Edited {
                            column: "name_hash",
                        },
                    ));
                }
                for column in profile_rows::edited_columns(&row.columns(), &meta) {
                    // The count is a property of the history, reported with it below.
                    if column != "snapshot count" {
                        report.push(finding(
                            RecordRef::ProfileMeta,
                            None,
                            None,
                            Problem::Edited { column },
                        ));
                    }
                }
                Some(meta)
            }
            Err(e) => {
                report.push(finding(RecordRef::ProfileMeta, None, None, unreadable(e)));
                None
            }
        };
        let column_seqs: BTreeSet<i64> = snaps.iter().map(|s| s.seq).collect();
        let mut infos = Vec::new();
        for s in &snaps {
            let info = match snapshot_rows::open_chained(&self.vault_id, &dk, &row.id, s) {
                Ok(info) => {
                    report.ok += 1;
                    info
                }
                Err(e) => {
                    let seq = u64::try_from(s.seq).ok();
                    report.push(finding(
                        RecordRef::SnapshotInfo,
                        Some(s),
                        seq,
                        unreadable(e),
                    ));
                    report.push(finding(
                        RecordRef::SnapshotBody,
                        Some(s),
                        seq,
                        Problem::NotCheckable {
                            because: "its info",
                        },
                    ));
                    continue;
                }
            };
            for column in snapshot_rows::edited_columns(s, &info) {
                let problem = if column == "seq" && column_seqs.contains(&(info.seq as i64)) {
                    Problem::Reordered {
                        sealed_seq: info.seq,
                        column_seq: s.seq,
                    }
                } else {
                    Problem::Edited { column }
                };
                report.push(finding(
                    RecordRef::SnapshotInfo,
                    Some(s),
                    Some(info.seq),
                    problem,
                ));
            }
            match snapshot_rows::open_body(&self.vault_id, &dk, &row.id, s, &info) {
                Ok(_) => report.ok += 1,
                Err(e) => report.push(finding(
                    RecordRef::SnapshotBody,
                    Some(s),
                    Some(info.seq),
                    unreadable(e),
                )),
            }
            infos.push((s, info));
        }
        let Some(meta) = meta else {
            return;
        };
        let chained: Vec<ChainedInfo> = infos.iter().map(|(_, i)| i.clone()).collect();
        // A row whose info did not open is already reported; it counts as present so it is
        // not reported a second time as a count mismatch.
        let unreadable = (snaps.len() - chained.len()) as u64;
        for (seq, problem) in chain_problems_with(&meta, &chained, unreadable) {
            let row = seq.and_then(|q| infos.iter().find(|(_, i)| i.seq == q).map(|(r, _)| *r));
            let record = if row.is_some() {
                RecordRef::SnapshotInfo
            } else {
                RecordRef::History
            };
            report.push(finding(record, row, seq, problem));
        }
    }
}

impl VerifyReport {
    /// Adds a finding and its one-line rendering.
    fn push(&mut self, f: Finding) {
        self.failures.push(f.to_string());
        self.findings.push(f);
    }
}
