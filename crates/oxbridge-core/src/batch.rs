//! The calculator's batches by operation code, for the bridges that still name
//! them so: the `_many` forms `export!` derives.

use crate::calculator::CALCULATOR;
use crate::complex::{Complex, Op};
use crate::error::CoreError;
use crate::export::{Arg, OutArray};

/// The right-hand operand of a batch operation.
#[derive(Clone, Copy, Debug)]
pub enum Rhs<'a> {
    /// One operand per element of `a`.
    Each(&'a [Complex]),
    /// The same operand for every element.
    All(Complex),
}

/// `out[i] = op(a[i], b[i])` (or `op(a[i], b)` for a scalar `b`): the
/// calculator's `_many` forms.
///
/// # Errors
/// [`CoreError::LengthMismatch`] when `b` does not have `a`'s length, an
/// invalid argument when `out` does not; the first failing element's error
/// [`CoreError::At`] its index, in which case `out` holds unspecified values.
pub fn apply_many(op: Op, a: &[Complex], b: Rhs<'_>, out: &mut [Complex]) -> Result<(), CoreError> {
    let b = match b {
        Rhs::Each(b) => Arg::ComplexArray(b),
        Rhs::All(z) => Arg::Complex(z),
    };
    CALCULATOR
        .lookup(op.name())?
        .invoke_many(&[Arg::ComplexArray(a), b], &mut OutArray::Complex(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::PARALLEL_THRESHOLD;
    const CHUNK: usize = 1 << 14;

    fn ramp(n: usize, scale: f64) -> Vec<Complex> {
        #[allow(clippy::cast_precision_loss)]
        (0..n)
            .map(|i| Complex::new(i as f64 * scale + 1.0, -(i as f64) / scale - 0.5))
            .collect()
    }

    #[test]
    fn batch_equals_scalar_bit_for_bit_on_both_paths() {
        for n in [0, 1, 7, PARALLEL_THRESHOLD + 12_345] {
            let (a, b) = (ramp(n, 0.37), ramp(n, 2.5));
            for op in Op::ALL {
                let mut out = vec![Complex::default(); n];
                apply_many(op, &a, Rhs::Each(&b), &mut out).unwrap();
                for i in 0..n {
                    let want = op.apply(a[i], b[i]).unwrap();
                    assert_eq!(
                        (out[i].re.to_bits(), out[i].im.to_bits()),
                        (want.re.to_bits(), want.im.to_bits())
                    );
                }
                let s = Complex::new(-3.0, 0.25);
                apply_many(op, &a, Rhs::All(s), &mut out).unwrap();
                for i in 0..n {
                    assert_eq!(out[i], op.apply(a[i], s).unwrap());
                }
            }
        }
    }

    #[test]
    fn zero_divisor_names_the_first_index_even_across_chunks() {
        let n = PARALLEL_THRESHOLD * 3;
        let a = ramp(n, 1.0);
        let mut b = ramp(n, 1.0);
        b[n - 5] = Complex::default();
        b[CHUNK + 3] = Complex::new(-0.0, 0.0);
        let mut out = vec![Complex::default(); n];
        assert_eq!(
            apply_many(Op::Div, &a, Rhs::Each(&b), &mut out),
            Err(CoreError::ZeroDivision.at(CHUNK + 3))
        );
        assert_eq!(
            apply_many(Op::Div, &a, Rhs::All(Complex::default()), &mut out),
            Err(CoreError::ZeroDivision.at(0))
        );
        // No elements, nothing divided: no error, as in Python.
        assert_eq!(
            apply_many(Op::Div, &[], Rhs::All(Complex::default()), &mut []),
            Ok(())
        );
    }

    #[test]
    fn lengths_must_agree() {
        let a = ramp(3, 1.0);
        let mut out = vec![Complex::default(); 3];
        assert_eq!(
            apply_many(Op::Add, &a, Rhs::Each(&a[..2]), &mut out),
            Err(CoreError::LengthMismatch {
                first: "a",
                first_len: 3,
                other: "b",
                other_len: 2
            })
        );
        assert!(apply_many(Op::Add, &a, Rhs::All(Complex::default()), &mut out[..1]).is_err());
    }
}
