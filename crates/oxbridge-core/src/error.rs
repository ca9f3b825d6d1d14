//! The core's one error type, and the stable kinds every bridge maps it to.

use std::fmt;

/// Everything the core can refuse. Messages are part of the contract: every
/// bridge shows exactly `to_string()` of this value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreError {
    /// Division of a complex number by zero.
    ZeroDivision,
    /// A zero divisor at `index` in a batch division.
    ZeroDivisionAt {
        /// The first index whose divisor is zero.
        index: usize,
    },
    /// Text that is not valid UTF-8 (from a C caller, or a Python `str` with
    /// lone surrogates).
    InvalidUtf8 {
        /// The argument's name.
        arg: &'static str,
    },
    /// An operation name that is none of `add`, `sub`, `mul`, `div`.
    UnknownOperation(String),
    /// Batch operands of different lengths.
    LengthMismatch {
        /// Length of `a`.
        a: usize,
        /// Length of `b`.
        b: usize,
    },
    /// Any other invalid argument, with its explanation.
    InvalidArgument(String),
}

/// The stable classification of an error, shared by all bridges: the C ABI's
/// status code, the network bridges' error code, the Python exception class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorKind {
    /// Division by zero (Python: `ZeroDivisionError`).
    ZeroDivision = 1,
    /// A bad argument value (Python: `ValueError`).
    InvalidArgument = 2,
    /// A fault of oxbridge itself, such as a caught panic (Python: `RuntimeError`).
    Internal = 3,
}

impl ErrorKind {
    /// The wire name of the kind, used by the HTTP, IPC and gRPC bridges.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::ZeroDivision => "zero_division",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Internal => "internal",
        }
    }

    /// The numeric code, used by the C ABI.
    #[must_use]
    pub const fn code(self) -> i32 {
        self as i32
    }
}

impl CoreError {
    /// How every bridge classifies this error.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        match self {
            CoreError::ZeroDivision | CoreError::ZeroDivisionAt { .. } => ErrorKind::ZeroDivision,
            CoreError::InvalidUtf8 { .. }
            | CoreError::UnknownOperation(_)
            | CoreError::LengthMismatch { .. }
            | CoreError::InvalidArgument(_) => ErrorKind::InvalidArgument,
        }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // CPython's own wording for `complex / 0`.
            CoreError::ZeroDivision => f.write_str("complex division by zero"),
            CoreError::ZeroDivisionAt { index } => {
                write!(f, "complex division by zero at index {index}")
            }
            CoreError::InvalidUtf8 { arg } => {
                write!(f, "argument '{arg}' is not valid UTF-8 text")
            }
            CoreError::UnknownOperation(name) => write!(
                f,
                "unknown operation {name:?}: expected one of add, sub, mul, div"
            ),
            CoreError::LengthMismatch { a, b } => write!(
                f,
                "operands have different lengths: a has {a} elements, b has {b}"
            ),
            CoreError::InvalidArgument(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CoreError {}
