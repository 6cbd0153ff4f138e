//! The single-writer lease (remote-format.md 6): exactly one winner among 20 simultaneous
//! contenders, `busy` naming the holder, expiry after the ttl and not before, and a stale
//! fencing number refused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pvault_model::SnapshotKind;
use pvault_remote::RemoteError;

use crate::common::{Pg, holder, never, snap};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_twenty_contenders_wins() {
    let pg = Pg::start();
    let (mut a, key) = pg.create().await;
    let p = a
        .create_profile(
            "shared",
            &[snap(1, SnapshotKind::Import, None)],
            &holder("a"),
            10,
        )
        .await
        .unwrap();
    let mut conns = Vec::new();
    for _ in 0..20 {
        conns.push(Arc::new(pg.open(&key).await));
    }
    let mut fences = Vec::new();
    for round in 0..20 {
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let tasks: Vec<_> = conns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (c, b, id) = (c.clone(), barrier.clone(), p.profile_id.clone());
                tokio::spawn(async move {
                    b.wait().await;
                    c.acquire(
                        &id,
                        "shared",
                        &holder(&format!("m{i}")),
                        Duration::from_secs(60),
                    )
                    .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(l) => winners.push((i, l)),
                Err(RemoteError::Busy { holder, .. }) => assert!(holder.host.starts_with('m')),
                Err(e) => panic!("round {round}: contender {i}: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one winner");
        let (i, lease) = winners.pop().unwrap();
        fences.push(lease.fence);
        conns[i].release(&lease).await.unwrap();
    }
    assert!(
        fences.windows(2).all(|w| w[1] == w[0] + 1),
        "fencing numbers grow by one: {fences:?}"
    );
    drop(
        a.acquire(
            &p.profile_id,
            "shared",
            &holder("a"),
            Duration::from_secs(1),
        )
        .await
        .unwrap(),
    );
    let _ = &mut a;
}

#[tokio::test]
async fn busy_names_the_holder() {
    let pg = Pg::start();
    let (mut a, key) = pg.create().await;
    let p = a.create_profile("p", &[], &holder("a"), 10).await.unwrap();
    let _lease = a
        .acquire(
            &p.profile_id,
            "p",
            &holder("alpha-host"),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let b = pg.open(&key).await;
    let e = b
        .acquire(&p.profile_id, "p", &holder("beta"), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "busy");
    let msg = e.to_string();
    assert!(
        msg.contains("alpha-host") && msg.contains("sess-alpha-host"),
        "{msg}"
    );
    let st = b.status().await.unwrap();
    assert_eq!(st.leases.len(), 1);
    assert_eq!(st.leases[0].holder.as_ref().unwrap().host, "alpha-host");
}

#[tokio::test]
async fn a_dead_holders_lease_expires_after_ttl_not_before() {
    let pg = Pg::start();
    let (mut a, key) = pg.create().await;
    let p = a.create_profile("p", &[], &holder("a"), 10).await.unwrap();
    let ttl = Duration::from_secs(2);
    let lease = a
        .acquire(&p.profile_id, "p", &holder("a"), ttl)
        .await
        .unwrap();
    let taken = Instant::now();
    // A dies: its connection goes away without a release.
    drop(a);
    let b = pg.open(&key).await;
    let won = loop {
        match b.acquire(&p.profile_id, "p", &holder("b"), ttl).await {
            Ok(l) => break l,
            Err(RemoteError::Busy { .. }) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{e}"),
        }
    };
    let waited = taken.elapsed();
    assert!(
        waited >= ttl - Duration::from_millis(100),
        "B got the lease after {waited:?}, before the ttl {ttl:?}"
    );
    assert!(waited < ttl + Duration::from_secs(2), "B waited {waited:?}");
    assert_eq!(won.fence, lease.fence + 1);
}

#[tokio::test]
async fn a_stale_fencing_number_is_refused() {
    let pg = Pg::start();
    let (mut a, key) = pg.create().await;
    let p = a
        .create_profile(
            "p",
            &[snap(1, SnapshotKind::Import, None)],
            &holder("a"),
            10,
        )
        .await
        .unwrap();
    let mem_a = p.memory();
    let ttl = Duration::from_millis(1000);
    let lease_a = a
        .acquire(&p.profile_id, "p", &holder("a"), ttl)
        .await
        .unwrap();
    // A pauses past its expiry; B takes the lease and saves.
    let mut b = pg.open(&key).await;
    let lease_b = loop {
        match b.acquire(&p.profile_id, "p", &holder("b"), ttl).await {
            Ok(l) => break l,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let pb = b.pull(&p.profile_id, Some(&mem_a), &never).await.unwrap();
    let after_b = b
        .push(
            &lease_b,
            &pb.memory(),
            &[snap(2, SnapshotKind::SessionSave, Some("sb"))],
            &holder("b"),
            10,
        )
        .await
        .unwrap();
    // A wakes and writes with its old lease: refused, whether B still holds it or released it.
    let e = a
        .push(
            &lease_a,
            &mem_a,
            &[snap(3, SnapshotKind::SessionSave, Some("sa"))],
            &holder("a"),
            10,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, RemoteError::LeaseLost { .. }), "{e}");
    b.release(&lease_b).await.unwrap();
    let e = a
        .push(
            &lease_a,
            &mem_a,
            &[snap(3, SnapshotKind::SessionSave, Some("sa"))],
            &holder("a"),
            10,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, RemoteError::LeaseLost { .. }), "{e}");
    assert!(
        a.renew(&lease_a).await.is_err(),
        "renewing a lost lease fails"
    );
    // A new lease for A does not let it overwrite B's newer head either.
    let lease_a2 = a
        .acquire(&p.profile_id, "p", &holder("a"), ttl)
        .await
        .unwrap();
    let e = a
        .push(
            &lease_a2,
            &mem_a,
            &[snap(3, SnapshotKind::SessionSave, Some("sa"))],
            &holder("a"),
            10,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, RemoteError::HeadMoved { .. }), "{e}");
    let now = a.pull(&p.profile_id, None, &never).await.unwrap();
    assert_eq!(now.head_id, after_b.head_id, "B's save is the head");
    assert_eq!(now.chain.len(), 2);
}
