//! The history chain under random tampering: a populated vault (sessions, a collapsed
//! checkpoint, retention pruning with an anchor, a last use, a snapshot the logout guard
//! marked), one random edit to its file (a column value, a deleted row, rows swapped between
//! snapshots or between profiles), and `verify` must report it on the record that was edited:
//! the right profile, snapshot and record, and nothing in a profile or snapshot the edit did
//! not touch. Unlocks with the key file (no Argon2id per case).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use pvault_model::SnapshotKind;
use pvault_vault::{CreateOptions, Credential, Finding, Problem, RecordRef, Vault};
use rusqlite::types::Value as Sql;
use zeroize::Zeroizing;

use crate::common::*;
use crate::golden::{golden_health, health_state};

fn keyfile() -> Credential {
    Credential::KeyFile(Zeroizing::new(vec![7u8; 32]))
}

/// The populated vault, built once.
fn populated() -> &'static Path {
    static VAULT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &VAULT
        .get_or_init(|| {
            let t = tempfile::tempdir().unwrap();
            let dir = vault_dir(&t);
            let opts = CreateOptions {
                retention: 3,
                ..fast_opts()
            };
            let v = Vault::create(&dir, &pass(PASS), &opts).unwrap();
            v.set_keyfile(&keyfile()).unwrap();
            for p in ["a", "b", "c", "d"] {
                v.create_profile(p, None, &Default::default()).unwrap();
            }
            let s = |t: &str| state_with(t);
            v.append_snapshot("a", &s("a1"), SnapshotKind::Import)
                .unwrap();
            v.append_snapshot_for_session("a", &s("a2"), SnapshotKind::Checkpoint, "s1")
                .unwrap();
            v.append_snapshot("a", &s("a3"), SnapshotKind::Capture)
                .unwrap();
            v.append_snapshot_for_session("a", &s("a4"), SnapshotKind::SessionSave, "s1")
                .unwrap();
            v.append_snapshot("a", &s("a5"), SnapshotKind::Capture)
                .unwrap();
            v.append_snapshot("b", &s("b1"), SnapshotKind::Import)
                .unwrap();
            v.append_snapshot_for_session("b", &s("b2"), SnapshotKind::Checkpoint, "s2")
                .unwrap();
            v.append_snapshot("c", &s("c1"), SnapshotKind::Import)
                .unwrap();
            // "d": a login, then a logout the guard marks (the login stays current).
            v.set_health("d", Some(&golden_health())).unwrap();
            v.append_snapshot("d", &health_state(true, "d1"), SnapshotKind::Import)
                .unwrap();
            let marked = v
                .append_guarded(
                    "d",
                    &health_state(false, "d2"),
                    SnapshotKind::SessionSave,
                    Some("s3"),
                    true,
                )
                .unwrap();
            assert!(marked.info.logged_out);
            v.touch_profile("c").unwrap();
            v.touch_profile("a").unwrap();
            let report = v.verify().unwrap();
            assert_eq!(report.findings, Vec::new());
            (t, dir)
        })
        .1
}

/// One edit to the file.
#[derive(Debug, Clone)]
enum Edit {
    /// Changes one column of one row (`delta` for integers, a flipped byte for blobs, a
    /// changed or cleared/set value for text).
    Column {
        /// `profiles` when true, else `snapshots`.
        table: bool,
        /// Row index (modulo the row count).
        row: usize,
        /// Column index (modulo the editable columns).
        column: usize,
        /// Non-zero change for integers; also picks the blob byte and the text change.
        delta: i64,
    },
    /// Deletes one snapshot row.
    DeleteSnapshot {
        /// Row index (modulo the row count).
        row: usize,
    },
    /// Swaps the position (profile and seq) of two snapshot rows.
    SwapPositions {
        /// First row index.
        a: usize,
        /// Second row index.
        b: usize,
    },
    /// Swaps a sealed column between two snapshot rows.
    SwapSealed {
        /// First row index.
        a: usize,
        /// Second row index.
        b: usize,
        /// `info` when true, else `body`.
        info: bool,
    },
    /// Swaps the sealed metadata (and data key) of two profiles.
    SwapProfiles {
        /// First profile index.
        a: usize,
        /// Second profile index.
        b: usize,
        /// Swap `wrapped_dk` too.
        with_key: bool,
    },
}

