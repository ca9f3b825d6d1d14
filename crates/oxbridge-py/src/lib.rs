//! `oxbridge._native`: the PyO3 bridge.
//!
//! One shared library serves three bridges: the `#[pyfunction]`s below (PyO3),
//! and the `oxb_*` C ABI re-exported from `oxbridge-ffi`, which the ctypes and
//! cffi bridges load from this same file.

pub use oxbridge::*;

mod batch;
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

/// Every error kind a server reports (the Python side maps each to a class).
#[pyfunction]
fn error_kinds() -> Vec<&'static str> {
    oxbridge_server::CallError::KINDS.to_vec()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", oxbridge_core::VERSION)?;
    m.add("ABI_VERSION", oxbridge::OXB_ABI_VERSION)?;
    m.add("RUSTC_VERSION", env!("OXBRIDGE_RUSTC_VERSION"))?;
    m.add_function(wrap_pyfunction!(bare, m)?)?;
    m.add_function(wrap_pyfunction!(error_kinds, m)?)?;
    scalar::register(m)?;
    batch::register(m)?;
    m.add_class::<server::Server>()?;
    m.add_function(wrap_pyfunction!(server::default_socket_path, m)?)?;
    Ok(())
}
