//! `remote.*` requests and the two `profile.*` requests that reach a remote store (1.9): a
//! PostgreSQL database shared by several vaults that sees only ciphertext
//! (`remote-format.md`). All need an unlocked vault (`locked`).

use pvault_model::ProfileInfo;
use serde::{Deserialize, Serialize};

use crate::{Credential, ErrorBody, Secret};

/// `remote.add`: names a remote store and connects to it. On an empty database the store is
/// created with a new random team key; joining an existing store needs `key_file` (an export
/// of its team key). Nothing is written (locally or remotely) unless every check passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteAdd {
    /// Local name of the remote, `[A-Za-z0-9._-]{1,64}`.
    pub name: String,
    /// `postgres://` URL without a password.
    pub url: String,
    /// The role's password (from `PGPASSWORD`, a passfile or a prompt, read by the client);
    /// kept only inside the vault's sealed local state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The team key of an existing store, as exported by `remote.export_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<TeamKeyFile>,
    /// Lease time of `--save` sessions, 5 to 3600 s (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_ttl_secs: Option<u64>,
}

/// An exported team key and what opens it. The client reads the file; the daemon never opens
/// a path a client names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamKeyFile {
    /// The export document (UTF-8 JSON, `remote-format.md` 4.2).
    pub document: String,
    /// The passphrase or key file it was sealed with.
    pub protector: Credential,
}

/// A remote as `remote.add` and `remote.list` show it (never its password or key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSummary {
    /// Local name.
    pub name: String,
    /// URL (without a password).
    pub url: String,
    /// The store's random id (hex).
    pub store_id: String,
    /// Lease time of `--save` sessions.
    pub lease_ttl_secs: u64,
    /// Local profiles linked to it.
    pub linked: u64,
    /// Local saves not yet pushed (pending) or never to be pushed (diverged).
    pub pending: u64,
}

/// Result of `remote.add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteAddResponse {
    /// The remote.
    pub remote: RemoteSummary,
    /// Whether this add created the store (an empty database).
    pub created: bool,
}

/// `remote.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteList {}

/// Result of `remote.list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteListResponse {
    /// Remotes by name.
    pub remotes: Vec<RemoteSummary>,
}

/// `remote.remove`: forgets a remote and its links (the local profiles and the store stay).
/// `busy` while a `--save` session of a linked profile runs; `conflict` while saves are
/// pending, unless `force`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteRemove {
    /// Local name.
    pub name: String,
    /// Forget pending saves too (they stay in the local history).
    #[serde(default)]
    pub force: bool,
}

/// `remote.status`: reachability, schema, leases and what waits to be pushed. An unreachable
/// remote is not an error: `reachable` is false and `error` says why. Pending saves are
/// retried first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteStatus {
    /// Local name.
    pub name: String,
}

/// A lease held on the remote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteLease {
    /// Profile name.
    pub profile: String,
    /// The holder's host (`null` if its sealed holder does not open).
    pub host: Option<String>,
    /// The holder's session.
    pub session: Option<String>,
    /// Fencing number of the acquisition.
    pub fence: u64,
    /// Milliseconds until it expires (server clock).
    pub expires_in_ms: u64,
}

/// A local save of a linked profile that is not on the remote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSave {
    /// Local profile name.
    pub profile: String,
    /// Local snapshot id.
    pub snapshot: String,
    /// The session that made it.
    pub session_id: Option<String>,
    /// `pending` (pushed when the remote is back) or `diverged` (the remote moved on
    /// meanwhile: kept locally, never pushed).
    pub state: String,
}

/// Result of `remote.status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteStatusResponse {
    /// The remote.
    pub remote: RemoteSummary,
    /// Whether it answered.
    pub reachable: bool,
    /// Why not (or what else failed).
    pub error: Option<ErrorBody>,
    /// Its schema version, when reachable.
    pub schema_version: Option<i32>,
    /// Profiles on it, when reachable.
    pub profiles: Option<u64>,
    /// Leases held now.
    pub leases: Vec<RemoteLease>,
    /// Local saves not on the remote.
    pub pending: Vec<PendingSave>,
}

/// `remote.export_key`: the team key sealed under `protector`, as a document the client
/// writes to a file (0600).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteExportKey {
    /// Local name.
    pub name: String,
    /// Passphrase or key file that will open the export.
    pub protector: Credential,
}

/// Result of `remote.export_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteExportKeyResponse {
    /// The export document (UTF-8 JSON).
    pub document: String,
}

/// `profile.link`: pushes a local profile's whole history to a remote as a new remote profile
/// and links them. `conflict` if the name is on the remote already or the profile is linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileLink {
    /// Local profile name or id.
    pub name: String,
    /// The remote's local name.
    pub remote: String,
}

/// `profile.pull`: copies a profile that exists only on the remote into the vault (its
/// whole history, after the chain checks) and links it. `conflict` if the name is taken
/// locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePull {
    /// Profile name (the same on the remote and locally).
    pub name: String,
    /// The remote's local name.
    pub remote: String,
}

/// Result of `profile.link` and `profile.pull`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileLinkResponse {
    /// The local profile.
    pub profile: ProfileInfo,
    /// The remote.
    pub remote: String,
    /// Snapshots pushed (link) or pulled (pull).
    pub snapshots: u64,
}

/// What a session of a linked profile did with its remote (in `session.start` and
/// `session.stop` results, 1.9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRemote {
    /// The remote's local name.
    pub remote: String,
    /// `session.start`: `remote` (the newest remote snapshot was pulled first) or `local`
    /// (the remote was unreachable). `session.stop`: `pushed`, `pending`, `diverged` or `kept_local` (marked by the logout guard: never pushed).
    pub state: String,
    /// Why it is not the normal case (unreachable, lease lost), for people.
    pub warning: Option<String>,
}
