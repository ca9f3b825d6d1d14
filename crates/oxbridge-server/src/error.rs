//! The server's one error type for a failed call, converted once at each
//! bridge's boundary: problem+json for HTTP, an `{"error": ...}` reply for IPC,
//! a `Status` for gRPC.

use std::fmt;

use oxbridge_core::CoreError;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The core refused the call (zero divisor, invalid text, ...).
    Core(CoreError),
    /// The request could not be decoded: malformed JSON, wrong field types,
    /// missing fields, a truncated frame.
    BadRequest(String),
    /// The request was larger than the server's limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// No such operation, path or command.
    NotFound(String),
    /// The path exists, but not for this method.
    MethodNotAllowed(String),
    /// The body is not of the media type the endpoint reads.
    UnsupportedMediaType(String),
    /// The caller may not use the server (missing or wrong token, another user).
    PermissionDenied(String),
    /// The client did not send its request in time.
    Timeout(String),
    /// The server cannot take the call now (too many connections, its memory
    /// budget in use); the same call may succeed later.
    Unavailable(String),
    /// A fault of the server itself.
    Internal(String),
}

impl CallError {
    /// The stable wire name of the error's kind, shared with the Python client.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Core(e) => e.kind().name(),
            CallError::BadRequest(_) => "bad_request",
            CallError::TooLarge { .. } => "payload_too_large",
            CallError::NotFound(_) => "not_found",
            CallError::MethodNotAllowed(_) => "method_not_allowed",
            CallError::UnsupportedMediaType(_) => "unsupported_media_type",
            CallError::PermissionDenied(_) => "permission_denied",
            CallError::Timeout(_) => "timeout",
            CallError::Unavailable(_) => "unavailable",
            CallError::Internal(_) => "internal",
        }
    }

    /// Every kind a server reports, core kinds included: the Python client
    /// must map each of them to its own class (a test checks it).
    pub const KINDS: &'static [&'static str] = &[
        "zero_division",
        "invalid_argument",
        "internal",
        "bad_request",
        "payload_too_large",
        "not_found",
        "method_not_allowed",
        "unsupported_media_type",
        "permission_denied",
        "timeout",
        "unavailable",
    ];

    /// Whether the client is to blame (logged at most at WARN, or DEBUG).
    #[must_use]
    pub fn is_client_error(&self) -> bool {
        !matches!(self, CallError::Internal(_))
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Core(e) => e.fmt(f),
            CallError::BadRequest(m)
            | CallError::NotFound(m)
            | CallError::MethodNotAllowed(m)
            | CallError::UnsupportedMediaType(m)
            | CallError::PermissionDenied(m)
            | CallError::Timeout(m)
            | CallError::Unavailable(m)
            | CallError::Internal(m) => f.write_str(m),
            CallError::TooLarge { limit } => {
                write!(
                    f,
                    "request is larger than the server's limit of {limit} bytes"
                )
            }
        }
    }
}

impl std::error::Error for CallError {}

impl From<CoreError> for CallError {
    fn from(e: CoreError) -> Self {
        CallError::Core(e)
    }
}
