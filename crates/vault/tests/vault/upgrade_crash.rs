//! An upgrade killed at any point leaves a vault that opens as its old format, unchanged, or
//! as format 3 with the content of an uninterrupted upgrade (vault-format.md section 8). The
//! fixtures' upgrades take a few milliseconds, too short for a kill to land inside them, so
//! each fixture is first grown: its profiles cloned many times under new ids (every record
//! re-sealed under its new AAD, as a writer would seal it), until the upgrade's transaction
//! takes a good part of the child's run. A kill counts as landing inside the upgrade when the
//! child had reported that it was unlocking, another connection found the write lock taken
//! just before the kill, and the vault was still the old format after it: the upgrade's
//! transaction had begun and not committed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use pvault_vault::Vault;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::*;
use crate::golden::{FORMAT1_SCHEMA1, FORMAT2, GOLDEN_PASS, fixture_dir, format_version, rows};
use crate::spec_reader::{self, hmac, open_blob, record_aad};

/// What the child prints just before it unlocks (and so upgrades) the vault.
const UNLOCKING: &str = "pvault-upgrade-child: unlocking";

/// 16 bytes derived from `parts` (ids and nonces of the clones: unique, reproducible).
fn derive(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize()[..16].to_vec()
}

/// Seals `plain` under `key` and `aad` with a nonce derived from `aad` and `plain`.
fn seal(key: &[u8], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut nonce = derive(&[b"nonce", aad, plain]);
    nonce.extend_from_slice(&derive(&[b"nonce tail", aad, plain])[..8]);
    let mut out = nonce.clone();
    out.extend(
        XChaCha20Poly1305::new(key.into())
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
            .unwrap(),
    );
    out
}

fn dk_aad(vault_id: &[u8], pid: &[u8], key_version: i64) -> Vec<u8> {
    let mut a = b"pvault/v1/dk-wrap\0".to_vec();
    a.extend_from_slice(vault_id);
    a.extend_from_slice(pid);
    a.extend_from_slice(&(key_version as u32).to_be_bytes());
    a
}

/// Opens a record and returns its JSON (after the version byte) and the version byte.
fn open_record(key: &[u8], aad: &[u8], blob: &[u8]) -> (u8, Value) {
    let plain = open_blob(key, aad, blob).unwrap();
    (plain[0], serde_json::from_slice(&plain[1..]).unwrap())
}

fn reseal_record(key: &[u8], aad: &[u8], version: u8, v: &Value) -> Vec<u8> {
    let mut plain = vec![version];
    plain.extend(serde_json::to_vec(v).unwrap());
    seal(key, aad, &plain)
}

/// Adds `copies` clones of every profile of the (format-1 or format-2) vault in `dir`: new
/// profile and snapshot ids, the name suffixed `-<copy>`, every other value kept.
fn grow(dir: &Path, copies: u32) {
    type ProfileRow = (Vec<u8>, i64, Vec<u8>, Vec<u8>, i64, i64, Option<i64>, i64);
    type SnapshotRow = (
        Vec<u8>,
        i64,
        i64,
        i64,
        i64,
        i64,
        Option<String>,
        Vec<u8>,
        Vec<u8>,
    );
    let mk = spec_reader::master_key(dir, GOLDEN_PASS);
    let name_key = hmac(&mk, &[b"pvault/v1/name-index"]);
    let db = raw(dir);
    let vault_id: Vec<u8> = db
        .query_row("SELECT vault_id FROM vault", [], |r| r.get(0))
        .unwrap();
    let profiles: Vec<ProfileRow> = db
        .prepare("SELECT profile_id, key_version, wrapped_dk, meta, created_at, updated_at, last_used_at, next_seq FROM profiles")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    db.execute_batch("BEGIN").unwrap();
    for (pid, kv, wdk, meta, created, updated, used, next_seq) in &profiles {
        let dk = open_blob(&mk, &dk_aad(&vault_id, pid, *kv), wdk).unwrap();
        let meta_aad = |p: &[u8]| record_aad(&vault_id, p, &[0; 16], 1, 1);
        let (meta_version, meta) = open_record(&dk, &meta_aad(pid), meta);
        let snapshots: Vec<SnapshotRow> = db
            .prepare("SELECT snapshot_id, seq, kind, created_at, schema_version, size_bytes, session_id, info, body FROM snapshots WHERE profile_id = ?1")
            .unwrap()
            .query_map([pid], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for copy in 1..=copies {
            let c = copy.to_be_bytes();
            let new_pid = derive(&[b"profile", &c, pid]);
            let new_sid = |sid: &[u8]| derive(&[b"snapshot", &c, sid]);
            let mut meta = meta.clone();
            let name = format!("{}-{copy}", meta["name"].as_str().unwrap());
            meta["name"] = Value::from(name.as_str());
            if let Some(id) = meta["latest"]["id"].as_str() {
                meta["latest"]["id"] = Value::from(hex::encode(new_sid(&hex::decode(id).unwrap())));
            }
            db.execute(
                "INSERT INTO profiles VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params![
                    new_pid,
                    hmac(&name_key, &[name.as_bytes()]),
                    kv,
                    seal(&mk, &dk_aad(&vault_id, &new_pid, *kv), &dk),
                    reseal_record(&dk, &meta_aad(&new_pid), meta_version, &meta),
                    created,
                    updated,
                    used,
                    next_seq
                ],
            )
            .unwrap();
            for (sid, seq, kind, s_created, schema, size, session, info, body) in &snapshots {
                let sid2 = new_sid(sid);
                let aad = |kind_byte, p: &[u8], s: &[u8]| {
                    record_aad(&vault_id, p, s, kind_byte, *schema as u16)
                };
                let (info_version, mut info) = open_record(&dk, &aad(3, pid, sid), info);
                info["id"] = Value::from(hex::encode(&sid2));
                let body = open_blob(&dk, &aad(2, pid, sid), body).unwrap();
                db.execute(
                    "INSERT INTO snapshots (snapshot_id, profile_id, seq, kind, created_at, schema_version, size_bytes, session_id, info, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    rusqlite::params![
                        sid2,
                        new_pid,
                        seq,
                        kind,
                        s_created,
                        schema,
                        size,
                        session,
                        reseal_record(&dk, &aad(3, &new_pid, &sid2), info_version, &info),
                        seal(&dk, &aad(2, &new_pid, &sid2), &body)
                    ],
                )
                .unwrap();
            }
        }
    }
    db.execute_batch("COMMIT").unwrap();
}

