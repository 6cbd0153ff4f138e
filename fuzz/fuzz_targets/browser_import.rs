//! Fuzzes what the browser importer decodes from a user's browser files (a localStorage
//! record; a cookie row's encrypted value, digest prefix and columns) with arbitrary bytes:
//! it must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pvault_import::fuzz_support::decode(data);
});
