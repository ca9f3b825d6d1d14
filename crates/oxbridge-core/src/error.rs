//! The core's one error type, and the stable kinds every bridge maps it to.

use std::borrow::Cow;
use std::fmt;

pub use crate::kinds::ErrorKind;

/// Everything the core can refuse. Messages are part of the contract: every
/// bridge shows exactly `to_string()` of this value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreError {
    /// Division of a complex number by zero.
    ZeroDivision,
    /// The error of element `index` of a batch: the first element that failed.
    At {
        /// The index of the failing element in the caller's whole array.
        index: usize,
        /// What went wrong there.
        error: Box<CoreError>,
    },
    /// Text that is not valid UTF-8 (from a C caller, or a Python `str` with
    /// lone surrogates).
    InvalidUtf8 {
        /// The argument's name.
        arg: &'static str,
    },
    /// A function or operation name the library does not export.
    UnknownOperation(String),
    /// Array arguments of different lengths in a `_many` call.
    LengthMismatch {
        /// The first array argument.
        first: &'static str,
        /// Its length.
        first_len: usize,
        /// The first array argument of another length.
        other: &'static str,
        /// Its length.
        other_len: usize,
    },
    /// Any other invalid argument, with its explanation.
    InvalidArgument(String),
    /// An error of any kind with its message, as an exported function raises it
    /// (for instance [`ErrorKind::Overflow`], "absolute value too large").
    Other {
        /// Its classification.
        kind: ErrorKind,
        /// Its message, exactly as every bridge shows it.
        message: Cow<'static, str>,
    },
}

impl CoreError {
    /// An error of `kind` with `message`.
    #[must_use]
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        CoreError::Other {
            kind,
            message: message.into(),
        }
    }

    /// The index of the failing element, for the error of a batch.
    #[must_use]
    pub fn index(&self) -> Option<usize> {
        match self {
            CoreError::At { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// This error as the error of element `index` of a batch (offset by the
    /// index of the first element when the batch is a slice of a larger one).
    #[must_use]
    pub fn at(self, index: usize) -> Self {
        match self {
            CoreError::At { index: i, error } => CoreError::At {
                index: i + index,
                error,
            },
            error => CoreError::At {
                index,
                error: Box::new(error),
            },
        }
    }

    /// How every bridge classifies this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::ZeroDivision => ErrorKind::ZeroDivision,
            CoreError::At { error, .. } => error.kind(),
            CoreError::Other { kind, .. } => *kind,
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
            CoreError::At { index, error } => write!(f, "{error} at index {index}"),
            CoreError::Other { message, .. } => f.write_str(message),
            CoreError::InvalidUtf8 { arg } => {
                write!(f, "argument '{arg}' is not valid UTF-8 text")
            }
            CoreError::UnknownOperation(name) => write!(f, "unknown operation {name:?}"),
            CoreError::LengthMismatch {
                first,
                first_len,
                other,
                other_len,
            } => write!(
                f,
                "operands have different lengths: {first} has {first_len} elements, {other} has {other_len}"
            ),
            CoreError::InvalidArgument(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CoreError {}
