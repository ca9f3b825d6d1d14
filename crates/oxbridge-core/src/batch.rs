//! Batch kernels: one operation over whole arrays, element by element exactly
//! the scalar operation, spread over the cores above a size threshold.

use rayon::prelude::*;

use crate::complex::{Complex, Op};
use crate::error::CoreError;

/// Below this many elements one core is faster than waking others.
pub const PARALLEL_THRESHOLD: usize = 1 << 16;
/// Elements per parallel work item: large enough to amortize scheduling,
/// small enough to balance two to dozens of cores.
const CHUNK: usize = 1 << 14;

/// The right-hand operand of a batch operation.
#[derive(Clone, Copy, Debug)]
pub enum Rhs<'a> {
    /// One operand per element of `a`.
    Each(&'a [Complex]),
    /// The same operand for every element.
    All(Complex),
}

/// `out[i] = op(a[i], b[i])` (or `op(a[i], b)` for a scalar `b`).
///
/// # Errors
/// [`CoreError::LengthMismatch`] when `b` (or `out`) does not have `a`'s
/// length; [`CoreError::ZeroDivisionAt`] naming the first zero divisor, in
/// which case `out` holds unspecified values.
pub fn apply_many(op: Op, a: &[Complex], b: Rhs<'_>, out: &mut [Complex]) -> Result<(), CoreError> {
    if let Rhs::Each(b) = b {
        if b.len() != a.len() {
            return Err(CoreError::LengthMismatch {
                a: a.len(),
                b: b.len(),
            });
        }
    }
    if out.len() != a.len() {
        return Err(CoreError::InvalidArgument(format!(
            "the output has {} elements, the operands {}",
            out.len(),
            a.len()
        )));
    }
    if a.len() < PARALLEL_THRESHOLD {
        return kernel(op, a, b, out, 0);
    }
    let failures: Vec<usize> = out
        .par_chunks_mut(CHUNK)
        .enumerate()
        .filter_map(|(i, out)| {
            let start = i * CHUNK;
            let a = &a[start..start + out.len()];
            let b = match b {
                Rhs::Each(b) => Rhs::Each(&b[start..start + out.len()]),
                all @ Rhs::All(_) => all,
            };
            match kernel(op, a, b, out, start) {
                Err(CoreError::ZeroDivisionAt { index }) => Some(index),
                _ => None,
            }
        })
        .collect();
    match failures.into_iter().min() {
        Some(index) => Err(CoreError::ZeroDivisionAt { index }),
        None => Ok(()),
    }
}

/// One thread's share; `base` is the index of `a[0]` in the whole array.
#[inline]
fn kernel(
    op: Op,
    a: &[Complex],
    b: Rhs<'_>,
    out: &mut [Complex],
    base: usize,
) -> Result<(), CoreError> {
    // One loop per case, so that each compiles to straight vector code.
    macro_rules! each {
        ($f:expr) => {
            match b {
                Rhs::Each(b) => {
                    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
                        *o = $f(*x, *y);
                    }
                }
                Rhs::All(y) => {
                    for (o, x) in out.iter_mut().zip(a) {
                        *o = $f(*x, y);
                    }
                }
            }
        };
    }
    match op {
        Op::Add => each!(crate::add),
        Op::Sub => each!(crate::sub),
        Op::Mul => each!(crate::mul),
        Op::Div => {
            let zero = |y: &Complex| y.re == 0.0 && y.im == 0.0;
            let first_zero = match b {
                Rhs::Each(b) => b.iter().position(zero),
                Rhs::All(y) => (zero(&y) && !a.is_empty()).then_some(0),
            };
            if let Some(i) = first_zero {
                return Err(CoreError::ZeroDivisionAt { index: base + i });
            }
            // No zero divisor left: division cannot fail.
            each!(|x, y| crate::div(x, y).unwrap_or_default());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Err(CoreError::ZeroDivisionAt { index: CHUNK + 3 })
        );
        assert_eq!(
            apply_many(Op::Div, &a, Rhs::All(Complex::default()), &mut out),
            Err(CoreError::ZeroDivisionAt { index: 0 })
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
            Err(CoreError::LengthMismatch { a: 3, b: 2 })
        );
        assert!(apply_many(Op::Add, &a, Rhs::All(Complex::default()), &mut out[..1]).is_err());
    }
}
