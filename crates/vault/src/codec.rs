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

use pvault_model::{
    BrowserState, HealthDefinition, HealthResult, SessionSettings, SnapshotInfo, SnapshotKind,
    StorageStateError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Result, VaultError};

/// Version byte of snapshot-body plaintexts (unchanged since format 1), and of every record
/// plaintext a format-1 vault holds.
pub const PLAINTEXT_VERSION: u8 = 1;
/// Version byte of the chained snapshot-info and profile-metadata plaintexts of format 2 (read
/// only by the upgrade to format 3).
pub const FORMAT2_PLAINTEXT_VERSION: u8 = 2;
/// Version byte of the snapshot-info and profile-metadata plaintexts of format 3 (format 2
/// plus the logout mark, the current snapshot and login health). An older sealed info or
/// metadata put back into a format-3 vault still authenticates (the AAD did not change) but
/// carries byte 1 or 2, and is refused.
pub const CHAINED_PLAINTEXT_VERSION: u8 = 3;
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

/// A link of a profile's history: the seq and content hash of one snapshot. A snapshot's
/// sealed info names its predecessor this way; the profile's metadata names the last pruned
/// snapshot this way (the anchor the oldest kept snapshot links to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// The snapshot's seq.
    pub seq: u64,
    /// Its `content_hash` (lowercase hex SHA-256 of the body plaintext).
    pub content_hash: String,
}

/// The sealed metadata of a profile (`profiles.meta`, format 3): everything `list_profiles`
/// shows, the plaintext columns it must agree with, and the head of the history chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileMeta {
    /// The profile name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Default session settings.
    pub settings: SessionSettings,
    /// The newest snapshot's metadata: the head of the chain (its seq and content hash).
    pub latest: Option<SnapshotInfo>,
    /// Cookie domains of the newest snapshot.
    pub cookie_domains: Vec<String>,
    /// Origins with storage in the newest snapshot.
    pub origins: Vec<String>,
    /// Sealed copy of `profiles.created_at`.
    pub created_at: i64,
    /// Sealed copy of `profiles.updated_at`.
    pub updated_at: i64,
    /// Sealed copy of `profiles.last_used_at`.
    pub last_used_at: Option<i64>,
    /// Sealed copy of `profiles.next_seq`.
    pub next_seq: u64,
    /// Number of snapshot rows the profile has.
    pub snapshot_count: u64,
    /// The newest snapshot retention removed (the oldest kept snapshot's predecessor), or
    /// `None` when the chain starts at the oldest kept snapshot.
    pub anchor: Option<Link>,
    /// The snapshot sessions, exports and checks load: the newest one the logout guard did
    /// not mark, or `None` when there is none (retention never removes it).
    pub current: Option<Link>,
    /// The login health definition, if set.
    pub health: Option<HealthDefinition>,
    /// The last health check's result, if one ran since the definition was set.
    pub health_result: Option<HealthResult>,
}

impl ProfileMetaV2 {
    /// The format-3 metadata of a format-2 one: no mark existed, so the head is current.
    pub fn upgraded(self) -> ProfileMeta {
        let current = self.latest.as_ref().map(|h| Link {
            seq: h.seq,
            content_hash: h.content_hash.clone(),
        });
        ProfileMeta {
            name: self.name,
            description: self.description,
            settings: self.settings,
            latest: self.latest,
            cookie_domains: self.cookie_domains,
            origins: self.origins,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_used_at: self.last_used_at,
            next_seq: self.next_seq,
            snapshot_count: self.snapshot_count,
            anchor: self.anchor,
            current,
            health: None,
            health_result: None,
        }
    }
}

