//! `vault.*` handlers: the vault's lifecycle. Init, unlock, lock and passwd hold the
//! daemon's lifecycle lock so they never interleave with each other or the auto-lock.

use std::sync::Arc;

use pvault_protocol::{
    Ack, Credential, ErrorBody, ErrorCode, FindingKind, FindingRecord, LockReason, VaultBackup,
    VaultBackupResponse, VaultInit, VaultInitResponse, VaultLock, VaultPasswd, VaultUnlock,
    VaultUnlockResponse, VaultVerify, VaultVerifyResponse, VerifyFinding,
};
use pvault_vault::{CreateOptions, KdfParams, Vault};

use super::{blocking, vault_err};
use crate::state::Daemon;

/// Converts the wire credential into the vault's, keeping the buffers zeroizing.
fn credential(c: Credential) -> pvault_vault::Credential {
    match c {
        Credential::Passphrase(s) => pvault_vault::Credential::Passphrase(s.into_zeroizing()),
        Credential::KeyFile(b) => pvault_vault::Credential::KeyFile(b.into_zeroizing()),
    }
}

pub(super) async fn init(d: &Arc<Daemon>, p: VaultInit) -> Result<VaultInitResponse, ErrorBody> {
    let _guard = d.lifecycle.lock().await;
    if d.vault_handle().is_some() {
        return Err(ErrorBody::new(
            ErrorCode::Conflict,
            format!("a vault already exists in {}", d.opts.home.display()),
        ));
    }
    let home = d.opts.home.clone();
    let cfg = d.config();
    let opts = if d.opts.fast_kdf {
        // Test-only: floor KDF parameters so test suites do not spend seconds per vault.
        CreateOptions {
            kdf_target: None,
            kdf_params: Some(KdfParams::OWASP_MINIMUM),
            retention: cfg.retention,
        }
    } else {
        CreateOptions {
            retention: cfg.retention,
            ..CreateOptions::default()
        }
    };
    let cred = credential(p.credential);
    let vault = blocking(move || Vault::create(&home, &cred, &opts).map_err(vault_err)).await?;
    let vault = Arc::new(vault);
    let vault_id = vault.vault_id();
    let vault_path = vault.path().to_owned();
    d.set_vault(vault);
    tracing::info!("vault created");
    d.unlocked(vault_id.clone());
    Ok(VaultInitResponse {
        vault_id,
        vault_path,
    })
}

pub(crate) async fn unlock(
    d: &Arc<Daemon>,
    p: VaultUnlock,
) -> Result<VaultUnlockResponse, ErrorBody> {
    let _guard = d.lifecycle.lock().await;
    let vault = d.existing_vault()?;
    let cred = credential(p.credential);
    let retention = d.config().retention;
    let v = vault.clone();
    let home = d.opts.home.clone();
    let timing = blocking(move || {
        let t = v.unlock(&cred).map_err(vault_err)?;
        if let Err(e) = v.set_retention(retention) {
            tracing::warn!(error = %e, "could not apply the configured retention");
        }
        // Warns (in the log) when the file went back; `verify` reports it too.
        crate::heads::check_and_remember(&home, &v);
        Ok(t)
    })
    .await;
    let timing = match timing {
        Ok(t) => t,
        Err(e) => {
            if e.code == ErrorCode::AuthFailed {
                tracing::warn!("unlock refused: wrong passphrase or key file");
            }
            return Err(e);
        }
    };
    let vault_id = vault.vault_id();
    tracing::info!("vault unlocked");
    d.unlocked(vault_id.clone());
    Ok(VaultUnlockResponse {
        vault_id,
        kdf_ms: timing.kdf.as_millis() as u64,
        auto_lock_secs: d.config().auto_lock_secs,
    })
}

pub(super) async fn lock(d: &Arc<Daemon>, _p: VaultLock) -> Result<Ack, ErrorBody> {
    let _guard = d.lifecycle.lock().await;
    d.existing_vault()?;
    // Save sessions' state up to now goes into the history before the keys are gone.
    crate::sessions::checkpoint_before_lock(d).await;
    d.lock_vault(LockReason::Request);
    Ok(Ack {})
}

