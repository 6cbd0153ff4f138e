//! `profile.import_browser`: the user's own browser profile into a snapshot.
//!
//! The daemon does the reading (with `pvault-import`), not the CLI: the decrypted values then
//! go from the browser's files straight into the vault inside this process (non-dumpable, no
//! core dumps) and never cross the socket or sit in a client; no message or storageState size
//! limit applies (a real profile's localStorage can exceed both), only the vault's; and the
//! copies are made in the daemon's private runtime directory. The keyring is reached over the
//! D-Bus session bus the client names (the CLI sends its own), so it is the keyring of the
//! user's current login session even when pvaultd was started elsewhere.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pvault_import::{Browser, ImportError};
use pvault_model::SnapshotKind;
use pvault_protocol::{
    ErrorBody, ErrorCode, Event, ProfileImportBrowser, ProfileImportBrowserResponse,
};

use super::{blocking, vault_err};
use crate::state::Daemon;

/// Where imports make their copies: `<runtime dir>/imports/<daemon pid>/`.
const IMPORTS_DIR: &str = "imports";

/// Maps an import error to the protocol: a missing browser, profile or match is
/// `not_found`; a choice the user must make or a bad filter `invalid_argument`; whatever is
/// wrong with the browser's files or keys `browser_error`.
fn import_err(e: ImportError) -> ErrorBody {
    let code = match &e {
        ImportError::NoUserDataDir { .. }
        | ImportError::NoHome { .. }
        | ImportError::NoSuchDir { .. }
        | ImportError::NoProfile { .. }
        | ImportError::NothingMatches { .. } => ErrorCode::NotFound,
        ImportError::AmbiguousProfile { .. } | ImportError::InvalidFilter { .. } => {
            ErrorCode::InvalidArgument
        }
        ImportError::Copy { .. }
        | ImportError::Corrupt { .. }
        | ImportError::Undecryptable { .. } => ErrorCode::BrowserError,
        ImportError::Scratch { .. } => ErrorCode::Internal,
    };
    ErrorBody::new(code, e.to_string())
}

fn invalid(msg: String) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidArgument, msg)
}

/// The directory this daemon's imports copy into (created 0700).
fn scratch_dir(d: &Daemon) -> Result<PathBuf, ErrorBody> {
    let base = crate::sessions::runtime_dir(d).join(IMPORTS_DIR);
    crate::socket::ensure_private_dir(&base, d.euid)
        .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))?;
    Ok(base.join(std::process::id().to_string()))
}

/// At daemon start: removes the copies of imports whose daemon is gone (killed mid-import).
/// Copies hold the user's cookies (still encrypted as the browser stored them) and
/// localStorage in the clear.
pub(crate) fn remove_stale_copies(runtime_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(runtime_dir.join(IMPORTS_DIR)) else {
        return;
    };
    for e in entries.flatten() {
        let alive = e
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
            // SAFETY: signal 0 only checks that the process exists.
            .is_some_and(|pid| unsafe { libc::kill(pid, 0) } == 0);
        if !alive && let Err(err) = std::fs::remove_dir_all(e.path()) {
            tracing::warn!(dir = %e.path().display(), error = %err, "could not remove an old import's copies");
        }
    }
}

pub(super) async fn import_browser(
    d: &Arc<Daemon>,
    p: ProfileImportBrowser,
) -> Result<ProfileImportBrowserResponse, ErrorBody> {
    let browser = Browser::from_name(&p.browser).ok_or_else(|| {
        invalid(format!(
            "unknown browser {:?}: give one of {}",
            p.browser.chars().take(32).collect::<String>(),
            Browser::ALL.map(Browser::as_str).join(", ")
        ))
    })?;
    if let Some(u) = &p.user_data_dir
        && !Path::new(u).is_absolute()
    {
        return Err(invalid("user_data_dir must be an absolute path".into()));
    }
    if let Some(a) = &p.dbus_address
        && !a.starts_with("unix:")
    {
        return Err(invalid(
            "dbus_address must be a local D-Bus address (unix:…)".into(),
        ));
    }
    // Checked before the read, so a locked vault fails at once (a dry run needs none).
    let vault = if p.dry_run {
        None
    } else {
        Some(d.unlocked_vault()?)
    };
    let opts = pvault_import::Options {
        browser,
        user_data_dir: p.user_data_dir.map(PathBuf::from),
        browser_profile: p.browser_profile,
        domains: p.domains,
        exclude_domains: p.exclude_domains,
        skip_undecryptable: p.skip_undecryptable,
        scratch_dir: scratch_dir(d)?,
        dbus_address: p.dbus_address,
    };
    let imported = blocking(move || pvault_import::import(&opts).map_err(import_err)).await?;
    tracing::info!(
        browser = %browser,
        cookies = imported.report.cookies,
        origins = imported.report.origins,
        dry_run = p.dry_run,
        "read a browser profile"
    );
    let Some(v) = vault else {
        return Ok(ProfileImportBrowserResponse {
            report: imported.report,
            dry_run: true,
            profile: None,
            snapshot: None,
            created: false,
        });
    };
    let (name, create) = (p.name, p.create);
    let resp = blocking(move || {
        let created = if create {
            crate::sessions::profile_or_create(&v, &name)?.1
        } else {
            v.profile(&name).map_err(vault_err)?;
            false
        };
        let snapshot = v
            .append_snapshot(&name, &imported.state, SnapshotKind::Import)
            .map_err(vault_err)?;
        let profile = v.profile(&name).map_err(vault_err)?;
        Ok(ProfileImportBrowserResponse {
            report: imported.report,
            dry_run: false,
            profile: Some(profile),
            snapshot: Some(snapshot),
            created,
        })
    })
    .await?;
    if let (Some(profile), Some(snapshot)) = (&resp.profile, &resp.snapshot) {
        let _ = d.events.send(Event::SnapshotSaved {
            profile: profile.name.clone(),
            profile_id: profile.id.clone(),
            snapshot: snapshot.clone(),
        });
    }
    Ok(resp)
}
