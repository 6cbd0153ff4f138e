//! Chromium `Cookies` databases written to order, for the import tests (the decryption
//! rules, the documented failures) of the import library and of the daemon: the schema is
//! Chromium 156's (`meta.version` 24), the version is the caller's, and each row's
//! `encrypted_value` is given as the bytes Chromium would store (prefix included), so the
//! tests build them with the import library's own encryption helpers.

use std::path::{Path, PathBuf};

/// One cookie row.
#[derive(Debug, Clone)]
pub struct RowSpec {
    /// `host_key` (`a.test`, or `.a.test` for a domain cookie).
    pub host: String,
    /// `name`.
    pub name: String,
    /// `encrypted_value` (prefix included), or empty for a value in the clear.
    pub encrypted: Vec<u8>,
    /// `value` (in the clear; empty when encrypted).
    pub value: String,
    /// `top_frame_site_key`: empty for an unpartitioned cookie.
    pub partition: String,
}

impl RowSpec {
    /// A row for `host`/`name` with an encrypted value.
    pub fn encrypted(host: &str, name: &str, encrypted: Vec<u8>) -> RowSpec {
        RowSpec {
            host: host.into(),
            name: name.into(),
            encrypted,
            value: String::new(),
            partition: String::new(),
        }
    }

    /// A row for `host`/`name` with its value in the clear.
    pub fn plain(host: &str, name: &str, value: &str) -> RowSpec {
        RowSpec {
            value: value.into(),
            ..RowSpec::encrypted(host, name, Vec::new())
        }
    }
}

/// Writes `<udd>/Default/Cookies` with Chromium 156's schema and `meta.version` = `version`,
/// plus an empty `Preferences` so the directory is a browser profile. Every row is a
/// persistent cookie expiring a year from now, secure, path `/`. Returns the database path.
pub fn write_cookie_db(udd: &Path, version: i64, rows: &[RowSpec]) -> PathBuf {
    let dir = udd.join("Default");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Preferences"), "{}").unwrap();
    let path = dir.join("Cookies");
    let _ = std::fs::remove_file(&path);
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR);
         CREATE TABLE cookies(creation_utc INTEGER NOT NULL, host_key TEXT NOT NULL,
           top_frame_site_key TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
           encrypted_value BLOB NOT NULL, path TEXT NOT NULL, expires_utc INTEGER NOT NULL,
           is_secure INTEGER NOT NULL, is_httponly INTEGER NOT NULL,
           last_access_utc INTEGER NOT NULL, has_expires INTEGER NOT NULL,
           is_persistent INTEGER NOT NULL, priority INTEGER NOT NULL, samesite INTEGER NOT NULL,
           source_scheme INTEGER NOT NULL, source_port INTEGER NOT NULL,
           last_update_utc INTEGER NOT NULL, source_type INTEGER NOT NULL,
           has_cross_site_ancestor INTEGER NOT NULL);",
    )
    .unwrap();
    c.execute(
        "INSERT INTO meta VALUES ('version', ?1), ('last_compatible_version', ?1)",
        [version.to_string()],
    )
    .unwrap();
    // A year from now, in µs since 1601 (Chromium's epoch).
    let expires = 11_644_473_600_000_000i64
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64)
        + 365 * 86_400 * 1_000_000;
    for (i, r) in rows.iter().enumerate() {
        c.execute(
            "INSERT INTO cookies VALUES (?1, ?2, ?3, ?4, ?5, ?6, '/', ?7, 1, 0, ?1, 1, 1, 1, 0, 2, 443, ?1, 1, 0)",
            rusqlite::params![
                13_000_000_000_000_000i64 + i as i64,
                r.host,
                r.partition,
                r.name,
                r.value,
                r.encrypted,
                expires,
            ],
        )
        .unwrap();
    }
    path
}
