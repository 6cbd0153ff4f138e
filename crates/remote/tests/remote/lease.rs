//! The single-writer lease (remote-format.md 6): exactly one winner among 20 simultaneous
//! contenders, `busy` naming the holder, expiry after the ttl and not before, and a stale
//! fencing number refused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pvault_model::SnapshotKind;
use pvault_remote::RemoteError;

use crate::common::{Pg, holder, lease_when_free, never, push_save, snap};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_twenty_contenders_wins() {
    let pg = Pg::start();
    let (a, key, p) = pg.with_profile("shared", 1).await;
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
}

#[tokio::test]
async fn busy_names_the_holder() {
    let pg = Pg::start();
    let (a, key, p) = pg.with_profile("p", 0).await;
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
    let (a, key, p) = pg.with_profile("p", 0).await;
    let ttl = Duration::from_secs(2);
    let lease = a
        .acquire(&p.profile_id, "p", &holder("a"), ttl)
        .await
        .unwrap();
    let taken = Instant::now();
    // A dies: its connection goes away without a release.
    drop(a);
    let b = pg.open(&key).await;
    let won = lease_when_free(&b, &p.profile_id, "b", ttl).await;
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
    let (mut a, key, p) = pg.with_profile("p", 1).await;
    let mem_a = p.memory();
    let ttl = Duration::from_millis(1000);
    let lease_a = a
        .acquire(&p.profile_id, "p", &holder("a"), ttl)
        .await
        .unwrap();
    // A pauses past its expiry; B takes the lease and saves.
    let mut b = pg.open(&key).await;
    let lease_b = lease_when_free(&b, &p.profile_id, "b", ttl).await;
    let pb = b.pull(&p.profile_id, Some(&mem_a), &never).await.unwrap();
    let after_b = push_save(&mut b, &lease_b, &pb, 2).await;
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
