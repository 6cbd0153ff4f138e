//! `profile.*` requests. Every request naming a profile accepts its name or its id (32 hex
//! digits, used when no profile has that name). All require an unlocked vault (`locked`).

use pvault_model::{BrowserImportReport, ProfileInfo, SessionSettings, SnapshotInfo};
use serde::{Deserialize, Serialize};

/// Result of requests that return one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileResponse {
    /// The profile after the request.
    pub profile: ProfileInfo,
}

/// `profile.create`: an empty profile. `conflict` on a taken name, `invalid_argument` on a name
/// outside `^[A-Za-z0-9._-]{1,255}$`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileCreate {
    /// Unique name.
    pub name: String,
    /// Free-form description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default session settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<SessionSettings>,
}

/// `profile.list`: profiles ordered by name, one page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileList {
    /// Profiles to skip.
    #[serde(default)]
    pub offset: u64,
    /// Page size; default and maximum [`ProfileList::MAX_LIMIT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

impl ProfileList {
    /// Largest page the daemon returns; larger limits are clamped.
    pub const MAX_LIMIT: u64 = 1000;
}

/// Result of `profile.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileListResponse {
    /// This page.
    pub profiles: Vec<ProfileInfo>,
    /// Total number of profiles.
    pub total: u64,
    /// The offset this page starts at.
    pub offset: u64,
}

/// `profile.show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileShow {
    /// Name or id.
    pub name: String,
}

/// `profile.rename`. `conflict` if `new_name` is taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRename {
    /// Name or id.
    pub name: String,
    /// The new name.
    pub new_name: String,
}

/// `profile.update`: changes the description or the default session settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// Name or id.
    pub name: String,
    /// New description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Removes the description (`invalid_argument` together with `description`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clear_description: bool,
    /// Replaces the default session settings as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<SessionSettings>,
}

/// `profile.delete`: deletes the profile and its history (its data key is shredded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDelete {
    /// Name or id.
    pub name: String,
}

/// `profile.import`: appends a Playwright storageState as the profile's newest snapshot
/// (kind `import`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileImport {
    /// Name or id.
    pub name: String,
    /// A Playwright storageState object (`{"cookies": [...], "origins": [...]}`), as JSON.
    pub state: serde_json::Value,
    /// Create the profile when missing (default true); `not_found` otherwise.
    #[serde(default = "yes")]
    pub create: bool,
}

fn yes() -> bool {
    true
}

/// Result of `profile.import`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileImportResponse {
    /// The profile after the import.
    pub profile: ProfileInfo,
    /// The snapshot appended.
    pub snapshot: SnapshotInfo,
    /// Whether the profile was created by this import.
    pub created: bool,
}

/// `profile.import_browser` (1.5): reads the user's own Chromium-family browser profile
/// (cookies, decrypted, and localStorage) into a new snapshot of `name` (kind `import`; the
/// body's `source` names the browser, its profile and user-data-dir). The daemon reads the
/// browser's files through private copies in its runtime directory and asks the desktop
/// keyring on the D-Bus session bus for `v11`/`v12` keys. With `dry_run` it reads and
/// decrypts everything, writes nothing, and needs no unlocked vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileImportBrowser {
    /// Name or id of the pvault profile.
    pub name: String,
    /// `chrome`, `chromium`, `brave`, `edge` or `vivaldi`.
    pub browser: String,
    /// The browser's profile directory (`Default`, `Profile 1`) or its shown name; `None`
    /// takes the only one (`invalid_argument` listing them when there are several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_profile: Option<String>,
    /// The browser's user-data-dir (absolute); `None` looks in the usual places (native,
    /// Flatpak, Snap) under the daemon's `$HOME` / `$XDG_CONFIG_HOME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data_dir: Option<String>,
    /// Keep only these registrable domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Leave these registrable domains out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_domains: Vec<String>,
    /// Read and count only; write nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Import without the values that do not decrypt (counted in the report) instead of
    /// failing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_undecryptable: bool,
    /// Create the profile when missing (default true); `not_found` otherwise.
    #[serde(default = "yes")]
    pub create: bool,
    /// The D-Bus session bus to ask the keyring on (a `unix:` address); the CLI sends its
    /// own `$DBUS_SESSION_BUS_ADDRESS`, so the keyring of the user's current login session
    /// is asked even when pvaultd was started elsewhere. `None`: the daemon's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dbus_address: Option<String>,
}