/// Child side: unlocks (and so upgrades) the vault in `PVAULT_UPGRADE_CRASH_DIR`, saying so
/// on stdout just before; does nothing when that is unset.
#[test]
#[ignore = "run by the crash test in a child process"]
fn upgrade_crash_child() {
    if let Some(dir) = std::env::var_os("PVAULT_UPGRADE_CRASH_DIR") {
        let v = Vault::open(Path::new(&dir)).unwrap();
        println!("{UNLOCKING}");
        v.unlock(&pass(GOLDEN_PASS)).unwrap();
    }
}

/// Whether another connection holds the vault's write lock (the upgrade's transaction, or
/// the checkpoint after it).
fn write_lock_taken(dir: &Path) -> bool {
    let c = raw(dir);
    c.busy_timeout(Duration::ZERO).unwrap();
    match c.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => {
            c.execute_batch("ROLLBACK").unwrap();
            false
        }
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            true
        }
        Err(e) => panic!("probing the write lock: {e}"),
    }
}

/// How one child run went.
struct Run {
    /// From the start to the child's exit.
    took: Duration,
    /// From the start to its "unlocking" line, if it got there.
    unlocking: Option<Duration>,
    /// Whether the write lock was taken just before the kill.
    locked_at_kill: bool,
}

/// Runs [`upgrade_crash_child`] on `dir`, killed after `after` (or left to finish).
fn run_child(dir: &Path, after: Option<Duration>) -> Run {
    let start = Instant::now();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "upgrade_crash::upgrade_crash_child",
            "--ignored",
            "--nocapture",
            "--quiet",
        ])
        .env("PVAULT_UPGRADE_CRASH_DIR", dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line == UNLOCKING {
                let _ = tx.send(start.elapsed());
            }
        }
    });
    let mut locked_at_kill = false;
    if let Some(after) = after {
        std::thread::sleep(after);
        locked_at_kill = rx.try_recv().is_ok() && write_lock_taken(dir);
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    let took = start.elapsed();
    reader.join().unwrap();
    if after.is_none() {
        assert!(status.success());
    }
    Run {
        took,
        unlocking: rx.try_recv().ok(),
        locked_at_kill,
    }
}

/// Kills the upgrade of a grown copy of `fixture` at times spread over its whole run; every
/// outcome opens as `old` (unchanged) or as format 3 with the content of an uninterrupted
/// upgrade. Returns how many kills landed inside the upgrade's transaction.
fn kill_upgrades(fixture: &str, old: i64, copies: u32, runs: u32) -> u32 {
    let (_g, grown) = copy_vault(&fixture_dir(fixture));
    grow(&grown, copies);
    let original = rows(&grown);
    let (_p, probe) = copy_vault(&grown);
    let full = run_child(&probe, None);
    assert_eq!(format_version(&probe), 3);
    let upgraded = spec_reader::read(&probe, GOLDEN_PASS, None).unwrap();
    assert!(upgraded.findings.is_empty(), "{:?}", upgraded.findings);
    eprintln!(
        "{fixture} grown ×{copies}: unlocking at {:?}, done at {:?}",
        full.unlocking, full.took
    );
    let mut inside = 0;
    for i in 0..runs {
        let (_t, dir) = copy_vault(&grown);
        let run = run_child(&dir, Some(full.took * i / runs));
        let version = format_version(&dir);
        if version == old {
            assert_eq!(
                rows(&dir),
                original,
                "{fixture}, kill {i}: old format but changed"
            );
            inside += u32::from(run.locked_at_kill);
        } else {
            assert_eq!(version, 3, "{fixture}, kill {i}");
            assert_reads_as_upgraded(&dir, &upgraded.content, &format!("{fixture}, kill {i}"));
        }
        // Either way it opens (and finishes the upgrade: then it reads the same content).
        let v = Vault::open(&dir).unwrap();
        v.unlock(&pass(GOLDEN_PASS)).unwrap();
        drop(v);
        if version == old {
            assert_reads_as_upgraded(&dir, &upgraded.content, &format!("{fixture}, kill {i}"));
        }
    }
    inside
}

#[test]
fn a_killed_upgrade_leaves_the_old_format_or_format_3() {
    let started = Instant::now();
    for (fixture, old, copies) in [(FORMAT1_SCHEMA1, 1, 300), (FORMAT2, 2, 200)] {
        let inside = kill_upgrades(fixture, old, copies, 12);
        eprintln!(
            "{fixture}: {inside} kills inside the upgrade, {:?}",
            started.elapsed()
        );
        assert!(inside > 0, "{fixture}: no kill landed inside the upgrade");
    }
}

/// The vault in `dir` reads, through the independent reader, with no finding and exactly the
/// content of an uninterrupted upgrade.
fn assert_reads_as_upgraded(dir: &Path, upgraded: &Value, what: &str) {
    let read = spec_reader::read(dir, GOLDEN_PASS, None).unwrap();
    assert!(read.findings.is_empty(), "{what}: {:?}", read.findings);
    assert_eq!(&read.content, upgraded, "{what}");
}
