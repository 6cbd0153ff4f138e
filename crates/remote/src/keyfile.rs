//! The team-key export file (`remote-format.md` 4.2): the team key sealed under a key derived
//! from a passphrase (Argon2id) or a key file (HKDF-SHA256), bound to its store.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{self, Id, Key};
use crate::error::{RemoteError, Result};

/// What seals an export file.
pub enum Protector<'a> {
    /// A passphrase (UTF-8, as given).
    Passphrase(&'a str),
    /// The bytes of a key file (32 bytes to 1 MiB).
    KeyFile(&'a [u8]),
}

impl std::fmt::Debug for Protector<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Protector(<redacted>)")
    }
}

/// Argon2id parameters of an export (the vault's caps apply, `vault-format.md` 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory, KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Argon2Params {
    /// RFC 9106's second recommended setting: the default for exports.
    pub const DEFAULT: Argon2Params = Argon2Params {
        m_kib: 65536,
        t: 3,
        p: 4,
    };
    /// The OWASP minimum (tests).
    pub const MINIMUM: Argon2Params = Argon2Params {
        m_kib: 19456,
        t: 2,
        p: 1,
    };

    fn check(&self) -> Result<()> {
        let refuse = |r: &str| Err(RemoteError::KdfRefused { reason: r.into() });
        if self.m_kib > 4_194_304 {
            return refuse("memory above 4 GiB");
        }
        if self.t > 64 {
            return refuse("more than 64 passes");
        }
        if !(1..=16).contains(&self.p) {
            return refuse("lanes not within 1..=16");
        }
        if self.m_kib < 19_456 || self.t < 2 {
            return refuse("below the OWASP minimum (19 MiB, 2 passes)");
        }
        if self.m_kib < 8 * self.p {
            return refuse("memory below 8 KiB per lane");
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kdf {
    id: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m_kib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<u64>,
    salt: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    version: u32,
    store_id: String,
    kdf: Kdf,
    sealed: String,
}

fn aad(store: &Id, kdf_id: u8, m: u32, t: u32, p: u32, salt: &[u8]) -> Vec<u8> {
    let mut a = crypto::LABEL_EXPORT.to_vec();
    a.push(0);
    a.extend_from_slice(store);
    a.push(kdf_id);
    a.extend_from_slice(&m.to_be_bytes());
    a.extend_from_slice(&t.to_be_bytes());
    a.extend_from_slice(&p.to_be_bytes());
    a.push(salt.len() as u8);
    a.extend_from_slice(salt);
    a
}

fn argon2(pass: &str, salt: &[u8], prm: Argon2Params) -> Result<Key> {
    prm.check()?;
    let params = argon2::Params::new(prm.m_kib, prm.t, prm.p, Some(32)).map_err(|e| {
        RemoteError::KdfRefused {
            reason: e.to_string(),
        }
    })?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(pass.as_bytes(), salt, out.as_mut())
        .map_err(|e| RemoteError::KdfRefused {
            reason: e.to_string(),
        })?;
    Ok(Key(out))
}

fn hkdf(file: &[u8], salt: &[u8]) -> Result<Key> {
    if file.len() < 32 {
        return Err(RemoteError::BadKeyFile {
            reason: "the protecting key file is shorter than 32 bytes".into(),
        });
    }
    if file.len() > 1 << 20 {
        return Err(RemoteError::BadKeyFile {
            reason: "the protecting key file is larger than 1 MiB".into(),
        });
    }
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), file);
    let mut out = Zeroizing::new([0u8; 32]);
    hk.expand(crypto::LABEL_EXPORT, out.as_mut())
        .expect("32 bytes is a valid HKDF length");
    Ok(Key(out))
}

