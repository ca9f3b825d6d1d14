//! Define a function once, reach it six ways: the export mechanism.
//!
//! [`export!`](crate::export!) turns plain Rust functions into a [`Library`]
//! of [`Function`] descriptions. Every bridge reads that description, so a
//! function exported this way is callable from Python in process (PyO3, C ABI)
//! and through the servers (IPC, HTTP, gRPC) with the same semantics, and its
//! vectorized `_many` form comes for free when it is numeric.

mod function;
#[macro_use]
mod macros;
mod many;
mod types;

pub use function::{checksum, CallFn, Function, Library, ManyFn, Param};
pub use many::{many_len, run_many, View, PARALLEL_THRESHOLD};
pub use types::{wrong_type, Arg, FromArg, IntoValue, OutArray, Outcome, Type, Typed, Value};

#[cfg(test)]
mod tests;
