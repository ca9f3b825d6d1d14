//! `oxbridge._native`: the calculator's extension module.
//!
//! The PyO3 module comes from `oxbridge-py`; the `oxb_*` symbols and the
//! article's `compute` from the calculator's C library, `oxbridge-c`, linked
//! in so that the ctypes and cffi bridges load them from this same file.

pub use oxbridge::*;

oxbridge_py::python_module!(oxbridge_core::CALCULATOR);
