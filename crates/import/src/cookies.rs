//! Chromium's `Cookies` SQLite database (a private copy of it): its rows, and how each
//! column maps to a CDP cookie (what `Storage.getCookies` reports for the same cookie).
//!
//! Columns and units (table `cookies`, meta `version` 24 in Chromium 156): times are
//! microseconds since 1601-01-01 UTC; `samesite` −1/0/1/2 = unspecified/None/Lax/Strict;
//! `priority` 0/1/2 = Low/Medium/High; `source_scheme` 0/1/2 = Unset/NonSecure/Secure;
//! a partitioned (CHIPS) cookie has its top-level site in `top_frame_site_key` and the
//! cross-site-ancestor bit in `has_cross_site_ancestor` (which unpartitioned rows also
//! carry, meaninglessly).

use std::path::Path;

use pvault_model::{Cookie, PartitionKey};
use rusqlite::{Connection, OpenFlags};
use zeroize::Zeroizing;

/// Microseconds between 1601-01-01 and 1970-01-01 (Windows' epoch, which Chromium uses).
const EPOCH_DELTA_US: i64 = 11_644_473_600_000_000;

/// One row of the `cookies` table, value still as stored.
pub struct Row {
    /// `host_key`: `example.com` (host-only) or `.example.com` (domain cookie).
    pub host_key: String,
    /// `name`.
    pub name: String,
    /// `value`, set when the value is stored in the clear.
    pub value: Zeroizing<String>,
    /// `encrypted_value`, prefix included; empty when stored in the clear.
    pub encrypted: Zeroizing<Vec<u8>>,
    /// `path`.
    pub path: String,
    /// `expires_utc`, µs since 1601.
    pub expires_utc: i64,
    /// `is_secure`.
    pub secure: bool,
    /// `is_httponly`.
    pub http_only: bool,
    /// `is_persistent`: false for a session cookie.
    pub persistent: bool,
    /// `priority`.
    pub priority: i64,
    /// `samesite`.
    pub samesite: i64,
    /// `source_scheme` (0 when the schema has no such column).
    pub source_scheme: i64,
    /// `source_port` (−1 when the schema has no such column).
    pub source_port: i64,
    /// `top_frame_site_key`: the partition's top-level site, empty when unpartitioned.
    pub top_frame_site_key: String,
    /// `has_cross_site_ancestor`.
    pub cross_site_ancestor: bool,
}

