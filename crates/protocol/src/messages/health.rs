//! Login health (1.8): a profile's health definition, and accepting a snapshot the logout
//! guard marked (protocol.md §5.3 "Login health and the logout guard").

use pvault_model::{Expectation, HealthDefinition, HealthFailure, HealthResult, SnapshotInfo};
use serde::{Deserialize, Serialize};

/// `profile.health.set`: sets a profile's health definition (replacing any, and clearing the
/// last result). Refused (`invalid_argument`, naming the argument) without an expectation,
/// with an invalid regex, CSS selector, origin or URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileHealthSet {
    /// Name or id.
    pub name: String,
    /// The page a check opens.
    pub url: String,
    /// The expectations, all of which must hold.
    pub expect: Vec<Expectation>,
}

/// `profile.health.show`: a profile's definition, last result and offline warnings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileHealthShow {
    /// Name or id.
    pub name: String,
}

/// `profile.health.clear`: removes a profile's definition (and its result); the logout guard
/// is then off for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileHealthClear {
    /// Name or id.
    pub name: String,
}

/// A cookie an expectation names that expires soon (the offline warning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiringCookie {
    /// The expectation, e.g. `cookie sid@example.com`.
    pub expectation: String,
    /// When the cookie expires, Unix seconds.
    pub expires: f64,
}

/// Result of `profile.health.show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileHealthResponse {
    /// The profile's name.
    pub profile: String,
    /// The profile's id.
    pub profile_id: String,
    /// The definition, if set.
    pub health: Option<HealthDefinition>,
    /// The last check's result, if any.
    pub result: Option<HealthResult>,
    /// Cookies named by an expectation that, in the current snapshot, expire within the
    /// configured warning window (`[health] warn_expiry_days`), soonest first.
    #[serde(default)]
    pub expiring: Vec<ExpiringCookie>,
}

/// `profile.check`: a headless read-only session of the profile's current snapshot opens
/// the definition's page and evaluates every expectation. The result is kept (sealed) and
/// returned whether healthy or not; a browser or network failure is `browser_error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileCheck {
    /// Name or id.
    pub name: String,
    /// How long to wait for the page and its selectors, 1 to 300 seconds (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// Result of `profile.check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileCheckResponse {
    /// The profile's name.
    pub profile: String,
    /// The profile's id.
    pub profile_id: String,
    /// What the check found, with its evidence (as kept in the profile).
    pub result: HealthResult,
}

/// `profile.accept`: makes a snapshot the logout guard marked current (the newest one when
/// `snapshot` is absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileAccept {
    /// Name or id.
    pub name: String,
    /// Selector of a marked snapshot; the newest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

/// Result of `profile.accept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileAcceptResponse {
    /// The accepted snapshot, now current and unmarked.
    pub snapshot: SnapshotInfo,
}

/// What the logout guard did to a session's snapshot (in `session.stop`'s result and the
/// `session.saved` event, 1.8): the snapshot was stored marked `logged_out` and is not
/// current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutGuard {
    /// The offline expectations the saved state failed (the current snapshot passes them).
    pub failed: Vec<HealthFailure>,
    /// The seq of the snapshot that stays current (what the next session loads).
    pub current: Option<u64>,
    /// How to make the logged-out state current anyway.
    pub hint: String,
}

impl LogoutGuard {
    /// The guard's report for a marked snapshot `seq` of `profile`.
    pub fn new(profile: &str, seq: u64, failed: Vec<HealthFailure>, current: Option<u64>) -> Self {
        LogoutGuard {
            failed,
            current,
            hint: format!(
                "the saved state looks logged out, so snapshot #{seq} was kept but is not \
                 current; run `pvault profile accept {profile} {seq}` to make it current, or \
                 start the session with --accept-logout"
            ),
        }
    }
}
