//! `oxbridge._native`: the PyO3 bridge.
//!
//! One shared library serves three bridges: the `#[pyfunction]`s below (PyO3),
//! and the `oxb_*` C ABI re-exported from `oxbridge-ffi`, which the ctypes and
//! cffi bridges load from this same file.

pub use oxbridge::*;

mod batch;
mod callables;
mod errors;
mod scalar;
mod server;

use pyo3::prelude::*;

/// The cheapest PyO3 call with `add`'s shape: two arguments in, the first
/// back. The benchmark's floor for the PyO3 bridge.
#[pyfunction]
#[pyo3(signature = (a, b))]
fn bare<'py>(a: Bound<'py, PyAny>, b: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    let _ = b;
    a
}

/// The core's table of error kinds, one row per kind:
/// `(name, python_class, python_base, http_status, grpc_code, c_status)`.
/// `oxbridge.errors` builds its mapping from it.
#[pyfunction]
fn error_kinds() -> Vec<(&'static str, &'static str, &'static str, u16, i32, i32)> {
    oxbridge_core::ErrorKind::ALL
        .iter()
        .map(|k| {
            (
                k.name(),
                k.python_class(),
                k.python_base(),
                k.http_status(),
                k.grpc_code(),
                k.code(),
            )
        })
        .collect()
}

/// One exported function's description:
/// `(name, doc, [(param, type)], returns, result_field, [error kinds], has_many)`.
type FunctionRow = (
    &'static str,
    String,
    Vec<(&'static str, &'static str)>,
    &'static str,
    &'static str,
    Vec<&'static str>,
    bool,
);

/// The catalogue of exported functions, from their one definition: every
/// Python bridge, the stubs and the CLI are derived from it.
#[pyfunction]
fn functions() -> Vec<FunctionRow> {
    oxbridge_server::LIBRARY
        .functions
        .iter()
        .map(|f| {
            (
                f.name,
                f.doc_text(),
                f.params.iter().map(|p| (p.name, p.ty.name())).collect(),
                f.returns.name(),
                f.result_field,
                f.raises.iter().map(|k| k.name()).collect(),
                f.many.is_some(),
            )
        })
        .collect()
}

/// The C header of the ABI this library exports (generated, checked for
/// drift): the cffi bridge declares the symbols from it.
const C_HEADER: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../include/oxbridge.h"
));

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", oxbridge_core::VERSION)?;
    m.add("ABI_VERSION", oxbridge::OXB_ABI_VERSION)?;
    m.add("C_HEADER", C_HEADER)?;
    m.add("LIBRARY", oxbridge_server::LIBRARY.name)?;
    m.add("PARALLEL_THRESHOLD", oxbridge_core::PARALLEL_THRESHOLD)?;
    m.add("RUSTC_VERSION", env!("OXBRIDGE_RUSTC_VERSION"))?;
    m.add_function(wrap_pyfunction!(bare, m)?)?;
    m.add_function(wrap_pyfunction!(error_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(functions, m)?)?;
    callables::register(m)?;
    batch::register(m)?;
    m.add_class::<server::Server>()?;
    m.add_function(wrap_pyfunction!(server::default_socket_path, m)?)?;
    Ok(())
}
