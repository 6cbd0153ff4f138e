//! The vault's remotes and links as kept in `remotes.seal` (`remote-format.md` 8): sealed
//! under a key derived from the vault's master key, so the team keys and passwords in it are
//! "wrapped by the master key" and the file opens nothing without the vault passphrase.

use std::path::Path;

use pvault_remote::local::{
    LOCAL_STATE_FILE, LOCAL_STATE_LABEL, open_local_state, seal_local_state,
};
use pvault_remote::{Key, Memory};
use pvault_vault::Vault;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Every remote and link of one vault.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LocalState {
    /// The remotes, by name.
    pub remotes: Vec<RemoteEntry>,
    /// The linked profiles.
    pub links: Vec<LinkEntry>,
}

/// Secrets inside: shows names only.
impl std::fmt::Debug for LocalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalState")
            .field(
                "remotes",
                &self.remotes.iter().map(|r| &r.name).collect::<Vec<_>>(),
            )
            .field("links", &self.links.len())
            .finish()
    }
}

/// One remote store. Wiped from memory when dropped (password, team key).
#[derive(Clone, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoteEntry {
    /// Local name (`[A-Za-z0-9._-]{1,64}`).
    pub name: String,
    /// URL without a password (shown by `remote list`).
    pub url: String,
    /// The role's password as the user gave it, to reconnect unattended; only ever in this
    /// sealed file.
    pub password: Option<String>,
    /// The team key, hex: what opens every record of the store.
    pub team_key: String,
    /// The store's id, hex: a key file of another store is refused by it.
    pub store_id: String,
    /// Lease time of `--save` sessions, seconds.
    pub lease_ttl_secs: u64,
}

/// The password and team key never print.
impl std::fmt::Debug for RemoteEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEntry")
            .field("name", &self.name)
            .field("store_id", &self.store_id)
            .finish_non_exhaustive()
    }
}

impl RemoteEntry {
    /// The team key.
    pub fn key(&self) -> Option<Key> {
        let b = Zeroizing::new(hex::decode(self.team_key.as_bytes()).ok()?);
        Key::from_slice(&b)
    }
}

/// A local profile linked to a remote profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkEntry {
    /// Local profile id (hex): survives renames.
    pub profile_id: String,
    /// The remote's local name.
    pub remote: String,
    /// The remote profile's id (hex).
    pub remote_profile_id: String,
    /// The remote head last read or written (`remote-format.md` 7.3): what detects a
    /// rolled-back server and what a push compares and swaps.
    pub memory: Memory,
    /// Local snapshots up to this seq are on the remote (pushed, or pulled from it); newer
    /// ones are pending pushes. Derived from the vault's history instead of a list, so a
    /// daemon killed between a save and its push still finds the save pending.
    pub synced_seq: u64,
    /// Pairs of remote and local snapshot ids known to hold the same content, so a pull
    /// fetches only bodies this vault lacks.
    pub pairs: Vec<(String, String)>,
    /// Local snapshots that will never be pushed: the remote moved on while they waited
    /// (another machine saved after this one lost the lease). Kept locally, reported.
    pub diverged: Vec<String>,
}

impl LocalState {
    /// The remote named `name`.
    pub fn remote(&self, name: &str) -> Option<&RemoteEntry> {
        self.remotes.iter().find(|r| r.name == name)
    }

    /// The link of local profile `profile_id`.
    pub fn link(&self, profile_id: &str) -> Option<&LinkEntry> {
        self.links.iter().find(|l| l.profile_id == profile_id)
    }

    /// The link of local profile `profile_id`, to change it.
    pub fn link_mut(&mut self, profile_id: &str) -> Option<&mut LinkEntry> {
        self.links.iter_mut().find(|l| l.profile_id == profile_id)
    }
}

/// Why the local state cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalStateError {
    /// The file exists but does not open under this vault's key.
    #[error(
        "{path} does not open with this vault's key (another vault's, or edited): remotes are off until it is removed"
    )]
    Unreadable {
        /// The file.
        path: String,
    },
    /// The vault is locked (the key is derived from its master key).
    #[error(transparent)]
    Vault(#[from] pvault_vault::VaultError),
    /// Reading or writing the file.
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// Read or write.
        what: &'static str,
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The OS random generator.
    #[error("sealing the remotes file failed: {0}")]
    Seal(String),
}

fn key_and_id(v: &Vault) -> Result<(Key, [u8; 16]), LocalStateError> {
    let lk = v.derived_key(LOCAL_STATE_LABEL)?;
    let key = Key::from_slice(&lk[..]).expect("32 bytes");
    let id: [u8; 16] = hex::decode(v.vault_id())
        .ok()
        .and_then(|b| b.try_into().ok())
        .expect("a vault id is 16 bytes of hex");
    Ok((key, id))
}

/// Reads the local state (empty when the file does not exist). Blocking.
pub(crate) fn load(home: &Path, v: &Vault) -> Result<LocalState, LocalStateError> {
    let path = home.join(LOCAL_STATE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LocalState::default()),
        Err(source) => {
            return Err(LocalStateError::Io {
                what: "read",
                path: path.display().to_string(),
                source,
            });
        }
    };
    let (key, id) = key_and_id(v)?;
    let unreadable = || LocalStateError::Unreadable {
        path: path.display().to_string(),
    };
    let pt = open_local_state(&key, &id, &bytes).ok_or_else(unreadable)?;
    serde_json::from_slice(&pt).map_err(|_| unreadable())
}

/// Writes the local state: a temporary file (0600), synced, renamed over. Blocking.
pub(crate) fn save(home: &Path, v: &Vault, s: &LocalState) -> Result<(), LocalStateError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let (key, id) = key_and_id(v)?;
    let pt = Zeroizing::new(serde_json::to_vec(s).expect("the local state serializes"));
    let sealed =
        seal_local_state(&key, &id, &pt).map_err(|e| LocalStateError::Seal(e.to_string()))?;
    let path = home.join(LOCAL_STATE_FILE);
    let tmp = home.join(format!("{LOCAL_STATE_FILE}.tmp"));
    let io = |what, source| LocalStateError::Io {
        what,
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io("write", e))?;
    f.write_all(&sealed)
        .and_then(|()| f.sync_all())
        .map_err(|e| io("write", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io("write", e))?;
    Ok(())
}