/// Result of `profile.import_browser`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileImportBrowserResponse {
    /// What was read, per registrable domain (counts only), and what was not imported.
    pub report: BrowserImportReport,
    /// Whether this was a dry run (nothing written; `profile` and `snapshot` absent).
    pub dry_run: bool,
    /// The profile after the import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileInfo>,
    /// The snapshot appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotInfo>,
    /// Whether the profile was created by this import.
    #[serde(default)]
    pub created: bool,
}

/// `profile.export`: a snapshot as a Playwright storageState (or pvault's own JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileExport {
    /// Name or id.
    pub name: String,
    /// Seq number, id or unique id prefix (≥ 6 hex digits), or `latest` for the newest;
    /// `None` = the current snapshot (1.8: the newest one the logout guard did not mark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The document's format (added in 1.3); `None` = Playwright's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ExportFormat>,
    /// Send the document in `chunk` frames before the result instead of inside it (added in
    /// 1.3), so a snapshot larger than one message still exports. See protocol.md §5.3.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub chunked: bool,
}

/// Formats of `profile.export`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Playwright's storageState: what it cannot hold is left out and named in `left_out`.
    #[default]
    Playwright,
    /// pvault's own JSON (`"pvault": 1`): everything; `profile.import` reads it back exactly.
    Pvault,
}

/// Raw bytes of document carried by one `chunk` frame (before base64): 16 MiB, so a frame
/// stays far below [`crate::MAX_MESSAGE_BYTES`].
pub const EXPORT_CHUNK_BYTES: usize = 16 * 1024 * 1024;

/// Largest document a client reassembles from `chunk` frames: twice the vault's 256 MiB
/// snapshot cap, room for the JSON of any snapshot the vault can hold.
pub const MAX_CHUNKED_BYTES: usize = 512 * 1024 * 1024;

/// Result of `profile.export`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileExportResponse {
    /// The snapshot exported.
    pub snapshot: SnapshotInfo,
    /// Its content in the requested format; absent (null) when sent in chunks.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub state: serde_json::Value,
    /// What the format could not hold, one line per kind (names only, never values); empty
    /// for the pvault format (added in 1.3).
    #[serde(default)]
    pub left_out: Vec<String>,
    /// With `chunked`: the document's length in bytes, the sum of the chunks' decoded lengths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_bytes: Option<u64>,
    /// With `chunked`: how many `chunk` frames preceded this result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_chunks: Option<u64>,
}

/// `profile.history`: the snapshots kept, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileHistory {
    /// Name or id.
    pub name: String,
}

/// Result of `profile.history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileHistoryResponse {
    /// The profile's id.
    pub profile_id: String,
    /// Snapshots, newest first.
    pub snapshots: Vec<SnapshotInfo>,
}

/// `profile.diff`: what changed between two snapshots. Defaults: `to` = the newest, `from` =
/// the one before `to`. `not_found` when the history has fewer than two snapshots and `from`
/// is not given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDiff {
    /// Name or id.
    pub name: String,
    /// The older snapshot (selector as in `profile.export`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The newer snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// Result of `profile.diff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileDiffResponse {
    /// The older snapshot.
    pub from: SnapshotInfo,
    /// The newer snapshot.
    pub to: SnapshotInfo,
    /// The model crate's `StateDiff` as JSON (cookies and storage keys added, removed,
    /// changed; values are never included).
    pub diff: serde_json::Value,
}

/// `profile.restore`: appends a copy of an older snapshot as the newest (kind `restore`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRestore {
    /// Name or id.
    pub name: String,
    /// Selector of the snapshot to restore.
    pub snapshot: String,
}

/// Result of `profile.restore`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRestoreResponse {
    /// The new snapshot (a copy).
    pub snapshot: SnapshotInfo,
    /// The snapshot it copies.
    pub restored_from: SnapshotInfo,
}
