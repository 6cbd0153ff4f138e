//! A vault file replaced by an older copy of itself is valid in every rule of the format, so
//! only the daemon's memory of the history heads (`heads.json`, kept outside the file) can
//! tell: after a restart, `vault.verify` reports the profile that went back.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::harness::{Env, storage_state};

#[test]
fn a_vault_file_put_back_is_reported_by_verify() {
    let env = Env::new();
    let mut d = env.start();
    let mut c = d.session();
    c.init();
    let import = |c: &mut crate::harness::Raw, tag: &str| {
        c.ok(
            "profile.import",
            json!({"name": "p", "state": storage_state(tag), "create": true}),
        );
    };
    import(&mut c, "1");
    let old = env.dir.path().join("old.db");
    c.ok("vault.backup", json!({"path": old}));
    import(&mut c, "2");
    import(&mut c, "3");
    let v = c.ok("vault.verify", json!({}));
    assert_eq!(v["ok"], true, "{v}");
    c.ok("vault.lock", json!({}));
    drop(c);
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait(), Some(0));
    let mode = std::fs::metadata(env.home.join("heads.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // The older copy put back in place of the vault file.
    for f in ["vault.db", "vault.db-wal", "vault.db-shm"] {
        let _ = std::fs::remove_file(env.home.join(f));
    }
    std::fs::copy(&old, env.home.join("vault.db")).unwrap();
    let d = env.start();
    let mut c = d.session();
    c.unlock();
    let v = c.ok("vault.verify", json!({}));
    assert_eq!(v["ok"], false, "{v}");
    let failures = v["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{v}");
    let f = failures[0].as_str().unwrap();
    assert!(
        f.contains("went back") && f.contains("is 2") && f.contains("saw 4"),
        "{f}"
    );
    let finding = &v["findings"][0];
    assert_eq!(finding["kind"], "went_back", "{v}");
    assert_eq!(finding["record"], "history", "{v}");
    assert_eq!(finding["message"], failures[0], "{v}");
    let id = c.ok("profile.show", json!({"name": "p"}))["profile"]["id"].clone();
    assert_eq!(finding["profile"], id, "{v}");
}
