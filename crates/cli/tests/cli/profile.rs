//! Profile commands: create/list/show/rename/delete with their `--json` shapes and error
//! codes, the storageState import/export round trip (file, stdin, `-o` with mode 0600), and
//! the history → diff → restore flow.

use serde_json::Value;

use crate::support::{Env, PASS, assert_same_state, mode, sample_state};

/// Asserts `v` has the documented Profile fields.
fn assert_profile_shape(v: &Value, name: &str) {
    assert_eq!(v["name"], name, "{v}");
    assert_eq!(v["id"].as_str().unwrap().len(), 32, "{v}");
    for k in ["created_at", "updated_at", "snapshot_count"] {
        assert!(v[k].is_i64() || v[k].is_u64(), "{k} in {v}");
    }
    assert!(
        v["cookie_domains"].is_array() && v["origins"].is_array(),
        "{v}"
    );
}

/// Asserts `v` has the documented Snapshot fields.
fn assert_snapshot_shape(v: &Value) {
    assert_eq!(v["id"].as_str().unwrap().len(), 32, "{v}");
    assert_eq!(v["content_hash"].as_str().unwrap().len(), 64, "{v}");
    for k in [
        "seq",
        "created_at",
        "size_bytes",
        "cookie_count",
        "origin_count",
        "local_storage_key_count",
    ] {
        assert!(v[k].is_u64() || v[k].is_i64(), "{k} in {v}");
    }
    assert!(v["kind"].is_string(), "{v}");
}

#[test]
fn create_list_show_rename_delete() {
    let env = Env::with_vault();
    let v = env.json(&["profile", "create", "work", "--description", "work account"]);
    assert_profile_shape(&v["profile"], "work");
    assert_eq!(v["profile"]["description"], "work account");
    assert_eq!(v["profile"]["snapshot_count"], 0);
    env.json(&["profile", "create", "alpha"]);

    env.run(&["--json", "profile", "create", "work"])
        .assert_error(4, Some("conflict"));
    env.run(&["--json", "profile", "create", "bad name!"])
        .assert_error(2, Some("invalid_argument"));

    let v = env.json(&["profile", "list"]);
    assert_eq!(v["total"], 2, "{v}");
    let names: Vec<&str> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "work"], "ordered by name");

    let out = env.run(&["profile", "list"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("NAME"), "a table: {out:?}");
    assert!(out.stdout.contains("work account"), "{out:?}");

    let v = env.json(&["profile", "show", "work"]);
    assert_profile_shape(&v["profile"], "work");
    env.run(&["--json", "profile", "show", "nope"])
        .assert_error(3, Some("not_found"));

    let v = env.json(&["profile", "rename", "work", "job"]);
    assert_profile_shape(&v["profile"], "job");
    env.run(&["--json", "profile", "show", "work"])
        .assert_error(3, Some("not_found"));
    env.run(&["--json", "profile", "rename", "job", "alpha"])
        .assert_error(4, Some("conflict"));

    assert_eq!(
        env.json(&["profile", "delete", "job"]),
        serde_json::json!({"deleted": "job"})
    );
    env.run(&["--json", "profile", "delete", "job"])
        .assert_error(3, Some("not_found"));
    assert_eq!(env.json(&["profile", "list"])["total"], 1);
}

