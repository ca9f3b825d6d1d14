//! The server's one error type for a failed call, converted once at each
//! bridge's boundary: problem+json for HTTP, an `{"error": ...}` reply for IPC,
//! a `Status` for gRPC.

use std::fmt;

use oxbridge_core::{CoreError, ErrorKind};

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
    /// The error's kind, from the core's one table ([`ErrorKind`]): its wire
    /// name, HTTP status, gRPC code and Python class all come from there.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            CallError::Core(e) => e.kind(),
            CallError::BadRequest(_) => ErrorKind::BadRequest,
            CallError::TooLarge { .. } => ErrorKind::PayloadTooLarge,
            CallError::NotFound(_) => ErrorKind::NotFound,
            CallError::MethodNotAllowed(_) => ErrorKind::MethodNotAllowed,
            CallError::UnsupportedMediaType(_) => ErrorKind::UnsupportedMediaType,
            CallError::PermissionDenied(_) => ErrorKind::PermissionDenied,
            CallError::Timeout(_) => ErrorKind::Timeout,
            CallError::Unavailable(_) => ErrorKind::Unavailable,
            CallError::Internal(_) => ErrorKind::Internal,
        }
    }

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

/// Why a server could not start.
#[derive(Debug)]
pub enum StartError {
    /// A TCP address is taken by another process.
    AddrInUse(&'static str, std::net::SocketAddr),
    /// A live server already answers on this socket path.
    SocketInUse(std::path::PathBuf),
    /// A non-loopback address without `allow_remote`.
    NotLoopback(&'static str, std::net::SocketAddr),
    /// Any other I/O failure, with what was being done.
    Io(String, std::io::ErrorKind),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::AddrInUse(bridge, addr) => write!(
                f,
                "cannot serve {bridge} on {addr}: the address is already in use (another server running?)"
            ),
            StartError::SocketInUse(path) => write!(
                f,
                "cannot serve ipc on {}: a live server already answers there",
                path.display()
            ),
            StartError::NotLoopback(bridge, addr) => write!(
                f,
                "refusing to serve {bridge} on {addr}: not a loopback address; pass --allow-remote to serve other hosts"
            ),
            StartError::Io(what, _) => f.write_str(what),
        }
    }
}

impl std::error::Error for StartError {}
