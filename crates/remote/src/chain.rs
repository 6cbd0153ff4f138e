//! The remote chain (`remote-format.md` 7.1): the rules every pull checks, and the plan of a
//! push (7.2): append, collapse a session's checkpoints with relinking, retention.

use pvault_model::SnapshotKind;

use crate::error::{RemoteError, Result, Tamper};
use crate::{ChainedInfo, Head, Link};

/// Checks that `rows` (any order) are the chain `head` describes; returns them by seq.
pub(crate) fn verify(
    profile: &str,
    head: &Head,
    mut rows: Vec<ChainedInfo>,
) -> Result<Vec<ChainedInfo>> {
    let bad = |k: Tamper, d: String| Err(RemoteError::tampered(profile, k, d));
    rows.sort_by_key(|r| r.seq);
    if let Some(w) = rows.windows(2).find(|w| w[0].seq == w[1].seq) {
        return bad(
            Tamper::Reordered,
            format!("two records claim seq {}", w[0].seq),
        );
    }
    if let Some(r) = rows.iter().find(|r| r.seq >= head.next_seq) {
        return bad(
            Tamper::RolledBack,
            format!(
                "record seq {} is not below the head's next seq {}: the head is older than the records",
                r.seq, head.next_seq
            ),
        );
    }
    match (rows.last(), &head.latest) {
        (None, None) => {}
        (Some(top), Some(l)) if top.seq == l.seq && top.content_hash == l.content_hash => {}
        (Some(top), Some(l)) if top.seq > l.seq => {
            return bad(
                Tamper::RolledBack,
                format!("record seq {} is above the head (seq {})", top.seq, l.seq),
            );
        }
        (Some(top), Some(l)) if top.seq == l.seq => {
            return bad(
                Tamper::ContentMismatch,
                format!(
                    "the newest record (seq {}) is not the head's content",
                    top.seq
                ),
            );
        }
        (_, Some(l)) => {
            return bad(
                Tamper::Missing,
                format!("the head (seq {}) has no record", l.seq),
            );
        }
        (Some(top), None) => {
            return bad(
                Tamper::Unexpected,
                format!(
                    "record seq {} exists but the head says the history is empty",
                    top.seq
                ),
            );
        }
    }
    let mut below: Option<Link> = head.anchor.clone();
    for r in &rows {
        if r.prev != below {
            let (want, got) = (
                below.as_ref().map(|l| l.seq),
                r.prev.as_ref().map(|l| l.seq),
            );
            let kind = match (want, got) {
                (Some(w), Some(g)) if g > w => Tamper::Missing,
                (None, Some(_)) => Tamper::Missing,
                (Some(w), Some(g)) if g == w => Tamper::ContentMismatch,
                (_, Some(g)) if g >= r.seq => Tamper::Reordered,
                _ if below == head.anchor => Tamper::AnchorMismatch,
                _ => Tamper::Unexpected,
            };
            return bad(
                kind,
                format!(
                    "record seq {} links to {:?}, the chain has {:?} below it",
                    r.seq, got, want
                ),
            );
        }
        below = Some(r.link());
    }
    if rows.len() as u64 != head.snapshot_count {
        let kind = if (rows.len() as u64) < head.snapshot_count {
            Tamper::Missing
        } else {
            Tamper::Unexpected
        };
        return bad(
            kind,
            format!(
                "{} records, the head counts {}",
                rows.len(),
                head.snapshot_count
            ),
        );
    }
    Ok(rows)
}

/// One row of a planned chain.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    /// The row's info after the push.
    pub info: ChainedInfo,
    /// `Some(i)`: the `i`-th new snapshot of the push (to insert); `None`: an existing row.
    pub new: Option<usize>,
    /// An existing row whose info changed (its `prev`): to re-seal.
    pub relinked: bool,
}

/// The result of [`plan`].
#[derive(Debug)]
pub(crate) struct Plan {
    /// The rows after the push, by seq.
    pub rows: Vec<Planned>,
    /// Existing rows to delete (collapsed checkpoints, retention), as hex ids.
    pub deleted: Vec<String>,
    /// The new head's chain fields (`next_seq`, `latest`, `snapshot_count`, `anchor`).
    pub next_seq: u64,
    /// Newest.
    pub latest: Option<Link>,
    /// Last removed by retention.
    pub anchor: Option<Link>,
}

