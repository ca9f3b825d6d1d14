//! `cargo fuzz run shared-frame`: see `oxbridge_fuzz::shared_frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oxbridge_fuzz::shared_frame(data));
