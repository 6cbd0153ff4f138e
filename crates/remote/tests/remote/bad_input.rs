//! Bad input (remote-format.md 2, 3.1, 4, 11): a wrong URL, an unreachable server, a wrong
//! password, a database of another tool, another store's key, a key file with the wrong
//! passphrase: each a clear error with its stable code, and nothing written.

use pvault_remote::keyfile::{self, Argon2Params, Protector};
use pvault_remote::{KeyChoice, Remote, Target};
use zeroize::Zeroizing;

use crate::common::Pg;

fn tables(pg: &Pg) -> String {
    pg.sql("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace")
        .trim()
        .to_owned()
}

#[tokio::test]
async fn wrong_url_password_and_unreachable_are_clear() {
    let pg = Pg::start();
    let e = Target::parse("http://localhost/pv").unwrap_err();
    assert_eq!(e.code(), "invalid_argument");
    assert!(e.to_string().contains("postgres://"), "{e}");
    let e = Target::parse(
        &pg.server
            .url("pv")
            .replace("postgres@", "postgres:hunter2@"),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("PGPASSWORD") && !e.to_string().contains("hunter2"),
        "{e}"
    );

    let wrong = Some(Zeroizing::new("not-the-password".to_owned()));
    let e = Remote::connect(&pg.target(), wrong, KeyChoice::CreateIfEmpty)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "auth_failed", "{e}");
    assert!(
        e.to_string()
            .contains("refused the password for role postgres"),
        "{e}"
    );
    assert!(!e.to_string().contains("not-the-password"));
    let e = Remote::connect(&pg.target(), None, KeyChoice::CreateIfEmpty)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "auth_failed", "no password at all: {e}");

    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = Target::parse(&format!("postgres://postgres@127.0.0.1:{free}/pv")).unwrap();
    let e = Remote::connect(&t, Pg::password(), KeyChoice::CreateIfEmpty)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "remote_unavailable", "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{free}")), "{e}");

    let t = Target::parse(&pg.server.url("nosuchdb")).unwrap();
    let e = Remote::connect(&t, Pg::password(), KeyChoice::CreateIfEmpty)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("nosuchdb does not exist"), "{e}");
    assert_eq!(tables(&pg), "", "nothing was written");
}

#[tokio::test]
async fn database_of_another_tool_is_refused_untouched() {
    let pg = Pg::start();
    pg.sql("CREATE TABLE users (id int primary key, email text); INSERT INTO users VALUES (1, 'a@example.com')");
    let before = pg.server.dump("pv");
    let e = Remote::connect(&pg.target(), Pg::password(), KeyChoice::CreateIfEmpty)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "conflict", "{e}");
    assert!(e.to_string().contains("another tool (users)"), "{e}");
    assert_eq!(pg.server.dump("pv"), before, "nothing was written");
}

#[tokio::test]
async fn a_key_of_another_store_is_auth_failed() {
    let pg = Pg::start();
    let (_r, _key) = pg.create().await;
    let other = pvault_remote::Key::random().unwrap();
    let before = pg.server.dump("pv");
    let e = Remote::connect(&pg.target(), Pg::password(), KeyChoice::Existing(other))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "auth_failed", "{e}");
    assert!(e.to_string().contains("another store's key"), "{e}");
    // Creating again over an existing store is refused too: it needs the store's key.
    let e = Remote::connect(&pg.target(), Pg::password(), KeyChoice::CreateIfEmpty)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("--key-file"), "{e}");
    assert_eq!(pg.server.dump("pv"), before, "nothing was written");
}

#[tokio::test]
async fn wrong_key_file_passphrase_writes_nothing() {
    let pg = Pg::start();
    let (r, key) = pg.create().await;
    let doc = keyfile::export(
        &key,
        &r.store_id_bytes(),
        &Protector::Passphrase("right horse"),
        Argon2Params::MINIMUM,
    )
    .unwrap();
    let e = keyfile::import(&doc, &Protector::Passphrase("wrong horse")).unwrap_err();
    assert_eq!(e.code(), "auth_failed");
    assert_eq!(
        e.to_string(),
        "the passphrase does not open this team-key file"
    );
    // A key file for an empty database (another store's) is refused before anything is made.
    let pg2 = Pg::start();
    let (_, k) = keyfile::import(&doc, &Protector::Passphrase("right horse")).unwrap();
    let e = Remote::connect(&pg2.target(), Pg::password(), KeyChoice::Existing(k))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "auth_failed", "{e}");
    assert_eq!(tables(&pg2), "", "nothing was written");
}