/// Plans appending `new` (infos without seq/prev yet, with their session ids) to the chain
/// `rows` of `head`, as the vault appends (`vault-format.md` 7.2).
pub(crate) fn plan(
    head: &Head,
    rows: Vec<ChainedInfo>,
    new: Vec<ChainedInfo>,
    retention: u64,
) -> Plan {
    let mut list: Vec<Planned> = rows
        .into_iter()
        .map(|info| Planned {
            info,
            new: None,
            relinked: false,
        })
        .collect();
    let mut deleted = Vec::new();
    let mut next_seq = head.next_seq;
    let mut anchor = head.anchor.clone();
    for (i, mut info) in new.into_iter().enumerate() {
        if let Some(sid) = info.session_id.clone() {
            // The session's earlier checkpoints go; the row above each is relinked.
            while let Some(pos) = list.iter().position(|p| {
                p.info.kind == SnapshotKind::Checkpoint
                    && p.info.session_id.as_deref() == Some(&sid)
            }) {
                let removed = list.remove(pos);
                if let Some(above) = list.get_mut(pos) {
                    above.info.prev = removed.info.prev.clone();
                    above.relinked = above.new.is_none();
                }
                if removed.new.is_none() {
                    deleted.push(removed.info.id);
                }
            }
        }
        info.seq = next_seq;
        next_seq += 1;
        info.prev = list
            .last()
            .map(|p| p.info.link())
            .or_else(|| anchor.clone());
        list.push(Planned {
            info,
            new: Some(i),
            relinked: false,
        });
        while list.len() as u64 > retention.max(1) {
            let removed = list.remove(0);
            anchor = Some(removed.info.link());
            if removed.new.is_none() {
                deleted.push(removed.info.id);
            }
        }
    }
    Plan {
        latest: list.last().map(|p| p.info.link()),
        rows: list,
        deleted,
        next_seq,
        anchor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Holder;

    fn info(seq: u64, hash: &str, kind: SnapshotKind, session: Option<&str>) -> ChainedInfo {
        ChainedInfo {
            id: format!("{seq:032x}"),
            seq,
            created_at: 0,
            kind,
            content_hash: hash.into(),
            size_bytes: 1,
            cookie_count: 0,
            origin_count: 0,
            local_storage_key_count: 0,
            session_storage_key_count: 0,
            indexed_db_record_count: 0,
            session_id: session.map(Into::into),
            prev: None,
            logged_out: false,
        }
    }

    fn empty_head() -> Head {
        Head {
            name: "p".into(),
            next_seq: 1,
            latest: None,
            snapshot_count: 0,
            anchor: None,
            updated_at: 0,
            writer: Holder {
                host: "h".into(),
                session: None,
                vault: "v".into(),
            },
        }
    }

    fn apply(head: &Head, plan: &Plan) -> (Head, Vec<ChainedInfo>) {
        let mut h = head.clone();
        h.next_seq = plan.next_seq;
        h.latest = plan.latest.clone();
        h.anchor = plan.anchor.clone();
        h.snapshot_count = plan.rows.len() as u64;
        (h, plan.rows.iter().map(|p| p.info.clone()).collect())
    }

    #[test]
    fn planned_chains_verify_and_collapse_checkpoints() {
        let h0 = empty_head();
        let p = plan(
            &h0,
            vec![],
            vec![
                info(0, "a", SnapshotKind::Import, None),
                info(0, "b", SnapshotKind::Checkpoint, Some("s1")),
                info(0, "c", SnapshotKind::Checkpoint, Some("s1")),
            ],
            3,
        );
        let (h1, rows) = apply(&h0, &p);
        assert_eq!(
            rows.iter()
                .map(|r| r.content_hash.as_str())
                .collect::<Vec<_>>(),
            ["a", "c"]
        );
        let rows = verify("p", &h1, rows).unwrap();
        // Final save of s1 removes checkpoint c; retention 2 prunes nothing more.
        let p = plan(
            &h1,
            rows,
            vec![
                info(0, "d", SnapshotKind::SessionSave, Some("s1")),
                info(0, "e", SnapshotKind::Capture, None),
            ],
            2,
        );
        assert_eq!(p.deleted.len(), 2, "checkpoint c and, by retention, a");
        let (h2, rows) = apply(&h1, &p);
        let rows = verify("p", &h2, rows).unwrap();
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [4, 5]);
        assert_eq!(h2.anchor.as_ref().unwrap().content_hash, "a");
        // Dropping, reordering, or an older head are each found.
        let e = verify("p", &h2, rows[1..].to_vec()).unwrap_err();
        assert!(
            matches!(
                e,
                RemoteError::Tampered {
                    kind: Tamper::Missing | Tamper::AnchorMismatch,
                    ..
                }
            ),
            "{e}"
        );
        let mut older = h2.clone();
        older.next_seq = 5;
        older.latest = Some(rows[0].link());
        older.snapshot_count = 1;
        let e = verify("p", &older, rows.clone()).unwrap_err();
        assert!(
            matches!(
                e,
                RemoteError::Tampered {
                    kind: Tamper::RolledBack,
                    ..
                }
            ),
            "{e}"
        );
    }
}
