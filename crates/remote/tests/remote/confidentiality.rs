//! What the server sees (remote-format.md 9): a `pg_dump` of the database holds none of the
//! marker values (cookie names and values, domains, origins, storage, profile names).

use std::time::Duration;

use pvault_model::SnapshotKind;

use crate::common::{MARKERS, Pg, holder, snap};

#[tokio::test]
async fn pg_dump_holds_no_marker() {
    let pg = Pg::start();
    let (mut r, _) = pg.create().await;
    let p = r
        .create_profile(
            "marker-profile-name",
            &[snap(1, SnapshotKind::Import, None)],
            &holder("markerhost"),
            10,
        )
        .await
        .unwrap();
    let lease = r
        .acquire(
            &p.profile_id,
            "marker-profile-name",
            &holder("markerhost"),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    r.push(
        &lease,
        &p.memory(),
        &[
            snap(2, SnapshotKind::Checkpoint, Some("sess-markerhost")),
            snap(3, SnapshotKind::SessionSave, Some("sess-markerhost")),
        ],
        &holder("markerhost"),
        10,
    )
    .await
    .unwrap();
    let dump = pg.server.dump("pv");
    let text = String::from_utf8_lossy(&dump);
    assert!(text.contains("pvault_snapshots"), "the dump has the tables");
    for m in MARKERS.iter().chain(&["markerhost", "sess-markerhost"]) {
        assert!(!text.contains(m), "{m} is in the dump");
        // bytea is dumped as hex: look for the hex of the marker too.
        assert!(
            !text.contains(&hex::encode(m.as_bytes())),
            "{m} (hex) is in the dump"
        );
    }
}
