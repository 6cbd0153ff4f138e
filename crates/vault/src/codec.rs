//! Plaintext encodings of sealed records, and their size caps.
//!
//! Every record plaintext is `version(u8) ‖ compact JSON`. The JSON is what serde_json writes
//! for the model types in their declared field order (with `float_roundtrip`, so cookie
//! expiries come back bit-for-bit); unknown CDP fields kept in `extra` keep their order
//! (`preserve_order`). A snapshot's content hash is SHA-256 over exactly these bytes.

use pvault_model::{BrowserState, SessionSettings, SnapshotInfo, SnapshotKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, VaultError};

/// Version byte of every record plaintext this build writes and reads.
pub const PLAINTEXT_VERSION: u8 = 1;
/// Schema version of records (bound in the AAD, stored in `snapshots.schema_version`).
pub const RECORD_SCHEMA_VERSION: u16 = 1;

/// Largest sealed snapshot body accepted (checked before decrypting).
pub const MAX_BODY_SEALED: usize = 64 * 1024 * 1024;
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

/// Decodes a snapshot's content.
pub fn decode_state(bytes: &[u8]) -> Result<BrowserState> {
    decode(bytes, "snapshot content")
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
        assert_eq!(decode_state(&ok).unwrap(), BrowserState::default());
        let mut trailing_ws = ok.clone();
        trailing_ws.extend_from_slice(b" \n");
        assert!(decode_state(&trailing_ws).is_ok());
        let mut trailing = ok.clone();
        trailing.extend_from_slice(b"x");
        assert!(matches!(
            decode_state(&trailing),
            Err(VaultError::Corrupt { .. })
        ));
        let mut v2 = ok.clone();
        v2[0] = 2;
        assert!(matches!(
            decode_state(&v2),
            Err(VaultError::UnsupportedVersion { found: 2, .. })
        ));
        assert!(matches!(decode_state(b""), Err(VaultError::Corrupt { .. })));
        // Profile metadata refuses unknown members (it is ours alone; nothing may hide there).
        let meta = b"\x01{\"name\":\"a\",\"description\":null,\"settings\":{},\"latest\":null,\"cookie_domains\":[],\"origins\":[],\"x\":1}";
        assert!(decode_meta(meta).is_err());
    }
}
