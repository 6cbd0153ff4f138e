//! The checks the fuzz targets run, kept here so the normal test suite runs them too (the
//! fuzz harness in `fuzz/` needs a nightly-like toolchain; these functions do not).

use crate::export::export_storage_state;
use crate::storage_state::import_storage_state;

/// Imports `data`; if it is accepted, checks that its export is a fixed point: the exported
/// JSON imports again and exports to the identical JSON. Panics on any violation.
pub fn storage_state_import(data: &[u8]) {
    let Ok(state) = import_storage_state(data) else {
        return;
    };
    let first = export_storage_state(&state);
    let bytes = serde_json::to_vec(&first).expect("exported JSON serializes");
    let again = import_storage_state(&bytes)
        .unwrap_or_else(|e| panic!("export of an accepted file was refused: {e}"));
    assert_eq!(
        export_storage_state(&again),
        first,
        "export → import → export changed the JSON"
    );
}
