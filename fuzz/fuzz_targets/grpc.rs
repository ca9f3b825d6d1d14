//! `cargo fuzz run grpc`: see `oxbridge_fuzz::grpc`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oxbridge_fuzz::grpc(data));
