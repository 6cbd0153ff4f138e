//! The keyring lookups against a real Secret Service (gnome-keyring in a private D-Bus
//! session): `v11` written by a real Chromium started with `--password-store=gnome-libsecret`;
//! `v12` keyed by the secret that gnome-keyring's secret portal backend hands out (a real
//! Chromium cannot write `v12` here: Debian's xdg-desktop-portal has no Secret portal for
//! host apps, so the values are made with Chromium's parameters from the real secret);
//! a keyring without the browser's item, a wrong key, a locked keyring and a bus without
//! any keyring are each named in the error, and nothing is returned.

use pvault_import::crypto::{cbc_key, encrypt_cbc, encrypt_gcm, gcm_key, with_host_digest};
use pvault_import::{ImportError, import};
use pvault_testkit::{RowSpec, SID, TestServer, write_cookie_db};

use crate::support::{
    Keyring, SessionBus, UserBrowser, assert_scratch_empty, import_err, keyring_missing, options,
    show, sorted,
};

/// A `v11` value as Chromium writes it with the keyring password `password`.
fn v11(password: &[u8], host: &str, value: &str) -> Vec<u8> {
    let key = cbc_key(password);
    [
        b"v11".as_slice(),
        &encrypt_cbc(&key, &with_host_digest(host, value.as_bytes(), 24)),
    ]
    .concat()
}

/// A `v12` value as Chromium's secret portal key provider writes it from the portal's
/// `secret`: AES-256-GCM under HKDF-SHA256(secret), nonce ‖ ciphertext ‖ tag.
fn v12(secret: &[u8], nonce: u8, host: &str, value: &str) -> Vec<u8> {
    let key = gcm_key(secret);
    [
        b"v12".as_slice(),
        &encrypt_gcm(
            &key,
            &[nonce; 12],
            &with_host_digest(host, value.as_bytes(), 24),
        ),
    ]
    .concat()
}

#[test]
fn v11_values_decrypt_with_the_secret_services_key() {
    if let Some(why) = keyring_missing() {
        eprintln!("SKIPPED: no real Secret Service can run here: {why}");
        return;
    }
    let keyring = Keyring::start();
    let server = TestServer::start();
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut b = UserBrowser::start(udd.path(), "gnome-libsecret", &keyring.env_pairs());
    b.log_in(&server, "/login-all", 1);
    let want = sorted(b.cookies());
    b.close();

    let mut o = options(udd.path(), scratch.path());
    o.dbus_address = Some(keyring.address());
    let got = import(&o).expect("import");
    assert_eq!(
        got.report.encryption.v11,
        want.len() as u64,
        "Chromium wrote v11 values: {:?}",
        got.report.encryption
    );
    assert_eq!(show(&sorted(got.state.cookies.clone())), show(&want));
    let sid = got.state.cookies.iter().find(|c| c.name == "sid").unwrap();
    assert_eq!(sid.value, SID);
    let used = got.report.keyring.expect("keyring named");
    assert!(used.contains("Chromium Safe Storage"), "{used}");

    // Another browser's lookup finds no item of its own there: the error names the
    // keyring and the count, and nothing is returned.
    let mut o = options(udd.path(), scratch.path());
    o.dbus_address = Some(keyring.address());
    o.browser = pvault_import::Browser::Chrome;
    let e = import_err(&o);
    let msg = e.to_string();
    assert!(matches!(e, ImportError::Undecryptable { .. }), "{msg}");
    assert!(
        msg.contains("Secret Service") && msg.contains("chrome"),
        "{msg}"
    );
    assert!(msg.contains(&format!("v11: {}", want.len())), "{msg}");

    // A key that is there but is not the one the values were written with (the keyring was
    // reset since): named as found-but-wrong, nothing returned.
    let other = tempfile::tempdir().unwrap();
    write_cookie_db(
        other.path(),
        24,
        &[
            RowSpec::encrypted("a.test", "a", v11(b"an older secret", "a.test", "1")),
            RowSpec::encrypted("a.test", "b", v11(b"an older secret", "a.test", "2")),
        ],
    );
    let mut o = options(other.path(), scratch.path());
    o.dbus_address = Some(keyring.address());
    let e = import_err(&o);
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            ImportError::Undecryptable {
                failed: 2,
                total: 2,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("Chromium Safe Storage") && msg.contains("no key from it decrypts"),
        "{msg}"
    );
    assert_scratch_empty(scratch.path());

    // A locked keyring: the error says so, names the browser and the count, and nothing
    // is returned.
    keyring.lock();
    let mut o = options(udd.path(), scratch.path());
    o.dbus_address = Some(keyring.address());
    let e = import_err(&o);
    let msg = e.to_string();
    assert!(matches!(e, ImportError::Undecryptable { .. }), "{msg}");
    assert!(msg.contains("locked") && msg.contains("chromium"), "{msg}");
    assert!(
        msg.contains(&format!("{} of {}", want.len(), want.len())),
        "{msg}"
    );
}

