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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", oxbridge_core::VERSION)?;
    m.add("ABI_VERSION", oxbridge::OXB_ABI_VERSION)?;
    scalar::register(m)?;
    batch::register(m)?;
    m.add_class::<server::Server>()?;
    m.add_function(wrap_pyfunction!(server::default_socket_path, m)?)?;
    Ok(())
}
