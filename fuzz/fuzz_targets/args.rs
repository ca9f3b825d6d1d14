//! `cargo fuzz run args`: see `oxbridge_fuzz::args`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oxbridge_fuzz::args(data));
