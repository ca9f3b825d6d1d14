//! Batches on the wire: one binary frame format, shared by the IPC bridge
//! (frames beside the JSON requests), the HTTP bridge (`POST /batch`, an
//! `application/octet-stream` body) and, for its operands, the gRPC bridge.
//!
//! Request, little-endian, 32-byte header then the operands:
//!
//! ```text
//! magic "OXB\x01" | op u8 (0 add, 1 sub, 2 mul, 3 div) | flags u8 (bit 0: b is one scalar) | 2 zero bytes
//! offset u64 (index of a[0] in the caller's whole array, for error messages)
//! a_len u64 | b_len u64 | a: a_len × (re f64, im f64) | b: b_len × (re f64, im f64)
//! ```
//!
//! Reply, 16-byte header: `magic | status u8 (0 ok, 1 error) | 3 zero bytes |
//! len u64`, then `len` complex results, or on error `len` bytes of JSON
//! `{"kind": ..., "message": ...}`.
//!
//! A client splits arrays larger than the server's request limit into
//! several frames; the server's memory is bounded by that limit.

use oxbridge_core::{apply_many, Complex, CoreError, Op, Rhs, PARALLEL_THRESHOLD};
use rayon::prelude::*;

use crate::error::CallError;

/// The first four bytes of every batch frame. No JSON text starts with `O`.
pub const MAGIC: [u8; 4] = *b"OXB\x01";
/// Length of a request header.
pub const REQUEST_HEADER: usize = 32;
/// Length of a reply header.
pub const REPLY_HEADER: usize = 16;
const FLAG_SCALAR_B: u8 = 1;

/// A batch request, borrowed from the bytes it arrived in.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The operation.
    pub op: Op,
    /// Left operands, as wire bytes (16 per complex).
    pub a: &'a [u8],
    /// Right operands.
    pub b: Operand<'a>,
    /// Index of `a[0]` in the caller's array.
    pub offset: u64,
}

/// The right-hand side of a batch.
#[derive(Debug, Clone, Copy)]
pub enum Operand<'a> {
    /// One per element, as wire bytes.
    Each(&'a [u8]),
    /// The same for every element.
    Scalar(Complex),
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0_u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The operation named by a wire code.
///
/// # Errors
/// [`CallError::BadRequest`] for an unknown code.
pub fn op_from_code(code: u8) -> Result<Op, CallError> {
    Op::ALL
        .get(usize::from(code))
        .copied()
        .ok_or_else(|| CallError::BadRequest(format!("unknown batch operation code {code}")))
}

/// The whole length of the request frame whose header is `header`, checked
/// against `limit` before anything else is read.
///
/// # Errors
/// A bad magic, or [`CallError::TooLarge`].
pub fn frame_len(header: &[u8], limit: usize) -> Result<usize, CallError> {
    if header[..4] != MAGIC {
        return Err(CallError::BadRequest(
            "not an oxbridge batch frame (bad magic)".into(),
        ));
    }
    let (a_len, b_len) = (u64_at(header, 16), u64_at(header, 24));
    let total = a_len
        .checked_add(b_len)
        .and_then(|n| n.checked_mul(16))
        .and_then(|n| n.checked_add(REQUEST_HEADER as u64))
        .and_then(|n| usize::try_from(n).ok());
    match total {
        Some(n) if n <= limit => Ok(n),
        _ => Err(CallError::TooLarge { limit }),
    }
}

fn whole_complexes<'a>(bytes: &'a [u8], name: &str) -> Result<&'a [u8], CallError> {
    if bytes.len() % 16 == 0 {
        Ok(bytes)
    } else {
        Err(CallError::BadRequest(format!(
            "operand '{name}' has {} bytes, not a whole number of complex128 (16 bytes each)",
            bytes.len()
        )))
    }
}

fn f64_le(bytes: &[u8]) -> f64 {
    let mut word = [0_u8; 8];
    word.copy_from_slice(bytes);
    f64::from_le_bytes(word)
}

fn decode_into(bytes: &[u8], out: &mut [Complex]) {
    for (z, c) in out.iter_mut().zip(bytes.chunks_exact(16)) {
        let (re, im) = c.split_at(8);
        *z = Complex::new(f64_le(re), f64_le(im));
    }
}

fn encode_into(values: &[Complex], out: &mut [u8]) {
    for (c, z) in out.chunks_exact_mut(16).zip(values) {
        let (re, im) = c.split_at_mut(8);
        re.copy_from_slice(&z.re.to_le_bytes());
        im.copy_from_slice(&z.im.to_le_bytes());
    }
}

