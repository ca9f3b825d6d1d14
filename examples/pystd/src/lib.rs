//! `pystd`: six functions of Python's standard library, written in Rust and
//! exported through oxbridge, so each has an exact reference to be tested
//! against: `zlib.crc32`, `math.gcd`, `math.isqrt`, `math.fsum`,
//! `hashlib.sha256` and a Levenshtein distance.
//!
//! This file is all there is to the library: the functions, defined once,
//! and one line that makes the crate an oxbridge library. Every bridge
//! (PyO3, ctypes, cffi, IPC, HTTP, gRPC), the vectorized `_many` forms, the C
//! header, the `.proto` and the OpenAPI document are derived from it.

use oxbridge_core::{CoreError, ErrorKind};

mod fsum;

oxbridge_core::export! {
    /// Rust mirrors of Python standard-library functions.
    pub static PYSTD = "pystd", signatures pystd_signatures;

    /// `zlib.crc32(data)`: the CRC-32 of `data`, as an unsigned 32-bit value.
    pub fn crc32(data: &[u8]) -> i64 {
        i64::from(crc32fast::hash(data))
    }

    /// `math.gcd(a, b)`: the greatest common divisor, never negative; a
    /// result beyond 64 bits (only `gcd(-2**63, 0)` and the like) raises.
    #[raises(Overflow)]
    pub fn gcd(a: i64, b: i64) -> Result<i64, CoreError> {
        let (mut x, mut y) = (a.unsigned_abs(), b.unsigned_abs());
        while y != 0 {
            (x, y) = (y, x % y);
        }
        i64::try_from(x).map_err(|_| CoreError::new(ErrorKind::Overflow, "integer overflow"))
    }

    /// `math.isqrt(n)`: the integer square root, the largest `r` with
    /// `r * r <= n`; a negative `n` raises.
    #[raises(InvalidArgument)]
    pub fn isqrt(n: i64) -> Result<i64, CoreError> {
        if n < 0 {
            return Err(CoreError::new(
                ErrorKind::InvalidArgument,
                "isqrt() argument must be nonnegative",
            ));
        }
        let n = n.unsigned_abs();
        // The float estimate is within one of the answer for every 64-bit
        // `n`; the two checks below make it exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let mut r = (n as f64).sqrt() as u64;
        while r.checked_mul(r).is_none_or(|sq| sq > n) {
            r -= 1;
        }
        while (r + 1).checked_mul(r + 1).is_some_and(|sq| sq <= n) {
            r += 1;
        }
        Ok(i64::try_from(r).unwrap_or(i64::MAX))
    }

    /// `math.fsum(values)`: the correctly rounded sum of `values`, with
    /// CPython's treatment of infinities, NaN and intermediate overflow.
    #[raises(Overflow, InvalidArgument)]
    pub fn fsum(values: &[f64]) -> Result<f64, CoreError> {
        fsum::fsum(values)
    }

    /// `hashlib.sha256(data).digest()`: the SHA-256 digest of `data`.
    #[result(digest)]
    pub fn sha256(data: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        sha2::Sha256::digest(data).to_vec()
    }

    /// The Levenshtein (edit) distance between `a` and `b`, counted in
    /// Unicode code points, as Python's `str` counts them.
    pub fn levenshtein(a: &str, b: &str) -> i64 {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut diagonal = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let substitute = diagonal + usize::from(ca != *cb);
                diagonal = row[j + 1];
                row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
            }
        }
        i64::try_from(row[b.len()]).unwrap_or(i64::MAX)
    }
}

oxbridge_ffi::library!(PYSTD, pystd_signatures);
