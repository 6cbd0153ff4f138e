//! The [`Vault`] handle: lifecycle (create, open, unlock, lock), keyslot management and
//! settings. Profile and snapshot operations live in `profiles.rs` and `snapshots.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::codec::ProfileMeta;
use crate::error::{Result, VaultError};
use crate::kdf::{self, KdfParams};
use crate::keys::{Env, Id, SecretKey};
use crate::seal::LABEL_NAME_INDEX;
use crate::slots::{self, SLOT_PASSPHRASE};
use crate::store::{self, Store};
use crate::upgrade;
use crate::{CreateOptions, Credential, UnlockTiming};

/// Keys held while unlocked.
pub(crate) struct Keys {
    /// The master key.
    pub mk: SecretKey,
    /// HMAC key of the profile-name index, derived from the master key.
    pub name_key: SecretKey,
    /// Unwrapped data keys by profile id (profile ids are never reused).
    pub dks: Mutex<HashMap<Id, Arc<SecretKey>>>,
    /// Decrypted profile metadata by profile id, with the exact sealed bytes it came from.
    /// A row whose `wrapped_dk` and `meta` bytes are identical to bytes that already
    /// authenticated needs no second AEAD open; any other bytes are opened afresh. This is
    /// what makes listing 10,000 profiles cheap (one Poly1305 setup costs microseconds).
    pub metas: Mutex<HashMap<Id, CachedMeta>>,
}

/// One entry of [`Keys::metas`].
pub(crate) struct CachedMeta {
    /// The `wrapped_dk` bytes that authenticated.
    pub wrapped_dk: Vec<u8>,
    /// The `meta` bytes that authenticated.
    pub sealed: Vec<u8>,
    /// Their decrypted content, shared with the listings that show it.
    pub meta: Arc<ProfileMeta>,
}

impl Keys {
    fn new(mk: SecretKey) -> Keys {
        let name_key = mk.derive(LABEL_NAME_INDEX);
        Keys {
            mk,
            name_key,
            dks: Mutex::new(HashMap::new()),
            metas: Mutex::new(HashMap::new()),
        }
    }
}

/// An open vault file. Starts locked (from [`Vault::open`]) or unlocked (from
/// [`Vault::create`]).
pub struct Vault {
    /// The database.
    pub(crate) store: Store,
    /// The vault's random id (bound into every AAD).
    pub(crate) vault_id: Id,
    /// Source of randomness and time.
    pub(crate) env: Env,
    /// `Some` while unlocked. The lock is held only to clone or replace the `Arc`, never for
    /// an operation: a long `verify` or import works on its own snapshot of the keys, so
    /// `lock` and `is_unlocked` never wait behind it (with a lock held for whole operations,
    /// one waiting `lock` stalled every later `is_unlocked` caller behind it). `lock` drops
    /// the vault's reference at once; the keys are zeroized when the last operation using
    /// them ends.
    pub(crate) keys: Mutex<Option<Arc<Keys>>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.store.path())
            .field("vault_id", &hex::encode(self.vault_id))
            .field("unlocked", &self.is_unlocked())
            .finish()
    }
}

impl Vault {
    /// File name of the vault database inside its directory.
    pub const FILE_NAME: &'static str = "vault.db";

    /// Whether `dir` holds a vault.
    pub fn exists(dir: &Path) -> bool {
        dir.join(Self::FILE_NAME).is_file()
    }

    /// Creates a new vault in `dir` (made 0700 if missing) with one keyslot for `cred`;
    /// returns it unlocked. `AlreadyExists` (code `conflict`) if one is there.
    pub fn create(dir: &Path, cred: &Credential, opts: &CreateOptions) -> Result<Vault> {
        Self::create_in(dir, cred, opts, Env::Os)
    }

    /// Test vectors only: like [`Vault::create`] but every random byte and timestamp of this
    /// handle comes from `seed` (so the golden fixture is reproducible). Never use it for a
    /// real vault: the keys are predictable.
    #[doc(hidden)]
    pub fn create_deterministic_for_test_vectors(
        dir: &Path,
        cred: &Credential,
        opts: &CreateOptions,
        seed: [u8; 32],
    ) -> Result<Vault> {
        Self::create_in(dir, cred, opts, Env::deterministic(seed))
    }

