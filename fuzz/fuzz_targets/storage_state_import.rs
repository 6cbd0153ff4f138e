//! Fuzzes the Playwright storageState importer: no input may panic it, and any accepted input
//! must export to JSON that imports again and exports identically. The check itself lives in
//! `pvault_model::fuzz_support` so the normal test suite runs it too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pvault_model::fuzz_support::storage_state_import(data);
});
