//! Entry points for the fuzz targets (`fuzz/fuzz_targets/record_decode.rs`). Not a stable API.

use crate::codec::{self, MAX_BODY_SEALED, READABLE_SNAPSHOT_SCHEMAS, RECORD_SCHEMA_VERSION};
use crate::keys::SecretKey;
use crate::seal::{self, RecordKind};

/// Runs the record decoding path on arbitrary bytes: the size cap, the AEAD open under a fixed
/// test key and AAD, and (since random bytes never authenticate) every plaintext decoder
/// directly on the input. Must never panic or allocate unboundedly.
pub fn decode_record(data: &[u8]) {
    if data.len() > MAX_BODY_SEALED {
        return;
    }
    let key = SecretKey::from_slice(&[0x42; 32]).expect("32 bytes");
    let ids = [0x11u8; 16];
    for kind in [
        RecordKind::ProfileMeta,
        RecordKind::SnapshotBody,
        RecordKind::SnapshotInfo,
    ] {
        let aad = seal::aad_record(&ids, &ids, &ids, kind, RECORD_SCHEMA_VERSION);
        if let Some(pt) = seal::open(&key, &aad, data) {
            let _ = codec::decode_state(&pt, RECORD_SCHEMA_VERSION);
        }
    }
    for schema in READABLE_SNAPSHOT_SCHEMAS {
        let _ = codec::decode_state(data, schema);
    }
    let _ = codec::decode_meta(data);
    let _ = codec::decode_info(data);
    let _ = codec::decode_meta_v1(data);
    let _ = codec::decode_info_v1(data);
}
