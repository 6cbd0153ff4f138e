//! Key-encryption keys from credentials: Argon2id for passphrases, HKDF-SHA256 for key files.
//!
//! Parameters are validated against fixed bounds *before* any memory is allocated, so a
//! tampered vault file cannot make the daemon allocate gigabytes or spin for hours (age's
//! test vectors expect exactly this). The bounds are normative (see `vault-format.md`).

use std::time::{Duration, Instant};

use zeroize::Zeroize;

use crate::error::{Result, VaultError};
use crate::keys::{KEY_LEN, SecretKey, hkdf_sha256};

/// KDF identifier of Argon2id v1.3 (stored in `keyslots.kdf_id` and bound in the AAD).
pub const KDF_ARGON2ID: u8 = 1;
/// KDF identifier of HKDF-SHA256 over key-file bytes.
pub const KDF_HKDF_SHA256: u8 = 2;

/// Largest accepted memory cost: 4 GiB in KiB.
pub const MAX_M_KIB: u32 = 4 * 1024 * 1024;
/// Largest accepted number of passes.
pub const MAX_T: u32 = 64;
/// Largest accepted parallelism.
pub const MAX_P: u32 = 16;
/// Argon2id salt length in bytes.
pub const ARGON2_SALT_LEN: usize = 16;
/// Key-file HKDF salt length in bytes.
pub const KEYFILE_SALT_LEN: usize = 32;
/// Minimum key-file length in bytes (a key file must be high-entropy: it gets no stretching).
pub const MIN_KEYFILE_LEN: usize = 32;
/// Maximum key-file length in bytes.
pub const MAX_KEYFILE_LEN: usize = 1024 * 1024;
/// HKDF `info` for key-file KEKs.
pub const KEYFILE_INFO: &[u8] = b"pvault/v1/keyfile-kek";

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub m_kib: u32,
    /// Number of passes (time cost).
    pub t: u32,
    /// Lanes (parallelism).
    pub p: u32,
}

impl KdfParams {
    /// OWASP's minimum (19 MiB, t=2, p=1): the lowest parameters accepted at create and
    /// unlock. Tests and the daemon's test mode use it to stay fast.
    pub const OWASP_MINIMUM: KdfParams = KdfParams {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };
    /// RFC 9106's second recommended setting (64 MiB, t=3, p=4): the start of calibration.
    pub const RFC9106_SECOND: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 4,
    };

    /// Checks the bounds without allocating anything.
    pub fn check(&self) -> Result<()> {
        let min = KdfParams::OWASP_MINIMUM;
        let reject = |reason: String| Err(VaultError::KdfParamsRejected { reason });
        if self.m_kib > MAX_M_KIB {
            return reject(format!(
                "memory {} KiB exceeds the cap of {MAX_M_KIB} KiB",
                self.m_kib
            ));
        }
        if self.t > MAX_T {
            return reject(format!("{} passes exceed the cap of {MAX_T}", self.t));
        }
        if self.p > MAX_P || self.p == 0 {
            return reject(format!("parallelism {} is outside 1..={MAX_P}", self.p));
        }
        if self.m_kib < min.m_kib || self.t < min.t {
            return reject(format!(
                "m={} KiB, t={} is below the OWASP minimum (m={} KiB, t={})",
                self.m_kib, self.t, min.m_kib, min.t
            ));
        }
        if self.m_kib < 8 * self.p {
            return reject(format!("memory {} KiB is below 8 KiB per lane", self.m_kib));
        }
        Ok(())
    }
}

/// Argon2id(passphrase, salt, params) → 32-byte KEK. Checks `params` first.
pub fn argon2id(passphrase: &[u8], salt: &[u8], params: KdfParams) -> Result<SecretKey> {
    params.check()?;
    let p = argon2::Params::new(params.m_kib, params.t, params.p, Some(KEY_LEN)).map_err(|e| {
        VaultError::KdfParamsRejected {
            reason: e.to_string(),
        }
    })?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = [0u8; KEY_LEN];
    a.hash_password_into(passphrase, salt, &mut out)
        .map_err(|e| VaultError::KdfParamsRejected {
            reason: e.to_string(),
        })?;
    let key = SecretKey::from_bytes(&mut out);
    out.zeroize();
    Ok(key)
}

/// KEK of a key-file slot: HKDF-SHA256(salt, file bytes, [`KEYFILE_INFO`]). A random key file
/// of 32+ bytes needs no stretching.
pub fn keyfile_kek(file: &[u8], salt: &[u8]) -> Result<SecretKey> {
    check_keyfile(file)?;
    Ok(hkdf_sha256(salt, file, KEYFILE_INFO))
}

/// Checks a key file's length.
pub fn check_keyfile(file: &[u8]) -> Result<()> {
    if file.len() < MIN_KEYFILE_LEN {
        return Err(VaultError::InvalidArgument {
            what: "key file",
            reason: format!(
                "{} bytes; a key file must hold at least {MIN_KEYFILE_LEN} random bytes (e.g. head -c 64 /dev/urandom)",
                file.len()
            ),
        });
    }
    if file.len() > MAX_KEYFILE_LEN {
        return Err(VaultError::TooLarge {
            what: "key file".into(),
            limit: MAX_KEYFILE_LEN as u64,
        });
    }
    Ok(())
}

/// Calibrates Argon2id: from RFC 9106's second setting, raise `t` until one derivation takes
/// about `target` (never above [`MAX_T`]). Doubling memory would also work, but time is the
/// cheaper knob on small machines that must not swap.
pub fn calibrate(target: Duration) -> Result<KdfParams> {
    let mut params = KdfParams::RFC9106_SECOND;
    let salt = [0u8; ARGON2_SALT_LEN];
    let start = Instant::now();
    argon2id(b"calibration", &salt, params)?;
    let per_pass = start.elapsed() / params.t;
    if per_pass.is_zero() {
        return Ok(params);
    }
    let wanted = (target.as_nanos() / per_pass.as_nanos().max(1)) as u32;
    params.t = wanted.clamp(params.t, MAX_T);
    Ok(params)
}
