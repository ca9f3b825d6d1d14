//! Aligned little-endian bytes read as numbers in place, and numbers seen as
//! their bytes: a region's operands without a decoding copy.

/// Plain data: no padding, and every bit pattern a valid value, so a
/// region's bytes may be read and written as a slice of it.
///
/// # Safety
/// Implement only for such types.
pub unsafe trait Plain: Copy {}

// SAFETY: eight bytes, any pattern a valid `f64`.
unsafe impl Plain for f64 {}
// SAFETY: eight bytes, any pattern a valid `i64`.
unsafe impl Plain for i64 {}
// SAFETY: `#[repr(C)]` of two `f64`: sixteen bytes, no padding.
unsafe impl Plain for oxbridge_core::Complex {}

/// Whether `bytes` can be viewed as values of `T` in the wire's byte order
/// (little-endian): aligned, a whole number of them, on a little-endian host.
fn fits<T: Plain>(bytes: &[u8]) -> bool {
    cfg!(target_endian = "little")
        && bytes.len().is_multiple_of(std::mem::size_of::<T>())
        && bytes.as_ptr().align_offset(std::mem::align_of::<T>()) == 0
}

/// `bytes` as values of `T`, without a copy, if they fit (see [`fits`]).
#[must_use]
pub fn values<T: Plain>(bytes: &[u8]) -> Option<&[T]> {
    // SAFETY: aligned, whole values, any bit pattern valid (`Plain`); the
    // slice borrows `bytes`.
    fits::<T>(bytes).then(|| unsafe {
        std::slice::from_raw_parts(
            bytes.as_ptr().cast::<T>(),
            bytes.len() / std::mem::size_of::<T>(),
        )
    })
}

/// `bytes` as values of `T` to write, without a copy, if they fit.
#[must_use]
pub fn values_mut<T: Plain>(bytes: &mut [u8]) -> Option<&mut [T]> {
    let n = bytes.len() / std::mem::size_of::<T>();
    // SAFETY: as for `values`; the slice borrows `bytes` mutably.
    fits::<T>(bytes)
        .then(|| unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), n) })
}

/// `values`' bytes to overwrite, in the host's byte order: the wire's on a
/// little-endian host. Any `T: Plain` may be viewed so (no padding, every
/// bit pattern valid), whatever the alignment of the bytes copied in.
#[must_use]
pub fn bytes_of_mut<T: Plain>(values: &mut [T]) -> &mut [u8] {
    // SAFETY: `T` has no padding and takes any bit pattern (`Plain`), and
    // `u8` has no alignment: the same memory, borrowed mutably once.
    unsafe {
        std::slice::from_raw_parts_mut(
            values.as_mut_ptr().cast::<u8>(),
            std::mem::size_of_val(values),
        )
    }
}

/// `values`' bytes, in the host's byte order (see [`bytes_of_mut`]).
#[must_use]
pub fn bytes_of<T: Plain>(values: &[T]) -> &[u8] {
    // SAFETY: as for `bytes_of_mut`, borrowed shared.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}
