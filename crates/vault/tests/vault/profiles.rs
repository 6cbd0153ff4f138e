//! Profile CRUD through the public API: name validation, conflicts, lookup by name or id,
//! paging, touch, lock/unlock, create/open errors, backup and verify.

use pvault_model::{SessionSettings, SnapshotKind, Viewport};
use pvault_vault::{ProfileUpdate, Vault, VaultError};

use crate::common::*;

#[test]
fn create_get_rename_update_delete() {
    let (_t, v) = new_vault();
    let settings = SessionSettings {
        proxy: Some("socks5://127.0.0.1:1080".into()),
        viewport: Some(Viewport {
            width: 1280,
            height: 720,
        }),
        user_agent: None,
        locale: Some("de-DE".into()),
    };
    let p = v
        .create_profile("github", Some("work account ✓"), &settings)
        .unwrap();
    assert_eq!(p.id.len(), 32);
    assert_eq!(
        (p.name.as_str(), p.snapshot_count, p.latest.clone()),
        ("github", 0, None)
    );
    assert_eq!(v.profile("github").unwrap(), p);
    assert_eq!(v.profile(&p.id).unwrap(), p);
    assert_eq!(v.profile(&p.id.to_uppercase()).unwrap().id, p.id);

    let dup = v
        .create_profile("github", None, &Default::default())
        .unwrap_err();
    assert!(matches!(dup, VaultError::NameTaken { .. }));
    assert_eq!(dup.code(), "conflict");

    v.create_profile("other", None, &Default::default())
        .unwrap();
    assert_eq!(
        v.rename_profile("github", "other").unwrap_err().code(),
        "conflict"
    );
    let r = v.rename_profile("github", "gh").unwrap();
    assert_eq!((r.id.as_str(), r.name.as_str()), (p.id.as_str(), "gh"));
    assert_eq!(v.profile("github").unwrap_err().code(), "not_found");
    // Renaming to its own name is a no-op, not a conflict.
    v.rename_profile("gh", "gh").unwrap();

    let u = v
        .update_profile(
            "gh",
            &ProfileUpdate {
                description: Some(None),
                settings: Some(SessionSettings::default()),
            },
        )
        .unwrap();
    assert_eq!(
        (u.description, u.settings),
        (None, SessionSettings::default())
    );
    let u = v
        .update_profile(
            "gh",
            &ProfileUpdate {
                description: Some(Some("d".into())),
                settings: None,
            },
        )
        .unwrap();
    assert_eq!(u.description.as_deref(), Some("d"));

    assert_eq!(v.profile("gh").unwrap().last_used_at, None);
    v.touch_profile("gh").unwrap();
    assert!(v.profile("gh").unwrap().last_used_at.is_some());

    v.delete_profile("gh").unwrap();
    assert!(matches!(
        v.profile("gh").unwrap_err(),
        VaultError::ProfileNotFound { .. }
    ));
    assert_eq!(v.delete_profile("gh").unwrap_err().code(), "not_found");
    assert_eq!(v.list_profiles(0, 10).unwrap().total, 1);
}

#[test]
fn names_are_validated() {
    let (_t, v) = new_vault();
    let long = "a".repeat(256);
    for bad in [
        "",
        "with space",
        "slash/x",
        "ünïcode",
        "tab\t",
        long.as_str(),
        "a:b",
    ] {
        let e = v
            .create_profile(bad, None, &Default::default())
            .unwrap_err();
        assert!(
            matches!(e, VaultError::InvalidName { .. }),
            "{bad:?}: {e:?}"
        );
        assert_eq!(e.code(), "invalid_argument");
    }
    for good in ["a", "A.b_c-9", &"z".repeat(255), "..."] {
        v.create_profile(good, None, &Default::default()).unwrap();
    }
    // Names are case-sensitive.
    v.create_profile("Case", None, &Default::default()).unwrap();
    v.create_profile("case", None, &Default::default()).unwrap();
    assert_eq!(
        v.rename_profile("Case", "bad name").unwrap_err().code(),
        "invalid_argument"
    );
    let e = v
        .create_profile("d", Some(&"x".repeat(5000)), &Default::default())
        .unwrap_err();
    assert_eq!(e.code(), "too_large");
}

#[test]
fn list_is_sorted_and_paged() {
    let (_t, v) = new_vault();
    let names: Vec<String> = (0..25).rev().map(|i| format!("p{i:02}")).collect();
    for n in &names {
        v.create_profile(n, None, &Default::default()).unwrap();
    }
    v.append_snapshot("p03", &rich_state("x"), SnapshotKind::Import)
        .unwrap();
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = v.list_profiles(offset, 10).unwrap();
        assert_eq!(page.total, 25);
        if page.profiles.is_empty() {
            break;
        }
        offset += page.profiles.len() as u64;
        seen.extend(page.profiles);
    }
    let got: Vec<&str> = seen.iter().map(|p| p.name.as_str()).collect();
    let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(got, want);
    let p03 = &seen[3];
    assert_eq!(p03.snapshot_count, 1);
    assert_eq!(
        p03.cookie_domains,
        vec!["example.com", "example.org", "widget.example.net"]
    );
    assert_eq!(p03.origins, vec!["https://app.example.com"]);
    assert_eq!(p03.latest.as_ref().unwrap().cookie_count, 3);
    assert_eq!(p03.latest.as_ref().unwrap().local_storage_key_count, 2);
    assert!(v.list_profiles(100, 10).unwrap().profiles.is_empty());
}

