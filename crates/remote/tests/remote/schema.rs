//! Creating, recognising and migrating the store (remote-format.md 3): the tables are
//! exactly `sql/v1.sql`, a newer schema is refused, two first `add`s create one store, and a
//! role with only the documented privileges works.

use pvault_model::SnapshotKind;
use pvault_remote::{KeyChoice, Remote, Target};
use zeroize::Zeroizing;

use crate::common::{LEASE, Pg, holder, lease_when_free, never, push_save, snap};

fn shape(pg: &Pg, db: &str) -> String {
    pg.server.psql(
        db,
        "SELECT string_agg(x, E'\\n' ORDER BY x) FROM (\
           SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') AS x \
             FROM information_schema.columns WHERE table_schema = 'public' \
           UNION ALL SELECT conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace \
           UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public') s",
    )
}

#[tokio::test]
async fn created_schema_is_the_documented_sql() {
    let pg = Pg::start();
    pg.create().await;
    pg.server.create_db("by_hand");
    pg.server.psql("by_hand", include_str!("../../sql/v1.sql"));
    let made = shape(&pg, "pv");
    assert!(made.contains("pvault_leases.fence bigint NO"), "{made}");
    assert_eq!(made, shape(&pg, "by_hand"));
    assert_eq!(
        pvault_remote::schema_sql(),
        include_str!("../../sql/v1.sql")
    );
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let pg = Pg::start();
    let (_, key) = pg.create().await;
    pg.sql("UPDATE pvault_store SET schema_version = 2");
    let e = Remote::connect(&pg.target(), Pg::password(), KeyChoice::Existing(key))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "unsupported");
    assert!(
        e.to_string().contains("upgrade pvault on this machine"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_first_adds_create_the_store_once() {
    let pg = Pg::start();
    let (t1, t2) = (pg.target(), pg.target());
    let a = tokio::spawn(async move {
        Remote::connect(&t1, Pg::password(), KeyChoice::CreateIfEmpty).await
    });
    let b = tokio::spawn(async move {
        Remote::connect(&t2, Pg::password(), KeyChoice::CreateIfEmpty).await
    });
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(
        a.is_ok() as u8 + b.is_ok() as u8,
        1,
        "exactly one created it"
    );
    let e = a.err().or(b.err()).unwrap();
    assert_eq!(e.code(), "auth_failed", "{e}");
    assert_eq!(pg.sql("SELECT count(*) FROM pvault_store").trim(), "1");
}

#[tokio::test]
async fn a_role_with_only_the_documented_privileges_works() {
    let pg = Pg::start();
    pg.server.psql("pv", include_str!("../../sql/v1.sql"));
    pg.sql(
        "CREATE ROLE pvuser LOGIN PASSWORD 'pvuser-pw'; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON pvault_store, pvault_profiles, pvault_snapshots, pvault_leases TO pvuser; \
         REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    );
    let t = Target::parse(&pg.server.url_as("pvuser", "pv")).unwrap();
    let pw = || Some(Zeroizing::new("pvuser-pw".to_owned()));
    let (mut r, key) = Remote::connect(&t, pw(), KeyChoice::CreateIfEmpty)
        .await
        .unwrap();
    assert!(r.created);
    let p = r
        .create_profile(
            "p",
            &[snap(1, SnapshotKind::Import, None)],
            &holder("a"),
            10,
        )
        .await
        .unwrap();
    let lease = lease_when_free(&r, &p.profile_id, "a", LEASE).await;
    push_save(&mut r, &lease, &p, 2).await;
    r.release(&lease).await.unwrap();
    let (r2, _) = Remote::connect(&t, pw(), KeyChoice::Existing(key))
        .await
        .unwrap();
    assert_eq!(
        r2.pull(&p.profile_id, None, &never)
            .await
            .unwrap()
            .chain
            .len(),
        2
    );
}
