//! Reading a Python number as a complex, as `complex(x)` does.

use oxbridge_core::Complex;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::errors;

/// Reads a Python number as a complex, accepting what `complex(x)` accepts
/// from a non-string: `complex`, `float`, `int` and objects with `__complex__`,
/// `__float__` or `__index__`.
#[inline]
pub(crate) fn as_complex(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Complex> {
    let ptr = value.as_ptr();
    // SAFETY: `ptr` is a live object (borrowed from `value`) and we hold the GIL.
    if unsafe { ffi::PyComplex_CheckExact(ptr) } != 0 {
        // SAFETY: an exact `complex` is a `PyComplexObject`; reading its
        // value is what `complex.real` does.
        let cval = unsafe { (*ptr.cast::<ffi::PyComplexObject>()).cval };
        return Ok(Complex::new(cval.real, cval.imag));
    }
    slow_as_complex(value, name)
}

#[cold]
fn slow_as_complex(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Complex> {
    let py = value.py();
    let is_text = value.is_instance_of::<PyString>()
        || value.is_instance_of::<pyo3::types::PyBytes>()
        || value.is_instance_of::<pyo3::types::PyByteArray>();
    if !is_text {
        // SAFETY: live object, GIL held; the function reports failure through
        // the error indicator, which we check right after.
        let cval = unsafe { ffi::PyComplex_AsCComplex(value.as_ptr()) };
        match PyErr::take(py) {
            None => return Ok(Complex::new(cval.real, cval.imag)),
            Some(e) if e.is_instance_of::<pyo3::exceptions::PyTypeError>(py) => {}
            // Anything but "not a number" (an overflowing int, an error raised
            // by __complex__) passes through unchanged, as `complex(x)` does.
            Some(e) => return Err(e),
        }
    }
    Err(errors::argument_type(py, name, value, "complex"))
}
