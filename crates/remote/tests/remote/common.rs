//! Shared helpers: a server and a store per test, snapshots with marker values.

use pvault_model::{BrowserState, SnapshotInfo, SnapshotKind};
use pvault_remote::{Holder, Key, KeyChoice, NewSnapshot, Remote, Target};
use pvault_testkit::PgServer;
use pvault_testkit::postgres::SUPERUSER_PASSWORD;
use zeroize::Zeroizing;

/// A test server with one database `pv` for the store.
pub struct Pg {
    pub server: PgServer,
}

impl Pg {
    pub fn start() -> Pg {
        let server = PgServer::start();
        server.create_db("pv");
        Pg { server }
    }

    pub fn target(&self) -> Target {
        Target::parse(&self.server.url("pv")).unwrap()
    }

    pub fn password() -> Option<Zeroizing<String>> {
        Some(Zeroizing::new(SUPERUSER_PASSWORD.to_owned()))
    }

    /// Creates the store; returns a connection and its key.
    pub async fn create(&self) -> (Remote, Key) {
        Remote::connect(&self.target(), Self::password(), KeyChoice::CreateIfEmpty)
            .await
            .unwrap()
    }

    /// Another connection to the store with `key`.
    pub async fn open(&self, key: &Key) -> Remote {
        Remote::connect(
            &self.target(),
            Self::password(),
            KeyChoice::Existing(key.clone()),
        )
        .await
        .unwrap()
        .0
    }

    pub fn sql(&self, sql: &str) -> String {
        self.server.psql("pv", sql)
    }
}

pub fn holder(host: &str) -> Holder {
    Holder {
        host: host.into(),
        session: Some(format!("sess-{host}")),
        vault: "00".repeat(16),
    }
}

/// Markers that must never reach the server in the clear.
pub const MARKERS: [&str; 7] = [
    "MARKER-COOKIE-NAME",
    "MARKER-COOKIE-VALUE",
    "markerdomain.example",
    "markerorigin.example",
    "MARKER-LS-KEY",
    "MARKER-LS-VALUE",
    "marker-profile-name",
];

/// A snapshot whose content carries the markers and `n`.
pub fn snap(n: u32, kind: SnapshotKind, session: Option<&str>) -> NewSnapshot {
    let state: BrowserState = serde_json::from_value(serde_json::json!({
        "cookies": [{"name": "MARKER-COOKIE-NAME", "value": format!("MARKER-COOKIE-VALUE-{n}"),
                     "domain": ".markerdomain.example", "path": "/", "expires": -1.0,
                     "httpOnly": true, "secure": true}],
        "origins": [{"origin": "https://markerorigin.example",
                     "localStorage": [{"name": "MARKER-LS-KEY", "value": format!("MARKER-LS-VALUE-{n}")}]}]
    }))
    .unwrap();
    let body = pvault_vault::body::encode_state(&state).unwrap();
    let info = SnapshotInfo {
        id: "00".repeat(16),
        seq: n as u64,
        created_at: 1_700_000_000_000 + n as i64,
        kind,
        content_hash: pvault_vault::body::content_hash(&body),
        size_bytes: body.len() as u64,
        cookie_count: 1,
        origin_count: 1,
        local_storage_key_count: 1,
        session_storage_key_count: 0,
        indexed_db_record_count: 0,
        logged_out: false,
    };
    NewSnapshot {
        body,
        info,
        session_id: session.map(Into::into),
    }
}

pub fn never(_: &str) -> bool {
    false
}
