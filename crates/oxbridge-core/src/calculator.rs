//! The articles' calculator and greeter, exported like any user's library.
//!
//! Arithmetic is bit-for-bit what CPython's `complex` type gives for the same
//! operands (`_Py_c_sum`, `_Py_c_diff`, `_Py_c_prod`, `_Py_c_quot` in
//! `Objects/complexobject.c`, CPython 3.11 to 3.13): the same formulas,
//! evaluated in the same order, so signed zeros, infinities and overflow come
//! out the same.

use crate::complex::Complex;
use crate::error::CoreError;

crate::export! {
    /// The calculator and greeter of the articles: the functions every
    /// oxbridge bridge serves.
    pub static CALCULATOR = "calculator", signatures calculator_signatures;

    /// `a + b`, exactly as Python computes it.
    pub fn add(a: Complex, b: Complex) -> Complex {
        Complex::new(a.re + b.re, a.im + b.im)
    }

    /// `a - b`, exactly as Python computes it.
    pub fn sub(a: Complex, b: Complex) -> Complex {
        Complex::new(a.re - b.re, a.im - b.im)
    }

    /// `a * b`, exactly as Python computes it (the schoolbook formula, no rescaling).
    pub fn mul(a: Complex, b: Complex) -> Complex {
        Complex::new(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }

    /// `a / b`, exactly as Python computes it; a zero divisor raises.
    ///
    /// Smith's algorithm, dividing through by the larger of the divisor's
    /// parts so that neither overflow nor underflow happens where the true
    /// quotient is representable.
    #[raises(ZeroDivision)]
    pub fn div(a: Complex, b: Complex) -> Result<Complex, CoreError> {
        let abs_breal = b.re.abs();
        let abs_bimag = b.im.abs();
        if abs_breal >= abs_bimag {
            if abs_breal == 0.0 {
                return Err(CoreError::ZeroDivision);
            }
            let ratio = b.im / b.re;
            let denom = b.re + b.im * ratio;
            Ok(Complex::new(
                (a.re + a.im * ratio) / denom,
                (a.im - a.re * ratio) / denom,
            ))
        } else if abs_bimag >= abs_breal {
            let ratio = b.re / b.im;
            let denom = b.re * ratio + b.im;
            Ok(Complex::new(
                (a.re * ratio + a.im) / denom,
                (a.im * ratio - a.re) / denom,
            ))
        } else {
            // At least one of b's parts is NaN.
            Ok(Complex::new(f64::NAN, f64::NAN))
        }
    }

    /// `f"{greeting}, {name}"`, for any Unicode text (empty, NUL, emoji included).
    #[result(message)]
    pub fn greet(greeting: &str, name: &str) -> String {
        let mut out = String::with_capacity(greeting.len() + 2 + name.len());
        out.push_str(greeting);
        out.push_str(", ");
        out.push_str(name);
        out
    }
}