impl<'a> Batch<'a> {
    /// A batch from its parts (the gRPC bridge's fields).
    ///
    /// # Errors
    /// Operands that are not whole complex numbers, or a scalar `b` that is
    /// not exactly one.
    pub fn new(
        op: Op,
        a: &'a [u8],
        b: &'a [u8],
        b_scalar: bool,
        offset: u64,
    ) -> Result<Self, CallError> {
        let a = whole_complexes(a, "a")?;
        let b = whole_complexes(b, "b")?;
        let b = if b_scalar {
            if b.len() != 16 {
                return Err(CallError::BadRequest(
                    "a scalar b must hold exactly one complex".into(),
                ));
            }
            Operand::Scalar(Complex::new(f64_le(&b[..8]), f64_le(&b[8..])))
        } else {
            Operand::Each(b)
        };
        Ok(Batch { op, a, b, offset })
    }

    /// Parses a complete request frame (as measured by [`frame_len`]), borrowing it.
    ///
    /// # Errors
    /// A malformed frame.
    pub fn parse(frame: &'a [u8]) -> Result<Self, CallError> {
        if frame.len() < REQUEST_HEADER {
            return Err(CallError::BadRequest("truncated batch frame".into()));
        }
        // The frame is already whole and within the limit: a header that
        // claims another length is malformed, not too large.
        match frame_len(frame, usize::MAX) {
            Ok(n) if n == frame.len() => {}
            Err(bad_magic @ CallError::BadRequest(_)) => return Err(bad_magic),
            _ => {
                return Err(CallError::BadRequest(
                    "batch frame length does not match its header".into(),
                ))
            }
        }
        let op = op_from_code(frame[4])?;
        let a_len = usize::try_from(u64_at(frame, 16)).unwrap_or(usize::MAX);
        let (a, b) = frame[REQUEST_HEADER..].split_at(a_len * 16);
        Batch::new(op, a, b, frame[5] & FLAG_SCALAR_B != 0, u64_at(frame, 8))
    }

    /// Number of results.
    #[must_use]
    pub fn len(&self) -> usize {
        self.a.len() / 16
    }

    /// Whether there are no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// Computes the results as wire bytes into `out` (16 bytes per element).
    ///
    /// Blocks of [`BLOCK`] elements are decoded into per-thread scratch that
    /// stays in cache, computed by the core's kernel and encoded in place, in
    /// parallel for large batches: no allocation beyond `out`. A zero
    /// divisor's index counts from the caller's whole array.
    ///
    /// # Errors
    /// The core's refusal (length mismatch, zero divisor).
    pub fn compute_into(&self, out: &mut [u8]) -> Result<(), CallError> {
        let n = self.len();
        if let Operand::Each(b) = self.b {
            if b.len() != self.a.len() {
                return Err(CoreError::LengthMismatch {
                    first: "a",
                    first_len: n,
                    other: "b",
                    other_len: b.len() / 16,
                }
                .into());
            }
        }
        let scratch = || {
            (
                vec![Complex::default(); BLOCK],
                vec![Complex::default(); BLOCK],
                vec![Complex::default(); BLOCK],
            )
        };
        let block = |(sa, sb, so): &mut (Vec<Complex>, Vec<Complex>, Vec<Complex>),
                     (i, out): (usize, &mut [u8])| {
            let start = i * BLOCK;
            let m = out.len() / 16;
            decode_into(&self.a[start * 16..(start + m) * 16], &mut sa[..m]);
            let rhs = match self.b {
                Operand::Each(b) => {
                    decode_into(&b[start * 16..(start + m) * 16], &mut sb[..m]);
                    Rhs::Each(&sb[..m])
                }
                Operand::Scalar(z) => Rhs::All(z),
            };
            match apply_many(self.op, &sa[..m], rhs, &mut so[..m]) {
                Ok(()) => {
                    encode_into(&so[..m], out);
                    None
                }
                Err(e) => Some(e.at(start)),
            }
        };
        let first_failure = if n >= PARALLEL_THRESHOLD {
            out.par_chunks_mut(BLOCK * 16)
                .enumerate()
                .map_init(scratch, block)
                .flatten()
                .min_by_key(|e| e.index().unwrap_or(usize::MAX))
        } else {
            let mut s = scratch();
            out.chunks_mut(BLOCK * 16)
                .enumerate()
                .find_map(|item| block(&mut s, item))
        };
        match first_failure {
            None => Ok(()),
            Some(e) => Err(e.at(usize::try_from(self.offset).unwrap_or(0)).into()),
        }
    }

    /// The results as wire bytes.
    ///
    /// # Errors
    /// As for [`Batch::compute_into`].
    pub fn run(&self) -> Result<Vec<u8>, CallError> {
        let mut out = vec![0_u8; self.a.len()];
        self.compute_into(&mut out)?;
        Ok(out)
    }

    /// The reply frame: header and results in one buffer.
    ///
    /// # Errors
    /// As for [`Batch::compute_into`].
    pub fn reply(&self) -> Result<Vec<u8>, CallError> {
        let mut out = vec![0_u8; REPLY_HEADER + self.a.len()];
        out[..4].copy_from_slice(&MAGIC);
        out[8..16].copy_from_slice(&(self.len() as u64).to_le_bytes());
        self.compute_into(&mut out[REPLY_HEADER..])?;
        Ok(out)
    }
}

