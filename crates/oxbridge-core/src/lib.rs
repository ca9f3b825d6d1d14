//! The oxbridge core: the operations every bridge exposes, with no I/O and no `unsafe`.
//! Batch kernels spread large arrays over the cores (rayon).
//!
//! Arithmetic is bit-for-bit what CPython's `complex` type gives for the same
//! operands (CPython 3.11 to 3.13, `Objects/complexobject.c`): the same formulas,
//! evaluated in the same order, so signed zeros, infinities and overflow come out
//! the same. The one difference CPython's docs leave open, the sign and payload
//! of a NaN, is not part of the contract.
#![forbid(unsafe_code)]

mod batch;
mod complex;
mod error;
mod greet;

pub use batch::{apply_many, Rhs, PARALLEL_THRESHOLD};
pub use complex::{add, div, mul, sub, Complex, Op};
pub use error::{CoreError, ErrorKind};
pub use greet::{greet, greet_bytes};

/// The crate version, reported by every bridge's version endpoint.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
