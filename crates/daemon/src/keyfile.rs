//! Unattended unlock: a service with nobody to type a passphrase unlocks the vault at start
//! with a key file that opens its key-file keyslot.
//!
//! Where the key file comes from, first found wins:
//! 1. `$CREDENTIALS_DIRECTORY/pvault-keyfile`: systemd's credentials (`LoadCredential=
//!    pvault-keyfile:PATH` in the unit), a private copy only this service can read;
//! 2. `$PVAULT_KEYFILE`: a path.
//!
//! The file is read once, before the socket is served (so a client's first request already
//! finds the vault unlocked), and goes through the same `vault.unlock` handler a client's
//! request does (lifecycle lock, retention, `vault.unlocked` event). A missing, unreadable or
//! wrong key file is logged and the daemon keeps running locked: a client can still unlock it
//! with a passphrase, and a service restart loop would not help.

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pvault_protocol::{Credential, ErrorBody, SecretBytes, VaultUnlock};
use zeroize::Zeroizing;

use crate::state::Daemon;

/// The credential name the unit's `LoadCredential=` must use.
pub const CREDENTIAL_NAME: &str = "pvault-keyfile";

/// Largest key file read. Key files are ≥ 32 random bytes; a larger file is a wrong path.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Where a key file was found, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFileSource {
    /// `$CREDENTIALS_DIRECTORY/pvault-keyfile`.
    Credential(PathBuf),
    /// `$PVAULT_KEYFILE`.
    Env(PathBuf),
}

impl KeyFileSource {
    /// The file's path.
    pub fn path(&self) -> &Path {
        match self {
            KeyFileSource::Credential(p) | KeyFileSource::Env(p) => p,
        }
    }
}

/// Why the unattended unlock did not happen.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read the key file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is larger than any key file.
    #[error("{path} is over {MAX_KEY_FILE_BYTES} bytes: not a pvault key file (check the path)")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The unlock was refused (`auth_failed`: the file opens no keyslot; `not_found`: no
    /// vault yet).
    #[error("unlocking with the key file {path} failed: {error}")]
    Unlock {
        /// The file.
        path: PathBuf,
        /// The unlock handler's answer, as a client would get it.
        error: ErrorBody,
    },
}

/// Finds the key file from an environment (testable): the systemd credential when that file
/// exists, else `$PVAULT_KEYFILE`. Empty variables count as unset.
pub fn locate(get: &dyn Fn(&str) -> Option<OsString>) -> Option<KeyFileSource> {
    let var = |k: &str| get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("CREDENTIALS_DIRECTORY") {
        let p = dir.join(CREDENTIAL_NAME);
        if p.exists() {
            return Some(KeyFileSource::Credential(p));
        }
    }
    var("PVAULT_KEYFILE").map(KeyFileSource::Env)
}

/// Reads a key file, refusing anything over [`MAX_KEY_FILE_BYTES`]. Warns when group or others
/// may read it (as ssh does for private keys), but still uses it.
fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    use std::os::unix::fs::PermissionsExt as _;
    let err = |source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge {
            path: path.to_owned(),
        });
    }
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            "the key file is readable by group or others: chmod 600 it"
        );
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(err)?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// Unlocks `daemon`'s vault with the key file at `source`, through the same handler as a
/// client's `vault.unlock` (lifecycle lock, retention, `vault.unlocked` event).
pub async fn unlock(daemon: &Arc<Daemon>, source: &KeyFileSource) -> Result<(), KeyFileError> {
    let path = source.path();
    let bytes = read(path)?;
    let request = VaultUnlock {
        credential: Credential::KeyFile(SecretBytes::new(bytes.to_vec())),
    };
    drop(bytes);
    match crate::handlers::vault::unlock(daemon, request).await {
        Ok(_) => Ok(()),
        Err(error) => Err(KeyFileError::Unlock {
            path: path.to_owned(),
            error,
        }),
    }
}

/// The start-up hook: finds a key file in the process environment and unlocks with it,
/// logging the outcome. Never fails the start.
pub async fn unlock_at_start(daemon: &Arc<Daemon>) {
    let Some(source) = locate(&|k| std::env::var_os(k)) else {
        return;
    };
    match unlock(daemon, &source).await {
        Ok(()) => tracing::info!(
            source = ?source,
            "vault unlocked with the key file (unattended unlock)"
        ),
        Err(e) => tracing::error!(
            error = %e,
            "unattended unlock failed; the vault stays locked until a client unlocks it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let m: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_os_str().to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn the_credential_wins_when_present_then_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let explicit = dir.path().join("explicit");
        // No credential file yet: the variable applies.
        let get = env(&[
            ("CREDENTIALS_DIRECTORY", dir.path()),
            ("PVAULT_KEYFILE", &explicit),
        ]);
        assert_eq!(locate(&get), Some(KeyFileSource::Env(explicit.clone())));
        std::fs::write(dir.path().join(CREDENTIAL_NAME), [7u8; 32]).unwrap();
        assert_eq!(
            locate(&get),
            Some(KeyFileSource::Credential(dir.path().join(CREDENTIAL_NAME)))
        );
        assert_eq!(locate(&env(&[("PVAULT_KEYFILE", Path::new(""))])), None);
        assert_eq!(locate(&env(&[])), None);
    }

    #[test]
    fn oversized_and_missing_files_are_refused_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![0u8; MAX_KEY_FILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(read(&big), Err(KeyFileError::TooLarge { path }) if path == big));
        let missing = dir.path().join("missing");
        let e = read(&missing).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        let ok = dir.path().join("ok");
        std::fs::write(&ok, [1u8; 32]).unwrap();
        assert_eq!(&*read(&ok).unwrap(), &[1u8; 32]);
    }
}
