//! `cargo fuzz run http-json`: see `oxbridge_fuzz::http_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oxbridge_fuzz::http_json(data));
