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

use oxbridge_core::{apply_many, Complex, CoreError, Op, Rhs};

use crate::error::CallError;

/// The first four bytes of every batch frame. No JSON text starts with `O`.
pub const MAGIC: [u8; 4] = *b"OXB\x01";
/// Length of a request header.
pub const REQUEST_HEADER: usize = 32;
/// Length of a reply header.
pub const REPLY_HEADER: usize = 16;
const FLAG_SCALAR_B: u8 = 1;

/// A decoded batch request.
#[derive(Debug)]
pub struct Batch {
    /// The operation.
    pub op: Op,
    /// Left operands.
    pub a: Vec<Complex>,
    /// Right operands, or one scalar.
    pub b: Operand,
    /// Index of `a[0]` in the caller's array.
    pub offset: u64,
}

/// The right-hand side of a decoded batch.
#[derive(Debug)]
pub enum Operand {
    /// One per element.
    Each(Vec<Complex>),
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

/// Complex numbers from their little-endian wire bytes.
///
/// # Errors
/// [`CallError::BadRequest`] when the length is not a multiple of 16.
pub fn complexes(bytes: &[u8], name: &str) -> Result<Vec<Complex>, CallError> {
    if bytes.len() % 16 != 0 {
        return Err(CallError::BadRequest(format!(
            "operand '{name}' has {} bytes, not a whole number of complex128 (16 bytes each)",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(16)
        .map(|c| {
            Complex::new(
                f64::from_le_bytes(c[..8].try_into().unwrap_or_default()),
                f64::from_le_bytes(c[8..].try_into().unwrap_or_default()),
            )
        })
        .collect())
}

/// Appends the wire bytes of `values` to `out`.
pub fn put_complexes(values: &[Complex], out: &mut Vec<u8>) {
    out.reserve(values.len() * 16);
    for z in values {
        out.extend_from_slice(&z.re.to_le_bytes());
        out.extend_from_slice(&z.im.to_le_bytes());
    }
}

/// Decodes a complete request frame (as measured by [`frame_len`]).
///
/// # Errors
/// A malformed frame.
pub fn decode(frame: &[u8]) -> Result<Batch, CallError> {
    if frame.len() < REQUEST_HEADER {
        return Err(CallError::BadRequest("truncated batch frame".into()));
    }
    let limit = frame.len();
    if frame_len(frame, limit)? != frame.len() {
        return Err(CallError::BadRequest(
            "batch frame length does not match its header".into(),
        ));
    }
    let op = op_from_code(frame[4])?;
    let scalar = frame[5] & FLAG_SCALAR_B != 0;
    let a_len = usize::try_from(u64_at(frame, 16)).unwrap_or(usize::MAX);
    let split = REQUEST_HEADER + a_len * 16;
    let a = complexes(&frame[REQUEST_HEADER..split], "a")?;
    let b = complexes(&frame[split..], "b")?;
    let b = if scalar {
        match b.as_slice() {
            [z] => Operand::Scalar(*z),
            _ => {
                return Err(CallError::BadRequest(
                    "a scalar b must hold exactly one complex".into(),
                ))
            }
        }
    } else {
        Operand::Each(b)
    };
    Ok(Batch {
        op,
        a,
        b,
        offset: u64_at(frame, 8),
    })
}

impl Batch {
    /// Computes the batch; a zero divisor's index counts from the caller's
    /// whole array, not this frame.
    ///
    /// # Errors
    /// The core's refusal.
    pub fn run(&self) -> Result<Vec<Complex>, CallError> {
        let mut out = vec![Complex::default(); self.a.len()];
        let rhs = match &self.b {
            Operand::Each(b) => Rhs::Each(b),
            Operand::Scalar(z) => Rhs::All(*z),
        };
        apply_many(self.op, &self.a, rhs, &mut out).map_err(|e| {
            CallError::Core(match e {
                CoreError::ZeroDivisionAt { index } => CoreError::ZeroDivisionAt {
                    index: index + usize::try_from(self.offset).unwrap_or(0),
                },
                other => other,
            })
        })?;
        Ok(out)
    }
}

/// The reply frame for a batch's outcome.
#[must_use]
pub fn reply(outcome: &Result<Vec<Complex>, CallError>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    match outcome {
        Ok(values) => {
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.extend_from_slice(&(values.len() as u64).to_le_bytes());
            put_complexes(values, &mut out);
        }
        Err(e) => {
            let message = serde_json::to_vec(
                &serde_json::json!({"kind": e.kind(), "message": e.to_string()}),
            )
            .unwrap_or_default();
            out.extend_from_slice(&[1, 0, 0, 0]);
            out.extend_from_slice(&(message.len() as u64).to_le_bytes());
            out.extend_from_slice(&message);
        }
    }
    out
}

/// Decodes, runs and answers one frame, logging a failure.
#[must_use]
pub fn handle(bridge: &'static str, frame: &[u8]) -> Vec<u8> {
    let outcome = decode(frame).and_then(|batch| batch.run());
    if let Err(e) = &outcome {
        crate::log_call_error(bridge, e);
    }
    reply(&outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(op: u8, scalar: bool, offset: u64, a: &[Complex], b: &[Complex]) -> Vec<u8> {
        let mut f = MAGIC.to_vec();
        f.extend_from_slice(&[op, u8::from(scalar), 0, 0]);
        for n in [offset, a.len() as u64, b.len() as u64] {
            f.extend_from_slice(&n.to_le_bytes());
        }
        put_complexes(a, &mut f);
        put_complexes(b, &mut f);
        f
    }

    #[test]
    fn round_trip_and_offset_in_errors() {
        let a = [Complex::new(1.0, 3.0), Complex::new(-0.0, 2.0)];
        let b = [Complex::new(0.0, -5.0), Complex::new(0.0, 0.0)];
        let f = frame(0, false, 0, &a, &b);
        assert_eq!(frame_len(&f, usize::MAX).unwrap(), f.len());
        let out = decode(&f).unwrap().run().unwrap();
        assert_eq!(out, vec![Complex::new(1.0, -2.0), Complex::new(0.0, 2.0)]);

        let err = decode(&frame(3, false, 1000, &a, &b))
            .unwrap()
            .run()
            .unwrap_err();
        assert_eq!(err.to_string(), "complex division by zero at index 1001");
        let scalar = decode(&frame(2, true, 0, &a, &b[..1]))
            .unwrap()
            .run()
            .unwrap();
        assert_eq!(scalar[0], oxbridge_core::mul(a[0], b[0]));
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
            decode(&frame(7, false, 0, &[], &[])),
            Err(CallError::BadRequest(_))
        ));
        assert!(matches!(
            decode(&frame(0, true, 0, &[], &[])),
            Err(CallError::BadRequest(_))
        ));
        let mut bad = frame(0, false, 0, &[], &[]);
        bad[0] = b'X';
        assert!(decode(&bad).is_err());
    }
}