pub(super) async fn passwd(d: &Arc<Daemon>, p: VaultPasswd) -> Result<Ack, ErrorBody> {
    let _guard = d.lifecycle.lock().await;
    let vault = d.existing_vault()?;
    let old = credential(p.old);
    let new = p.new;
    blocking(move || match new {
        Credential::Passphrase(_) => vault
            .change_passphrase(&old, &credential(new))
            .map_err(vault_err),
        Credential::KeyFile(_) => {
            // Adding a key-file slot needs the master key: open it with `old`, and leave the
            // vault as locked as it was.
            let was_unlocked = vault.is_unlocked();
            vault.unlock(&old).map_err(vault_err)?;
            let r = vault.set_keyfile(&credential(new)).map_err(vault_err);
            if !was_unlocked {
                vault.lock();
            }
            r
        }
    })
    .await?;
    tracing::info!("vault credentials changed");
    Ok(Ack {})
}

pub(super) async fn verify(
    d: &Arc<Daemon>,
    _p: VaultVerify,
) -> Result<VaultVerifyResponse, ErrorBody> {
    let vault = d.unlocked_vault()?;
    let home = d.opts.home.clone();
    let (report, went_back) = blocking(move || {
        let report = vault.verify().map_err(vault_err)?;
        Ok((report, crate::heads::check_and_remember(&home, &vault)))
    })
    .await?;
    let findings: Vec<VerifyFinding> = report
        .findings
        .iter()
        .map(finding)
        .chain(went_back.iter().map(|w| VerifyFinding {
            profile: w.profile.clone(),
            snapshot: None,
            seq: None,
            record: FindingRecord::History,
            kind: FindingKind::WentBack,
            column: None,
            code: None,
            message: w.to_string(),
        }))
        .collect();
    Ok(VaultVerifyResponse {
        ok: findings.is_empty(),
        records: report.ok,
        failures: findings.iter().map(|f| f.message.clone()).collect(),
        findings,
    })
}

/// The wire form of one of the vault's findings.
fn finding(f: &pvault_vault::Finding) -> VerifyFinding {
    use pvault_vault::{Problem, RecordRef};
    let record = match f.record {
        RecordRef::DataKey => FindingRecord::WrappedDk,
        RecordRef::ProfileMeta => FindingRecord::Meta,
        RecordRef::NameIndex => FindingRecord::NameHash,
        RecordRef::SnapshotInfo => FindingRecord::SnapshotInfo,
        RecordRef::SnapshotBody => FindingRecord::SnapshotBody,
        RecordRef::History => FindingRecord::History,
    };
    let (kind, column, code) = match &f.problem {
        Problem::Unreadable { code, .. } => (FindingKind::Unreadable, None, Some(*code)),
        Problem::NotCheckable { .. } => (FindingKind::NotCheckable, None, None),
        Problem::Edited { column } => (FindingKind::Edited, Some(*column), None),
        Problem::Missing { .. } => (FindingKind::Missing, None, None),
        Problem::Reordered { .. } => (FindingKind::Reordered, None, None),
        Problem::RolledBack { .. } => (FindingKind::RolledBack, None, None),
        Problem::Unexpected => (FindingKind::Unexpected, None, None),
        Problem::ContentMismatch { .. } => (FindingKind::ContentMismatch, None, None),
        Problem::AnchorMismatch => (FindingKind::AnchorMismatch, None, None),
        Problem::CountMismatch { .. } => (FindingKind::CountMismatch, None, None),
        Problem::CurrentMismatch { .. } => (FindingKind::CurrentMismatch, None, None),
    };
    VerifyFinding {
        profile: f.profile.clone(),
        snapshot: f.snapshot.clone(),
        seq: f.seq,
        record,
        kind,
        column: column.map(str::to_owned),
        code: code.map(str::to_owned),
        message: f.to_string(),
    }
}

pub(super) async fn backup(
    d: &Arc<Daemon>,
    p: VaultBackup,
) -> Result<VaultBackupResponse, ErrorBody> {
    if !p.path.is_absolute() {
        return Err(ErrorBody::new(
            ErrorCode::InvalidArgument,
            "backup path must be absolute (the daemon's working directory is not yours)",
        ));
    }
    let vault = d.existing_vault()?;
    let path = p.path;
    blocking(move || {
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(ErrorBody::new(
                ErrorCode::Conflict,
                format!("{} already exists; choose a new file name", path.display()),
            ));
        }
        vault.backup(&path).map_err(vault_err)?;
        let size_bytes = std::fs::metadata(&path)
            .map_err(|e| {
                ErrorBody::new(
                    ErrorCode::Internal,
                    format!("backup written but unreadable: {e}"),
                )
            })?
            .len();
        Ok(VaultBackupResponse { path, size_bytes })
    })
    .await
}
