//! Scalar operations on Python `complex` and `str`.

use oxbridge_core::{Complex, CoreError, Op};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyComplex, PyString};

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

#[inline]
fn op(
    py: Python<'_>,
    op: Op,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Py<PyComplex>> {
    let (a, b) = (as_complex(a, "a")?, as_complex(b, "b")?);
    match op.apply(a, b) {
        Ok(z) => Ok(PyComplex::from_doubles(py, z.re, z.im).unbind()),
        Err(e) => Err(errors::core_error(py, &e)),
    }
}

/// `a + b`, exactly as Python computes it.
#[pyfunction]
fn add(py: Python<'_>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyComplex>> {
    op(py, Op::Add, a, b)
}

/// `a - b`, exactly as Python computes it.
#[pyfunction]
fn sub(py: Python<'_>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyComplex>> {
    op(py, Op::Sub, a, b)
}

/// `a * b`, exactly as Python computes it.
#[pyfunction]
fn mul(py: Python<'_>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyComplex>> {
    op(py, Op::Mul, a, b)
}

/// `a / b`, exactly as Python computes it; raises on a zero divisor.
#[pyfunction]
fn div(py: Python<'_>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyComplex>> {
    op(py, Op::Div, a, b)
}

fn as_text<'a>(
    value: &'a Bound<'_, PyAny>,
    name: &'static str,
) -> PyResult<std::borrow::Cow<'a, str>> {
    let py = value.py();
    let Ok(s) = value.cast::<PyString>() else {
        return Err(errors::argument_type(py, name, value, "str"));
    };
    // A `str` with lone surrogates has no UTF-8 form: the same error the C
    // ABI gives for invalid UTF-8.
    s.to_str()
        .map(std::borrow::Cow::Borrowed)
        .map_err(|_| errors::core_error(py, &CoreError::InvalidUtf8 { arg: name }))
}

/// `f"{greeting}, {name}"`.
#[pyfunction]
fn greet(greeting: &Bound<'_, PyAny>, name: &Bound<'_, PyAny>) -> PyResult<String> {
    let (greeting, name) = (as_text(greeting, "greeting")?, as_text(name, "name")?);
    Ok(oxbridge_core::greet(&greeting, &name))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(add, m)?)?;
    m.add_function(wrap_pyfunction!(sub, m)?)?;
    m.add_function(wrap_pyfunction!(mul, m)?)?;
    m.add_function(wrap_pyfunction!(div, m)?)?;
    m.add_function(wrap_pyfunction!(greet, m)?)?;
    Ok(())
}
