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

    /// `a ** b`, exactly as Python computes it for complex numbers.
    ///
    /// An integral real exponent up to 100 in size takes CPython's repeated
    /// squaring; any other exponent its polar formula. Zero to a negative or
    /// complex power raises, as does a result with an infinite part.
    #[raises(ZeroDivision, Overflow)]
    pub fn pow(a: Complex, b: Complex) -> Result<Complex, CoreError> {
        power::pow(a, b)
    }

    /// `abs(z)`, exactly as Python computes it: a float; a finite `z` whose
    /// magnitude overflows raises.
    #[raises(Overflow)]
    pub fn abs(z: Complex) -> Result<f64, CoreError> {
        power::abs(z)
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

mod power {
    //! CPython's complex power and absolute value (`complex_pow`, `_Py_c_pow`,
    //! `c_powi`, `c_powu` and `_Py_c_abs` in `Objects/complexobject.c`, 3.11 to
    //! 3.13), including the errors CPython derives from the C library's `errno`.
    //!
    //! The C library functions are the platform's own (`hypot`, `pow`, `atan2`,
    //! `exp`, `log`, `cos`, `sin`: Rust's `f64` methods call them), so results
    //! match CPython's bit for bit on the same platform. `errno` itself is not
    //! read; what CPython makes of it is decided from the values instead:
    //! - `EDOM` ("0.0 to a negative or complex power") comes only from a zero
    //!   base with a negative or complex exponent, a zero divisor in the
    //!   negative integer path, or `cos`/`sin` of an infinite phase;
    //! - any other `errno` matters only through CPython's `_Py_ADJUST_ERANGE2`,
    //!   which raises "complex exponentiation" exactly when a part of the result
    //!   is infinite and no `EDOM` was seen.

    use super::{div, mul};
    use crate::complex::Complex;
    use crate::error::{CoreError, ErrorKind};

    const ONE: Complex = Complex::new(1.0, 0.0);
    /// CPython's `INT_EXP_CUTOFF`: integral exponents up to this take `c_powi`.
    const INT_EXP_CUTOFF: f64 = 100.0;

    fn zero_to_negative() -> CoreError {
        CoreError::new(
            ErrorKind::ZeroDivision,
            "0.0 to a negative or complex power",
        )
    }

    /// `a ** b` (see the module documentation).
    ///
    /// # Errors
    /// [`ErrorKind::ZeroDivision`] and [`ErrorKind::Overflow`], where CPython raises them.
    pub fn pow(a: Complex, b: Complex) -> Result<Complex, CoreError> {
        let mut domain_error = false;
        let p = if b.im == 0.0 && b.re == b.re.floor() && b.re.abs() <= INT_EXP_CUTOFF {
            // Integral and at most 100 in size: the cast is exact.
            #[allow(clippy::cast_possible_truncation)]
            let n = b.re as i64;
            powi(a, n, &mut domain_error)
        } else {
            c_pow(a, b, &mut domain_error)
        };
        if domain_error {
            return Err(zero_to_negative());
        }
        if p.re.is_infinite() || p.im.is_infinite() {
            return Err(CoreError::new(
                ErrorKind::Overflow,
                "complex exponentiation",
            ));
        }
        Ok(p)
    }

    /// `c_powu`: repeated squaring, `0 <= n <= 100`.
    fn powu(x: Complex, n: i64) -> Complex {
        let mut r = ONE;
        let mut p = x;
        let mut mask: i64 = 1;
        while mask > 0 && n >= mask {
            if n & mask != 0 {
                r = mul(r, p);
            }
            mask <<= 1;
            p = mul(p, p);
        }
        r
    }

    /// `c_powi`: `1 / x ** -n` for `n <= 0`, as CPython computes it.
    fn powi(x: Complex, n: i64, domain_error: &mut bool) -> Complex {
        if n > 0 {
            return powu(x, n);
        }
        div(ONE, powu(x, -n)).unwrap_or_else(|_| {
            // `_Py_c_quot` by zero: EDOM, and a zero result.
            *domain_error = true;
            Complex::default()
        })
    }

    /// `_Py_c_pow`: the polar formula.
    fn c_pow(a: Complex, b: Complex, domain_error: &mut bool) -> Complex {
        if b.re == 0.0 && b.im == 0.0 {
            return ONE;
        }
        if a.re == 0.0 && a.im == 0.0 {
            if b.im != 0.0 || b.re < 0.0 {
                *domain_error = true;
            }
            return Complex::default();
        }
        let vabs = a.re.hypot(a.im);
        let mut len = vabs.powf(b.re);
        let at = a.im.atan2(a.re);
        let mut phase = at * b.re;
        if b.im != 0.0 {
            len /= (at * b.im).exp();
            phase += b.im * vabs.ln();
        }
        // The C library's cos and sin of an infinity set errno to EDOM.
        if phase.is_infinite() {
            *domain_error = true;
        }
        Complex::new(len * phase.cos(), len * phase.sin())
    }

    /// `abs(z)`: `hypot`, with C99's rule that an infinite part wins over a NaN.
    ///
    /// # Errors
    /// [`ErrorKind::Overflow`] "absolute value too large" for a finite `z` whose
    /// magnitude is not finite.
    pub fn abs(z: Complex) -> Result<f64, CoreError> {
        if !z.re.is_finite() || !z.im.is_finite() {
            if z.re.is_infinite() {
                return Ok(z.re.abs());
            }
            if z.im.is_infinite() {
                return Ok(z.im.abs());
            }
            return Ok(f64::NAN);
        }
        let result = z.re.hypot(z.im);
        if result.is_finite() {
            Ok(result)
        } else {
            Err(CoreError::new(
                ErrorKind::Overflow,
                "absolute value too large",
            ))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn c(re: f64, im: f64) -> Complex {
            Complex::new(re, im)
        }

        #[test]
        fn cpython_examples() {
            // Values from CPython 3.11-3.13 on x86-64 glibc.
            assert_eq!(pow(c(1.0, 1.0), c(2.0, 0.0)), Ok(c(0.0, 2.0)));
            assert_eq!(pow(c(0.0, 2.0), c(-2.0, 0.0)), Ok(c(-0.25, -0.0)));
            assert_eq!(pow(c(0.0, 0.0), c(0.0, 0.0)), Ok(c(1.0, 0.0)));
            let zero_div = Err(zero_to_negative());
            assert_eq!(pow(c(0.0, 0.0), c(-1.0, 0.0)), zero_div);
            assert_eq!(pow(c(0.0, 0.0), c(0.0, 1.0)), zero_div);
            assert_eq!(pow(c(0.0, 0.0), c(-1.5, 0.0)), zero_div);
            // cos(inf): EDOM in the C library, so CPython says ZeroDivisionError.
            assert_eq!(pow(c(1.0, 1.0), c(f64::INFINITY, 0.0)), zero_div);
            let overflow = Err(CoreError::new(
                ErrorKind::Overflow,
                "complex exponentiation",
            ));
            assert_eq!(pow(c(2.0, 0.0), c(1e6, 0.0)), overflow);
            assert_eq!(pow(c(0.0, 1e300), c(1.5, 0.0)), overflow);
            let nan = pow(c(1e200, 1e200), c(2.0, 0.0)).unwrap();
            assert!(nan.re.is_nan() && nan.im.is_nan());
            assert_eq!(abs(c(3.0, 4.0)), Ok(5.0));
            assert_eq!(abs(c(f64::NAN, f64::NEG_INFINITY)), Ok(f64::INFINITY));
            assert!(abs(c(f64::NAN, 1.0)).unwrap().is_nan());
            assert_eq!(
                abs(c(1.5e308, 1.5e308)),
                Err(CoreError::new(
                    ErrorKind::Overflow,
                    "absolute value too large"
                ))
            );
        }
    }
}
