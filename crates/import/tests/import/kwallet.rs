//! KWallet, through a stand-in service: Debian CI has no KDE session, and kwalletd cannot
//! run without one (it opens wallets through a GUI prompt), so the test puts a stand-in on a
//! private D-Bus session bus that answers KWallet's own D-Bus interface (`org.kde.KWallet`
//! at `/modules/kwalletd5` of `org.kde.kwalletd5`, the calls and signatures Chromium's
//! KWallet client and kwalletd use) and keeps its entries in memory. What is real: the bus,
//! the lookup's D-Bus calls, and the choice of keyring by what is on the bus (no Secret
//! Service there, so KWallet is asked). The values are made with Chromium's `v11`
//! parameters: Debian's Chromium 156 started with `--password-store=kwallet5` against this
//! stand-in asks `isEnabled` and `networkWallet`, then (its KWallet support now going
//! through the Secret Service) writes `v10`, so no real Chromium run can make KWallet
//! values here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use pvault_import::crypto::{cbc_key, encrypt_cbc, with_host_digest};
use pvault_import::{ImportError, import};
use pvault_testkit::{RowSpec, write_cookie_db};

use crate::support::{SessionBus, assert_scratch_empty, import_err, keyring_missing, options};

/// The stand-in's state, shared with the test.
#[derive(Default)]
struct WalletState {
    /// (folder, key) → password, in the network wallet.
    entries: BTreeMap<(String, String), String>,
    /// Folders.
    folders: BTreeSet<String>,
    /// Whether the wallet refuses to open (locked and the user said no).
    locked: bool,
    /// Every method called, in order, for the assertions.
    calls: Vec<String>,
}

/// `org.kde.KWallet` as kwalletd answers it (the subset the lookup and Chromium use).
struct Wallet(Arc<Mutex<WalletState>>);

const HANDLE: i32 = 17;

impl Wallet {
    fn log(&self, call: &str) -> std::sync::MutexGuard<'_, WalletState> {
        let mut s = self.0.lock().unwrap();
        s.calls.push(call.to_owned());
        s
    }
}

#[zbus::interface(name = "org.kde.KWallet")]
impl Wallet {
    #[zbus(name = "isEnabled")]
    fn is_enabled(&self) -> bool {
        drop(self.log("isEnabled"));
        true
    }

    #[zbus(name = "networkWallet")]
    fn network_wallet(&self) -> String {
        drop(self.log("networkWallet"));
        "kdewallet".into()
    }

    #[zbus(name = "open")]
    fn open(&self, wallet: String, _w_id: i64, _app_id: String) -> i32 {
        let s = self.log("open");
        if s.locked || wallet != "kdewallet" {
            -1
        } else {
            HANDLE
        }
    }

    #[zbus(name = "hasFolder")]
    fn has_folder(&self, handle: i32, folder: String, _app_id: String) -> bool {
        let s = self.log("hasFolder");
        handle == HANDLE && s.folders.contains(&folder)
    }

    #[zbus(name = "createFolder")]
    fn create_folder(&self, handle: i32, folder: String, _app_id: String) -> bool {
        let mut s = self.log("createFolder");
        handle == HANDLE && s.folders.insert(folder)
    }

    #[zbus(name = "hasEntry")]
    fn has_entry(&self, handle: i32, folder: String, key: String, _app_id: String) -> bool {
        let s = self.log("hasEntry");
        handle == HANDLE && s.entries.contains_key(&(folder, key))
    }

    #[zbus(name = "readPassword")]
    fn read_password(&self, handle: i32, folder: String, key: String, _app_id: String) -> String {
        let s = self.log("readPassword");
        if handle != HANDLE {
            return String::new();
        }
        s.entries.get(&(folder, key)).cloned().unwrap_or_default()
    }

    #[zbus(name = "writePassword")]
    fn write_password(
        &self,
        handle: i32,
        folder: String,
        key: String,
        value: String,
        _app_id: String,
    ) -> i32 {
        let mut s = self.log("writePassword");
        if handle != HANDLE {
            return -1;
        }
        s.folders.insert(folder.clone());
        s.entries.insert((folder, key), value);
        0
    }