/// A listing keeps every profile's authenticated metadata and compares the stored bytes on
/// the next one instead of opening them again: an edit made to the file after the first
/// listing must be refused by the second exactly as a fresh handle refuses it (and the many
/// profiles take the parallel path that opens what the cache lacks).
#[test]
fn a_listing_refuses_edits_made_after_it_cached_the_profiles() {
    let (t, v) = new_vault();
    let dir = vault_dir(&t);
    for i in 0..600 {
        v.create_profile(&format!("p{i:03}"), None, &Default::default())
            .unwrap();
    }
    v.append_snapshot("p001", &state_with("a"), SnapshotKind::Import)
        .unwrap();
    v.append_snapshot("p001", &state_with("b"), SnapshotKind::Import)
        .unwrap();
    assert_eq!(v.list_profiles(0, 1000).unwrap().total, 600);
    let db = raw(&dir);
    let id = |name: &str| hex::decode(&v.profile(name).unwrap().id).unwrap();
    let (p1, p2) = (id("p001"), id("p002"));
    let listed = || v.list_profiles(0, 1000);
    // A plaintext column copied from the sealed metadata.
    db.execute(
        "UPDATE profiles SET last_used_at = 5 WHERE profile_id = ?1",
        [&p2],
    )
    .unwrap();
    let e = listed().unwrap_err();
    assert!(matches!(e, VaultError::Corrupt { .. }), "{e:?}");
    assert!(e.to_string().contains("last_used_at"), "{e}");
    db.execute(
        "UPDATE profiles SET last_used_at = NULL WHERE profile_id = ?1",
        [&p2],
    )
    .unwrap();
    assert_eq!(listed().unwrap().total, 600);
    // The sealed metadata itself changed (one byte of its tag): it no longer authenticates,
    // for this handle as for a fresh one.
    let meta: Vec<u8> = db
        .query_row(
            "SELECT meta FROM profiles WHERE profile_id = ?1",
            [&p2],
            |r| r.get(0),
        )
        .unwrap();
    let mut edited = meta.clone();
    *edited.last_mut().unwrap() ^= 1;
    let set_meta = |m: &[u8]| {
        db.execute(
            "UPDATE profiles SET meta = ?1 WHERE profile_id = ?2",
            rusqlite::params![m, &p2],
        )
        .unwrap()
    };
    set_meta(&edited);
    for e in [
        listed().unwrap_err(),
        reopen(&dir).list_profiles(0, 1000).unwrap_err(),
    ] {
        assert!(matches!(e, VaultError::DecryptionFailed { .. }), "{e:?}");
    }
    set_meta(&meta);
    assert_eq!(listed().unwrap().total, 600);
    // A snapshot row deleted: the count the sealed metadata binds.
    db.execute(
        "DELETE FROM snapshots WHERE profile_id = ?1 AND seq = 1",
        [&p1],
    )
    .unwrap();
    let e = listed().unwrap_err();
    assert!(matches!(e, VaultError::Corrupt { .. }), "{e:?}");
    assert!(e.to_string().contains("snapshot count"), "{e}");
}

#[test]
fn lifecycle_errors_and_locking() {
    let (t, v) = new_vault();
    let dir = vault_dir(&t);
    assert!(Vault::exists(&dir));
    let again = Vault::create(&dir, &pass(PASS), &fast_opts()).unwrap_err();
    assert!(matches!(again, VaultError::AlreadyExists { .. }));
    assert_eq!(again.code(), "conflict");
    let missing = Vault::open(&t.path().join("nothing")).unwrap_err();
    assert_eq!(missing.code(), "not_found");

    v.create_profile("p", None, &Default::default()).unwrap();
    assert!(v.is_unlocked());
    v.lock();
    v.lock();
    assert!(!v.is_unlocked());
    for e in [
        v.profile("p").unwrap_err(),
        v.list_profiles(0, 1).unwrap_err(),
        v.append_snapshot("p", &state_with("a"), SnapshotKind::Import)
            .unwrap_err(),
        v.verify().unwrap_err(),
    ] {
        assert!(matches!(e, VaultError::Locked), "{e:?}");
        assert!(e.to_string().contains("pvault unlock"));
    }
    let timing = v.unlock(&pass(PASS)).unwrap();
    assert!(timing.kdf > std::time::Duration::ZERO);
    assert_eq!(v.profile("p").unwrap().name, "p");
    assert_eq!(v.vault_id().len(), 32);
    assert_eq!(Vault::open(&dir).unwrap().vault_id(), v.vault_id());
    assert!(!format!("{v:?}").contains(PASS));
}

