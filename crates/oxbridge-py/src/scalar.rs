//! Reading a Python number as a complex, as `complex(x)` does.

use oxbridge_core::Complex;
use pyo3::prelude::*;
use pyo3::types::{PyComplex, PyString};

use crate::errors;

/// Reads a Python number as a complex, accepting what `complex(x)` accepts
/// from a non-string: `complex`, `float`, `int` and objects with `__complex__`,
/// `__float__` or `__index__`.
#[inline]
pub(crate) fn as_complex(value: &Bound<'_, PyAny>, name: &str) -> PyResult<Complex> {
    // The limited API (abi3) has no `PyComplexObject`: an exact `complex`
    // is read through its two accessors, which cannot fail on one.
    if let Ok(c) = value.cast_exact::<PyComplex>() {
        return Ok(Complex::new(c.real(), c.imag()));
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
