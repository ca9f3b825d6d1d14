//! `oxbridge._native`: the calculator's extension module.
//!
//! The PyO3 module comes from `oxbridge-py`; the `oxb_*` symbols and the
//! article's `compute` from the calculator's C library, `oxbridge-c`, linked
//! in so that the ctypes and cffi bridges load them from this same file; and
//! cffi's API-mode module of those symbols (`build.rs`) is its `_cffi_api`.

pub use oxbridge::*;

use oxbridge_py::pyo3;
use pyo3::prelude::*;

extern "C" {
    /// cffi's module init (`cffi/_cffi_api.c`).
    fn PyInit__cffi_api() -> *mut pyo3::ffi::PyObject;
}

/// The Python extension module `_native`.
#[pymodule]
#[pyo3(name = "_native", crate = "oxbridge_py::pyo3")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    oxbridge_py::init(m, &oxbridge_core::CALCULATOR)?;
    // The benchmark's anchors answer the calculator's `add`: its module only.
    m.add_function(wrap_pyfunction!(oxbridge_py::anchors::serve_anchors, m)?)?;
    // SAFETY: cffi's init, called with the GIL held, returns a new reference
    // to its module or null with an exception set.
    let api = unsafe { Bound::from_owned_ptr_or_err(m.py(), PyInit__cffi_api())? };
    // An attribute only, not in `__all__`: private to the cffi bridge.
    m.setattr("_cffi_api", api)
}
