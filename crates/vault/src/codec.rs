//! Plaintext encodings of sealed records, and their size caps.
//!
//! Every record plaintext is `version(u8) ‖ compact JSON`. The JSON is what serde_json writes
//! for the model types in their declared field order (with `float_roundtrip`, so cookie
//! expiries come back bit-for-bit); unknown CDP fields kept in `extra` keep their order
//! (`preserve_order`). A snapshot's content hash is SHA-256 over exactly these bytes.
//!
//! Snapshot bodies carry a schema version (`snapshots.schema_version`, bound in the AAD).
//! Schema 2 is the typed `BrowserState` (sessionStorage and typed IndexedDB). Schema 1 bodies
//! were written when `indexedDB` was kept verbatim, unvalidated; they are decoded leniently
//! (see [`decode_state`]).

use pvault_model::{BrowserState, SessionSettings, SnapshotInfo, SnapshotKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Result, VaultError};

/// Version byte of every record plaintext this build writes and reads.
pub const PLAINTEXT_VERSION: u8 = 1;
/// Schema version of the snapshot records this build writes (bound in the AAD, stored in
/// `snapshots.schema_version`).
pub const RECORD_SCHEMA_VERSION: u16 = 2;
/// Snapshot schema versions this build reads; any other is refused, never guessed.
pub const READABLE_SNAPSHOT_SCHEMAS: [u16; 2] = [1, 2];
/// Schema version bound in the AAD of profile metadata (it has no column; it never changed).
pub const META_SCHEMA_VERSION: u16 = 1;
/// Member under which a schema-1 origin keeps an `indexedDB` that is not valid IndexedDB
/// content: verbatim, so nothing is lost, and under its own name, so nothing loads it.
pub const INDEXED_DB_UNPARSED: &str = "indexedDBUnparsed";

/// Largest sealed snapshot body accepted (checked before decrypting).
pub const MAX_BODY_SEALED: usize = 256 * 1024 * 1024;
/// Largest sealed profile-meta record accepted.
pub const MAX_META_SEALED: usize = 1024 * 1024;
/// Largest sealed snapshot-info record accepted.
pub const MAX_INFO_SEALED: usize = 64 * 1024;

/// The sealed metadata of a profile (`profiles.meta`): everything `list_profiles` shows that
/// is not a random id, count or time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileMeta {
    /// The profile name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Default session settings.
    pub settings: SessionSettings,
    /// The newest snapshot's metadata.
    pub latest: Option<SnapshotInfo>,
    /// Cookie domains of the newest snapshot.
    pub cookie_domains: Vec<String>,
    /// Origins with storage in the newest snapshot.
    pub origins: Vec<String>,
}

/// Encodes a snapshot's content.
pub fn encode_state(state: &BrowserState) -> Result<Vec<u8>> {
    encode(state, "snapshot")
}

/// Decodes a snapshot's content written with snapshot schema `schema`.
///
/// Schema 2 is strict: the body is the typed `BrowserState`. Schema 1 is lenient about one
/// member only: an origin's `indexedDB`, stored verbatim then, is decoded with the validation
/// `profile import` applies; when that fails it is kept verbatim as [`INDEXED_DB_UNPARSED`]
/// instead of failing the whole snapshot.
pub fn decode_state(bytes: &[u8], schema: u16) -> Result<BrowserState> {
    match schema {
        1 => decode_state_v1(bytes),
        2 => decode(bytes, "snapshot content"),
        other => Err(VaultError::UnsupportedVersion {
            what: "snapshot schema",
            found: other.into(),
            supported: "1, 2".into(),
        }),
    }
}

fn decode_state_v1(bytes: &[u8]) -> Result<BrowserState> {
    let mut doc: Value = decode(bytes, "snapshot content")?;
    if let Some(origins) = doc.get_mut("origins").and_then(Value::as_array_mut) {
        for (i, origin) in origins.iter_mut().enumerate() {
            let Some(o) = origin.as_object_mut() else {
                continue;
            };
            match o.get("indexedDB") {
                None | Some(Value::Null) => continue,
                Some(idb) => {
                    let path = format!("origins[{i}].indexedDB");
                    match pvault_model::import_databases(idb, &path) {
                        Ok(dbs) => {
                            let typed = serde_json::to_value(dbs).map_err(|e| {
                                VaultError::corrupt(format!("{path} does not re-encode: {e}"))
                            })?;
                            o.insert("indexedDB".into(), typed);
                        }
                        Err(_) => {
                            if o.contains_key(INDEXED_DB_UNPARSED) {
                                return Err(VaultError::corrupt(format!(
                                    "origins[{i}] has both an invalid indexedDB and {INDEXED_DB_UNPARSED}"
                                )));
                            }
                            let raw = o.remove("indexedDB").unwrap_or_default();
                            o.insert(INDEXED_DB_UNPARSED.into(), raw);
                        }
                    }
                }
            }
        }
    }
    serde_json::from_value(doc)
        .map_err(|e| VaultError::corrupt(format!("snapshot content does not decode: {e}")))
}

