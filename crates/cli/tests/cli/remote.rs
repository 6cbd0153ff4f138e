//! `pvault remote …`, `profile link` and `profile pull` against a real PostgreSQL: the
//! password from `PGPASSWORD` or the libpq password file (never printed), the team key
//! exported to a 0600 file and joined with on a second vault, and bad input with its exit
//! code.

use pvault_testkit::PgServer;
use pvault_testkit::postgres::SUPERUSER_PASSWORD;

use crate::support::{Env, mode, sample_state};

#[test]
fn add_link_export_join_pull_and_status() {
    let pg = PgServer::start();
    pg.create_db("pv");
    let url = pg.url("pv");
    let a = Env::with_vault();
    let mut add = a.cmd(&["--json", "remote", "add", "team", &url, "--lease-ttl", "30"]);
    add.env("PGPASSWORD", SUPERUSER_PASSWORD);
    let out = a.run_with(add, None);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["created"], true);
    assert!(!out.stdout.contains(SUPERUSER_PASSWORD) && !out.stderr.contains(SUPERUSER_PASSWORD));
    let state = a.file("state.json", sample_state("cli").to_string().as_bytes());
    assert_eq!(
        a.run(&["profile", "import", "acct", state.to_str().unwrap()])
            .code,
        0
    );
    let linked = a.json(&["profile", "link", "acct", "--remote", "team"]);
    assert_eq!(linked["snapshots"], 1);
    let pass = a.file("export-pass", b"export passphrase\n");
    let key = a.dir.path().join("team.key");
    let out = a.run(&[
        "remote",
        "export-key",
        "team",
        "-o",
        key.to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(mode(&key), 0o600);
    let list = a.json(&["remote", "list"]);
    assert_eq!(list["remotes"][0]["linked"], 1);
    assert_eq!(list["remotes"][0]["lease_ttl_secs"], 30);

    // B: the password from a libpq password file, the key from A's export.
    let b = Env::with_vault();
    let pgpass = b.file(
        "pgpass",
        format!("127.0.0.1:{}:pv:postgres:{SUPERUSER_PASSWORD}\n", pg.port).as_bytes(),
    );
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut join = b.cmd(&[
        "--json",
        "remote",
        "add",
        "team",
        &url,
        "--key-file",
        key.to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    join.env("PGPASSFILE", &pgpass).env_remove("PGPASSWORD");
    let out = b.run_with(join, None);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["created"], false);
    let pulled = b.json(&["profile", "pull", "acct", "--remote", "team"]);
    assert_eq!(pulled["snapshots"], 1);
    assert_eq!(
        b.json(&["profile", "history", "acct"])["snapshots"][0]["content_hash"],
        a.json(&["profile", "history", "acct"])["snapshots"][0]["content_hash"]
    );
    let st = b.json(&["remote", "status", "team"]);
    assert_eq!(st["reachable"], true, "{st}");
    assert_eq!(st["schema_version"], 1);
    let text = b.run(&["remote", "status", "team"]);
    assert!(
        text.stdout
            .contains("reachable: schema version 1, 1 profile"),
        "{text:?}"
    );

    // Bad input: a password in the URL (usage, exit 2), an unknown remote (exit 3).
    let bad = url.replace("postgres@", "postgres:pw@");
    b.run(&["--json", "remote", "add", "x", &bad])
        .assert_error(2, Some("invalid_argument"));
    b.run(&["--json", "remote", "status", "nope"])
        .assert_error(3, Some("not_found"));
}
