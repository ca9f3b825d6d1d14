//! The calculator's vectorized forms, against its scalar functions: every
//! element bit for bit on both paths (one core, and past the parallel
//! threshold), the first failing index across chunks, lengths checked.

use crate::calculator::CALCULATOR;
use crate::complex::Complex;
use crate::error::CoreError;
use crate::export::{Arg, OutArray, PARALLEL_THRESHOLD};

const CHUNK: usize = 1 << 14;
const OPS: [&str; 4] = ["add", "sub", "mul", "div"];

fn ramp(n: usize, scale: f64) -> Vec<Complex> {
    #[allow(clippy::cast_precision_loss)]
    (0..n)
        .map(|i| Complex::new(i as f64 * scale + 1.0, -(i as f64) / scale - 0.5))
        .collect()
}

fn many(op: &str, a: &[Complex], b: Arg<'_>, out: &mut [Complex]) -> Result<(), CoreError> {
    CALCULATOR
        .lookup(op)?
        .invoke_many(&[Arg::ComplexArray(a), b], &mut OutArray::Complex(out))
}

fn scalar(op: &str, a: Complex, b: Complex) -> Result<Complex, CoreError> {
    match CALCULATOR
        .lookup(op)?
        .invoke(&[Arg::Complex(a), Arg::Complex(b)])?
    {
        crate::export::Value::Complex(z) => Ok(z),
        other => panic!("{op} returned {other:?}"),
    }
}

#[test]
fn batch_equals_scalar_bit_for_bit_on_both_paths() {
    for n in [0, 1, 7, PARALLEL_THRESHOLD + 12_345] {
        let (a, b) = (ramp(n, 0.37), ramp(n, 2.5));
        for op in OPS {
            let mut out = vec![Complex::default(); n];
            many(op, &a, Arg::ComplexArray(&b), &mut out).unwrap();
            for i in 0..n {
                let want = scalar(op, a[i], b[i]).unwrap();
                assert_eq!(
                    (out[i].re.to_bits(), out[i].im.to_bits()),
                    (want.re.to_bits(), want.im.to_bits())
                );
            }
            let s = Complex::new(-3.0, 0.25);
            many(op, &a, Arg::Complex(s), &mut out).unwrap();
            for i in 0..n {
                assert_eq!(out[i], scalar(op, a[i], s).unwrap());
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
        many("div", &a, Arg::ComplexArray(&b), &mut out),
        Err(CoreError::ZeroDivision.at(CHUNK + 3))
    );
    assert_eq!(
        many("div", &a, Arg::Complex(Complex::default()), &mut out),
        Err(CoreError::ZeroDivision.at(0))
    );
    // No elements, nothing divided: no error, as in Python.
    assert_eq!(
        many("div", &[], Arg::Complex(Complex::default()), &mut []),
        Ok(())
    );
}

#[test]
fn lengths_must_agree() {
    let a = ramp(3, 1.0);
    let mut out = vec![Complex::default(); 3];
    assert_eq!(
        many("add", &a, Arg::ComplexArray(&a[..2]), &mut out),
        Err(CoreError::LengthMismatch {
            first: "a",
            first_len: 3,
            other: "b",
            other_len: 2
        })
    );
    assert!(many("add", &a, Arg::Complex(Complex::default()), &mut out[..1]).is_err());
}

/// Every complex number whose parts are floats where a fused or reordered
/// operation in a vectorized kernel would change the bits.
fn specials() -> Vec<Complex> {
    let parts = oxbridge_simd::TELLING;
    parts
        .iter()
        .flat_map(|&re| parts.iter().map(move |&im| Complex::new(re, im)))
        .collect()
}

#[test]
fn batch_equals_scalar_bit_for_bit_on_special_values() {
    let a = specials();
    let n = a.len() * a.len();
    let left: Vec<Complex> = a.iter().flat_map(|&x| a.iter().map(move |_| x)).collect();
    let right: Vec<Complex> = a.iter().cycle().take(n).copied().collect();
    // A NaN's sign and payload are not part of the contract.
    let bits = |z: Complex| {
        let canon = |x: f64| {
            if x.is_nan() {
                f64::NAN.to_bits()
            } else {
                x.to_bits()
            }
        };
        (canon(z.re), canon(z.im))
    };
    for op in OPS {
        // A zero divisor fails the whole batch: divide by a tiny one instead.
        let zero = |z: &Complex| z.re == 0.0 && z.im == 0.0;
        let right: Vec<Complex> = right
            .iter()
            .map(|z| {
                if op == "div" && zero(z) {
                    Complex::new(-0.0, 5e-324)
                } else {
                    *z
                }
            })
            .collect();
        let mut out = vec![Complex::default(); n];
        many(op, &left, Arg::ComplexArray(&right), &mut out).unwrap();
        for i in 0..n {
            let want = scalar(op, left[i], right[i]).unwrap();
            assert_eq!(bits(out[i]), bits(want), "{op} at {i}");
        }
    }
}