/// Elements per block: three scratch blocks of 64 KiB stay in a core's cache.
pub const BLOCK: usize = 4096;

/// An error reply frame.
#[must_use]
pub fn error_reply(e: &CallError) -> Vec<u8> {
    let message =
        serde_json::to_vec(&serde_json::json!({"kind": e.kind().name(), "message": e.to_string()}))
            .unwrap_or_default();
    let mut out = Vec::with_capacity(REPLY_HEADER + message.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[1, 0, 0, 0]);
    out.extend_from_slice(&(message.len() as u64).to_le_bytes());
    out.extend_from_slice(&message);
    out
}

/// Parses, runs and answers one frame, logging a failure.
#[must_use]
pub fn handle(bridge: &'static str, frame: &[u8]) -> Vec<u8> {
    Batch::parse(frame)
        .and_then(|batch| batch.reply())
        .unwrap_or_else(|e| {
            crate::log_call_error(bridge, &e);
            error_reply(&e)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(values: &[Complex], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + values.len() * 16, 0);
        encode_into(values, &mut out[start..]);
    }

    fn frame(op: u8, scalar: bool, offset: u64, a: &[Complex], b: &[Complex]) -> Vec<u8> {
        let mut f = MAGIC.to_vec();
        f.extend_from_slice(&[op, u8::from(scalar), 0, 0]);
        for n in [offset, a.len() as u64, b.len() as u64] {
            f.extend_from_slice(&n.to_le_bytes());
        }
        put(a, &mut f);
        put(b, &mut f);
        f
    }

    fn results(reply: &[u8]) -> Vec<Complex> {
        assert_eq!(
            reply[4],
            0,
            "error reply: {}",
            String::from_utf8_lossy(&reply[16..])
        );
        let mut out = vec![Complex::default(); (reply.len() - REPLY_HEADER) / 16];
        decode_into(&reply[REPLY_HEADER..], &mut out);
        out
    }

    #[test]
    fn round_trip_and_offset_in_errors() {
        let a = [Complex::new(1.0, 3.0), Complex::new(-0.0, 2.0)];
        let b = [Complex::new(0.0, -5.0), Complex::new(0.0, 0.0)];
        let f = frame(0, false, 0, &a, &b);
        assert_eq!(frame_len(&f, usize::MAX).unwrap(), f.len());
        assert_eq!(
            results(&handle("test", &f)),
            vec![Complex::new(1.0, -2.0), Complex::new(0.0, 2.0)]
        );

        let err = Batch::parse(&frame(3, false, 1000, &a, &b))
            .unwrap()
            .run()
            .unwrap_err();
        assert_eq!(err.to_string(), "complex division by zero at index 1001");
        let scalar = results(&handle("test", &frame(2, true, 0, &a, &b[..1])));
        assert_eq!(scalar[0], oxbridge_core::mul(a[0], b[0]));
    }

    #[test]
    fn large_frames_match_the_scalar_operation_and_find_the_first_zero() {
        #[allow(clippy::cast_precision_loss)]
        let a: Vec<Complex> = (0..PARALLEL_THRESHOLD * 2 + 5)
            .map(|i| Complex::new(i as f64 + 0.5, -1.25))
            .collect();
        let mut b = a.clone();
        let got = results(&handle("test", &frame(3, false, 0, &a, &b)));
        for (i, z) in got.iter().enumerate() {
            assert_eq!(*z, oxbridge_core::div(a[i], b[i]).unwrap());
        }
        b[PARALLEL_THRESHOLD + 77] = Complex::default();
        b[a.len() - 1] = Complex::default();
        let err = Batch::parse(&frame(3, false, 10, &a, &b))
            .unwrap()
            .run()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "complex division by zero at index {}",
                PARALLEL_THRESHOLD + 87
            )
        );
    }

    #[test]
    fn lies_in_the_header_are_caught_before_any_allocation() {
        let mut f = frame(0, false, 0, &[], &[]);
        f[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            frame_len(&f, 1 << 24),
            Err(CallError::TooLarge { .. })
        ));
        assert!(matches!(
            Batch::parse(&frame(7, false, 0, &[], &[])),
            Err(CallError::BadRequest(_))
        ));
        assert!(matches!(
            Batch::parse(&frame(0, true, 0, &[], &[])),
            Err(CallError::BadRequest(_))
        ));
        let one = [Complex::new(1.0, 1.0)];
        let mismatch = Batch::parse(&frame(0, false, 0, &one, &[]))
            .unwrap()
            .run()
            .unwrap_err();
        assert_eq!(
            mismatch.to_string(),
            "operands have different lengths: a has 1 elements, b has 0"
        );
        let mut bad = frame(0, false, 0, &[], &[]);
        bad[0] = b'X';
        assert!(Batch::parse(&bad).is_err());
    }
}
