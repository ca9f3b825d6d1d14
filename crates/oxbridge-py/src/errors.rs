//! Turns core errors into Python exceptions.
//!
//! The classes and the mapping from error kind to class live in exactly one
//! place, `oxbridge/errors.py`; this module only calls into it, so the PyO3
//! bridge raises what every other bridge raises.

use oxbridge_core::CoreError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyAny;

static ERROR_FOR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ARGUMENT_TYPE_ERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn errors_fn<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    cell.import(py, "oxbridge.errors", name)
}

/// The Python exception for a core error.
pub fn core_error(py: Python<'_>, e: &CoreError) -> PyErr {
    error(py, e.kind().name(), e.to_string())
}

/// The Python exception for an error of `kind`: `oxbridge.errors.error_for(kind, message)`.
pub fn error(py: Python<'_>, kind: &str, message: String) -> PyErr {
    let built = errors_fn(py, &ERROR_FOR, "error_for").and_then(|f| f.call1((kind, message)));
    match built {
        Ok(exc) => PyErr::from_value(exc),
        Err(import_failure) => import_failure,
    }
}

/// The Python exception for an argument of the wrong type:
/// `oxbridge.errors.argument_type_error(name, value, expected)`.
pub fn argument_type(
    py: Python<'_>,
    name: &str,
    value: &Bound<'_, PyAny>,
    expected: &str,
) -> PyErr {
    let built = errors_fn(py, &ARGUMENT_TYPE_ERROR, "argument_type_error")
        .and_then(|f| f.call1((name, value, expected)));
    match built {
        Ok(exc) => PyErr::from_value(exc),
        Err(import_failure) => import_failure,
    }
}
