//! b64: Base64 from the `base64` crate, reachable from Python six ways
//! (PyO3, ctypes, cffi, IPC, HTTP, gRPC) through oxbridge, each function
//! giving what Python's own `base64` module gives.
//!
//! Made by `oxbridge new b64`; this file is all there is to the library.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, Engine as _, GeneralPurpose, GeneralPurposeConfig};
use oxbridge_core::{CoreError, ErrorKind};

/// Python's strict decoder (`binascii.a2b_base64(strict_mode=True)`): padding
/// required and canonical, and bits past the last byte ignored, as Python does.
const STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

oxbridge_core::export! {
    /// Base64, as Python's `base64` module encodes and decodes it.
    pub static LIBRARY = "b64", signatures b64_signatures;

    /// `base64.b64encode(data).decode()`: `data` in the standard alphabet,
    /// padded with `=`.
    #[result(text)]
    pub fn encode(data: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(data)
    }

    /// `base64.urlsafe_b64encode(data).decode()`: `-` and `_` in place of
    /// `+` and `/`, padded.
    #[result(text)]
    pub fn encode_urlsafe(data: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE.encode(data)
    }

    /// `base64.b64decode(text, validate=True)`: the bytes `text` encodes; text
    /// with a character outside the standard alphabet, or padded wrongly,
    /// raises `ValueError`, as Python's `binascii.Error` is one.
    #[raises(InvalidArgument)]
    #[result(data)]
    pub fn decode(text: &str) -> Result<Vec<u8>, CoreError> {
        STRICT
            .decode(text)
            .map_err(|e| CoreError::new(ErrorKind::InvalidArgument, format!("invalid base64: {e}")))
    }
}

oxbridge_ffi::library!(LIBRARY, b64_signatures);
