//! The upgrade of a format-1 (or format-2) vault to format 3 at its first unlock: nothing
//! lost (the golden tests compare the upgraded content), nothing of the old format left in
//! the files (even when the upgrading process stopped before its checkpoint), all or nothing (a damaged vault is refused unchanged; a process killed at any
//! point leaves a vault that opens as format 1 or as format 3: `upgrade_crash.rs`), and once
//! only.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pvault_vault::{Vault, VaultError};

use crate::common::*;
use crate::golden::{
    FORMAT1_SCHEMA1, FORMAT2, GOLDEN_PASS, dump, fixture_dir, format_version, rows,
};

/// Every sealed profile metadata and snapshot info of the vault in `dir`.
fn metas_and_infos(dir: &Path) -> Vec<Vec<u8>> {
    raw(dir)
        .prepare("SELECT meta FROM profiles UNION ALL SELECT info FROM snapshots")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Upgrades a copy of `fixture` (at least `records` sealed metadata and infos, each found in
/// `vault.db` before) by one unlock, and asserts that none of those records is left in any
/// file of the vault after it.
fn upgrade_shreds_every_old_record(fixture: &str, records: usize) -> (tempfile::TempDir, PathBuf) {
    let (t, dir) = copy_vault(&fixture_dir(fixture));
    let old = metas_and_infos(&dir);
    assert!(old.len() >= records);
    for blob in &old {
        assert_eq!(files_containing(&dir, &blob[..40]), ["vault.db"]);
    }
    let v = Vault::open(&dir).unwrap();
    v.unlock(&pass(GOLDEN_PASS)).unwrap();
    assert_eq!(format_version(&dir), 3);
    for blob in &old {
        // Nonce and first ciphertext bytes: unique to that one sealed record.
        assert_eq!(
            files_containing(&dir, &blob[..40]),
            Vec::<String>::new(),
            "a {fixture} record survived the upgrade"
        );
    }
    (t, dir)
}

/// Every sealed snapshot body, by snapshot id.
fn bodies(dir: &Path) -> Vec<Vec<u8>> {
    raw(dir)
        .prepare("SELECT body FROM snapshots ORDER BY snapshot_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn upgrade_leaves_no_format1_record_in_the_files() {
    let before = bodies(&copy_vault(&fixture_dir(FORMAT1_SCHEMA1)).1);
    let (_t, dir) = upgrade_shreds_every_old_record(FORMAT1_SCHEMA1, 5);
    // Bodies are not re-sealed: their encoding did not change.
    assert_eq!(bodies(&dir), before);
}

#[test]
fn upgrade_leaves_no_format2_record_in_the_files() {
    upgrade_shreds_every_old_record(FORMAT2, 8);
}

#[test]
fn an_upgrade_killed_before_its_checkpoint_is_cleaned_by_the_next_unlock() {
    let (_t, dir) = copy_vault(&fixture_dir(FORMAT2));
    let old = metas_and_infos(&dir);
    // Opening puts the file in WAL mode (no upgrade: that needs the key).
    drop(Vault::open(&dir).unwrap());
    // A reader holding the format-2 snapshot keeps the upgrading child's checkpoint waiting
    // after its commit; the child is killed there. The reader stays open to the end (the
    // last connection to close would checkpoint), idle once the child is gone.
    let reader = raw(&dir);
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
        .unwrap();
    let mut child = spawn_child(&dir);
    let start = Instant::now();
    while format_version(&dir) != 3 {
        assert!(start.elapsed() < Duration::from_secs(120), "no upgrade");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait().unwrap();
    reader.execute_batch("COMMIT").unwrap();
    let left = old
        .iter()
        .filter(|b| !files_containing(&dir, &b[..40]).is_empty())
        .count();
    assert!(
        left > 0,
        "the killed upgrade left no format-2 record behind"
    );

    let v = Vault::open(&dir).unwrap();
    let cleaning = v.unlock(&pass(GOLDEN_PASS)).unwrap();
    for blob in &old {
        assert_eq!(
            files_containing(&dir, &blob[..40]),
            Vec::<String>::new(),
            "a format-2 record survived the next unlock"
        );
    }
    // What the checkpoint at every unlock costs (informative; the WAL is empty the second
    // time).
    let clean = v.unlock(&pass(GOLDEN_PASS)).unwrap();
    eprintln!(
        "unlock without the KDF: {:?} copying the upgrade from the WAL, {:?} with it empty",
        cleaning.other, clean.other
    );
    assert!(v.verify().unwrap().findings.is_empty());
    drop(reader);
}

#[test]
fn a_damaged_format1_vault_is_refused_unchanged() {
    let (_t, dir) = copy_vault(&fixture_dir(FORMAT1_SCHEMA1));
    // The newest snapshot of work-github deleted: format 1 could not tell, the upgrade does.
    raw(&dir)
        .execute_batch(
            "DELETE FROM snapshots WHERE seq = 5 AND profile_id =
                 (SELECT profile_id FROM profiles ORDER BY created_at LIMIT 1)",
        )
        .unwrap();
    let before = rows(&dir);
    let v = Vault::open(&dir).unwrap();
    let e = v.unlock(&pass(GOLDEN_PASS)).unwrap_err();
    assert!(matches!(e, VaultError::Corrupt { .. }), "{e:?}");
    assert!(!v.is_unlocked());
    assert_eq!(format_version(&dir), 1);
    assert_eq!(rows(&dir), before);
}

#[test]
fn two_handles_upgrade_once() {
    let (_t, dir) = copy_vault(&fixture_dir(FORMAT1_SCHEMA1));
    let a = Vault::open(&dir).unwrap();
    let b = Vault::open(&dir).unwrap();
    a.unlock(&pass(GOLDEN_PASS)).unwrap();
    let upgraded = rows(&dir);
    b.unlock(&pass(GOLDEN_PASS)).unwrap();
    assert_eq!(rows(&dir), upgraded, "the second unlock upgraded again");
    assert_eq!(dump(&a), dump(&b));
}

/// Child side of the crash tests: unlocks (and so upgrades) the vault in
/// `PVAULT_UPGRADE_CHILD_DIR`; does nothing when that is unset.
#[test]
#[ignore = "run by the crash tests in a child process"]
fn upgrade_child() {
    if let Some(dir) = std::env::var_os("PVAULT_UPGRADE_CHILD_DIR") {
        let v = Vault::open(Path::new(&dir)).unwrap();
        v.unlock(&pass(GOLDEN_PASS)).unwrap();
    }
}

/// Starts [`upgrade_child`] on `dir` in a child process.
fn spawn_child(dir: &Path) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "upgrade::upgrade_child", "--ignored", "--quiet"])
        .env("PVAULT_UPGRADE_CHILD_DIR", dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}
