//! `v11` through a real Secret Service: gnome-keyring in a private D-Bus session holds
//! "Chromium Safe Storage", a real Chromium started with `--password-store=gnome-libsecret`
//! encrypts with it, and the import asks the same keyring for it. Also: a keyring that does
//! not hold the browser's item, and a locked keyring, are named in the error, and nothing is
//! returned.

use pvault_import::{ImportError, import};
use pvault_testkit::{SID, TestServer};

use crate::support::{Keyring, UserBrowser, import_err, keyring_missing, options, show, sorted};

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
    o.dbus_address = Some(keyring.address.clone());
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
    o.dbus_address = Some(keyring.address.clone());
    o.browser = pvault_import::Browser::Chrome;
    let e = import_err(&o);
    let msg = e.to_string();
    assert!(matches!(e, ImportError::Undecryptable { .. }), "{msg}");
    assert!(
        msg.contains("Secret Service") && msg.contains("chrome"),
        "{msg}"
    );
    assert!(msg.contains(&format!("v11: {}", want.len())), "{msg}");

    // A locked keyring: the error says so, names the browser and the count, and nothing
    // is returned.
    let locked = std::process::Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/collection/login",
        ])
        .envs(keyring.env_pairs())
        .output()
        .unwrap();
    assert!(locked.status.success(), "{locked:?}");
    let mut o = options(udd.path(), scratch.path());
    o.dbus_address = Some(keyring.address.clone());
    let e = import_err(&o);
    let msg = e.to_string();
    assert!(matches!(e, ImportError::Undecryptable { .. }), "{msg}");
    assert!(msg.contains("locked") && msg.contains("chromium"), "{msg}");
    assert!(
        msg.contains(&format!("{} of {}", want.len(), want.len())),
        "{msg}"
    );
}
