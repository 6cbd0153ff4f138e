//! The keys that decrypt a cookie database's values, chosen per row by its prefix (`v10`,
//! `v11`, `v12`), and looked up in the desktop keyring only once a value needs one.

use zeroize::Zeroizing;

use crate::{Options, cookies, crypto, keyring};

/// Keys for the `v11`/`v12` values, looked up once, when a value first needs one.
pub(crate) struct Keys {
    /// `v10` candidates: `peanuts`, then the empty password.
    v10: Vec<crypto::CbcKey>,
    /// `v11` candidates from the keyring (then the empty password), with where each came from.
    v11: Option<Vec<(String, crypto::CbcKey)>>,
    /// `v12` candidates.
    v12: Option<Vec<(String, crypto::GcmKey)>>,
    /// What the keyring lookups tried and found nothing in (for errors).
    tried: Vec<String>,
    /// Where each secret the lookups found came from (for errors: a secret that was found
    /// but decrypts nothing is a wrong key, not a missing one).
    candidates: Vec<String>,
    /// The keyring source of a key that decrypted something.
    used: Option<String>,
}

/// One value's decryption outcome.
pub(crate) enum Outcome {
    Value(Zeroizing<String>),
    Failed,
}

fn utf8(plain: &[u8]) -> Option<Zeroizing<String>> {
    std::str::from_utf8(plain)
        .ok()
        .map(|s| Zeroizing::new(s.to_owned()))
}

impl Keys {
    pub(crate) fn new() -> Keys {
        Keys {
            v10: vec![crypto::v10_key(), crypto::cbc_key(b"")],
            v11: None,
            v12: None,
            tried: Vec::new(),
            candidates: Vec::new(),
            used: None,
        }
    }

    pub(crate) fn decrypt(&mut self, opts: &Options, row: &cookies::Row, version: i64) -> Outcome {
        let data = row.encrypted.as_slice();
        let (prefix, body) = data.split_at(3.min(data.len()));
        let try_cbc = |key: &[u8; 16]| {
            let plain = crypto::decrypt_cbc(key, body)?;
            let v = crypto::strip_host_digest(&plain, &row.host_key, version).ok()?;
            utf8(v)
        };
        match prefix {
            b"v10" => match self.v10.iter().find_map(|k| try_cbc(k)) {
                Some(v) => Outcome::Value(v),
                None => Outcome::Failed,
            },
            b"v11" => {
                let keys = self.v11.get_or_insert_with(|| {
                    let l =
                        keyring::v11(&opts.browser.keyring_names(), opts.dbus_address.as_deref());
                    self.tried.extend(l.tried.iter().cloned());
                    self.candidates
                        .extend(l.found.iter().map(|f| f.from.clone()));
                    let mut ks: Vec<(String, crypto::CbcKey)> = l
                        .found
                        .iter()
                        .map(|f| (f.from.clone(), crypto::cbc_key(&f.secret)))
                        .collect();
                    ks.push(("the empty password".into(), crypto::cbc_key(b"")));
                    ks
                });
                for (from, k) in keys.iter() {
                    if let Some(v) = try_cbc(k) {
                        if self.used.is_none() {
                            self.used = Some(from.clone());
                        }
                        return Outcome::Value(v);
                    }
                }
                Outcome::Failed
            }
            b"v12" => {
                let keys = self.v12.get_or_insert_with(|| {
                    let l =
                        keyring::v12(&opts.browser.keyring_names(), opts.dbus_address.as_deref());
                    self.tried.extend(l.tried.iter().cloned());
                    self.candidates
                        .extend(l.found.iter().map(|f| f.from.clone()));
                    l.found
                        .iter()
                        .map(|f| (f.from.clone(), crypto::gcm_key(&f.secret)))
                        .collect()
                });
                for (from, k) in keys.iter() {
                    let Some(plain) = crypto::decrypt_gcm(k, body) else {
                        continue;
                    };
                    let Ok(v) = crypto::strip_host_digest(&plain, &row.host_key, version) else {
                        continue;
                    };
                    if let Some(v) = utf8(v) {
                        if self.used.is_none() {
                            self.used = Some(from.clone());
                        }
                        return Outcome::Value(v);
                    }
                }
                Outcome::Failed
            }
            _ => Outcome::Failed,
        }
    }

    /// Whether a value needed the keyring (the report then says what it found).
    pub(crate) fn asked_keyring(&self) -> bool {
        self.v11.is_some() || self.v12.is_some()
    }

    /// The keyring line of a report or an error.
    pub(crate) fn describe(&self) -> String {
        if let Some(u) = &self.used {
            return u.clone();
        }
        let mut parts = Vec::new();
        if !self.candidates.is_empty() {
            parts.push(format!(
                "found {}, but no key from it decrypts these values (a wrong or replaced key: was the browser's keyring reset?)",
                self.candidates.join(", ")
            ));
        }
        parts.extend(self.tried.iter().cloned());
        if parts.is_empty() {
            "not needed (no v11/v12 values)".into()
        } else {
            parts.join("; ")
        }
    }
}
