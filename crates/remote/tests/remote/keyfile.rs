//! The team-key export file (remote-format.md 4.2): round trips with a passphrase and with a
//! key file, parameters checked before deriving, every edit refused.

use pvault_remote::keyfile::{self, Argon2Params, Protector};
use pvault_remote::{Key, KeyChoice, Remote};

use crate::common::Pg;

#[tokio::test]
async fn export_import_round_trip() {
    let pg = Pg::start();
    let (r, key) = pg.create().await;
    let store = r.store_id_bytes();
    let doc = keyfile::export(
        &key,
        &store,
        &Protector::Passphrase("pass ☃"),
        Argon2Params::MINIMUM,
    )
    .unwrap();
    assert!(!String::from_utf8_lossy(&doc).contains(&hex::encode(key.expose())));
    let (s, k) = keyfile::import(&doc, &Protector::Passphrase("pass ☃")).unwrap();
    assert_eq!((s, k.expose()), (store, key.expose()));
    Remote::connect(&pg.target(), Pg::password(), KeyChoice::Existing(k))
        .await
        .unwrap();

    let kf = [7u8; 64];
    let doc = keyfile::export(
        &key,
        &store,
        &Protector::KeyFile(&kf),
        Argon2Params::MINIMUM,
    )
    .unwrap();
    let (_, k) = keyfile::import(&doc, &Protector::KeyFile(&kf)).unwrap();
    assert_eq!(k.expose(), key.expose());
    assert_eq!(
        keyfile::import(&doc, &Protector::KeyFile(&[8u8; 64]))
            .unwrap_err()
            .code(),
        "auth_failed"
    );
    assert_eq!(
        keyfile::import(&doc, &Protector::Passphrase("x"))
            .unwrap_err()
            .code(),
        "invalid_argument"
    );
}

#[test]
fn edited_files_are_refused_and_huge_parameters_before_deriving() {
    let key = Key::random().unwrap();
    let doc = keyfile::export(
        &key,
        &[1; 16],
        &Protector::Passphrase("p"),
        Argon2Params::MINIMUM,
    )
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut w = v.clone();
        f(&mut w);
        keyfile::import(
            &serde_json::to_vec(&w).unwrap(),
            &Protector::Passphrase("p"),
        )
        .unwrap_err()
    };
    assert_eq!(
        edit(&|w| w["store_id"] = "02".repeat(16).into()).code(),
        "auth_failed"
    );
    assert_eq!(edit(&|w| w["kdf"]["t"] = 3.into()).code(), "auth_failed");
    // 2^40 KiB would allocate a petabyte: refused by the cap, at once.
    let t = std::time::Instant::now();
    assert_eq!(
        edit(&|w| w["kdf"]["m_kib"] = (1u64 << 40).into()).code(),
        "unsupported"
    );
    assert_eq!(
        edit(&|w| w["kdf"]["m_kib"] = 8_000_000.into()).code(),
        "unsupported"
    );
    assert!(t.elapsed() < std::time::Duration::from_millis(200));
    assert_eq!(edit(&|w| w["version"] = 2.into()).code(), "unsupported");
    assert_eq!(edit(&|w| w["extra"] = 1.into()).code(), "invalid_argument");
    v["sealed"] = "AAAA".into();
    assert_eq!(
        keyfile::import(
            &serde_json::to_vec(&v).unwrap(),
            &Protector::Passphrase("p")
        )
        .unwrap_err()
        .code(),
        "auth_failed"
    );
}
