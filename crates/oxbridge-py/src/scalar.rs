//! Reading a Python number as a complex, as `complex(x)` does.

use std::sync::atomic::{AtomicBool, Ordering};

use oxbridge_core::Complex;
use pyo3::prelude::*;
use pyo3::types::{PyComplex, PyString};

use crate::errors;

/// Reads a Python number as a complex, accepting what `complex(x)` accepts
/// from a non-string: `complex`, `float`, `int` and objects with `__complex__`,
/// `__float__` or `__index__`.
#[inline]
pub(crate) fn as_complex(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Complex> {
    if let Ok(c) = value.cast_exact::<PyComplex>() {
        if LAID_OUT.load(Ordering::Relaxed) {
            // SAFETY: `c` is an exact, live `complex`, laid out as
            // `ComplexObject` (checked when the module loaded).
            let z = unsafe { &*c.as_ptr().cast::<ComplexObject>() };
            return Ok(Complex::new(z.real, z.imag));
        }
        // The accessors cannot fail on an exact `complex`.
        return Ok(Complex::new(c.real(), c.imag()));
    }
    slow_as_complex(value, name)
}

/// A `complex` object as CPython lays it out: the object head, then its
/// two parts (`PyComplexObject`, the same in every CPython 3). The limited
/// API (abi3) hides the struct, so [`check_layout`] confirms it at load.
#[repr(C)]
struct ComplexObject {
    head: pyo3::ffi::PyObject,
    real: f64,
    imag: f64,
}

/// Whether this interpreter's `complex` is laid out as [`ComplexObject`]:
/// then its parts are read in place, else through two calls into CPython.
static LAID_OUT: AtomicBool = AtomicBool::new(false);

/// Confirms the layout of [`ComplexObject`] on values whose parts are
/// known, through CPython's own accessors (see [`LAID_OUT`]).
/// True when it holds.
pub(crate) fn check_layout(py: Python<'_>) -> bool {
    // Every `complex` is `__basicsize__` bytes: a read within them is in bounds.
    let size = py
        .get_type::<PyComplex>()
        .getattr("__basicsize__")
        .and_then(|n| n.extract::<usize>());
    let fits = size.is_ok_and(|n| n >= std::mem::size_of::<ComplexObject>());
    let laid_out = fits
        && [
            (1.5, -2.25),
            (-0.0, f64::MAX),
            (f64::MIN_POSITIVE, 3.0e-300),
        ]
        .into_iter()
        .all(|(re, im)| {
            let c = PyComplex::from_doubles(py, re, im);
            // SAFETY: `c` is a live `complex`, at least as large as a
            // `ComplexObject` (checked above); the fields are plain doubles.
            let z = unsafe { &*c.as_ptr().cast::<ComplexObject>() };
            let same = |a: f64, b: f64| a.to_bits() == b.to_bits();
            same(z.real, re) && same(z.imag, im) && same(c.real(), re) && same(c.imag(), im)
        });
    LAID_OUT.store(laid_out, Ordering::Relaxed);
    laid_out
}

#[cold]
fn slow_as_complex(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Complex> {
    let py = value.py();
    let is_text = value.is_instance_of::<PyString>()
        || value.is_instance_of::<pyo3::types::PyBytes>()
        || value.is_instance_of::<pyo3::types::PyByteArray>();
    if !is_text {
        // `complex(x)` itself: `__complex__`, then `__float__` or `__index__`,
        // as `PyComplex_AsCComplex` does (which the limited API lacks).
        match py.get_type::<PyComplex>().call1((value,)) {
            Ok(c) => {
                let c = c.cast_into::<PyComplex>()?;
                return Ok(Complex::new(c.real(), c.imag()));
            }
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyTypeError>(py) => {}
            // Anything but "not a number" (an overflowing int, an error raised
            // by __complex__) passes through unchanged, as `complex(x)` does.
            Err(e) => return Err(e),
        }
    }
    Err(errors::argument_type(py, name, value, "complex"))
}