impl std::fmt::Debug for Row {
    /// The value is a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("host_key", &self.host_key)
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The rows and the schema version of one database.
#[derive(Debug)]
pub struct Database {
    /// `meta.version`: from 24 on, values carry the host digest.
    pub version: i64,
    /// Every row.
    pub rows: Vec<Row>,
}

/// Columns this reader needs; a database without one of them is not a cookie database it
/// understands.
const REQUIRED: &[&str] = &[
    "host_key",
    "name",
    "value",
    "encrypted_value",
    "path",
    "expires_utc",
    "is_secure",
    "is_httponly",
    "is_persistent",
    "priority",
    "samesite",
];

/// Reads every row of the copy at `path`. The copy is opened read-write (it is ours) so
/// SQLite can roll back a journal or apply a WAL that came with it. Errors are the detail
/// of a corrupt or foreign database.
pub fn read(path: &Path) -> Result<Database, String> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| e.to_string())?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if check != "ok" {
        return Err(format!("integrity check failed: {check}"));
    }
    let version: i64 = conn
        .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
            r.get::<_, String>(0)
        })
        .map_err(|e| format!("no meta version: {e}"))?
        .parse()
        .map_err(|_| "meta version is not a number".to_owned())?;
    let mut cols = Vec::new();
    {
        let mut st = conn
            .prepare("PRAGMA table_info(cookies)")
            .map_err(|e| e.to_string())?;
        let mut rows = st.query([]).map_err(|e| e.to_string())?;
        while let Some(r) = rows.next().map_err(|e| e.to_string())? {
            cols.push(r.get::<_, String>(1).map_err(|e| e.to_string())?);
        }
    }
    if let Some(missing) = REQUIRED.iter().find(|c| !cols.iter().any(|x| x == *c)) {
        return Err(format!(
            "table cookies has no column {missing} (schema version {version})"
        ));
    }
    let opt = |c: &str, default: &str| {
        if cols.iter().any(|x| x == c) {
            c.to_owned()
        } else {
            format!("{default} AS {c}")
        }
    };
    let sql = format!(
        "SELECT host_key, name, value, encrypted_value, path, expires_utc, is_secure, is_httponly, \
         is_persistent, priority, samesite, {}, {}, {}, {} FROM cookies",
        opt("source_scheme", "0"),
        opt("source_port", "-1"),
        opt("top_frame_site_key", "''"),
        opt("has_cross_site_ancestor", "0"),
    );
    let mut st = conn.prepare(&sql).map_err(|e| e.to_string())?;
    let rows = st
        .query_map([], |r| {
            Ok(Row {
                host_key: r.get(0)?,
                name: r.get(1)?,
                value: Zeroizing::new(r.get(2)?),
                encrypted: Zeroizing::new(r.get::<_, Option<Vec<u8>>>(3)?.unwrap_or_default()),
                path: r.get(4)?,
                expires_utc: r.get(5)?,
                secure: r.get::<_, i64>(6)? != 0,
                http_only: r.get::<_, i64>(7)? != 0,
                persistent: r.get::<_, i64>(8)? != 0,
                priority: r.get(9)?,
                samesite: r.get(10)?,
                source_scheme: r.get(11)?,
                source_port: r.get(12)?,
                top_frame_site_key: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                cross_site_ancestor: r.get::<_, i64>(14)? != 0,
            })
        })
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok(Database { version, rows })
}

/// `expires_utc` as Unix seconds, computed as Chromium's `InSecondsFSinceUnixEpoch` does
/// (integer microseconds since 1970, divided as a double), so it equals CDP's `expires`
/// bit for bit.
pub fn unix_seconds(expires_utc: i64) -> f64 {
    // Saturating: the column is whatever the file holds, and i64::MIN must not overflow.
    expires_utc.saturating_sub(EPOCH_DELTA_US) as f64 / 1_000_000.0
}

/// Now, in microseconds since 1601.
pub fn now_utc_us() -> i64 {
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    since_unix + EPOCH_DELTA_US
}

/// The CDP cookie for `row` with its decrypted `value`.
pub fn to_cookie(row: &Row, value: String) -> Cookie {
    let expires = if row.persistent {
        unix_seconds(row.expires_utc)
    } else {
        -1.0
    };
    Cookie {
        size: Some((row.name.len() + value.len()) as u64),
        name: row.name.clone(),
        value,
        domain: row.host_key.clone(),
        path: row.path.clone(),
        expires,
        http_only: row.http_only,
        secure: row.secure,
        session: Some(!row.persistent),
        same_site: match row.samesite {
            0 => Some("None".into()),
            // 3 is the retired "Lax, unsafe methods allowed", which Chromium reads as Lax.
            1 | 3 => Some("Lax".into()),
            2 => Some("Strict".into()),
            _ => None,
        },
        priority: Some(
            match row.priority {
                0 => "Low",
                2 => "High",
                _ => "Medium",
            }
            .into(),
        ),
        source_scheme: Some(
            match row.source_scheme {
                1 => "NonSecure",
                2 => "Secure",
                _ => "Unset",
            }
            .into(),
        ),
        source_port: Some(row.source_port),
        partition_key: (!row.top_frame_site_key.is_empty()).then(|| PartitionKey {
            top_level_site: row.top_frame_site_key.clone(),
            has_cross_site_ancestor: row.cross_site_ancestor,
        }),
        extra: serde_json::Map::new(),
    }
}