/// Profile metadata as format 2 sealed it (read only by the upgrade to format 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileMetaV2 {
    /// The profile name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Default session settings.
    pub settings: SessionSettings,
    /// The newest snapshot's metadata: the head of the chain (its seq and content hash).
    pub latest: Option<SnapshotInfo>,
    /// Cookie domains of the newest snapshot.
    pub cookie_domains: Vec<String>,
    /// Origins with storage in the newest snapshot.
    pub origins: Vec<String>,
    /// Sealed copy of `profiles.created_at`.
    pub created_at: i64,
    /// Sealed copy of `profiles.updated_at`.
    pub updated_at: i64,
    /// Sealed copy of `profiles.last_used_at`.
    pub last_used_at: Option<i64>,
    /// Sealed copy of `profiles.next_seq`.
    pub next_seq: u64,
    /// Number of snapshot rows the profile has.
    pub snapshot_count: u64,
    /// The newest snapshot retention removed (the oldest kept snapshot's predecessor), or
    /// `None` when the chain starts at the oldest kept snapshot.
    pub anchor: Option<Link>,
}

/// Profile metadata as format 1 sealed it (read only by the upgrade).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileMetaV1 {
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

/// A snapshot's sealed info in format 3: the public [`SnapshotInfo`], the plaintext columns
/// it must agree with, and the link to its predecessor. Every member is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainedInfo {
    /// `hex(snapshot_id)`.
    pub id: String,
    /// Position in the profile's history.
    pub seq: u64,
    /// Creation time (sealed copy of `snapshots.created_at`).
    pub created_at: i64,
    /// How it was made.
    pub kind: SnapshotKind,
    /// SHA-256 of the body plaintext, lowercase hex.
    pub content_hash: String,
    /// Length of the body plaintext (sealed copy of `snapshots.size_bytes`).
    pub size_bytes: u64,
    /// Cookies in the body.
    pub cookie_count: u64,
    /// Origins in the body.
    pub origin_count: u64,
    /// localStorage items over all origins.
    pub local_storage_key_count: u64,
    /// sessionStorage items over all origins (0 for schema-1 bodies).
    pub session_storage_key_count: u64,
    /// IndexedDB records over all origins (0 for schema-1 bodies).
    pub indexed_db_record_count: u64,
    /// Sealed copy of `snapshots.session_id`.
    pub session_id: Option<String>,
    /// The previous kept snapshot when this one was written or relinked, `None` for the
    /// first snapshot of a chain.
    pub prev: Option<Link>,
    /// Marked by the logout guard: kept, but not current until accepted.
    pub logged_out: bool,
}

/// A snapshot's sealed info as format 2 sealed it (read only by the upgrade to format 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainedInfoV2 {
    /// `hex(snapshot_id)`.
    pub id: String,
    /// Position in the profile's history.
    pub seq: u64,
    /// Creation time (sealed copy of `snapshots.created_at`).
    pub created_at: i64,
    /// How it was made.
    pub kind: SnapshotKind,
    /// SHA-256 of the body plaintext, lowercase hex.
    pub content_hash: String,
    /// Length of the body plaintext (sealed copy of `snapshots.size_bytes`).
    pub size_bytes: u64,
    /// Cookies in the body.
    pub cookie_count: u64,
    /// Origins in the body.
    pub origin_count: u64,
    /// localStorage items over all origins.
    pub local_storage_key_count: u64,
    /// sessionStorage items over all origins (0 for schema-1 bodies).
    pub session_storage_key_count: u64,
    /// IndexedDB records over all origins (0 for schema-1 bodies).
    pub indexed_db_record_count: u64,
    /// Sealed copy of `snapshots.session_id`.
    pub session_id: Option<String>,
    /// The previous kept snapshot when this one was written or relinked, `None` for the
    /// first snapshot of a chain.
    pub prev: Option<Link>,
}

impl ChainedInfo {
    /// Builds the chained info of a public info.
    pub fn new(info: &SnapshotInfo, session_id: Option<&str>, prev: Option<Link>) -> ChainedInfo {
        // The mark travels in the public view too (`logged_out`).
        ChainedInfo {
            id: info.id.clone(),
            seq: info.seq,
            created_at: info.created_at,
            kind: info.kind,
            content_hash: info.content_hash.clone(),
            size_bytes: info.size_bytes,
            cookie_count: info.cookie_count,
            origin_count: info.origin_count,
            local_storage_key_count: info.local_storage_key_count,
            session_storage_key_count: info.session_storage_key_count,
            indexed_db_record_count: info.indexed_db_record_count,
            session_id: session_id.map(str::to_owned),
            prev,
            logged_out: info.logged_out,
        }
    }

