//! The oxbridge core: the operations every bridge exposes, with no I/O and no `unsafe`.
//! Batch kernels spread large arrays over the cores (rayon).
//!
//! Arithmetic is bit-for-bit what CPython's `complex` type gives for the same
//! operands (CPython 3.11 to 3.13, `Objects/complexobject.c`): the same formulas,
//! evaluated in the same order, so signed zeros, infinities and overflow come out
//! the same. The one difference CPython's docs leave open, the sign and payload
//! of a NaN, is not part of the contract.
#![forbid(unsafe_code)]

mod calculator;
#[cfg(test)]
mod calculator_many_tests;
mod complex;
mod error;
pub mod export;
mod greet;
mod kinds;

pub use calculator::{add, div, greet, mul, sub, CALCULATOR};
pub use complex::Complex;
pub use error::{CoreError, ErrorKind};
pub use export::PARALLEL_THRESHOLD;
pub use greet::greet_bytes;

/// The crate version, reported by every bridge's version endpoint.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