#[test]
fn backup_is_a_vault_that_opens_with_the_same_passphrase() {
    let (t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    v.append_snapshot("p", &rich_state("b"), SnapshotKind::Import)
        .unwrap();
    let bdir = t.path().join("backup");
    std::fs::create_dir(&bdir).unwrap();
    std::fs::set_permissions(&bdir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    v.backup(&bdir).unwrap();
    assert_eq!(v.backup(&bdir).unwrap_err().code(), "conflict");
    // The original stays usable and diverges; the backup keeps the moment it was taken.
    v.append_snapshot("p", &state_with("after"), SnapshotKind::Capture)
        .unwrap();
    let b = reopen(&bdir);
    assert_eq!(b.vault_id(), v.vault_id());
    assert_eq!(b.history("p").unwrap().len(), 1);
    assert_eq!(b.read_snapshot("p", None).unwrap().state, rich_state("b"));
    assert_eq!(b.verify().unwrap().failures, Vec::<String>::new());
}

#[test]
fn verify_names_the_tampered_record() {
    let (t, v) = new_vault();
    let dir = vault_dir(&t);
    let a = v.create_profile("a", None, &Default::default()).unwrap();
    v.create_profile("b", None, &Default::default()).unwrap();
    let s1 = v
        .append_snapshot("a", &state_with("1"), SnapshotKind::Import)
        .unwrap();
    let s2 = v
        .append_snapshot("a", &state_with("2"), SnapshotKind::Import)
        .unwrap();
    v.append_snapshot("b", &state_with("3"), SnapshotKind::Import)
        .unwrap();
    let clean = v.verify().unwrap();
    // 2 profiles × (data key + meta) + 3 snapshots × (info + body).
    assert_eq!((clean.ok, clean.failures.len()), (10, 0));

    let db = raw(&dir);
    let sel = format!("hex(snapshot_id) = '{}'", s2.id.to_uppercase());
    let mut body: Vec<u8> = db
        .query_row(
            &format!("SELECT body FROM snapshots WHERE {sel}"),
            [],
            |r| r.get(0),
        )
        .unwrap();
    body[30] ^= 0x10;
    db.execute(
        &format!("UPDATE snapshots SET body = ?1 WHERE {sel}"),
        [body],
    )
    .unwrap();
    let report = v.verify().unwrap();
    assert_eq!(report.ok, 9);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let f = &report.failures[0];
    assert!(
        f.contains(&a.id) && f.contains(&s2.id) && f.contains("snapshot-body"),
        "{f}"
    );
    assert!(!f.contains(&s1.id));
    assert_eq!(
        v.read_snapshot("a", Some("2")).unwrap_err().code(),
        "internal"
    );
    assert_eq!(
        v.read_snapshot("a", Some("1")).unwrap().state,
        state_with("1")
    );
}

#[test]
fn cookie_domains_lose_every_leading_dot_sorted_and_distinct() {
    let (t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    let mut s = state_with("a");
    s.cookies = [
        "..dots.example",
        ".b.example",
        "b.example",
        "a..b.example.",
        "Z.example",
    ]
    .iter()
    .map(|d| cookie("c", "v", d))
    .collect();
    v.append_snapshot("p", &s, SnapshotKind::Import).unwrap();
    let want = ["Z.example", "a..b.example.", "b.example", "dots.example"];
    assert_eq!(v.profile("p").unwrap().cookie_domains, want);
    // As sealed in the metadata, read by a fresh handle.
    assert_eq!(
        reopen(&vault_dir(&t)).profile("p").unwrap().cookie_domains,
        want
    );
}

#[test]
fn updated_at_never_goes_back_when_the_clock_does() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    // The last change was made with a clock ten days ahead of the current one.
    let ahead = v.profile("p").unwrap().updated_at + 10 * 86_400_000;
    v.reseal_profile_meta_for_test_vectors("p", &serde_json::json!({ "updated_at": ahead }))
        .unwrap();
    assert_eq!(v.profile("p").unwrap().updated_at, ahead);
    v.update_profile(
        "p",
        &ProfileUpdate {
            description: Some(Some("d".into())),
            settings: None,
        },
    )
    .unwrap();
    assert_eq!(v.profile("p").unwrap().updated_at, ahead);
    v.append_snapshot("p", &state_with("a"), SnapshotKind::Import)
        .unwrap();
    assert_eq!(v.profile("p").unwrap().updated_at, ahead);
    assert!(v.verify().unwrap().findings.is_empty());
}

#[test]
fn last_used_at_never_goes_back_when_the_clock_does() {
    let (_t, v) = new_vault();
    v.create_profile("p", None, &Default::default()).unwrap();
    v.touch_profile("p").unwrap();
    let first = v.profile("p").unwrap().last_used_at.unwrap();
    // The last use was recorded with a clock ten days ahead of the current one.
    let ahead = first + 10 * 86_400_000;
    v.reseal_profile_meta_for_test_vectors("p", &serde_json::json!({ "last_used_at": ahead }))
        .unwrap();
    v.touch_profile("p").unwrap();
    assert_eq!(v.profile("p").unwrap().last_used_at, Some(ahead));
    assert_eq!(v.heads().unwrap()[0].last_used_at, Some(ahead));
    assert!(v.verify().unwrap().findings.is_empty());
}
