//! The shared vocabulary of browser state: what a snapshot *is*, independent of where it is
//! stored (the vault) or how it is read from a browser (the browser crate).
//!
//! Every crate that touches browser state speaks these types, so that the browser crate can
//! capture a [`BrowserState`] without knowing the vault exists, and the vault can store one
//! without knowing browsers exist.
//!
//! Field names serialize in CDP's camelCase so a cookie captured over `Storage.getCookies`
//! deserializes directly, and any field Chrome adds later lands in `extra` and is written back
//! unchanged (lossless forward compatibility).

pub mod browser_import;
pub mod clone_value;
pub mod cookie_rules;
pub mod diff;
pub mod export;
pub mod fuzz_support;
pub mod health;
mod idb_interop;
pub mod indexed_db;
pub mod storage_state;
mod viewport;

pub use browser_import::{BrowserImportReport, DomainCounts, EncryptionCounts, StateSource};
pub use cookie_rules::cdp_cookie_problem;
pub use diff::{
    CookieChange, CookieKey, IndexedDbDiff, OriginStorageDiff, StateDiff, StoreRecordsDiff, diff,
};
pub use export::{
    Export, ExportFormat, export_as, export_storage_state, export_storage_state_string,
};
pub use health::{
    Expectation, HealthDefinition, HealthDefinitionError, HealthFailure, HealthResult, HealthStatus,
};
pub use idb_interop::{check_record, import_databases, playwright_generator};
pub use indexed_db::{Form, IdbDatabase, IdbIndex, IdbRecord, IdbStore};
pub use storage_state::{StorageStateError, import_storage_state};
pub use viewport::ViewportParseError;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The browser state at one moment: cookies plus per-origin web storage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowserState {
    /// Every cookie of the browser context, in the order the browser reported them.
    #[serde(default)]
    pub cookies: Vec<Cookie>,
    /// Web storage per origin; an origin appears at most once.
    #[serde(default)]
    pub origins: Vec<OriginState>,
    /// Where the state was imported from, for a state read from the user's own browser;
    /// `None` otherwise (a capture, a storageState file). Not browser state: sessions never
    /// load it and diffs ignore it; it travels with the content (a restored copy keeps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<StateSource>,
}

/// A cookie with every field CDP's `Network.Cookie` reports.
///
/// Optional fields are `None` when the source did not say (a Playwright file has no `size`,
/// `priority` or `sourceScheme`); they are omitted on output rather than invented.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cookie {
    /// Cookie name; may be empty (Chrome accepts nameless cookies).
    pub name: String,
    /// Cookie value; a secret, never logged.
    pub value: String,
    /// `example.com` for a host-only cookie, `.example.com` for a domain cookie.
    pub domain: String,
    /// Path attribute, `/` by default.
    pub path: String,
    /// Expiry in Unix seconds (fractional); `-1` for a session cookie, as CDP and Playwright say.
    pub expires: f64,
    /// Size in bytes as Chrome computes it (name + value); informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Not readable from page scripts.
    #[serde(default)]
    pub http_only: bool,
    /// Sent only over secure transports.
    #[serde(default)]
    pub secure: bool,
    /// True for a session cookie (no expiry); mirrors `expires == -1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<bool>,
    /// `Strict`, `Lax` or `None`; kept as a string so an unknown future value survives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
    /// `Low`, `Medium` or `High`; a string for the same reason as `same_site`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// `Unset`, `NonSecure` or `Secure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_scheme: Option<String>,
    /// Port the cookie was set from; `-1` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<i64>,
    /// CHIPS partition; `None` for an unpartitioned cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<PartitionKey>,
    /// Fields this version does not know, kept verbatim so nothing Chrome adds is lost.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// CDP's `CookiePartitionKey`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionKey {
    /// The top-level site, e.g. `https://example.com`.
    pub top_level_site: String,
    /// Whether the cookie was set in a cross-site context inside that top-level site.
    #[serde(default)]
    pub has_cross_site_ancestor: bool,
}