const PROFILE_COLUMNS: [&str; 8] = [
    "name_hash",
    "key_version",
    "wrapped_dk",
    "meta",
    "created_at",
    "updated_at",
    "last_used_at",
    "next_seq",
];
const SNAPSHOT_COLUMNS: [&str; 10] = [
    "profile_id",
    "seq",
    "kind",
    "created_at",
    "schema_version",
    "size_bytes",
    "session_id",
    "info",
    "body",
    "snapshot_id",
];

fn edit() -> impl Strategy<Value = Edit> {
    let delta = prop_oneof![-3i64..=-1, 1i64..=3];
    prop_oneof![
        (any::<bool>(), 0..64usize, 0..64usize, delta).prop_map(|(table, row, column, delta)| {
            Edit::Column {
                table,
                row,
                column,
                delta,
            }
        }),
        (0..64usize).prop_map(|row| Edit::DeleteSnapshot { row }),
        (0..64usize, 0..64usize).prop_map(|(a, b)| Edit::SwapPositions { a, b }),
        (0..64usize, 0..64usize, any::<bool>()).prop_map(|(a, b, info)| Edit::SwapSealed {
            a,
            b,
            info
        }),
        (0..64usize, 0..64usize, any::<bool>()).prop_map(|(a, b, with_key)| Edit::SwapProfiles {
            a,
            b,
            with_key
        }),
    ]
}

