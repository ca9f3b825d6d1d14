//! `cargo fuzz run c-abi`: see `oxbridge_fuzz::c_abi`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oxbridge_fuzz::c_abi(data));