    #[zbus(name = "close")]
    fn close(&self, _handle: i32, _force: bool, _app_id: String) -> i32 {
        drop(self.log("close"));
        0
    }
}

/// Serves the stand-in on `bus` as `org.kde.kwalletd5`; it stops when the returned
/// connection is dropped.
fn serve(bus: &SessionBus, state: Arc<Mutex<WalletState>>) -> zbus::blocking::Connection {
    zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.kde.kwalletd5")
        .unwrap()
        .serve_at("/modules/kwalletd5", Wallet(state))
        .unwrap()
        .build()
        .expect("serve the KWallet stand-in")
}

fn v11(password: &str, host: &str, value: &str) -> Vec<u8> {
    let key = cbc_key(password.as_bytes());
    [
        b"v11".as_slice(),
        &encrypt_cbc(&key, &with_host_digest(host, value.as_bytes(), 24)),
    ]
    .concat()
}

#[test]
fn v11_values_decrypt_with_the_password_from_kwallet() {
    if let Some(why) = keyring_missing() {
        eprintln!("SKIPPED: no private D-Bus session can run here: {why}");
        return;
    }
    let bus = SessionBus::start();
    let state = Arc::new(Mutex::new(WalletState::default()));
    {
        // What Chromium stores: a random password, base64, in "Chromium Keys".
        let mut s = state.lock().unwrap();
        s.folders.insert("Chromium Keys".into());
        s.entries.insert(
            ("Chromium Keys".into(), "Chromium Safe Storage".into()),
            "kL3u0x5tq1Zb6m9WcN2yQg==".into(),
        );
    }
    let _service = serve(&bus, state.clone());

    let udd = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    write_cookie_db(
        udd.path(),
        24,
        &[
            RowSpec::encrypted(
                ".a.test",
                "a",
                v11("kL3u0x5tq1Zb6m9WcN2yQg==", ".a.test", "from-kwallet"),
            ),
            RowSpec::encrypted("b.test", "b", v11("kL3u0x5tq1Zb6m9WcN2yQg==", "b.test", "")),
        ],
    );
    let mut o = options(udd.path(), scratch.path());
    o.dbus_address = Some(bus.address.clone());
    let got = import(&o).expect("import");
    let v = |n: &str| {
        got.state
            .cookies
            .iter()
            .find(|c| c.name == n)
            .map(|c| c.value.clone())
    };
    assert_eq!(v("a").as_deref(), Some("from-kwallet"));
    assert_eq!(v("b").as_deref(), Some(""));
    let used = got.report.keyring.expect("keyring named");
    assert!(
        used.contains("KWallet") && used.contains("Chromium Keys"),
        "{used}"
    );
    {
        let s = state.lock().unwrap();
        assert!(
            s.calls.iter().any(|c| c == "readPassword") && s.calls.last().unwrap() == "close",
            "the wallet was read and closed again: {:?}",
            s.calls
        );
    }
    assert_scratch_empty(scratch.path());

    // Brave's lookup tries "Brave" then "Chromium" (Brave builds use either): this wallet's
    // "Chromium Keys" entry decrypts Brave's values too.
    let mut brave = o.clone();
    brave.browser = pvault_import::Browser::Brave;
    assert_eq!(import(&brave).expect("brave import").state.cookies.len(), 2);

    // Chrome's lookup finds no "Chrome Keys" entry: the error names KWallet and the count.
    let mut chrome = o.clone();
    chrome.browser = pvault_import::Browser::Chrome;
    let e = import_err(&chrome);
    let msg = e.to_string();
    assert!(
        matches!(e, ImportError::Undecryptable { failed: 2, .. }),
        "{msg}"
    );
    assert!(msg.contains("KWallet") && msg.contains("Chrome"), "{msg}");

    // A wallet that will not open: named, nothing returned.
    state.lock().unwrap().locked = true;
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
        msg.contains("KWallet") && msg.contains("did not open"),
        "{msg}"
    );
    assert!(!msg.contains("from-kwallet"), "no value in {msg}");
    assert_scratch_empty(scratch.path());
}
