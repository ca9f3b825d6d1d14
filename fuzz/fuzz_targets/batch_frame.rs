//! `cargo fuzz run batch-frame`: see `oxbridge_fuzz::batch_frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oxbridge_fuzz::batch_frame(data));
