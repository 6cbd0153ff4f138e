//! Helpers shared by the test modules: fast vaults, sample states with marker values, raw
//! access to the database file for tampering and scanning.
//!
//! NOTE: `cookie`, `state_with` and `rich_state` build the golden fixture's content: changing
//! them changes the fixture (the golden tests will say so).

use std::path::{Path, PathBuf};

use pvault_model::{BrowserState, Cookie, OriginState, PartitionKey, StorageItem};
use pvault_vault::{CreateOptions, Credential, KdfParams, Vault};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

/// The passphrase of every test vault.
pub const PASS: &str = "correct horse battery staple";

/// A passphrase credential.
pub fn pass(s: &str) -> Credential {
    Credential::Passphrase(Zeroizing::new(s.to_owned()))
}

/// Fast creation options (OWASP-minimum Argon2id, no calibration).
pub fn fast_opts() -> CreateOptions {
    CreateOptions {
        kdf_target: None,
        retention: 20,
        kdf_params: Some(KdfParams::OWASP_MINIMUM),
    }
}

/// A fresh vault in a fresh temporary directory (kept alive by the returned guard).
pub fn new_vault() -> (tempfile::TempDir, Vault) {
    let dir = tempfile::tempdir().unwrap();
    let v = Vault::create(&vault_dir(&dir), &pass(PASS), &fast_opts()).unwrap();
    (dir, v)
}

/// The vault directory inside a temp dir.
pub fn vault_dir(t: &tempfile::TempDir) -> PathBuf {
    t.path().join("v")
}

/// Opens and unlocks a vault directory with the test passphrase (a fresh handle, no caches).
pub fn reopen(dir: &Path) -> Vault {
    let v = Vault::open(dir).unwrap();
    v.unlock(&pass(PASS)).unwrap();
    v
}

/// A cookie with the given name, value and domain, other fields typical of CDP.
pub fn cookie(name: &str, value: &str, domain: &str) -> Cookie {
    Cookie {
        name: name.into(),
        value: value.into(),
        domain: domain.into(),
        path: "/".into(),
        expires: 1_900_000_000.123_456_7,
        size: Some((name.len() + value.len()) as u64),
        http_only: true,
        secure: true,
        session: Some(false),
        same_site: Some("Lax".into()),
        priority: Some("Medium".into()),
        source_scheme: Some("Secure".into()),
        source_port: Some(443),
        partition_key: None,
        extra: Map::new(),
    }
}

/// A state with one cookie and one localStorage item carrying `tag` in every field.
pub fn state_with(tag: &str) -> BrowserState {
    BrowserState {
        cookies: vec![cookie(
            &format!("c-{tag}"),
            &format!("v-{tag}"),
            &format!("{tag}.example"),
        )],
        origins: vec![OriginState {
            origin: format!("https://{tag}.example"),
            local_storage: vec![StorageItem {
                name: format!("k-{tag}"),
                value: format!("lv-{tag}"),
            }],
            session_storage: None,
            indexed_db: None,
            extra: Map::new(),
        }],
        source: None,
    }
}

/// A richer state: unicode, a session cookie, a partitioned cookie, an unknown CDP field.
pub fn rich_state(tag: &str) -> BrowserState {
    let mut session = cookie("sid", &format!("séssion-☃-{tag}"), ".example.com");
    session.expires = -1.0;
    session.session = Some(true);
    let mut chips = cookie("__Host-chips", "partitioned-🍪", "widget.example.net");
    chips.partition_key = Some(PartitionKey {
        top_level_site: "https://example.com".into(),
        has_cross_site_ancestor: true,
    });
    chips
        .extra
        .insert("sourcePortFuture".into(), Value::from(7));
    BrowserState {
        cookies: vec![session, chips, cookie("", "nameless", "example.org")],
        origins: vec![OriginState {
            origin: "https://app.example.com".into(),
            local_storage: vec![
                StorageItem {
                    name: "ключ".into(),
                    value: format!("значение-{tag}"),
                },
                StorageItem {
                    name: "empty".into(),
                    value: String::new(),
                },
            ],
            session_storage: None,
            indexed_db: None,
            extra: Map::new(),
        }],
        source: None,
    }
}

/// A raw SQLite connection to the vault file (for tampering), bypassing the vault.
pub fn raw(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join(Vault::FILE_NAME)).unwrap()
}

/// Bytes of the `.db`, `-wal` and `-shm` files that exist.
pub fn file_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["vault.db", "vault.db-wal", "vault.db-shm"]
        .iter()
        .filter_map(|f| std::fs::read(dir.join(f)).ok().map(|b| (f.to_string(), b)))
        .collect()
}

/// Whether `needle` occurs in any of the vault's files; returns the file names.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    file_bytes(dir)
        .into_iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle))
        .map(|(f, _)| f)
        .collect()
}

/// Copies a directory's files (not recursive) into a new temp dir's `v` subdirectory, 0700.
pub fn copy_vault(src: &Path) -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let dst = vault_dir(&t);
    std::fs::create_dir(&dst).unwrap();
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o700)).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name.to_string_lossy().starts_with("vault.db") {
            std::fs::copy(e.path(), dst.join(&name)).unwrap();
        }
    }
    (t, dst)
}
