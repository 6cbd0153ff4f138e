//! The decryption rules and the documented failures, on cookie databases written to order
//! (Chromium 156's schema): per-row prefixes, the SHA-256(host_key) digest of version ≥ 24
//! (stripped; a wrong one refused), the empty-password key, `v12`, a wrong key, filters,
//! a missing or ambiguous browser profile, a locked and a corrupt database, and where the
//! user-data-dir is found (native, Flatpak, Snap; the one used last). Each failure
//! returns no state at all and leaves no copy behind.

use pvault_import::crypto::{self, cbc_key, encrypt_cbc, encrypt_gcm, gcm_key, with_host_digest};
use pvault_import::{ImportError, import};

use pvault_testkit::{RowSpec, write_cookie_db};

use crate::support::{assert_scratch_empty, import_err, options};

fn v10(host: &str, value: &str, version: i64) -> Vec<u8> {
    let key = crypto::v10_key();
    [
        b"v10".as_slice(),
        &encrypt_cbc(&key, &with_host_digest(host, value.as_bytes(), version)),
    ]
    .concat()
}

#[test]
fn version_24_values_have_their_host_digest_stripped() {
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    write_cookie_db(
        udd.path(),
        24,
        &[
            RowSpec::encrypted(".example.com", "a", v10(".example.com", "value-a", 24)),
            // Exactly the 32-byte digest: an empty cookie.
            RowSpec::encrypted("example.com", "empty", v10("example.com", "", 24)),
        ],
    );
    let got = import(&options(udd.path(), scratch.path())).unwrap();
    let v = |n: &str| {
        got.state
            .cookies
            .iter()
            .find(|c| c.name == n)
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(v("a"), "value-a");
    assert_eq!(v("empty"), "");
    assert_scratch_empty(scratch.path());
}

#[test]
fn version_23_values_have_no_digest() {
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    write_cookie_db(
        udd.path(),
        23,
        &[RowSpec::encrypted(
            "a.test",
            "a",
            v10("a.test", "plain-23", 23),
        )],
    );
    let got = import(&options(udd.path(), scratch.path())).unwrap();
    assert_eq!(got.state.cookies[0].value, "plain-23");
}

#[test]
fn a_wrong_host_digest_is_refused_and_nothing_is_returned() {
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    write_cookie_db(
        udd.path(),
        24,
        &[
            RowSpec::encrypted("a.test", "ok", v10("a.test", "fine", 24)),
            // Encrypted with the right key for another host: moved between rows.
            RowSpec::encrypted("a.test", "moved", v10("evil.test", "stolen", 24)),
        ],
    );
    let e = import_err(&options(udd.path(), scratch.path()));
    assert!(
        matches!(
            e,
            ImportError::Undecryptable {
                failed: 1,
                total: 2,
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("chromium") && msg.contains("1 of 2") && msg.contains("v10: 1"),
        "{msg}"
    );
    assert!(
        !msg.contains("fine") && !msg.contains("stolen"),
        "no value in {msg}"
    );
    assert_scratch_empty(scratch.path());

    // --skip-undecryptable imports the rest and counts what it left out.
    let mut o = options(udd.path(), scratch.path());
    o.skip_undecryptable = true;
    let got = import(&o).unwrap();
    assert_eq!(got.state.cookies.len(), 1);
    assert_eq!(got.report.undecryptable_skipped, 1);
}

#[test]
fn values_are_decrypted_by_their_own_prefix_with_every_documented_key() {
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let empty = cbc_key(b"");
    let with_empty = [
        b"v10".as_slice(),
        &encrypt_cbc(&empty, &with_host_digest("e.test", b"empty-key", 24)),
    ]
    .concat();
    let mut plain = RowSpec::encrypted("p.test", "plain", vec![]);
    plain.value = "in-the-clear".into();
    write_cookie_db(
        udd.path(),
        24,
        &[
            plain,
            RowSpec::encrypted("e.test", "bug", with_empty),
            RowSpec::encrypted("a.test", "v10", v10("a.test", "ten", 24)),
        ],
    );
    let got = import(&options(udd.path(), scratch.path())).unwrap();
    let v = |n: &str| {
        got.state
            .cookies
            .iter()
            .find(|c| c.name == n)
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(v("plain"), "in-the-clear");
    assert_eq!(v("bug"), "empty-key");
    assert_eq!(v("v10"), "ten");
    assert_eq!(got.report.encryption.plain, 1);
    assert_eq!(got.report.encryption.v10, 2);
}

#[test]
fn a_key_the_keyring_cannot_give_fails_naming_browser_keyring_and_count() {
    // v11 with a secret no keyring here holds, and no session bus to ask.
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let key = cbc_key(b"some-other-secret");
    let row = |n: &str| {
        RowSpec::encrypted(
            "a.test",
            n,
            [
                b"v11".as_slice(),
                &encrypt_cbc(&key, &with_host_digest("a.test", b"x", 24)),
            ]
            .concat(),
        )
    };
    write_cookie_db(udd.path(), 24, &[row("a"), row("b")]);
    let mut o = options(udd.path(), scratch.path());
    o.dbus_address = Some("unix:path=/nonexistent/pvault-test-bus".into());
    let e = import_err(&o);
    let msg = e.to_string();
    assert!(
        matches!(e, ImportError::Undecryptable { failed: 2, .. }),
        "{msg}"
    );
    assert!(msg.contains("keyring") && msg.contains("D-Bus"), "{msg}");
    assert!(msg.contains("v11: 2"), "{msg}");
}

#[test]
fn v12_values_decrypt_with_the_portal_key_layout() {
    // No secret portal runs here: the layout (nonce ‖ ciphertext ‖ tag under
    // HKDF-SHA256(secret, "fdo_portal_secret_salt", "HKDF-SHA-256 AES-256-GCM")) is checked
    // against the crypto module directly, and an import without the secret fails clearly.
    let key = gcm_key(b"portal-secret");
    let blob = encrypt_gcm(&key, &[9; 12], &with_host_digest("a.test", b"twelve", 24));
    let plain = crypto::decrypt_gcm(&key, &blob).unwrap();
    assert_eq!(
        crypto::strip_host_digest(&plain, "a.test", 24).unwrap(),
        b"twelve"
    );

    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    write_cookie_db(
        udd.path(),
        24,
        &[RowSpec::encrypted(
            "a.test",
            "a",
            [b"v12".as_slice(), &blob].concat(),
        )],
    );
    let mut o = options(udd.path(), scratch.path());
    o.dbus_address = Some("unix:path=/nonexistent/pvault-test-bus".into());
    let msg = import_err(&o).to_string();
    assert!(msg.contains("v12: 1"), "{msg}");
}

#[test]
fn filters_keep_registrable_domains_and_nothing_matching_is_an_error() {
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    write_cookie_db(
        udd.path(),
        24,
        &[
            RowSpec::encrypted(".example.co.uk", "a", v10(".example.co.uk", "1", 24)),
            RowSpec::encrypted("www.example.co.uk", "b", v10("www.example.co.uk", "2", 24)),
            RowSpec::encrypted("other.co.uk", "c", v10("other.co.uk", "3", 24)),
            RowSpec::encrypted("tracker.net", "d", v10("tracker.net", "4", 24)),
        ],
    );
    let mut o = options(udd.path(), scratch.path());
    o.domains = vec!["example.co.uk".into()];
    let got = import(&o).unwrap();
    let names: Vec<_> = got.state.cookies.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(got.report.filtered_cookies, 2);
    assert_eq!(got.report.domains.len(), 1);
    assert_eq!(got.report.domains[0].domain, "example.co.uk");
    assert_eq!(got.report.domains[0].cookies, 2);

    let mut o = options(udd.path(), scratch.path());
    o.exclude_domains = vec!["tracker.net".into(), "www.example.co.uk".into()];
    let got = import(&o).unwrap();
    let names: Vec<_> = got.state.cookies.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["c"]);

    let mut o = options(udd.path(), scratch.path());
    o.domains = vec!["nowhere.org".into()];
    let e = import_err(&o);
    assert!(
        matches!(e, ImportError::NothingMatches { domains: 3, .. }),
        "{e}"
    );
    assert_scratch_empty(scratch.path());
}

#[test]
fn a_missing_or_ambiguous_browser_profile_lists_the_available_ones() {
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    write_cookie_db(udd.path(), 24, &[]);
    std::fs::create_dir_all(udd.path().join("Profile 1")).unwrap();
    std::fs::write(udd.path().join("Profile 1/Preferences"), "{}").unwrap();
    std::fs::write(
        udd.path().join("Local State"),
        r#"{"profile":{"info_cache":{"Profile 1":{"name":"Work"},"Default":{"name":"Me"}}}}"#,
    )
    .unwrap();
    let e = import_err(&options(udd.path(), scratch.path()));
    assert!(matches!(e, ImportError::AmbiguousProfile { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("\"Default\" (\"Me\")") && msg.contains("\"Profile 1\" (\"Work\")"),
        "{msg}"
    );

    let mut o = options(udd.path(), scratch.path());
    o.browser_profile = Some("Profile 7".into());
    let e = import_err(&o);
    assert!(matches!(e, ImportError::NoProfile { .. }), "{e}");
    assert!(e.to_string().contains("available: \"Default\""), "{e}");

    // The name the browser shows picks the directory too.
    o.browser_profile = Some("Work".into());
    let got = import(&o).unwrap();
    assert_eq!(got.report.browser_profile, "Profile 1");

    let empty = tempfile::tempdir().unwrap();
    let e = import_err(&options(empty.path(), scratch.path()));
    assert!(e.to_string().contains("no profile directories"), "{e}");
}

#[test]
fn a_locked_database_is_read_through_its_copy_without_the_pending_write() {
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let path = write_cookie_db(
        udd.path(),
        24,
        &[RowSpec::encrypted(
            "a.test",
            "committed",
            v10("a.test", "1", 24),
        )],
    );
    // Another process's open write transaction holds an exclusive lock, as a running browser
    // does; its change is in the rollback journal's file but not committed.
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    holder
        .execute("UPDATE cookies SET name = 'uncommitted'", [])
        .unwrap();
    let got = import(&options(udd.path(), scratch.path())).unwrap();
    let names: Vec<_> = got.state.cookies.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["committed"]);
    holder.execute_batch("ROLLBACK").unwrap();
    // The original is untouched by the import (still opens, same row).
    let n: String = holder
        .query_row("SELECT name FROM cookies", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, "committed");
    assert_scratch_empty(scratch.path());
}

#[test]
fn a_corrupt_database_is_an_error_naming_the_file() {
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let path = write_cookie_db(
        udd.path(),
        24,
        &[RowSpec::encrypted("a.test", "a", v10("a.test", "1", 24))],
    );
    let mut bytes = std::fs::read(&path).unwrap();
    // Damage every page after the header's first: the schema can no longer be read.
    for b in bytes.iter_mut().skip(100) {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = import_err(&options(udd.path(), scratch.path()));
    assert!(
        matches!(
            e,
            ImportError::Corrupt {
                what: "Cookies database",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("Cookies"), "{e}");

    // Not a database at all.
    std::fs::write(&path, b"this is not sqlite").unwrap();
    let e = import_err(&options(udd.path(), scratch.path()));
    assert!(matches!(e, ImportError::Corrupt { .. }), "{e}");

    // A localStorage directory whose manifest is garbage.
    write_cookie_db(udd.path(), 24, &[]);
    let ls = udd.path().join("Default/Local Storage/leveldb");
    std::fs::create_dir_all(&ls).unwrap();
    std::fs::write(ls.join("CURRENT"), "MANIFEST-000001\n").unwrap();
    std::fs::write(ls.join("MANIFEST-000001"), [0xffu8; 64]).unwrap();
    let e = import_err(&options(udd.path(), scratch.path()));
    assert!(
        matches!(
            e,
            ImportError::Corrupt {
                what: "localStorage database",
                ..
            }
        ),
        "{e}"
    );
    assert_scratch_empty(scratch.path());
}

#[test]
fn the_user_data_dir_is_found_in_native_flatpak_and_snap_places() {
    use pvault_import::Browser;
    use pvault_import::browsers::find_user_data_dir;
    use std::time::{Duration, SystemTime};

    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let config = h.join(".config");
    // Nothing installed: every place looked at is named.
    let e = find_user_data_dir(Browser::Chromium, h, &config).unwrap_err();
    let msg = e.to_string();
    for p in [
        ".config/chromium",
        "snap/chromium/common/chromium",
        ".var/app/org.chromium.Chromium/config/chromium",
    ] {
        assert!(
            msg.contains(&h.join(p).display().to_string()),
            "{p} in {msg}"
        );
    }
    assert!(msg.contains("--user-data-dir"), "{msg}");

    let place = |rel: &str, age_s: u64| {
        let d = h.join(rel);
        std::fs::create_dir_all(&d).unwrap();
        let f = std::fs::File::create(d.join("Local State")).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(age_s))
            .unwrap();
        d
    };
    // Each kind of install alone is found.
    let snap = place("snap/chromium/common/chromium", 300);
    assert_eq!(
        find_user_data_dir(Browser::Chromium, h, &config).unwrap(),
        snap
    );
    // The Flatpak one, used more recently, wins over the Snap one.
    let flatpak = place(".var/app/org.chromium.Chromium/config/chromium", 100);
    assert_eq!(
        find_user_data_dir(Browser::Chromium, h, &config).unwrap(),
        flatpak
    );
    // A native install used last wins; an old one does not.
    let native = place(".config/chromium", 1000);
    assert_eq!(
        find_user_data_dir(Browser::Chromium, h, &config).unwrap(),
        flatpak
    );
    std::fs::File::options()
        .write(true)
        .open(native.join("Local State"))
        .unwrap()
        .set_modified(SystemTime::now())
        .unwrap();
    assert_eq!(
        find_user_data_dir(Browser::Chromium, h, &config).unwrap(),
        native
    );

    // The other browsers' places, native, Flatpak and Snap.
    for (browser, rel) in [
        (Browser::Chrome, ".config/google-chrome"),
        (
            Browser::Chrome,
            ".var/app/com.google.Chrome/config/google-chrome",
        ),
        (Browser::Brave, ".config/BraveSoftware/Brave-Browser"),
        (
            Browser::Brave,
            "snap/brave/current/.config/BraveSoftware/Brave-Browser",
        ),
        (
            Browser::Brave,
            ".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser",
        ),
        (Browser::Edge, ".config/microsoft-edge"),
        (
            Browser::Edge,
            ".var/app/com.microsoft.Edge/config/microsoft-edge",
        ),
        (Browser::Vivaldi, ".config/vivaldi"),
        (Browser::Vivaldi, "snap/vivaldi/current/.config/vivaldi"),
        (
            Browser::Vivaldi,
            ".var/app/com.vivaldi.Vivaldi/config/vivaldi",
        ),
    ] {
        let home = tempfile::tempdir().unwrap();
        let d = home.path().join(rel);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("Local State"), "{}").unwrap();
        assert_eq!(
            find_user_data_dir(browser, home.path(), &home.path().join(".config")).unwrap(),
            d,
            "{browser} at {rel}"
        );
    }

    // $XDG_CONFIG_HOME is where native installs live when it is set.
    let home = tempfile::tempdir().unwrap();
    let xdg = home.path().join("xdg");
    let d = xdg.join("chromium");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("Local State"), "{}").unwrap();
    assert_eq!(
        find_user_data_dir(Browser::Chromium, home.path(), &xdg).unwrap(),
        d
    );
}
