//! A shared-memory region received from a peer process: the one place in the
//! server where memory is mapped, so the bridges keep `forbid(unsafe_code)`.
//! ([`heap`] is the other unsafe call the server makes: glibc's `mallopt`.)
//!
//! A peer (the IPC client) makes a `memfd`, seals it against shrinking and
//! passes it over its Unix socket. [`Region::map`] checks the descriptor
//! before it maps anything:
//!
//! - a regular file, non-empty, no larger than the caller's limit;
//! - sealed with `F_SEAL_SHRINK`. A mapping of a file that is later
//!   truncated raises `SIGBUS` on the next access, which would kill the
//!   server; a sealed file cannot be truncated, so every page stays valid
//!   for the life of the mapping.
//!
//! The mapping is shared with the peer, which may write it at any time. The
//! server only copies plain numbers in and out of it (never lengths, names or
//! anything else it decides on), so a peer that writes its own region during
//! its own call gets wrong numbers back, and nothing else happens.
//!
//! [`values`] and [`values_mut`] read aligned little-endian bytes (a region's
//! operands) as numbers in place, so a call needs no decoding copy.

pub mod heap;
mod plain;
mod region;
mod regions;

pub use plain::{bytes_of, bytes_of_mut, values, values_mut, Plain};
pub use region::{Checked, Region, RegionError};
pub use regions::{Lease, Regions, MAX_PER_PEER};

#[cfg(test)]
mod tests;
