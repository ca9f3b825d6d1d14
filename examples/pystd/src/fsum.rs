//! CPython's `math.fsum` (`math_fsum` in `Modules/mathmodule.c`): Shewchuk's
//! exact partial sums, with the same handling of special values, the same
//! errors, and the same final half-even correction, so the result is the
//! same double bit for bit.

use oxbridge_core::{CoreError, ErrorKind};

/// The correctly rounded sum of `values`.
pub fn fsum(values: &[f64]) -> Result<f64, CoreError> {
    let mut partials: Vec<f64> = Vec::new();
    let (mut special_sum, mut inf_sum) = (0.0_f64, 0.0_f64);
    for &value in values {
        let mut x = value;
        let mut kept = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        partials.truncate(kept);
        if x != 0.0 {
            if !x.is_finite() {
                // From an infinity or NaN among the values, or an overflow.
                if value.is_finite() {
                    return Err(CoreError::new(
                        ErrorKind::Overflow,
                        "intermediate overflow in fsum",
                    ));
                }
                if value.is_infinite() {
                    inf_sum += value;
                }
                special_sum += value;
                partials.clear();
            } else {
                partials.push(x);
            }
        }
    }
    if special_sum != 0.0 {
        if inf_sum.is_nan() {
            return Err(CoreError::new(
                ErrorKind::InvalidArgument,
                "-inf + inf in fsum",
            ));
        }
        return Ok(special_sum);
    }
    let mut hi = 0.0;
    let mut lo = 0.0;
    let mut n = partials.len();
    if n > 0 {
        n -= 1;
        hi = partials[n];
        // Sum from the top, stopping when the sum becomes inexact.
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = partials[n];
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Half-even rounding across partials: sum([1e-16, 1, 1e16]) rounds
        // the last digit up, as CPython does.
        if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
    }
    Ok(hi)
}