/// Writes the export document of `team` for store `store`.
pub fn export(
    team: &Key,
    store: &Id,
    protector: &Protector<'_>,
    params: Argon2Params,
) -> Result<Vec<u8>> {
    let mut salt = vec![
        0u8;
        if matches!(protector, Protector::Passphrase(_)) {
            16
        } else {
            32
        }
    ];
    getrandom::fill(&mut salt).map_err(|e| RemoteError::Random(e.to_string()))?;
    let (kek, kdf, a) = match protector {
        Protector::Passphrase(p) => (
            argon2(p, &salt, params)?,
            Kdf {
                id: 1,
                m_kib: Some(params.m_kib.into()),
                t: Some(params.t.into()),
                p: Some(params.p.into()),
                salt: B64.encode(&salt),
            },
            aad(store, 1, params.m_kib, params.t, params.p, &salt),
        ),
        Protector::KeyFile(f) => (
            hkdf(f, &salt)?,
            Kdf {
                id: 2,
                m_kib: None,
                t: None,
                p: None,
                salt: B64.encode(&salt),
            },
            aad(store, 2, 0, 0, 0, &salt),
        ),
    };
    let sealed = crypto::seal(&kek, &a, team.expose())?;
    let doc = File {
        format: "pvault-team-key".into(),
        version: 1,
        store_id: hex::encode(store),
        kdf,
        sealed: B64.encode(sealed),
    };
    let mut out = serde_json::to_vec_pretty(&doc).expect("serializes");
    out.push(b'\n');
    Ok(out)
}

/// Reads an export document: the store it belongs to and its team key. Checks the KDF caps
/// before deriving; a protector that does not open it is `auth_failed`.
pub fn import(doc: &[u8], protector: &Protector<'_>) -> Result<(Id, Key)> {
    let bad = |r: &str| RemoteError::BadKeyFile { reason: r.into() };
    if doc.len() > 64 * 1024 {
        return Err(bad("larger than 64 KiB: not a team-key file"));
    }
    let f: File = serde_json::from_slice(doc)
        .map_err(|_| bad("not a pvault team-key file (JSON with format pvault-team-key)"))?;
    if f.format != "pvault-team-key" {
        return Err(bad("not a pvault team-key file"));
    }
    if f.version != 1 {
        return Err(RemoteError::KdfRefused {
            reason: format!(
                "team-key file version {} is unknown to this pvault",
                f.version
            ),
        });
    }
    let store: Id = hex::decode(&f.store_id)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad("store_id is not 32 hex digits"))?;
    let salt = B64
        .decode(&f.kdf.salt)
        .map_err(|_| bad("salt is not base64"))?;
    let sealed = B64
        .decode(&f.sealed)
        .map_err(|_| bad("sealed is not base64"))?;
    let wrong = || RemoteError::WrongKey {
        what: match protector {
            Protector::Passphrase(_) => "the passphrase does not open this team-key file".into(),
            Protector::KeyFile(_) => "the key file does not open this team-key file".into(),
        },
    };
    let (kek, a) = match (f.kdf.id, protector) {
        (1, Protector::Passphrase(p)) => {
            let fit = |v: Option<u64>| {
                v.and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| RemoteError::KdfRefused {
                        reason: "a parameter is missing or not a u32".into(),
                    })
            };
            let prm = Argon2Params {
                m_kib: fit(f.kdf.m_kib)?,
                t: fit(f.kdf.t)?,
                p: fit(f.kdf.p)?,
            };
            prm.check()?;
            if salt.len() != 16 {
                return Err(bad("a passphrase salt must be 16 bytes"));
            }
            (
                argon2(p, &salt, prm)?,
                aad(&store, 1, prm.m_kib, prm.t, prm.p, &salt),
            )
        }
        (2, Protector::KeyFile(k)) => (hkdf(k, &salt)?, aad(&store, 2, 0, 0, 0, &salt)),
        (1, Protector::KeyFile(_)) => {
            return Err(bad(
                "this file is sealed with a passphrase: give --passphrase (or the prompt), not a key file",
            ));
        }
        (2, Protector::Passphrase(_)) => {
            return Err(bad(
                "this file is sealed with a key file: give --key-file-protector FILE",
            ));
        }
        (other, _) => {
            return Err(RemoteError::KdfRefused {
                reason: format!("unknown KDF id {other}"),
            });
        }
    };
    let team = crypto::open_key(&kek, &a, &sealed).ok_or_else(wrong)?;
    Ok((store, team))
}
