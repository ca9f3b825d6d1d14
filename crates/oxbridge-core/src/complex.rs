//! The complex number type.

/// A complex number with the memory layout of C's `double _Complex`,
/// numpy's `complex128` and CPython's `Py_complex`: two `f64`, real first.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct Complex {
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
}

impl Complex {
    /// Builds `re + im*j`.
    #[must_use]
    pub const fn new(re: f64, im: f64) -> Self {
        Self { re, im }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calculator::{add, div, mul, sub};
    use crate::error::CoreError;

    fn c(re: f64, im: f64) -> Complex {
        Complex::new(re, im)
    }

    fn bits(z: Complex) -> (u64, u64) {
        (z.re.to_bits(), z.im.to_bits())
    }

    #[test]
    fn article_example() {
        assert_eq!(add(c(1.0, 3.0), c(0.0, -5.0)), c(1.0, -2.0));
    }

    #[test]
    fn signed_zeros_follow_ieee_like_cpython() {
        // (-0-0j) + (-0-0j) keeps both negative zeros; (0j) - (0j) gives +0.
        assert_eq!(bits(add(c(-0.0, -0.0), c(-0.0, -0.0))), bits(c(-0.0, -0.0)));
        assert_eq!(bits(sub(c(0.0, 0.0), c(0.0, 0.0))), bits(c(0.0, 0.0)));
        // CPython: complex(-0.0, 0.0) * complex(1.0, 0.0) == (-0+0j)
        assert_eq!(bits(mul(c(-0.0, 0.0), c(1.0, 0.0))), bits(c(-0.0, 0.0)));
    }

    #[test]
    fn division_scales_instead_of_overflowing() {
        // CPython: complex(1e308, 3e307) / complex(2e307, 1e308)
        //   == (0.4807692307692308-0.9038461538461539j)
        let q = div(c(1e308, 3e307), c(2e307, 1e308)).unwrap();
        assert_eq!(q, c(0.480_769_230_769_230_8, -0.903_846_153_846_153_9));
        // The naive a*conj(b)/|b|^2 overflows |b|^2 to infinity and gives 0.
        assert!((2e307_f64 * 2e307 + 1e308 * 1e308).is_infinite());
        // And CPython's own overflow is kept: (1e308+1e308j)/(1e308+1e308j)
        // == (nan+0j), because its denominator overflows too.
        let q = div(c(1e308, 1e308), c(1e308, 1e308)).unwrap();
        assert!(q.re.is_nan());
        assert_eq!(q.im.to_bits(), 0.0_f64.to_bits());
    }

    #[test]
    fn division_by_zero_is_an_error_for_every_signed_zero() {
        for (re, im) in [(0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (-0.0, -0.0)] {
            assert_eq!(div(c(1.0, 1.0), c(re, im)), Err(CoreError::ZeroDivision));
        }
    }

    #[test]
    fn nan_divisor_gives_nan() {
        let q = div(c(1.0, 1.0), c(f64::NAN, 0.0)).unwrap();
        assert!(q.re.is_nan() && q.im.is_nan());
    }
}
