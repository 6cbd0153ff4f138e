//! A server that deletes, reorders, edits or rolls back a profile's records is detected on
//! the next pull (remote-format.md 7.1, 7.3), with `remote_tampered` naming what it saw.

use pvault_model::SnapshotKind;
use pvault_remote::{RemoteError, Tamper};

use crate::common::{LEASE, Pg, holder, lease_when_free, never, push_save, snap};

/// A store with profile `p` of three snapshots; returns the pulled state.
async fn three(pg: &Pg) -> (pvault_remote::Remote, pvault_remote::Pulled) {
    let (r, _, p) = pg.with_profile("p", 3).await;
    let pulled = r
        .pull(&p.profile_id, Some(&p.memory()), &never)
        .await
        .unwrap();
    assert_eq!(pulled.chain.len(), 3);
    assert_eq!(pulled.bodies.len(), 3);
    (r, pulled)
}

fn kind(e: RemoteError) -> Tamper {
    assert_eq!(e.code(), "remote_tampered", "{e}");
    match e {
        RemoteError::Tampered { kind, .. } => kind,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn deleted_record_is_detected() {
    let pg = Pg::start();
    let (mut r, _) = pg.create().await;
    // Profile i loses its i-th record (the oldest, a middle one, the newest).
    let mut profiles = Vec::new();
    for i in 0..3 {
        let snaps = [1, 2, 3].map(|n| snap(n, SnapshotKind::Capture, None));
        let p = r
            .create_profile(&format!("p{i}"), &snaps, &holder("a"), 10)
            .await
            .unwrap();
        pg.sql(&format!(
            "DELETE FROM pvault_snapshots WHERE snapshot_id = '\\x{}'",
            p.chain[i].id
        ));
        profiles.push(p);
    }
    for (i, p) in profiles.iter().enumerate() {
        let got = kind(
            r.pull(&p.profile_id, Some(&p.memory()), &never)
                .await
                .unwrap_err(),
        );
        let expect = Tamper::Missing;
        assert_eq!(got, expect, "deleting record {i}");
    }
}

#[tokio::test]
async fn reordered_records_are_detected() {
    let pg = Pg::start();
    let (r, p) = three(&pg).await;
    let (a, b) = (&p.chain[0].id, &p.chain[2].id);
    // Swap the sealed records of two rows (what a server reordering history can do).
    pg.sql(&format!(
        "UPDATE pvault_snapshots s SET info = o.info, body = o.body FROM pvault_snapshots o \
         WHERE (s.snapshot_id, o.snapshot_id) IN (('\\x{a}', '\\x{b}'), ('\\x{b}', '\\x{a}'))"
    ));
    assert_eq!(
        kind(r.pull(&p.profile_id, None, &never).await.unwrap_err()),
        Tamper::Unreadable
    );
    // Or reorder the plaintext times: the sealed copy disagrees.
    let pg = Pg::start();
    let (r, p) = three(&pg).await;
    pg.sql(&format!(
        "UPDATE pvault_snapshots SET created_at = 1 WHERE snapshot_id = '\\x{}'",
        p.chain[2].id
    ));
    assert_eq!(
        kind(r.pull(&p.profile_id, None, &never).await.unwrap_err()),
        Tamper::Edited
    );
}

#[tokio::test]
async fn older_head_is_detected() {
    let pg = Pg::start();
    let (mut r, _, p) = pg.with_profile("p", 1).await;
    pg.sql("CREATE TABLE keep_p AS SELECT * FROM pvault_profiles; CREATE TABLE keep_s AS SELECT * FROM pvault_snapshots");
    let lease = lease_when_free(&r, &p.profile_id, "a", LEASE).await;
    let newer = push_save(&mut r, &lease, &p, 2).await;
    // The server serves the older, self-consistent copy (profile row and snapshots).
    pg.sql("DELETE FROM pvault_snapshots; UPDATE pvault_profiles p SET head_id = k.head_id, head = k.head, fence = k.fence, updated_at = k.updated_at FROM keep_p k WHERE p.profile_id = k.profile_id; INSERT INTO pvault_snapshots SELECT * FROM keep_s; DROP TABLE keep_p; DROP TABLE keep_s");
    // A reader that never saw the newer head cannot tell (remote-format.md 7.4) ...
    r.pull(&p.profile_id, None, &never).await.unwrap();
    // ... one that did, can.
    assert_eq!(
        kind(
            r.pull(&p.profile_id, Some(&newer.memory()), &never)
                .await
                .unwrap_err()
        ),
        Tamper::RolledBack
    );
    // Only the head put back (rows newer than it): found without any memory.
    let pg = Pg::start();
    let (mut r, _, p) = pg.with_profile("p", 1).await;
    pg.sql("CREATE TABLE keep_p AS SELECT * FROM pvault_profiles");
    let lease = lease_when_free(&r, &p.profile_id, "a", LEASE).await;
    push_save(&mut r, &lease, &p, 2).await;
    pg.sql("UPDATE pvault_profiles p SET head_id = k.head_id, head = k.head, fence = k.fence, updated_at = k.updated_at FROM keep_p k WHERE p.profile_id = k.profile_id");
    assert_eq!(
        kind(r.pull(&p.profile_id, None, &never).await.unwrap_err()),
        Tamper::RolledBack
    );
}

#[tokio::test]
async fn bodies_swapped_or_edited_never_reach_the_caller() {
    let pg = Pg::start();
    let (r, p) = three(&pg).await;
    pg.sql(&format!(
        "UPDATE pvault_snapshots SET body = overlay(body placing '\\x00'::bytea from 30 for 1) WHERE snapshot_id = '\\x{}'",
        p.chain[1].id
    ));
    assert_eq!(
        kind(r.pull(&p.profile_id, None, &never).await.unwrap_err()),
        Tamper::Unreadable
    );
    // Bodies already held are not fetched, so the damage is only found when it is needed.
    let held = |id: &str| id == p.chain[1].id;
    r.pull(&p.profile_id, None, &held).await.unwrap();
}
