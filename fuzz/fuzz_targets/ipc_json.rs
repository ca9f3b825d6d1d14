//! `cargo fuzz run ipc-json`: see `oxbridge_fuzz::ipc_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oxbridge_fuzz::ipc_json(data));