    fn create_in(dir: &Path, cred: &Credential, opts: &CreateOptions, env: Env) -> Result<Vault> {
        if opts.retention < 1 {
            return Err(VaultError::InvalidArgument {
                what: "retention",
                reason: "must keep at least 1 snapshot".into(),
            });
        }
        let params = match (cred, opts.kdf_params, opts.kdf_target) {
            (Credential::KeyFile(_), _, _) => KdfParams::OWASP_MINIMUM,
            (_, Some(p), _) => {
                p.check()?;
                p
            }
            (_, None, Some(target)) => kdf::calibrate(target)?,
            (_, None, None) => KdfParams::RFC9106_SECOND,
        };
        store::prepare_dir(dir, true)?;
        let path = dir.join(Self::FILE_NAME);
        store::create_file(&path)?;
        let result = (|| {
            let store = Store::open(&path)?;
            let vault_id = env.id()?;
            let mk = env.key()?;
            let (slot, _) = slots::make_slot(&env, &vault_id, cred, params, &mk)?;
            let now = env.now_ms();
            store.write(|tx| {
                store::init_schema(tx, &vault_id, now, opts.retention)?;
                slots::put_slot(tx, &slot, now)
            })?;
            store::fix_modes(&path)?;
            Ok(Vault {
                store,
                vault_id,
                env,
                keys: Mutex::new(Some(Arc::new(Keys::new(mk)))),
            })
        })();
        if result.is_err() {
            // Leave no half-made vault behind, so `create` can be retried.
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
        }
        result
    }

    /// Opens an existing vault, locked. Checks format version and runs `quick_check`.
    pub fn open(dir: &Path) -> Result<Vault> {
        let path = dir.join(Self::FILE_NAME);
        if !path.is_file() {
            return Err(VaultError::NoVault {
                path: dir.display().to_string(),
            });
        }
        store::prepare_dir(dir, false)?;
        let store = Store::open(&path)?;
        let vault_id = store.with_writer(store::check_open)?;
        Ok(Vault {
            store,
            vault_id,
            env: Env::Os,
            keys: Mutex::new(None),
        })
    }

    /// Path of the vault database file.
    pub fn path(&self) -> &Path {
        self.store.path()
    }

    /// The vault's random id (hex).
    pub fn vault_id(&self) -> String {
        hex::encode(self.vault_id)
    }