    /// The public view.
    pub fn public(&self) -> SnapshotInfo {
        SnapshotInfo {
            id: self.id.clone(),
            seq: self.seq,
            created_at: self.created_at,
            kind: self.kind,
            content_hash: self.content_hash.clone(),
            size_bytes: self.size_bytes,
            cookie_count: self.cookie_count,
            origin_count: self.origin_count,
            local_storage_key_count: self.local_storage_key_count,
            session_storage_key_count: self.session_storage_key_count,
            indexed_db_record_count: self.indexed_db_record_count,
            logged_out: self.logged_out,
        }
    }

    /// This snapshot as a link.
    pub fn link(&self) -> Link {
        Link {
            seq: self.seq,
            content_hash: self.content_hash.clone(),
        }
    }
}

impl ChainedInfoV2 {
    /// The format-3 info of a format-2 one: no mark existed.
    pub fn upgraded(self) -> ChainedInfo {
        ChainedInfo {
            id: self.id,
            seq: self.seq,
            created_at: self.created_at,
            kind: self.kind,
            content_hash: self.content_hash,
            size_bytes: self.size_bytes,
            cookie_count: self.cookie_count,
            origin_count: self.origin_count,
            local_storage_key_count: self.local_storage_key_count,
            session_storage_key_count: self.session_storage_key_count,
            indexed_db_record_count: self.indexed_db_record_count,
            session_id: self.session_id,
            prev: self.prev,
            logged_out: false,
        }
    }
}

/// Encodes a snapshot's content, after checking its IndexedDB records as a read will: a
/// record that breaks them is refused here (`InvalidArgument`, naming the record), never
/// written as a snapshot that could not be read back.
pub fn encode_state(state: &BrowserState) -> Result<Vec<u8>> {
    check_records(state).map_err(|e| VaultError::InvalidArgument {
        what: "snapshot's IndexedDB",
        reason: format!("{}: {}", e.path, e.reason),
    })?;
    encode(state, "snapshot")
}

/// Decodes a snapshot's content written with snapshot schema `schema`.
///
/// Schema 2 is strict: the body is the typed `BrowserState`. Schema 1 is lenient about one
/// member only: an origin's `indexedDB`, stored verbatim then, is decoded with the validation
/// `profile import` applies; when that fails it is kept verbatim as [`INDEXED_DB_UNPARSED`]
/// instead of failing the whole snapshot.
///
/// Either schema refuses an object with a duplicate member, known or not, at any depth.
pub fn decode_state(bytes: &[u8], schema: u16) -> Result<BrowserState> {
    match schema {
        1 => decode_state_v1(bytes),
        2 => {
            let state: BrowserState = decode_body(bytes)?;
            check_records(&state).map_err(|e| {
                VaultError::corrupt(format!(
                    "snapshot content does not decode: {}: {}",
                    e.path, e.reason
                ))
            })?;
            Ok(state)
        }
        other => Err(VaultError::UnsupportedVersion {
            what: "snapshot schema",
            found: other.into(),
            supported: "1, 2".into(),
        }),
    }
}

/// The record rules of vault-format.md 6.2 and 6.3 that typed decoding does not enforce (one
/// value form, at most one key form, valid tagged encodings and keys), for every IndexedDB
/// record of a schema-2 body. Schema 1 gets them through `import_databases`.
fn check_records(state: &BrowserState) -> std::result::Result<(), StorageStateError> {
    for (i, origin) in state.origins.iter().enumerate() {
        for (d, db) in origin
            .indexed_db
            .as_deref()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .enumerate()
        {
            for (s, store) in db.stores.iter().enumerate() {
                for (r, rec) in store.records.iter().enumerate() {
                    let at = format!("origins[{i}].indexedDB[{d}].stores[{s}].records[{r}]");
                    pvault_model::check_record(rec, &at)?;
                }
            }
        }
    }
    Ok(())
}

