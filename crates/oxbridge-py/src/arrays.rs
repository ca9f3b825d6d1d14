//! numpy's arrays seen as the core's slices, without a copy.

use numpy::Complex64;
use oxbridge_core::Complex;

/// Views numpy's `complex128` elements as the core's complex numbers.
pub(crate) fn as_core(slice: &[Complex64]) -> &[Complex] {
    // SAFETY: `Complex64` (num-complex) and `Complex` are both `#[repr(C)]`
    // pairs of f64, real part first, so the layout is identical.
    unsafe { std::slice::from_raw_parts(slice.as_ptr().cast::<Complex>(), slice.len()) }
}

/// Views numpy's `complex128` elements as the core's, for writing.
pub(crate) fn as_core_mut(slice: &mut [Complex64]) -> &mut [Complex] {
    // SAFETY: as in `as_core`; the borrow is unique, as `slice` was.
    unsafe { std::slice::from_raw_parts_mut(slice.as_mut_ptr().cast::<Complex>(), slice.len()) }
}