    /// Unlocks with a passphrase or key file; `auth_failed` if no slot opens.
    pub fn unlock(&self, cred: &Credential) -> Result<UnlockTiming> {
        let start = Instant::now();
        let (mk, kdf_time) = self
            .store
            .read(|tx| slots::open_slot(tx, &self.vault_id, cred))?;
        let keys = Arc::new(Keys::new(mk));
        let version = self.store.read(|tx| {
            tx.query_row(
                "SELECT format_version FROM vault WHERE singleton = 1",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(VaultError::storage("read format version"))
        })?;
        let upgraded = version != store::FORMAT_VERSION
            && self
                .store
                .write(|tx| upgrade::upgrade(tx, &self.vault_id, &keys, &self.env))?;
        if upgraded {
            // The records the upgrade replaced must not survive in the `.db` or the WAL.
            self.store.checkpoint_truncate()?;
        } else {
            // The records an upgrade replaced stay in the files until a checkpoint copies
            // the upgraded pages over them, and the upgrading process may have stopped
            // between its commit and its checkpoint: nothing in the file says so. So every
            // other unlock checkpoints too, without waiting for readers (when one is in the
            // way, the next unlock tries again). With the WAL empty this costs next to nothing.
            self.store.try_checkpoint_truncate()?;
        }
        let old = self.keys_slot().replace(keys);
        drop(old);
        let total = start.elapsed();
        Ok(UnlockTiming {
            kdf: kdf_time,
            other: total.saturating_sub(kdf_time),
        })
    }

    /// Forgets every key: later operations get `Locked` at once. Keys are zeroized when the
    /// last reference goes: now, or when operations already running finish. Idempotent; never
    /// waits for a running operation.
    pub fn lock(&self) {
        // Taken out under the lock, dropped after it: dropping `Keys` zeroizes the master key,
        // the name key and every cached data key, which needs no lock held.
        let old = self.keys_slot().take();
        drop(old);
    }

    /// Whether keys are loaded.
    pub fn is_unlocked(&self) -> bool {
        self.keys_slot().is_some()
    }

    /// Runs `f` with the keys; `Locked` if there are none. `f` works on a snapshot: the keys'
    /// lock is released before `f` runs.
    pub(crate) fn with_keys<T>(&self, f: impl FnOnce(&Keys) -> Result<T>) -> Result<T> {
        let keys = self.keys_slot().clone();
        match keys {
            Some(k) => f(&k),
            None => Err(VaultError::Locked),
        }
    }

    /// The keys' slot, locked for a clone or a swap. A poisoned lock is taken anyway: the
    /// slot is an `Option<Arc>`, replaced in one assignment, never left half-written.
    fn keys_slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<Keys>>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the passphrase keyslot; `old` must open a slot. Re-wraps the master key only.
    pub fn change_passphrase(&self, old: &Credential, new: &Credential) -> Result<()> {
        if !matches!(new, Credential::Passphrase(_)) {
            return Err(VaultError::InvalidArgument {
                what: "new passphrase",
                reason: "must be a passphrase; use set_keyfile for a key file".into(),
            });
        }
        let (mk, _) = self
            .store
            .read(|tx| slots::open_slot(tx, &self.vault_id, old))?;
        // Keep the cost of the current passphrase slot (it was calibrated for this machine);
        // raise it to the floor if it was below.
        let params = self
            .store
            .read(|tx| slots::slot_of_kind(tx, SLOT_PASSPHRASE))?
            .map(|row| slots::passphrase_params(&row))
            .transpose()?
            .flatten()
            .unwrap_or(KdfParams::RFC9106_SECOND);
        let (slot, _) = slots::make_slot(&self.env, &self.vault_id, new, params, &mk)?;
        let now = self.env.now_ms();
        self.store.write(|tx| slots::put_slot(tx, &slot, now))?;
        self.store.checkpoint_truncate()
    }

    /// Adds (or replaces) the key-file keyslot. Requires unlocked.
    pub fn set_keyfile(&self, keyfile: &Credential) -> Result<()> {
        if !matches!(keyfile, Credential::KeyFile(_)) {
            return Err(VaultError::InvalidArgument {
                what: "key file",
                reason: "expected Credential::KeyFile".into(),
            });
        }
        let slot = self.with_keys(|k| {
            slots::make_slot(
                &self.env,
                &self.vault_id,
                keyfile,
                KdfParams::OWASP_MINIMUM,
                &k.mk,
            )
        })?;
        let now = self.env.now_ms();
        self.store.write(|tx| slots::put_slot(tx, &slot.0, now))?;
        self.store.checkpoint_truncate()
    }

    /// Snapshots kept per profile from now on (min 1).
    pub fn set_retention(&self, keep: u32) -> Result<()> {
        if keep < 1 {
            return Err(VaultError::InvalidArgument {
                what: "retention",
                reason: "must keep at least 1 snapshot".into(),
            });
        }
        // The daemon sets its configured retention at every unlock: when it is unchanged
        // nothing is written, so the commit has nothing to sync.
        self.store.write(|tx| {
            tx.execute(
                "UPDATE vault SET retention = ?1 WHERE singleton = 1 AND retention != ?1",
                [keep],
            )
            .map_err(VaultError::storage("set retention"))?;
            Ok(())
        })
    }

    /// Writes a consistent copy of the vault to `dest` (a new file) while it stays in use.
    /// If `dest` is an existing directory, the copy is `dest/vault.db` (openable with
    /// [`Vault::open`] on that directory, with the same credentials).
    pub fn backup(&self, dest: &Path) -> Result<()> {
        let target = if dest.is_dir() {
            dest.join(Self::FILE_NAME)
        } else {
            dest.to_owned()
        };
        if target.exists() {
            return Err(VaultError::AlreadyExists {
                path: target.display().to_string(),
            });
        }
        // Create the file 0600 first so the copy is never readable by others, even briefly.
        store::create_file(&target)?;
        let s = target.to_str().ok_or_else(|| VaultError::InvalidArgument {
            what: "backup path",
            reason: "must be valid UTF-8".into(),
        })?;
        let res = self.store.with_writer(|c| {
            // VACUUM INTO refuses a non-empty target; an empty file is accepted.
            c.execute("VACUUM INTO ?1", [s])
                .map_err(VaultError::storage("VACUUM INTO"))?;
            Ok(())
        });
        if res.is_err() {
            let _ = std::fs::remove_file(&target);
        }
        res?;
        store::fix_modes(&target)
    }
}