/// Web storage of one origin: localStorage, sessionStorage and IndexedDB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginState {
    /// Serialized origin, `scheme://host[:port]`, no trailing slash.
    pub origin: String,
    /// localStorage items in the order they were read; names are unique.
    #[serde(default)]
    pub local_storage: Vec<StorageItem>,
    /// sessionStorage items, names unique. A browser keeps sessionStorage per tab; a snapshot
    /// keeps one set per origin, which a session hands to every tab that first lands on the
    /// origin. `None` and an empty list both mean none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_storage: Option<Vec<StorageItem>>,
    /// IndexedDB databases (names unique). `None` and an empty list both mean none. Shared:
    /// a running session's checkpoints hand the same (possibly megabytes of) records from
    /// one capture to the next without copying them, and compare them by pointer first.
    #[serde(default, rename = "indexedDB", skip_serializing_if = "Option::is_none")]
    pub indexed_db: Option<std::sync::Arc<Vec<IdbDatabase>>>,
    /// Fields this version does not know, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl OriginState {
    /// An origin with nothing stored yet.
    pub fn new(origin: impl Into<String>) -> OriginState {
        OriginState {
            origin: origin.into(),
            local_storage: Vec::new(),
            session_storage: None,
            indexed_db: None,
            extra: Map::new(),
        }
    }

    /// sessionStorage items (empty when none).
    pub fn session_items(&self) -> &[StorageItem] {
        self.session_storage.as_deref().unwrap_or_default()
    }

    /// IndexedDB databases (empty when none).
    pub fn databases(&self) -> &[IdbDatabase] {
        self.indexed_db.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Whether the origin holds anything at all.
    pub fn is_empty(&self) -> bool {
        self.local_storage.is_empty()
            && self.session_items().is_empty()
            && self.databases().is_empty()
            && self.extra.is_empty()
    }
}

/// One key/value pair of localStorage or sessionStorage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageItem {
    /// Key.
    pub name: String,
    /// Value; a secret, never logged.
    pub value: String,
}

/// How a snapshot came to be. Stored with every snapshot and shown in its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotKind {
    /// Imported: from a Playwright storageState file or pvault JSON, or read from the user's own
    /// browser (then the body's `source` names it).
    Import,
    /// The final state of a `--save` session, captured when it stopped.
    SessionSave,
    /// Captured on demand from a running session.
    Capture,
    /// A crash-safety checkpoint of a running `--save` session.
    Checkpoint,
    /// A copy of an older snapshot appended by `restore`.
    Restore,
}

impl SnapshotKind {
    /// Every kind, in the order of their wire codes.
    pub const ALL: [SnapshotKind; 5] = [
        SnapshotKind::Import,
        SnapshotKind::SessionSave,
        SnapshotKind::Capture,
        SnapshotKind::Checkpoint,
        SnapshotKind::Restore,
    ];

    /// The stable name used on the wire and in `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotKind::Import => "import",
            SnapshotKind::SessionSave => "session_save",
            SnapshotKind::Capture => "capture",
            SnapshotKind::Checkpoint => "checkpoint",
            SnapshotKind::Restore => "restore",
        }
    }
}

/// Per-session browser settings a profile can carry as defaults. Every field is optional:
/// an unset field falls through to the next layer (command line > profile > config).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSettings {
    /// Proxy server URL, e.g. `socks5://127.0.0.1:1080`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Window/viewport size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewport: Option<Viewport>,
    /// User-Agent override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Browser locale, e.g. `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

impl SessionSettings {
    /// Fills every unset field of `self` from `fallback`.
    pub fn or(mut self, fallback: &SessionSettings) -> SessionSettings {
        self.proxy = self.proxy.or_else(|| fallback.proxy.clone());
        self.viewport = self.viewport.or(fallback.viewport);
        self.user_agent = self.user_agent.or_else(|| fallback.user_agent.clone());
        self.locale = self.locale.or_else(|| fallback.locale.clone());
        self
    }
}