#[test]
fn import_export_round_trip() {
    let env = Env::with_vault();
    let state = sample_state("a");
    let f = env.file(
        "state.json",
        serde_json::to_string_pretty(&state).unwrap().as_bytes(),
    );

    let v = env.json(&["profile", "import", "gh", f.to_str().unwrap()]);
    assert_eq!(v["created"], true, "creates a missing profile: {v}");
    assert_profile_shape(&v["profile"], "gh");
    assert_snapshot_shape(&v["snapshot"]);
    assert_eq!(v["snapshot"]["kind"], "import");
    assert_eq!(v["snapshot"]["cookie_count"], 2);
    assert_eq!(v["snapshot"]["origin_count"], 1);
    assert_eq!(v["snapshot"]["local_storage_key_count"], 2);

    // stdout export (the storageState itself, with or without --json).
    let out = env.run(&["profile", "export", "gh"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_same_state(&out.json(), &state);
    assert_same_state(&env.json(&["profile", "export", "gh"]), &state);

    // stdin import into the existing profile appends a snapshot.
    let state_b = sample_state("b");
    let out = env.run_stdin(
        &["--json", "profile", "import", "gh", "-"],
        serde_json::to_string(&state_b).unwrap().as_bytes(),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let v = out.json();
    assert_eq!(v["created"], false);
    assert_eq!(v["snapshot"]["seq"], 2);

    // -o: a 0600 file, replacing whatever was there.
    let dest = env.dir.path().join("out.json");
    std::fs::write(&dest, "stale").unwrap();
    let v = env.json(&["profile", "export", "gh", "-o", dest.to_str().unwrap()]);
    assert_eq!(v["path"].as_str().unwrap(), dest.to_str().unwrap());
    assert_eq!(v["snapshot"]["seq"], 2);
    assert_eq!(mode(&dest), 0o600);
    let written: Value = serde_json::from_slice(&std::fs::read(&dest).unwrap()).unwrap();
    assert_same_state(&written, &state_b);

    // An older snapshot by sequence number.
    assert_same_state(
        &env.json(&["profile", "export", "gh", "--snapshot", "1"]),
        &state,
    );
    env.run(&["--json", "profile", "export", "gh", "--snapshot", "99"])
        .assert_error(3, Some("not_found"));
    env.run(&["--json", "profile", "export", "nope"])
        .assert_error(3, Some("not_found"));
}

/// pvault's own JSON with what Playwright's format cannot hold: sessionStorage and an
/// IndexedDB value using a pvault-only tag (a DataView). Values carry `SECRET` markers.
fn full_state() -> Value {
    serde_json::json!({
        "pvault": 1,
        "cookies": [],
        "origins": [{
            "origin": "https://spa.test",
            "localStorage": [{"name": "theme", "value": "dark"}],
            "sessionStorage": [{"name": "msal.token", "value": "SECRETSESSION"}],
            "indexedDB": [{"name": "db", "version": 1, "stores": [{
                "name": "s", "autoIncrement": false, "indexes": [], "records": [
                    {"key": "view", "valueEncoded": {"dv": {"b": "AQID"}}},
                    {"key": "plain", "value": {"t": "SECRETIDB"}}]}]}]
        }]
    })
}

#[test]
fn export_formats_name_what_playwright_leaves_out() {
    let env = Env::with_vault();
    let f = env.file("full.json", full_state().to_string().as_bytes());
    env.json(&["profile", "import", "spa", f.to_str().unwrap()]);

    // Playwright's format (the default): what it cannot hold is named on stderr, never values.
    let out = env.run(&["profile", "export", "spa"]);
    assert_eq!(out.code, 0, "{out:?}");
    let pw = out.json();
    assert!(pw.get("pvault").is_none(), "{pw}");
    assert!(pw["origins"][0].get("sessionStorage").is_none(), "{pw}");
    assert_eq!(
        pw["origins"][0]["indexedDB"][0]["stores"][0]["records"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 2, "{out:?}");
    assert!(
        warnings.iter().all(
            |w| w.starts_with("warning: left out of Playwright's format: ")
                && w.ends_with("; use --format pvault to keep everything")
        ),
        "{out:?}"
    );
    assert!(warnings[0].contains("sessionStorage") && warnings[0].contains("https://spa.test"));
    assert!(warnings[1].contains("db/s: 1 record (DataView)"), "{out:?}");
    assert!(!out.stderr.contains("SECRET"), "names only: {out:?}");

    // pvault's format keeps everything, says nothing, and imports back to the same content.
    let out = env.run(&["profile", "export", "spa", "--format", "pvault"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains("warning"), "{out:?}");
    let own = out.json();
    assert_eq!(own, full_state());
    let again = env.file("again.json", own.to_string().as_bytes());
    env.json(&["profile", "import", "spa", again.to_str().unwrap()]);
    assert_eq!(
        env.json(&["profile", "export", "spa", "--format", "pvault"]),
        full_state()
    );

    // -o with --json reports the left-out lines too.
    let dest = env.dir.path().join("pw.json");
    let v = env.json(&["profile", "export", "spa", "-o", dest.to_str().unwrap()]);
    assert_eq!(v["left_out"].as_array().unwrap().len(), 2, "{v}");
    env.run(&["--json", "profile", "export", "spa", "--format", "json"])
        .assert_error(2, Some("usage"));
}

#[test]
fn diff_reports_session_storage_and_indexeddb() {
    let env = Env::with_vault();
    // The same origin without, then with, sessionStorage and IndexedDB.
    let bare = serde_json::json!({"cookies": [], "origins": [
        {"origin": "https://spa.test", "localStorage": [{"name": "theme", "value": "dark"}]}]});
    let f = env.file("bare.json", bare.to_string().as_bytes());
    env.json(&["profile", "import", "spa", f.to_str().unwrap()]);
    let f = env.file("full.json", full_state().to_string().as_bytes());
    env.json(&["profile", "import", "spa", f.to_str().unwrap()]);

    let out = env.run(&["profile", "diff", "spa"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("no differences"), "{out:?}");
    for line in [
        "  + sessionStorage https://spa.test msal.token",
        "  + IndexedDB https://spa.test db (database)",
        "  + IndexedDB https://spa.test db/s key \"view\"",
        "  + IndexedDB https://spa.test db/s key \"plain\"",
    ] {
        assert!(out.stdout.contains(line), "missing {line:?}: {out:?}");
    }
    assert!(!out.stdout.contains("SECRET"), "names only: {out:?}");
    // The other way round: removals.
    let out = env.run(&["profile", "diff", "spa", "2", "1"]);
    assert!(
        out.stdout
            .contains("  - sessionStorage https://spa.test msal.token")
            && out
                .stdout
                .contains("  - IndexedDB https://spa.test db (database)"),
        "{out:?}"
    );

    // --json carries the new members.
    let v = env.json(&["profile", "diff", "spa"]);
    assert_eq!(
        v["diff"]["sessionStorage"],
        serde_json::json!([{"origin": "https://spa.test", "added": ["msal.token"], "removed": [], "changed": []}])
    );
    assert_eq!(
        v["diff"]["indexedDB"],
        serde_json::json!([{"origin": "https://spa.test", "database": "db", "status": "added", "schema": [],
            "stores": [{"store": "s", "added": ["\"plain\"", "\"view\""], "removed": [], "changed": []}]}])
    );
    assert!(!v.to_string().contains("SECRET"), "{v}");
}

#[test]
fn export_of_a_snapshot_larger_than_one_protocol_message() {
    // The vault holds a 70 MiB snapshot (captured sessions can be that large; imports cannot):
    // written here with the vault crate, then exported through the daemon in chunks.
    let env = Env::new();
    std::fs::create_dir(&env.home).unwrap();
    std::fs::set_permissions(
        &env.home,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let big = "x".repeat(70 * 1024 * 1024);
    {
        let v = pvault_vault::Vault::create(
            &env.home,
            &pvault_vault::Credential::Passphrase(zeroize::Zeroizing::new(PASS.to_owned())),
            &pvault_vault::CreateOptions {
                kdf_target: None,
                retention: 20,
                kdf_params: Some(pvault_vault::KdfParams::OWASP_MINIMUM),
            },
        )
        .unwrap();
        v.create_profile("big", None, &Default::default()).unwrap();
        let mut origin = pvault_model::OriginState::new("https://big.test");
        origin.local_storage.push(pvault_model::StorageItem {
            name: "k".into(),
            value: big.clone(),
        });
        let state = pvault_model::BrowserState {
            cookies: vec![],
            origins: vec![origin],
            source: None,
        };
        v.append_snapshot("big", &state, pvault_model::SnapshotKind::Capture)
            .unwrap();
    }
    let pass = env.file("pass", PASS.as_bytes());
    let out = env.run(&["unlock", "--passphrase-file", pass.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let dest = env.dir.path().join("big.json");
    let out = env.run(&["profile", "export", "big", "-o", dest.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let written: Value = serde_json::from_slice(&std::fs::read(&dest).unwrap()).unwrap();
    assert!(written["origins"][0]["localStorage"][0]["value"] == big.as_str());
}

#[test]
fn import_refuses_bad_files_before_sending() {
    let env = Env::with_vault();
    let junk = env.file("junk.json", b"{not json");
    let out = env.run(&["--json", "profile", "import", "gh", junk.to_str().unwrap()]);
    out.assert_error(2, Some("usage"));
    assert!(out.stderr.contains("junk.json"), "names the file: {out:?}");
    let arr = env.file("arr.json", b"[1,2]");
    env.run(&["--json", "profile", "import", "gh", arr.to_str().unwrap()])
        .assert_error(2, Some("usage"));
    let missing = env.dir.path().join("missing.json");
    env.run(&[
        "--json",
        "profile",
        "import",
        "gh",
        missing.to_str().unwrap(),
    ])
    .assert_error(2, Some("usage"));
    // Valid JSON but not a storageState: the daemon's verdict.
    let wrong = env.file("wrong.json", br#"{"cookies": "nope"}"#);
    env.run(&["--json", "profile", "import", "gh", wrong.to_str().unwrap()])
        .assert_error(2, Some("invalid_argument"));
    env.run(&["--json", "profile", "show", "gh"])
        .assert_error(3, Some("not_found"));
}

#[test]
fn history_diff_restore() {
    let env = Env::with_vault();
    let a = sample_state("a");
    let mut b = sample_state("b");
    // b: one cookie removed, one storage key added.
    b["cookies"].as_array_mut().unwrap().remove(1);
    b["origins"][0]["localStorage"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "extra", "value": "1"}));
    let fa = env.file("a.json", a.to_string().as_bytes());
    let fb = env.file("b.json", b.to_string().as_bytes());
    env.json(&["profile", "import", "p", fa.to_str().unwrap()]);

    // One snapshot: nothing to diff against by default.
    env.run(&["--json", "profile", "diff", "p"])
        .assert_error(3, Some("not_found"));

    env.json(&["profile", "import", "p", fb.to_str().unwrap()]);

    let h = env.json(&["profile", "history", "p"]);
    assert_eq!(h["profile_id"].as_str().unwrap().len(), 32, "{h}");
    let snaps = h["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    snaps.iter().for_each(assert_snapshot_shape);
    assert_eq!(snaps[0]["seq"], 2, "newest first");
    assert_eq!(snaps[1]["seq"], 1);
    let out = env.run(&["profile", "history", "p"]);
    assert!(
        out.stdout.starts_with("SEQ") && out.stdout.contains("#2"),
        "{out:?}"
    );

    // Default diff: the two newest.
    let d = env.json(&["profile", "diff", "p"]);
    assert_eq!(d["from"]["seq"], 1, "{d}");
    assert_eq!(d["to"]["seq"], 2, "{d}");
    let text = d["diff"].to_string();
    assert!(
        text.contains("pref") && text.contains("extra"),
        "names what changed: {d}"
    );
    assert!(!text.contains("s3cr3t"), "never values: {d}");

    // Explicit direction, by id prefix and by seq.
    let first_id = snaps[1]["id"].as_str().unwrap();
    let d = env.json(&["profile", "diff", "p", "2", &first_id[..8]]);
    assert_eq!(d["from"]["seq"], 2);
    assert_eq!(d["to"]["seq"], 1);
    let out = env.run(&["profile", "diff", "p"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("pref") && out.stdout.contains("extra"),
        "{out:?}"
    );

    // Restore the first: appended as #3, kind restore, content equal to #1.
    let r = env.json(&["profile", "restore", "p", "1"]);
    assert_snapshot_shape(&r["snapshot"]);
    assert_eq!(r["snapshot"]["seq"], 3);
    assert_eq!(r["snapshot"]["kind"], "restore");
    assert_eq!(r["restored_from"]["seq"], 1);
    assert_eq!(
        r["snapshot"]["content_hash"],
        r["restored_from"]["content_hash"]
    );
    assert_same_state(&env.json(&["profile", "export", "p"]), &a);

    // Identical content: an empty diff.
    let out = env.run(&["profile", "diff", "p", "1", "3"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("no differences"), "{out:?}");
    env.run(&["--json", "profile", "restore", "p", "42"])
        .assert_error(3, Some("not_found"));
}

#[test]
fn two_clients_racing_for_one_name_get_exactly_one_conflict() {
    let env = Env::with_vault();
    for round in 0..5 {
        let name = format!("race{round}");
        let kids: Vec<_> = (0..2)
            .map(|_| crate::support::spawn(env.cmd(&["--json", "profile", "create", &name]), false))
            .collect();
        let outs: Vec<_> = kids
            .into_iter()
            .map(|c| crate::support::finish(c, None))
            .collect();
        let mut codes: Vec<i32> = outs.iter().map(|o| o.code).collect();
        codes.sort();
        assert_eq!(codes, [0, 4], "{outs:?}");
        let loser = outs.iter().find(|o| o.code == 4).unwrap();
        loser.assert_error(4, Some("conflict"));
    }
    assert_eq!(env.json(&["profile", "list"])["total"], 5);
}

#[test]
fn history_explains_missing_snapshot_numbers() {
    let env = Env::new();
    // Retention 1: importing twice drops #1, so the history shows #2 alone.
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&env.home)
        .unwrap();
    std::fs::write(env.home.join("config.toml"), "retention = 1\n").unwrap();
    let pass = env.file("pass", crate::support::PASS.as_bytes());
    let out = env.run(&["init", "--passphrase-file", pass.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let f = env.file("a.json", sample_state("a").to_string().as_bytes());
    env.json(&["profile", "import", "p", f.to_str().unwrap()]);
    let out = env.run(&["profile", "history", "p"]);
    assert!(!out.stdout.contains("note:"), "no gap yet: {out:?}");
    env.json(&["profile", "import", "p", f.to_str().unwrap()]);
    let out = env.run(&["profile", "history", "p"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("#2"), "{out:?}");
    assert!(
        out.stdout
            .contains("note: no #1: snapshot numbers are never reused"),
        "{out:?}"
    );
    // --json stays data only.
    let h = env.json(&["profile", "history", "p"]);
    assert_eq!(h["snapshots"].as_array().unwrap().len(), 1, "{h}");
}
