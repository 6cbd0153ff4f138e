//! Shared helpers: a server and a store per test, snapshots with marker values.

use pvault_model::{BrowserState, SnapshotInfo, SnapshotKind};
use std::time::Duration;

use pvault_remote::{
    Holder, Key, KeyChoice, Lease, NewSnapshot, Pulled, Remote, RemoteError, Target,
};
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

    /// Creates the store and profile `name` whose history is `snaps` captures 1..=snaps,
    /// written by holder `a` with retention 10.
    pub async fn with_profile(&self, name: &str, snaps: u32) -> (Remote, Key, Pulled) {
        let (mut r, key) = self.create().await;
        let history: Vec<_> = (1..=snaps)
            .map(|n| snap(n, SnapshotKind::Capture, None))
            .collect();
        let p = r
            .create_profile(name, &history, &holder("a"), 10)
            .await
            .unwrap();
        (r, key, p)
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

/// The lease time of tests that do not wait for an expiry.
pub const LEASE: Duration = Duration::from_secs(60);

/// Takes the lease of `profile` as holder `host`, waiting (polling) while another holds it.
pub async fn lease_when_free(r: &Remote, profile: &str, host: &str, ttl: Duration) -> Lease {
    loop {
        match r.acquire(profile, profile, &holder(host), ttl).await {
            Ok(l) => return l,
            Err(RemoteError::Busy { .. }) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Pushes session save `n` of session `s` under `lease` over the head in `after`.
pub async fn push_save(r: &mut Remote, lease: &Lease, after: &Pulled, n: u32) -> Pulled {
    r.push(
        lease,
        &after.memory(),
        &[snap(n, SnapshotKind::SessionSave, Some("s"))],
        &holder("a"),
        10,
    )
    .await
    .unwrap()
}