/// A viewport size in CSS pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewport {
    /// Width in CSS pixels.
    pub width: u32,
    /// Height in CSS pixels.
    pub height: u32,
}

impl BrowserState {
    /// Number of localStorage keys across all origins.
    pub fn local_storage_key_count(&self) -> usize {
        self.origins.iter().map(|o| o.local_storage.len()).sum()
    }

    /// Number of sessionStorage keys across all origins.
    pub fn session_storage_key_count(&self) -> usize {
        self.origins.iter().map(|o| o.session_items().len()).sum()
    }

    /// Number of IndexedDB records across all origins.
    pub fn indexed_db_record_count(&self) -> usize {
        self.origins
            .iter()
            .map(|o| indexed_db::record_count(o.databases()))
            .sum()
    }

    /// Distinct cookie domains, sorted, leading dot removed.
    pub fn cookie_domains(&self) -> Vec<String> {
        // Sorted and deduplicated borrowed, copied once each: a capture has a thousand
        // cookies over a few dozen domains.
        let mut d: Vec<&str> = self
            .cookies
            .iter()
            .map(|c| c.domain.trim_start_matches('.'))
            .collect();
        d.sort_unstable();
        d.dedup();
        d.into_iter().map(str::to_owned).collect()
    }

    /// Origins that hold any web storage, in stored order.
    pub fn origin_names(&self) -> Vec<String> {
        self.origins.iter().map(|o| o.origin.clone()).collect()
    }
}

/// What the vault reports about one snapshot. Plain metadata: no cookie or storage content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Random 128-bit id, 32 lowercase hex digits.
    pub id: String,
    /// Position in the profile's history, 1 for the first snapshot ever appended; never reused,
    /// so `pvault profile restore github 7` keeps meaning the same snapshot after retention.
    pub seq: u64,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// How the snapshot was made.
    pub kind: SnapshotKind,
    /// SHA-256 of the snapshot's canonical plaintext encoding, lowercase hex.
    pub content_hash: String,
    /// Size of the plaintext encoding in bytes.
    pub size_bytes: u64,
    /// Number of cookies.
    pub cookie_count: u64,
    /// Number of origins with web storage.
    pub origin_count: u64,
    /// Number of localStorage keys across all origins.
    pub local_storage_key_count: u64,
    /// Number of sessionStorage keys across all origins (0 in snapshots of schema 1).
    #[serde(default)]
    pub session_storage_key_count: u64,
    /// Number of IndexedDB records across all origins (0 in snapshots of schema 1).
    #[serde(default)]
    pub indexed_db_record_count: u64,
    /// Marked by the logout guard: the state of a `--save` session that ended logged out
    /// while the profile's current snapshot was logged in. Kept, but sessions, exports and
    /// checks do not load it until `profile accept`. Omitted when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub logged_out: bool,
}

/// What the vault reports about one profile, as shown by `profile show` and `profile list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileInfo {
    /// Random 128-bit id, 32 lowercase hex digits.
    pub id: String,
    /// Unique name, `^[A-Za-z0-9._-]{1,255}$`.
    pub name: String,
    /// Free-form description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Defaults for sessions started with this profile.
    #[serde(default)]
    pub settings: SessionSettings,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change to the profile or its history, Unix milliseconds.
    pub updated_at: i64,
    /// Last time a session loaded it, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    /// Snapshots currently kept in the history.
    pub snapshot_count: u64,
    /// The newest snapshot, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<SnapshotInfo>,
    /// Cookie domains of the newest snapshot (leading dot removed, sorted, distinct).
    #[serde(default)]
    pub cookie_domains: Vec<String>,
    /// Origins with web storage in the newest snapshot.
    #[serde(default)]
    pub origins: Vec<String>,
    /// The seq of the snapshot sessions, exports and checks load (the newest one the logout
    /// guard did not mark), when it is not `latest`; omitted when it is `latest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    /// The login health definition, if one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthDefinition>,
    /// The result of the last health check, if any ran since the definition was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_result: Option<HealthResult>,
}
