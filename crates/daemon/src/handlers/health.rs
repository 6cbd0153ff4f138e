//! `profile.health.*` and `profile.accept` (protocol 1.8): a profile's login health
//! definition, kept sealed in its metadata, and accepting a snapshot the logout guard marked.

use std::sync::Arc;

use pvault_model::HealthDefinition;
use pvault_protocol::{
    ErrorBody, ExpiringCookie, ProfileAccept, ProfileAcceptResponse, ProfileHealthClear,
    ProfileHealthResponse, ProfileHealthSet, ProfileHealthShow, ProfileResponse,
};
use pvault_vault::{Vault, VaultError};

use super::{blocking, vault_err};
use crate::state::Daemon;

pub(super) async fn set(
    d: &Arc<Daemon>,
    p: ProfileHealthSet,
) -> Result<ProfileResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    blocking(move || {
        let def = HealthDefinition {
            url: p.url,
            expect: p.expect,
        };
        let profile = v.set_health(&p.name, Some(&def)).map_err(vault_err)?;
        Ok(ProfileResponse { profile })
    })
    .await
}

pub(super) async fn clear(
    d: &Arc<Daemon>,
    p: ProfileHealthClear,
) -> Result<ProfileResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    blocking(move || {
        let profile = v.set_health(&p.name, None).map_err(vault_err)?;
        Ok(ProfileResponse { profile })
    })
    .await
}

pub(super) async fn show(
    d: &Arc<Daemon>,
    p: ProfileHealthShow,
) -> Result<ProfileHealthResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    let warn_days = d.config().health.warn_expiry_days;
    blocking(move || {
        let profile = v.profile(&p.name).map_err(vault_err)?;
        let expiring = match &profile.health {
            Some(def) => expiring_cookies(&v, &profile.id, def, warn_days).map_err(vault_err)?,
            None => Vec::new(),
        };
        Ok(ProfileHealthResponse {
            profile: profile.name,
            profile_id: profile.id,
            health: profile.health,
            result: profile.health_result,
            expiring,
        })
    })
    .await
}

/// The offline expiry warning: cookies an expectation names that, in the current snapshot,
/// expire within `warn_days` days. Reads the snapshot; needs no browser.
pub(crate) fn expiring_cookies(
    v: &Vault,
    profile_id: &str,
    def: &HealthDefinition,
    warn_days: u64,
) -> Result<Vec<ExpiringCookie>, VaultError> {
    if warn_days == 0 || !def.has_offline() {
        return Ok(Vec::new());
    }
    let snap = match v.read_snapshot(profile_id, None) {
        Ok(s) => s,
        Err(VaultError::SnapshotNotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    Ok(def
        .expiring_cookies(&snap.state, now, warn_days as f64 * 86_400.0)
        .into_iter()
        .map(|(expectation, expires)| ExpiringCookie {
            expectation,
            expires,
        })
        .collect())
}

pub(super) async fn accept(
    d: &Arc<Daemon>,
    p: ProfileAccept,
) -> Result<ProfileAcceptResponse, ErrorBody> {
    let v = d.unlocked_vault()?;
    blocking(move || {
        let snapshot = v
            .accept(&p.name, p.snapshot.as_deref())
            .map_err(vault_err)?;
        Ok(ProfileAcceptResponse { snapshot })
    })
    .await
}
