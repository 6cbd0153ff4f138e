//! Key material and the sources of randomness and time.
//!
//! [`SecretKey`] holds a 32-byte key on the heap, locked into RAM best-effort (`mlock`, as rbw
//! does) so it is not swapped out, zeroized on drop, and never printed. [`Env`] is where every
//! random byte and every timestamp comes from: the OS generator and the wall clock in
//! production, a seeded generator and a fixed clock only for the golden test vectors.

use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::error::{Result, VaultError};

/// Length of every symmetric key (KEK, master key, data keys, derived keys).
pub const KEY_LEN: usize = 32;
/// Length of every random id (vault, keyslot, profile, snapshot).
pub const ID_LEN: usize = 16;

/// A random 128-bit id.
pub type Id = [u8; ID_LEN];

/// A 32-byte secret key. Not `Clone`: a key exists once; `Debug` prints nothing.
pub struct SecretKey {
    /// Heap-allocated so its address is stable for `mlock` and no copies are left by moves.
    bytes: Box<[u8; KEY_LEN]>,
    /// Whether `mlock` succeeded (so drop knows to `munlock`).
    locked: bool,
}

impl SecretKey {
    /// Takes ownership of key bytes, zeroizing the caller's copy.
    pub fn from_bytes(src: &mut [u8; KEY_LEN]) -> SecretKey {
        let mut bytes = Box::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(src);
        src.zeroize();
        // SAFETY: the pointer and length describe the live boxed array; mlock only changes
        // paging of the pages containing it. Failure (RLIMIT_MEMLOCK) is tolerated: locking is
        // best-effort hardening and the daemon warns about it.
        let locked = unsafe { libc::mlock(bytes.as_ptr().cast(), KEY_LEN) == 0 };
        SecretKey { bytes, locked }
    }

    /// Copies key bytes from a slice of exactly [`KEY_LEN`] bytes.
    pub fn from_slice(src: &[u8]) -> Option<SecretKey> {
        let mut tmp: [u8; KEY_LEN] = src.try_into().ok()?;
        Some(SecretKey::from_bytes(&mut tmp))
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Derives a purpose-specific subkey: HMAC-SHA256(key = self, message = label).
    pub fn derive(&self, label: &[u8]) -> SecretKey {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.expose()).expect("any key length");
        mac.update(label);
        let mut out: [u8; KEY_LEN] = mac.finalize().into_bytes().into();
        SecretKey::from_bytes(&mut out)
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
        if self.locked {
            // SAFETY: same region that was locked in `from_bytes`, still allocated.
            unsafe {
                libc::munlock(self.bytes.as_ptr().cast(), KEY_LEN);
            }
        }
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// An id as 32 lowercase hex digits (what APIs show). `hex::encode` goes through a `char`
/// iterator and costs more than a listing's SQL per profile; this writes the digits at once.
pub fn hex_id(id: &Id) -> String {
    let mut digits = [0u8; 2 * ID_LEN];
    hex::encode_to_slice(id, &mut digits).expect("two digits per byte");
    String::from_utf8(digits.to_vec()).expect("hex digits are ASCII")
}

/// HMAC-SHA256 of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    for m in msg {
        mac.update(m);
    }
    mac.finalize().into_bytes().into()
}

/// HKDF-SHA256 (RFC 5869) producing one 32-byte block: extract with `salt`, expand with `info`.
pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8]) -> SecretKey {
    let mut prk = hmac_sha256(salt, &[ikm]);
    let mut okm = hmac_sha256(&prk, &[info, &[1u8]]);
    prk.zeroize();
    SecretKey::from_bytes(&mut okm)
}

/// Where randomness and time come from.
pub enum Env {
    /// Production: OS generator (`getrandom`) and the system clock.
    Os,
    /// Golden test vectors only: SHA-256 counter-mode stream from a seed, and a clock that
    /// starts at a fixed instant and advances one second per reading.
    Deterministic(Mutex<DetState>),
}

/// State of the deterministic [`Env`].
pub struct DetState {
    /// The seed.
    seed: [u8; 32],
    /// Next block counter.
    counter: u64,
    /// Next timestamp to hand out (Unix ms).
    now_ms: i64,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Env::Os => f.write_str("Env::Os"),
            Env::Deterministic(_) => f.write_str("Env::Deterministic(<seed redacted>)"),
        }
    }
}

/// First timestamp of the deterministic clock: 2026-01-01T00:00:00Z.
pub const DET_EPOCH_MS: i64 = 1_767_225_600_000;

impl Env {
    /// A deterministic environment for test vectors.
    pub fn deterministic(seed: [u8; 32]) -> Env {
        Env::Deterministic(Mutex::new(DetState {
            seed,
            counter: 0,
            now_ms: DET_EPOCH_MS,
        }))
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&self, buf: &mut [u8]) -> Result<()> {
        match self {
            Env::Os => getrandom::fill(buf).map_err(|e| VaultError::Io {
                path: "getrandom".into(),
                source: std::io::Error::other(e.to_string()),
            }),
            Env::Deterministic(state) => {
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                for chunk in buf.chunks_mut(32) {
                    let block = Sha256::new()
                        .chain_update(st.seed)
                        .chain_update(st.counter.to_be_bytes())
                        .finalize();
                    st.counter += 1;
                    chunk.copy_from_slice(&block[..chunk.len()]);
                }
                Ok(())
            }
        }
    }

    /// A fresh random id.
    pub fn id(&self) -> Result<Id> {
        let mut id = [0u8; ID_LEN];
        self.fill(&mut id)?;
        Ok(id)
    }

    /// A fresh random key.
    pub fn key(&self) -> Result<SecretKey> {
        let mut k = [0u8; KEY_LEN];
        self.fill(&mut k)?;
        Ok(SecretKey::from_bytes(&mut k))
    }

    /// Current time, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self {
            Env::Os => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            Env::Deterministic(state) => {
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                let t = st.now_ms;
                st.now_ms += 1000;
                t
            }
        }
    }
}