/// Row ids of a table, in a stable order.
fn ids(db: &rusqlite::Connection, table: &str) -> Vec<Vec<u8>> {
    let id = if table == "profiles" {
        "profile_id"
    } else {
        "snapshot_id"
    };
    db.prepare(&format!("SELECT {id} FROM {table} ORDER BY {id}"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// What `verify` must say about one edit.
#[derive(Debug, Default)]
struct Expect {
    /// Findings that must be there, each naming exactly the edited record.
    must: Vec<Target>,
    /// Profiles (hex ids) the edit touched: no finding may name another.
    profiles: Vec<String>,
    /// Snapshot ids (hex, as they are after the edit) the edit touched.
    snapshots: Vec<String>,
    /// Positions (profile hex, seq) the edit touched, before or after it.
    positions: Vec<(String, u64)>,
}

/// One finding that must be reported.
#[derive(Debug)]
struct Target {
    profile: String,
    /// The snapshot id it must name (`None`: a profile-level record, or a deleted row).
    snapshot: Option<String>,
    /// The seq it must name, when the edit fixes it.
    seq: Option<u64>,
    /// The records it may be about.
    records: &'static [RecordRef],
}

const SNAPSHOT_RECORDS: &[RecordRef] = &[RecordRef::SnapshotInfo, RecordRef::SnapshotBody];

impl Target {
    fn matches(&self, f: &Finding) -> bool {
        f.profile == self.profile
            && f.snapshot == self.snapshot
            && (self.seq.is_none() || f.seq == self.seq)
            && self.records.contains(&f.record)
    }

    /// The row `id` (as it is after the edit) in `profile`, any seq.
    fn row(profile: &[u8], id: &[u8]) -> Target {
        Target {
            profile: hex::encode(profile),
            snapshot: Some(hex::encode(id)),
            seq: None,
            records: SNAPSHOT_RECORDS,
        }
    }

    /// A position of `profile` whose row is gone: the chain reports its seq.
    fn gone(profile: &[u8], seq: i64) -> Target {
        Target {
            profile: hex::encode(profile),
            snapshot: None,
            seq: Some(seq as u64),
            records: &[RecordRef::History],
        }
    }
}

impl Expect {
    /// Every way `report` fails the expectation (empty when it names exactly the edit).
    fn violations(&self, findings: &[Finding]) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.must {
            if !findings.iter().any(|f| t.matches(f)) {
                out.push(format!("no finding names {t:?}"));
            }
        }
        for f in findings {
            let about_touched = f
                .snapshot
                .as_ref()
                .is_some_and(|s| self.snapshots.contains(s))
                || f.seq
                    .is_some_and(|q| self.positions.contains(&(f.profile.clone(), q)));
            let profile_level = f.snapshot.is_none() && f.seq.is_none();
            // A data key that does not open makes every record under it not checkable.
            let consequence = matches!(f.problem, Problem::NotCheckable { .. });
            if !self.profiles.contains(&f.profile) {
                out.push(format!("blames an untouched profile: {f}"));
            } else if !(about_touched || profile_level || consequence) {
                out.push(format!("blames an untouched snapshot: {f}"));
            }
        }
        out
    }
}

/// Applies `edit` to the vault in `dir`; returns a description and what `verify` must report,
/// or `None` when the edit turned out to change nothing (two picks of the same row, or a
/// value SQLite's constraints refuse).
fn apply(dir: &Path, edit: &Edit) -> Option<(String, Expect)> {
    let db = raw(dir);
    let snaps = ids(&db, "snapshots");
    let profiles = ids(&db, "profiles");
    let get = |table: &str, key: &str, id: &[u8], col: &str| -> Sql {
        db.query_row(
            &format!("SELECT {col} FROM {table} WHERE {key} = ?1"),
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    let pos = |id: &[u8]| -> (Vec<u8>, i64) {
        db.query_row(
            "SELECT profile_id, seq FROM snapshots WHERE snapshot_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let mut expect = Expect::default();
    let touch_row = |expect: &mut Expect, id: &[u8], at: &[(Vec<u8>, i64)]| {
        expect.snapshots.push(hex::encode(id));
        for (p, seq) in at {
            expect.profiles.push(hex::encode(p));
            expect.positions.push((hex::encode(p), *seq as u64));
        }
    };
    match edit {
        Edit::Column {
            table,
            row,
            column,
            delta,
        } => {
            let (table, key, cols, rows) = if *table {
                ("profiles", "profile_id", &PROFILE_COLUMNS[..], &profiles)
            } else {
                ("snapshots", "snapshot_id", &SNAPSHOT_COLUMNS[..], &snaps)
            };
            let id = &rows[row % rows.len()];
            let col = cols[column % cols.len()];
            let before = (table == "snapshots").then(|| pos(id));
            let new = match get(table, key, id, col) {
                Sql::Integer(i) => Sql::Integer(i + delta),
                Sql::Blob(mut b) if col == "profile_id" => {
                    // Moved to another profile (which exists).
                    let other = profiles.iter().find(|p| **p != b).unwrap().clone();
                    b.clone_from(&other);
                    Sql::Blob(b)
                }
                Sql::Blob(mut b) => {
                    let i = (delta.unsigned_abs() as usize * 7) % b.len();
                    b[i] ^= 0x01;
                    Sql::Blob(b)
                }
                Sql::Text(t) if *delta > 0 => Sql::Text(format!("{t}x")),
                Sql::Text(_) => Sql::Null,
                Sql::Null if col == "last_used_at" => Sql::Integer(1_700_000_000_000),
                Sql::Null => Sql::Text("sess-x".into()),
                Sql::Real(_) => unreachable!("no REAL columns"),
            };
            let changed = db.execute(
                &format!("UPDATE OR IGNORE {table} SET {col} = ?1 WHERE {key} = ?2"),
                rusqlite::params![new, id],
            );
            if !matches!(changed, Ok(1)) {
                // A UNIQUE or CHECK constraint refused it: SQLite itself guards that column.
                return None;
            }
            if let Some(before) = before {
                // The row's id after the edit (the edit may be to the id itself).
                let id = match (col, &new) {
                    ("snapshot_id", Sql::Blob(b)) => b.clone(),
                    _ => id.clone(),
                };
                let after = pos(&id);
                touch_row(&mut expect, &id, &[before.clone(), after.clone()]);
                expect.must.push(Target::row(&after.0, &id));
                if after.0 != before.0 {
                    expect.must.push(Target::gone(&before.0, before.1));
                }
            } else {
                expect.profiles.push(hex::encode(id));
                let records: &'static [RecordRef] = match col {
                    "name_hash" => &[RecordRef::NameIndex],
                    "key_version" | "wrapped_dk" => &[RecordRef::DataKey],
                    _ => &[RecordRef::ProfileMeta],
                };
                expect.must.push(Target {
                    profile: hex::encode(id),
                    snapshot: None,
                    seq: None,
                    records,
                });
            }
            Some((
                format!("{table}.{col} of {} set to {new:?}", hex::encode(id)),
                expect,
            ))
        }
        Edit::DeleteSnapshot { row } => {
            let id = &snaps[row % snaps.len()];
            let at = pos(id);
            db.execute("DELETE FROM snapshots WHERE snapshot_id = ?1", [id])
                .unwrap();
            touch_row(&mut expect, id, std::slice::from_ref(&at));
            expect.must.push(Target::gone(&at.0, at.1));
            Some((format!("snapshot {} deleted", hex::encode(id)), expect))
        }
        Edit::SwapPositions { a, b } => {
            let (a, b) = (&snaps[a % snaps.len()], &snaps[b % snaps.len()]);
            if a == b {
                return None;
            }
            let (pa, pb) = (pos(a), pos(b));
            let set = |id: &[u8], p: &(Vec<u8>, i64)| {
                db.execute(
                    "UPDATE snapshots SET profile_id = ?1, seq = ?2 WHERE snapshot_id = ?3",
                    rusqlite::params![p.0, p.1, id],
                )
                .unwrap();
            };
            set(a, &(pa.0.clone(), -1));
            set(b, &pa);
            set(a, &pb);
            touch_row(&mut expect, a, &[pa.clone(), pb.clone()]);
            touch_row(&mut expect, b, &[pa.clone(), pb.clone()]);
            expect.must.push(Target::row(&pb.0, a));
            expect.must.push(Target::row(&pa.0, b));
            Some((
                format!(
                    "positions of {} and {} swapped",
                    hex::encode(a),
                    hex::encode(b)
                ),
                expect,
            ))
        }
        Edit::SwapSealed { a, b, info } => {
            let (a, b) = (&snaps[a % snaps.len()], &snaps[b % snaps.len()]);
            if a == b {
                return None;
            }
            let col = if *info { "info" } else { "body" };
            let (va, vb) = (
                get("snapshots", "snapshot_id", a, col),
                get("snapshots", "snapshot_id", b, col),
            );
            for (id, v) in [(a, vb), (b, va)] {
                db.execute(
                    &format!("UPDATE snapshots SET {col} = ?1 WHERE snapshot_id = ?2"),
                    rusqlite::params![v, id],
                )
                .unwrap();
            }
            for id in [a, b] {
                let at = pos(id);
                touch_row(&mut expect, id, std::slice::from_ref(&at));
                expect.must.push(Target::row(&at.0, id));
            }
            Some((
                format!("{col} of {} and {} swapped", hex::encode(a), hex::encode(b)),
                expect,
            ))
        }
        Edit::SwapProfiles { a, b, with_key } => {
            let (a, b) = (&profiles[a % profiles.len()], &profiles[b % profiles.len()]);
            if a == b {
                return None;
            }
            let cols: &[&str] = if *with_key {
                &["wrapped_dk", "meta"]
            } else {
                &["meta"]
            };
            for col in cols {
                let (va, vb) = (
                    get("profiles", "profile_id", a, col),
                    get("profiles", "profile_id", b, col),
                );
                for (id, v) in [(a, vb), (b, va)] {
                    db.execute(
                        &format!("UPDATE profiles SET {col} = ?1 WHERE profile_id = ?2"),
                        rusqlite::params![v, id],
                    )
                    .unwrap();
                }
            }
            let records: &'static [RecordRef] = if *with_key {
                &[RecordRef::DataKey]
            } else {
                &[RecordRef::ProfileMeta]
            };
            for id in [a, b] {
                expect.profiles.push(hex::encode(id));
                expect.must.push(Target {
                    profile: hex::encode(id),
                    snapshot: None,
                    seq: None,
                    records,
                });
            }
            Some((
                format!(
                    "{cols:?} of profiles {} and {} swapped",
                    hex::encode(a),
                    hex::encode(b)
                ),
                expect,
            ))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verify_reports_every_single_edit(edit in edit()) {
        let (_t, dir) = copy_vault(populated());
        let Some((what, expect)) = apply(&dir, &edit) else {
            return Ok(());
        };
        let v = Vault::open(&dir).unwrap();
        v.unlock(&keyfile()).unwrap();
        let report = v.verify().unwrap();
        prop_assert!(!report.findings.is_empty(), "verify missed: {}", what);
        let wrong = expect.violations(&report.findings);
        prop_assert!(
            wrong.is_empty(),
            "{}: {:#?}\nreported: {:#?}",
            what,
            wrong,
            report.failures
        );
    }
}
