//! Chromium's `Local Storage/leveldb` database (a private copy of it), read with the
//! pure-Rust `rusty-leveldb` (snappy-compressed tables, the default bytewise comparator,
//! which is what Local Storage uses; IndexedDB's `idb_cmp1` comparator is another matter).
//!
//! Records (`components/services/storage/dom_storage/local_storage_impl.cc`): `VERSION`;
//! `META:<storage key>` and `METAACCESS:<storage key>` (metadata, skipped); and
//! `_<storage key>\0<key>` → value, key and value each encoded as `\x01` + Latin-1 bytes or
//! `\x00` + UTF-16LE. A first-party storage key is the origin (`https://example.com`); a
//! partitioned (third-party) one carries `^`-separated parts and has no place in a snapshot
//! keyed by origin, so it is counted and reported, not imported.

use std::collections::BTreeMap;
use std::path::Path;

use pvault_model::StorageItem;
use rusty_leveldb::LdbIterator as _;

/// What the database holds, by first-party origin.
#[derive(Debug, Default)]
pub struct Read {
    /// Items per origin, keys in the database's (bytewise) order.
    pub origins: BTreeMap<String, Vec<StorageItem>>,
    /// Partitioned storage keys skipped.
    pub partitioned_keys: usize,
    /// Origins skipped because they are not web origins (`chrome-extension://…`, `file://`).
    pub non_web_origins: usize,
    /// Values that were not valid UTF-16 (a lone surrogate) and were read lossily.
    pub lossy_values: usize,
}

/// Decodes Chromium's string encoding; the bool says whether it was lossless.
fn decode(b: &[u8]) -> Option<(String, bool)> {
    match b.split_first()? {
        (1, rest) => Some((rest.iter().map(|&c| c as char).collect(), true)),
        (0, rest) => {
            if !rest.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            match String::from_utf16(&units) {
                Ok(s) => Some((s, true)),
                Err(_) => Some((String::from_utf16_lossy(&units), false)),
            }
        }
        _ => None,
    }
}

/// Whether a storage key is a plain web origin `http(s)://host[:port]`.
fn is_web_origin(key: &str) -> bool {
    (key.starts_with("https://") || key.starts_with("http://"))
        && !key.ends_with('/')
        && key
            .split_once("://")
            .is_some_and(|(_, r)| !r.is_empty() && !r.contains('/'))
}

/// What one record of the localStorage database is.
pub(crate) enum Record {
    /// Not a storage item (`VERSION`, `META:…`, `METAACCESS:…`).
    NotLocalStorage,
    /// An item of a partitioned (third-party) storage key, which pvault cannot load.
    Partitioned(String),
    /// An item of an origin that is not a web origin (extensions, `file://`).
    NotWeb(String),
    /// A web origin's item; `lossless` is false when it was not valid UTF-16.
    Item {
        /// `http(s)://host[:port]`.
        origin: String,
        /// The name and value.
        item: StorageItem,
        /// Whether both strings decoded without replacement characters.
        lossless: bool,
    },
}

/// Decodes one record: key `_<storage key>\0<encoded name>`, value `<encoded value>`. Errors
/// name what is malformed, never the bytes.
pub(crate) fn record(k: &[u8], v: &[u8]) -> Result<Record, String> {
    let Some(rest) = k.strip_prefix(b"_") else {
        return Ok(Record::NotLocalStorage);
    };
    let Some(nul) = rest.iter().position(|&b| b == 0) else {
        return Err("a localStorage record key has no origin separator".into());
    };
    let storage_key = String::from_utf8_lossy(&rest[..nul]).into_owned();
    if storage_key.contains('^') {
        return Ok(Record::Partitioned(storage_key));
    }
    if !is_web_origin(&storage_key) {
        return Ok(Record::NotWeb(storage_key));
    }
    let (name, ok_k) =
        decode(&rest[nul + 1..]).ok_or("a localStorage key has an unknown string encoding")?;
    let (value, ok_v) = decode(v).ok_or("a localStorage value has an unknown string encoding")?;
    Ok(Record::Item {
        origin: storage_key,
        item: StorageItem { name, value },
        lossless: ok_k && ok_v,
    })
}

/// Reads the copy at `dir`. Errors are the detail of a corrupt database.
pub fn read(dir: &Path) -> Result<Read, String> {
    let opts = rusty_leveldb::Options {
        create_if_missing: false,
        // The copy is recovered (its log replayed) in place; checks on, so damage is an error.
        paranoid_checks: true,
        ..Default::default()
    };
    let mut db = rusty_leveldb::DB::open(dir, opts).map_err(|e| e.to_string())?;
    let mut it = db.new_iter().map_err(|e| e.to_string())?;
    let mut out = Read::default();
    let mut skipped_partitioned = std::collections::BTreeSet::new();
    let mut skipped_other = std::collections::BTreeSet::new();
    while let Some((k, v)) = it.next() {
        match record(&k, &v)? {
            Record::NotLocalStorage => {}
            Record::Partitioned(key) => {
                skipped_partitioned.insert(key);
            }
            Record::NotWeb(key) => {
                skipped_other.insert(key);
            }
            Record::Item {
                origin,
                item,
                lossless,
            } => {
                if !lossless {
                    out.lossy_values += 1;
                }
                out.origins.entry(origin).or_default().push(item);
            }
        }
    }
    drop(it);
    let _ = db.close();
    out.partitioned_keys = skipped_partitioned.len();
    out.non_web_origins = skipped_other.len();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_encodings_and_checks_origins() {
        assert_eq!(decode(&[1, b'a', 0xe9]), Some(("aé".into(), true)));
        assert_eq!(decode(&[0, 0xac, 0x20]), Some(("€".into(), true)));
        assert_eq!(decode(&[0, 0x00, 0xd8]).map(|(_, ok)| ok), Some(false));
        assert_eq!(decode(&[2]), None);
        assert!(is_web_origin("http://127.0.0.1:8080"));
        assert!(!is_web_origin("chrome-extension://abc"));
        assert!(!is_web_origin("https://a.com/"));
    }
}