/// Decodes a body plaintext after refusing duplicate members anywhere in it (decoding into a
/// map or a `Value` would keep the last one silently).
fn decode_body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T> {
    if let Some((&PLAINTEXT_VERSION, json)) = bytes.split_first() {
        crate::strict_json::refuse_duplicate_members(json)
            .map_err(|e| VaultError::corrupt(format!("snapshot content does not decode: {e}")))?;
    }
    decode(bytes, "snapshot content")
}

fn decode_state_v1(bytes: &[u8]) -> Result<BrowserState> {
    let mut doc: Value = decode_body(bytes)?;
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

/// Encodes profile metadata (format 3).
pub fn encode_meta(meta: &ProfileMeta) -> Result<Vec<u8>> {
    encode_versioned(meta, CHAINED_PLAINTEXT_VERSION, "profile metadata")
}

/// Decodes profile metadata (format 3).
pub fn decode_meta(bytes: &[u8]) -> Result<ProfileMeta> {
    decode_versioned(bytes, CHAINED_PLAINTEXT_VERSION, "profile metadata")
}

/// Decodes format-2 profile metadata (the upgrade to format 3 reads it once).
pub fn decode_meta_v2(bytes: &[u8]) -> Result<ProfileMetaV2> {
    decode_versioned(bytes, FORMAT2_PLAINTEXT_VERSION, "profile metadata")
}

/// Decodes format-1 profile metadata (the upgrade reads it once).
pub fn decode_meta_v1(bytes: &[u8]) -> Result<ProfileMetaV1> {
    decode(bytes, "profile metadata")
}

/// Encodes a chained snapshot info (format 3).
pub fn encode_info(info: &ChainedInfo) -> Result<Vec<u8>> {
    encode_versioned(info, CHAINED_PLAINTEXT_VERSION, "snapshot info")
}

/// Decodes a chained snapshot info (format 3).
pub fn decode_info(bytes: &[u8]) -> Result<ChainedInfo> {
    decode_versioned(bytes, CHAINED_PLAINTEXT_VERSION, "snapshot info")
}

/// Decodes a format-2 snapshot info (the upgrade to format 3 reads it once).
pub fn decode_info_v2(bytes: &[u8]) -> Result<ChainedInfoV2> {
    decode_versioned(bytes, FORMAT2_PLAINTEXT_VERSION, "snapshot info")
}

/// Decodes a format-1 snapshot info (the upgrade reads it once); a schema-1 info lacks the
/// two counts schema 2 added, which read as 0.
pub fn decode_info_v1(bytes: &[u8]) -> Result<SnapshotInfo> {
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
        logged_out: false,
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
    encode_versioned(value, PLAINTEXT_VERSION, what)
}

fn encode_versioned<T: Serialize>(value: &T, version: u8, what: &str) -> Result<Vec<u8>> {
    let mut out = vec![version];
    serde_json::to_writer(&mut out, value).map_err(|e| VaultError::InvalidArgument {
        what: "state",
        reason: format!("{what} cannot be encoded: {e}"),
    })?;
    Ok(out)
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    decode_versioned(bytes, PLAINTEXT_VERSION, what)
}

fn decode_versioned<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    expected: u8,
    what: &str,
) -> Result<T> {
    let (&version, json) = bytes
        .split_first()
        .ok_or_else(|| VaultError::corrupt(format!("empty {what} plaintext")))?;
    if version != expected {
        return Err(VaultError::UnsupportedVersion {
            what: "record plaintext",
            found: version.into(),
            supported: expected.to_string(),
        });
    }
    serde_json::from_slice(json)
        .map_err(|e| VaultError::corrupt(format!("{what} does not decode: {e}")))
}

#[cfg(test)]
mod tests;
