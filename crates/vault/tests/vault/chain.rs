//! The history chain under random tampering: a populated vault (sessions, a collapsed
//! checkpoint, retention pruning with an anchor, a last use), one random edit to its file (a
//! column value, a deleted row, rows swapped between snapshots or between profiles), and
//! `verify` must report it. Unlocks with the key file (no Argon2id per case).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use pvault_model::SnapshotKind;
use pvault_vault::{CreateOptions, Credential, Vault};
use rusqlite::types::Value as Sql;
use zeroize::Zeroizing;

use crate::common::*;

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
            for p in ["a", "b", "c"] {
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

/// Applies `edit` to the vault in `dir`; returns a description, or `None` when the edit
/// turned out to change nothing (two picks of the same row).
fn apply(dir: &Path, edit: &Edit) -> Option<String> {
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
            match changed {
                Ok(1) => Some(format!(
                    "{table}.{col} of {} set to {new:?}",
                    hex::encode(id)
                )),
                // A UNIQUE or CHECK constraint refused it: SQLite itself guards that column.
                _ => None,
            }
        }
        Edit::DeleteSnapshot { row } => {
            let id = &snaps[row % snaps.len()];
            db.execute("DELETE FROM snapshots WHERE snapshot_id = ?1", [id])
                .unwrap();
            Some(format!("snapshot {} deleted", hex::encode(id)))
        }
        Edit::SwapPositions { a, b } => {
            let (a, b) = (&snaps[a % snaps.len()], &snaps[b % snaps.len()]);
            if a == b {
                return None;
            }
            let pos = |id: &[u8]| -> (Vec<u8>, i64) {
                db.query_row(
                    "SELECT profile_id, seq FROM snapshots WHERE snapshot_id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap()
            };
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
            Some(format!(
                "positions of {} and {} swapped",
                hex::encode(a),
                hex::encode(b)
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
            Some(format!(
                "{col} of {} and {} swapped",
                hex::encode(a),
                hex::encode(b)
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
            Some(format!(
                "{cols:?} of profiles {} and {} swapped",
                hex::encode(a),
                hex::encode(b)
            ))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verify_reports_every_single_edit(edit in edit()) {
        let (_t, dir) = copy_vault(populated());
        let Some(what) = apply(&dir, &edit) else {
            return Ok(());
        };
        let v = Vault::open(&dir).unwrap();
        v.unlock(&keyfile()).unwrap();
        let report = v.verify().unwrap();
        prop_assert!(!report.findings.is_empty(), "verify missed: {}", what);
    }
}
