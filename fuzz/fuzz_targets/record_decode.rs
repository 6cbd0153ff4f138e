//! Fuzzes the vault's record decoder (size cap, AEAD open, plaintext decoders) with arbitrary
//! bytes: it must never panic or allocate unboundedly.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pvault_vault::fuzz_support::decode_record(data);
});