#[test]
fn v12_values_decrypt_with_the_secret_portals_key_from_the_keyring() {
    if let Some(why) = keyring_missing() {
        eprintln!("SKIPPED: no real Secret Service can run here: {why}");
        return;
    }
    let keyring = Keyring::start();
    // Another app's portal secret first, then the browser's (as a host app, the portal
    // names Debian's Chromium by its .desktop id): the lookup must find the right one.
    let maps = keyring.portal_secret("org.gnome.Maps");
    let secret = keyring.portal_secret("chromium");
    assert_eq!(
        secret.len(),
        64,
        "gnome-keyring's portal secrets are 64 bytes"
    );
    assert_ne!(maps, secret);
    assert_eq!(
        keyring.portal_secret("chromium"),
        secret,
        "the same secret on each call"
    );

    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let ten = pvault_import::crypto::v10_key();
    write_cookie_db(
        udd.path(),
        24,
        &[
            RowSpec::encrypted(".a.test", "twelve", v12(&secret, 1, ".a.test", "v12-value")),
            RowSpec::encrypted("b.test", "empty", v12(&secret, 2, "b.test", "")),
            // Rows of one database may carry different schemes: each by its own prefix.
            RowSpec::encrypted(
                "c.test",
                "ten",
                [
                    b"v10".as_slice(),
                    &encrypt_cbc(&ten, &with_host_digest("c.test", b"v10-value", 24)),
                ]
                .concat(),
            ),
        ],
    );
    let mut o = options(udd.path(), scratch.path());
    o.dbus_address = Some(keyring.address());
    let got = import(&o).expect("import");
    let v = |n: &str| {
        got.state
            .cookies
            .iter()
            .find(|c| c.name == n)
            .map(|c| c.value.clone())
    };
    assert_eq!(v("twelve").as_deref(), Some("v12-value"));
    assert_eq!(v("empty").as_deref(), Some(""));
    assert_eq!(v("ten").as_deref(), Some("v10-value"));
    assert_eq!(
        (got.report.encryption.v12, got.report.encryption.v10),
        (2, 1)
    );
    let used = got.report.keyring.expect("keyring named");
    assert!(
        used.contains("secret portal item app_id=chromium"),
        "{used}"
    );
    assert_scratch_empty(scratch.path());

    // A v12 value under a secret the keyring does not hold: refused, the portal items
    // named, nothing returned.
    write_cookie_db(
        udd.path(),
        24,
        &[RowSpec::encrypted(
            "a.test",
            "x",
            v12(b"not the portal's", 3, "a.test", "x"),
        )],
    );
    let e = import_err(&o);
    let msg = e.to_string();
    assert!(
        matches!(e, ImportError::Undecryptable { failed: 1, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("v12: 1") && msg.contains("secret portal item app_id=chromium"),
        "{msg}"
    );

    // Locked: the error says the portal's items are in a locked collection.
    write_cookie_db(
        udd.path(),
        24,
        &[RowSpec::encrypted(
            "a.test",
            "y",
            v12(&secret, 4, "a.test", "y"),
        )],
    );
    keyring.lock();
    let msg = import_err(&o).to_string();
    assert!(msg.contains("locked") && msg.contains("v12: 1"), "{msg}");
    assert_scratch_empty(scratch.path());
}

#[test]
fn a_bus_without_any_keyring_is_named_in_the_error() {
    if let Some(why) = keyring_missing() {
        eprintln!("SKIPPED: no private D-Bus session can run here: {why}");
        return;
    }
    let bus = SessionBus::start();
    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    write_cookie_db(
        udd.path(),
        24,
        &[RowSpec::encrypted(
            "a.test",
            "a",
            v11(b"secret", "a.test", "value-never-shown"),
        )],
    );
    let mut o = options(udd.path(), scratch.path());
    o.dbus_address = Some(bus.address.clone());
    let e = import_err(&o);
    let msg = e.to_string();
    assert!(
        matches!(e, ImportError::Undecryptable { failed: 1, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("no keyring on the D-Bus session bus") && msg.contains("KWallet"),
        "{msg}"
    );
    assert!(!msg.contains("value-never-shown"), "no value in {msg}");
}
