//! Vault commands: `init`, `unlock`, `lock`, `status`, `passwd`, `verify`, `backup`, their
//! `--json` shapes, and the `locked`, `auth_failed`, `not_found` and `conflict` exit codes.

use crate::support::{Env, PASS, mode, sample_state};

#[test]
fn init_creates_an_unlocked_vault_and_refuses_a_second_one() {
    let env = Env::new();
    let pass = env.file("pass", format!("{PASS}\n").as_bytes());
    let v = env.json(&["init", "--passphrase-file", pass.to_str().unwrap()]);
    assert_eq!(v["vault_id"].as_str().unwrap().len(), 32, "{v}");
    let vault_path = v["vault_path"].as_str().unwrap();
    assert!(
        std::path::Path::new(vault_path).starts_with(&env.home),
        "{v}"
    );
    assert!(std::path::Path::new(vault_path).exists());

    let st = env.json(&["status"]);
    assert_eq!(st["locked"], false);
    assert_eq!(st["vault_exists"], true);

    let again = env.run(&[
        "--json",
        "init",
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    again.assert_error(4, Some("conflict"));
    assert!(
        again.stderr.contains("pvault unlock"),
        "says what to do: {again:?}"
    );
}

#[test]
fn status_json_names_daemon_socket_and_vault() {
    let env = Env::new();
    let st = env.json(&["status"]);
    assert!(st["pid"].as_u64().unwrap() > 0, "{st}");
    assert!(!st["version"].as_str().unwrap().is_empty(), "{st}");
    assert_eq!(st["socket"].as_str().unwrap(), env.socket.to_str().unwrap());
    assert!(
        st["vault_path"]
            .as_str()
            .unwrap()
            .starts_with(env.home.to_str().unwrap()),
        "{st}"
    );
    assert_eq!(st["locked"], true, "no vault yet counts as locked: {st}");
    assert_eq!(st["vault_exists"], false);
    assert_eq!(st["cli_version"], env!("CARGO_PKG_VERSION"));

    // The human form mentions the same facts.
    let out = env.run(&["status"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(&format!("pid {}", st["pid"])),
        "{out:?}"
    );
    assert!(out.stdout.contains("pvault init"), "{out:?}");
}

#[test]
fn lock_then_unlock_with_the_passphrase() {
    let env = Env::with_vault();
    assert_eq!(env.json(&["lock"]), serde_json::json!({"locked": true}));
    assert_eq!(env.json(&["status"])["locked"], true);

    // Locked: data commands exit 6 and say how to unlock.
    let out = env.run(&["--json", "profile", "list"]);
    out.assert_error(6, Some("locked"));
    assert!(out.stderr.contains("pvault unlock"), "{out:?}");

    let wrong = env.file("wrong", b"not the passphrase\n");
    let out = env.run(&[
        "--json",
        "unlock",
        "--passphrase-file",
        wrong.to_str().unwrap(),
    ]);
    out.assert_error(7, Some("auth_failed"));
    assert_eq!(env.json(&["status"])["locked"], true);

    let pass = env.file("pass2", PASS.as_bytes());
    let v = env.json(&["unlock", "--passphrase-file", pass.to_str().unwrap()]);
    assert_eq!(v["vault_id"].as_str().unwrap().len(), 32, "{v}");
    assert!(
        v["kdf_ms"].is_u64() && v["auto_lock_secs"].as_u64().unwrap() > 0,
        "{v}"
    );
    let st = env.json(&["status"]);
    assert_eq!(st["locked"], false);
    assert!(st["profile_count"].is_u64(), "{st}");
}

#[test]
fn unlock_without_a_vault_is_not_found() {
    let env = Env::new();
    let pass = env.file("pass", PASS.as_bytes());
    let out = env.run(&[
        "--json",
        "unlock",
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    out.assert_error(3, Some("not_found"));
    assert!(out.stderr.contains("pvault init"), "{out:?}");
}

#[test]
fn no_terminal_and_no_file_is_refused_not_hung() {
    let env = Env::new();
    let out = env.run(&["--json", "init"]);
    out.assert_error(2, Some("usage"));
    assert!(out.stderr.contains("--passphrase-file"), "{out:?}");
    assert_eq!(
        env.json(&["status"])["vault_exists"],
        false,
        "nothing was created"
    );
}

#[test]
fn passphrase_file_keeps_inner_whitespace_and_strips_one_newline() {
    let env = Env::new();
    let pass = env.file("pass", b" padded pass \n");
    env.json(&["init", "--passphrase-file", pass.to_str().unwrap()]);
    env.json(&["lock"]);
    let trimmed = env.file("trimmed", b"padded pass");
    env.run(&["unlock", "--passphrase-file", trimmed.to_str().unwrap()])
        .assert_error(7, None);
    let exact = env.file("exact", b" padded pass ");
    env.json(&["unlock", "--passphrase-file", exact.to_str().unwrap()]);
}

#[test]
fn passwd_replaces_the_passphrase_and_adds_a_keyfile() {
    let env = Env::with_vault();
    let old = env.file("old", PASS.as_bytes());
    let new = env.file("new", b"a brand new passphrase\n");
    let v = env.json(&[
        "passwd",
        "--passphrase-file",
        old.to_str().unwrap(),
        "--new-passphrase-file",
        new.to_str().unwrap(),
    ]);
    assert_eq!(v, serde_json::json!({"changed": "passphrase"}));

    // A wrong old passphrase changes nothing.
    let out = env.run(&[
        "--json",
        "passwd",
        "--passphrase-file",
        old.to_str().unwrap(),
        "--new-passphrase-file",
        new.to_str().unwrap(),
    ]);
    out.assert_error(7, Some("auth_failed"));

    let key = env.file("key", &(0u8..64).collect::<Vec<u8>>());
    let v = env.json(&[
        "passwd",
        "--passphrase-file",
        new.to_str().unwrap(),
        "--new-keyfile",
        key.to_str().unwrap(),
    ]);
    assert_eq!(v, serde_json::json!({"changed": "keyfile"}));

    env.json(&["lock"]);
    env.run(&["unlock", "--passphrase-file", old.to_str().unwrap()])
        .assert_error(7, None);
    env.json(&["unlock", "--keyfile", key.to_str().unwrap()]);
    env.json(&["lock"]);
    env.json(&["unlock", "--passphrase-file", new.to_str().unwrap()]);
}

#[test]
fn init_with_a_keyfile() {
    let env = Env::new();
    let key = env.file("key", &[7u8; 32]);
    env.json(&["init", "--keyfile", key.to_str().unwrap()]);
    env.json(&["lock"]);
    let other = env.file("other", &[8u8; 32]);
    env.run(&["--json", "unlock", "--keyfile", other.to_str().unwrap()])
        .assert_error(7, Some("auth_failed"));
    env.json(&["unlock", "--keyfile", key.to_str().unwrap()]);
}

#[test]
fn verify_and_backup() {
    let env = Env::with_vault();
    env.json(&["profile", "create", "one"]);
    let v = env.json(&["verify"]);
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["records"].as_u64().unwrap() >= 1, "{v}");
    assert_eq!(v["failures"], serde_json::json!([]));

    // A relative path is resolved against the CLI's directory, not the daemon's.
    let mut cmd = env.cmd(&["--json", "backup", "copy.db"]);
    cmd.current_dir(env.dir.path());
    let out = env.run_with(cmd, None);
    assert_eq!(out.code, 0, "{out:?}");
    let v = out.json();
    let copy = env.dir.path().join("copy.db");
    assert_eq!(v["path"].as_str().unwrap(), copy.to_str().unwrap());
    assert_eq!(
        v["size_bytes"].as_u64().unwrap(),
        std::fs::metadata(&copy).unwrap().len()
    );
    assert_eq!(mode(&copy) & 0o077, 0, "a backup is not readable by others");

    let out = env.run(&["--json", "backup", copy.to_str().unwrap()]);
    out.assert_error(4, Some("conflict"));

    // Locked: verify needs the keys.
    env.json(&["lock"]);
    env.run(&["--json", "verify"])
        .assert_error(6, Some("locked"));
}

/// An edited vault file: `verify` exits 1 and names each problem, grouped by profile, with
/// its record, seq and kind; `--json` gives the typed findings.
#[test]
fn verify_reports_an_edited_vault_file_readably_and_as_typed_findings() {
    let env = Env::with_vault();
    let state = env.file("state.json", sample_state("a").to_string().as_bytes());
    for _ in 0..3 {
        let out = env.run(&["profile", "import", "p", state.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{out:?}");
    }
    let id = env.json(&["profile", "show", "p"])["profile"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let db = rusqlite::Connection::open(env.home.join("vault.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE snapshots SET created_at = created_at + 1
             WHERE seq = 3 AND lower(hex(profile_id)) = ?1",
            [&id],
        )
        .unwrap()
        + db.execute(
            "DELETE FROM snapshots WHERE seq = 2 AND lower(hex(profile_id)) = ?1",
            [&id],
        )
        .unwrap();
    assert_eq!(changed, 2);
    drop(db);

    let out = env.run(&["verify"]);
    assert_eq!(out.code, 1, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].ends_with("3 problems FOUND:"), "{out:?}");
    assert_eq!(lines[1], format!("profile {id}"), "{out:?}");
    assert!(
        lines[2].starts_with("  snapshot info, seq 3, snapshot ")
            && lines[2].ends_with(
                ": column created_at was edited (disagrees with the sealed copy) [edited]"
            ),
        "{out:?}"
    );
    assert_eq!(
        lines[3],
        "  history, seq 2: snapshot seq 2 is missing (deleted) [missing]"
    );
    assert!(lines[4].ends_with("[count_mismatch]"), "{out:?}");
    assert!(out.stderr.contains("3 problems found"), "{out:?}");

    let out = env.run(&["--json", "verify"]);
    assert_eq!(out.code, 1, "{out:?}");
    let v = out.json();
    assert_eq!(v["ok"], false);
    let findings = v["findings"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f["record"].as_str().unwrap(), f["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("snapshot_info", "edited"),
            ("history", "missing"),
            ("history", "count_mismatch")
        ],
        "{v}"
    );
    assert_eq!(findings[0]["column"], "created_at");
    assert_eq!(findings[0]["seq"], 3);
    assert_eq!(findings[1]["seq"], 2);
    assert!(findings.iter().all(|f| f["profile"] == id.as_str()), "{v}");
    assert_eq!(v["failures"].as_array().unwrap().len(), 3);
}

#[test]
fn init_refuses_a_very_weak_passphrase_unless_insisted_and_warns_on_a_weak_one() {
    let env = Env::new();
    let weak = env.file("weak", b"abc12\n");
    let out = env.run(&[
        "--json",
        "init",
        "--passphrase-file",
        weak.to_str().unwrap(),
    ]);
    out.assert_error(2, Some("usage"));
    assert!(
        out.stderr.contains("too weak") && out.stderr.contains("--allow-weak-passphrase"),
        "{out:?}"
    );
    assert!(
        !out.stderr.contains("abc12"),
        "never quotes the passphrase: {out:?}"
    );
    assert_eq!(env.json(&["status"])["vault_exists"], false);

    // Score 2: created, with a warning.
    let meh = env.file("meh", b"one thing\n");
    let out = env.run(&["init", "--passphrase-file", meh.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("warning: this passphrase is weak"),
        "{out:?}"
    );

    // passwd applies the same rule to the new passphrase; the flag insists.
    let args = |new: &std::path::Path| {
        vec![
            "--json".to_owned(),
            "passwd".to_owned(),
            "--passphrase-file".to_owned(),
            meh.to_str().unwrap().to_owned(),
            "--new-passphrase-file".to_owned(),
            new.to_str().unwrap().to_owned(),
        ]
    };
    let a = args(&weak);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    env.run(&a).assert_error(2, Some("usage"));
    let mut a = a.clone();
    a.push("--allow-weak-passphrase");
    let out = env.run(&a);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("very weak"), "{out:?}");
}

#[test]
fn init_with_allow_weak_passphrase_accepts_a_very_weak_one() {
    let env = Env::new();
    let weak = env.file("weak", b"abc12\n");
    let out = env.run(&[
        "init",
        "--passphrase-file",
        weak.to_str().unwrap(),
        "--allow-weak-passphrase",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(env.json(&["status"])["vault_exists"], true);
}

/// The daemon's advice arrives as `hint` and is shown as given, on its own `hint:` line and in
/// the `--json` error object; the message keeps saying what went wrong.
#[test]
fn locked_errors_carry_the_daemons_hint() {
    let env = Env::with_vault();
    env.json(&["lock"]);
    let out = env.run(&["--json", "profile", "list"]);
    out.assert_error(6, Some("locked"));
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["error"]["message"], "the vault is locked", "{doc}");
    assert_eq!(doc["error"]["hint"], "run `pvault unlock` first", "{doc}");
    assert!(
        out.stderr
            .contains("pvault: the vault is locked\nhint: run `pvault unlock` first"),
        "{out:?}"
    );
}