/// Encodes profile metadata.
pub fn encode_meta(meta: &ProfileMeta) -> Result<Vec<u8>> {
    encode(meta, "profile metadata")
}

/// Decodes profile metadata.
pub fn decode_meta(bytes: &[u8]) -> Result<ProfileMeta> {
    decode(bytes, "profile metadata")
}

/// Encodes snapshot metadata.
pub fn encode_info(info: &SnapshotInfo) -> Result<Vec<u8>> {
    encode(info, "snapshot info")
}

/// Decodes snapshot metadata.
pub fn decode_info(bytes: &[u8]) -> Result<SnapshotInfo> {
    decode(bytes, "snapshot info")
}

/// SHA-256 of an encoded snapshot, lowercase hex.
pub fn content_hash(encoded: &[u8]) -> String {
    hex::encode(Sha256::digest(encoded))
}

/// Builds the [`SnapshotInfo`] of encoded content.
pub fn info_for(
    id: &str,
    seq: u64,
    created_at: i64,
    kind: SnapshotKind,
    state: &BrowserState,
    encoded: &[u8],
) -> SnapshotInfo {
    SnapshotInfo {
        id: id.to_owned(),
        seq,
        created_at,
        kind,
        content_hash: content_hash(encoded),
        size_bytes: encoded.len() as u64,
        cookie_count: state.cookies.len() as u64,
        origin_count: state.origins.len() as u64,
        local_storage_key_count: state.local_storage_key_count() as u64,
        session_storage_key_count: state.session_storage_key_count() as u64,
        indexed_db_record_count: state.indexed_db_record_count() as u64,
    }
}

/// Wire code of a snapshot kind (stored in `snapshots.kind`).
pub fn kind_code(kind: SnapshotKind) -> i64 {
    match kind {
        SnapshotKind::Import => 1,
        SnapshotKind::SessionSave => 2,
        SnapshotKind::Capture => 3,
        SnapshotKind::Checkpoint => 4,
        SnapshotKind::Restore => 5,
    }
}

fn encode<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>> {
    let mut out = vec![PLAINTEXT_VERSION];
    serde_json::to_writer(&mut out, value).map_err(|e| VaultError::InvalidArgument {
        what: "state",
        reason: format!("{what} cannot be encoded: {e}"),
    })?;
    Ok(out)
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    let (&version, json) = bytes
        .split_first()
        .ok_or_else(|| VaultError::corrupt(format!("empty {what} plaintext")))?;
    if version != PLAINTEXT_VERSION {
        return Err(VaultError::UnsupportedVersion {
            what: "record plaintext",
            found: version.into(),
            supported: PLAINTEXT_VERSION.to_string(),
        });
    }
    serde_json::from_slice(json)
        .map_err(|e| VaultError::corrupt(format!("{what} does not decode: {e}")))
}

#[cfg(test)]
mod tests {
    //! The plaintext framing rules of vault-format.md section 6 that the integration tests
    //! cannot reach through the public API.

    use super::*;

    #[test]
    fn plaintext_framing_is_strict() {
        let ok = encode_state(&BrowserState::default()).unwrap();
        assert_eq!(ok, b"\x01{\"cookies\":[],\"origins\":[]}");
        assert_eq!(
            decode_state(&ok, RECORD_SCHEMA_VERSION).unwrap(),
            BrowserState::default()
        );
        let mut trailing_ws = ok.clone();
        trailing_ws.extend_from_slice(b" \n");
        assert!(decode_state(&trailing_ws, RECORD_SCHEMA_VERSION).is_ok());
        let mut trailing = ok.clone();
        trailing.extend_from_slice(b"x");
        assert!(matches!(
            decode_state(&trailing, RECORD_SCHEMA_VERSION),
            Err(VaultError::Corrupt { .. })
        ));
        let mut v2 = ok.clone();
        v2[0] = 2;
        assert!(matches!(
            decode_state(&v2, RECORD_SCHEMA_VERSION),
            Err(VaultError::UnsupportedVersion { found: 2, .. })
        ));
        assert!(matches!(
            decode_state(b"", RECORD_SCHEMA_VERSION),
            Err(VaultError::Corrupt { .. })
        ));
        // Profile metadata refuses unknown members (it is ours alone; nothing may hide there).
        let meta = b"\x01{\"name\":\"a\",\"description\":null,\"settings\":{},\"latest\":null,\"cookie_domains\":[],\"origins\":[],\"x\":1}";
        assert!(decode_meta(meta).is_err());
    }
}
