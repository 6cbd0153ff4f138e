//! Connection and daemon-level requests: `hello`, `status`, `subscribe`, `daemon.shutdown`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A protocol version: `major` changes break compatibility, `minor` adds methods or optional
/// fields only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolVersion {
    /// Incompatible revisions.
    pub major: u32,
    /// Compatible additions.
    pub minor: u32,
}

/// `hello`: must be the first request on a connection, and only once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// The client's protocol major version; must equal the daemon's.
    pub protocol: u32,
    /// The client's minor version (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<u32>,
    /// Free-form client name and version, e.g. `pvault 0.1.0` (informational, logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// Result of `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloResponse {
    /// The daemon's protocol version.
    pub protocol: ProtocolVersion,
    /// The daemon's crate version, e.g. `0.1.0`.
    pub daemon_version: String,
    /// The daemon's process id.
    pub pid: u32,
}

/// `status`: the daemon's and the vault's state. Works locked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {}

/// Result of `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// The daemon's process id.
    pub pid: u32,
    /// The daemon's crate version.
    pub version: String,
    /// The daemon's protocol version.
    pub protocol: ProtocolVersion,
    /// The socket the daemon listens on (as configured; `null` if socket-activated and unknown).
    pub socket: Option<PathBuf>,
    /// The vault directory (`$PVAULT_HOME`).
    pub home: PathBuf,
    /// The vault database file inside `home`.
    pub vault_path: PathBuf,
    /// Whether a vault exists (else `vault.init` creates one).
    pub vault_exists: bool,
    /// Whether the vault is locked (true when it does not exist).
    pub locked: bool,
    /// Idle seconds before the vault locks itself (from the config).
    pub auto_lock_secs: u64,
    /// Seconds until the auto-lock fires; `null` when locked.
    pub auto_lock_remaining_secs: Option<u64>,
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// Number of profiles; `null` when locked.
    pub profile_count: Option<u64>,
    /// Snapshots kept per profile (from the config).
    pub retention: u32,
    /// Number of connected clients, this one included.
    pub connections: u64,
    /// Number of running browser sessions.
    pub sessions: u64,
    /// Successful reloads of `config.toml` since the daemon started.
    #[serde(default)]
    pub config_reloads: u64,
    /// Why the last edit of `config.toml` was rejected (the previous config stays in force);
    /// `null` when the last reload succeeded.
    #[serde(default)]
    pub config_error: Option<String>,
    /// (1.8) What the scheduled health checks did since the daemon started.
    #[serde(default)]
    pub health_schedule: HealthSchedule,
}

/// `status.health_schedule` (1.8).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSchedule {
    /// `[health] interval_secs` in force (0: off).
    #[serde(default)]
    pub interval_secs: u64,
    /// Rounds that ran (each checks every profile with a definition, one at a time).
    #[serde(default)]
    pub rounds: u64,
    /// Checks run by the schedule.
    #[serde(default)]
    pub checks: u64,
    /// Rounds skipped (or cut short) because the vault was locked.
    #[serde(default)]
    pub skipped_locked: u64,
}

/// `subscribe`: from now on, this connection also receives events (see [`crate::Event`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {}

/// `daemon.shutdown`: the daemon answers, stops accepting, finishes in-flight requests, stops
/// sessions and exits 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonShutdown {}
