//! The PyO3 bridge of any exported library: its Python extension module.
//!
//! One shared library serves three bridges: the native functions (PyO3),
//! and the library's `oxb_*` C ABI, which the ctypes and cffi bridges load
//! from this same file. A library's crate writes one line,
//! `oxbridge_py::extension!(LIBRARY, signatures)`, and is a Python extension
//! module `<package>._native` with every function, its `_many` form, the
//! catalogue the Python package builds its clients from, the C symbols and
//! an in-process server for the network bridges.

use std::sync::OnceLock;

use oxbridge_core::export::Library;
pub use {oxbridge_ffi, pyo3};

pub mod anchors;
mod batch;
mod callables;
mod errors;
mod grpc_client;
mod grpc_runtime;
mod scalar;
mod server;
mod shared_client;

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
    library()
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

/// The library this extension module exports, set once when it is imported.
static LIBRARY: OnceLock<&'static Library> = OnceLock::new();

/// The library this extension module exports.
pub(crate) fn library() -> &'static Library {
    LIBRARY.get().copied().unwrap_or(&oxbridge_core::CALCULATOR)
}

/// Fills the extension module `m` for `library`: the body of the module's
/// initialization, written by [`python_module!`].
///
/// # Errors
/// When Python cannot add an attribute (out of memory).
pub fn init(m: &Bound<'_, PyModule>, library: &'static Library) -> PyResult<()> {
    let chosen = *LIBRARY.get_or_init(|| library);
    if !std::ptr::eq(chosen, library) {
        return Err(pyo3::exceptions::PyImportError::new_err(format!(
            "this extension already exports the library {:?}",
            chosen.name
        )));
    }
    m.add("COMPLEX_IN_PLACE", scalar::check_layout(m.py()))?;
    m.add("__version__", oxbridge_core::VERSION)?;
    m.add("ABI_VERSION", oxbridge_ffi::OXB_ABI_VERSION)?;
    m.add("C_HEADER", oxbridge_ffi::exported::header(library))?;
    m.add("LIBRARY", library.name)?;
    m.add(
        "DEFAULT_HTTP_PORT",
        oxbridge_server::config::DEFAULT_HTTP_PORT,
    )?;
    m.add(
        "DEFAULT_GRPC_PORT",
        oxbridge_server::config::DEFAULT_GRPC_PORT,
    )?;
    m.add("PARALLEL_THRESHOLD", oxbridge_core::PARALLEL_THRESHOLD)?;
    m.add("RUSTC_VERSION", env!("OXBRIDGE_RUSTC_VERSION"))?;
    m.add("SIMD", oxbridge_simd::level().name())?;
    m.add_function(wrap_pyfunction!(bare, m)?)?;
    m.add_function(wrap_pyfunction!(error_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(functions, m)?)?;
    callables::register(m)?;
    batch::register(m)?;
    m.add_class::<grpc_client::GrpcChannel>()?;
    m.add_class::<server::Server>()?;
    m.add_class::<server::ServeOptions>()?;
    m.add_function(wrap_pyfunction!(server::parse_serve_args, m)?)?;
    m.add_function(wrap_pyfunction!(server::default_socket_path, m)?)?;
    m.add_function(wrap_pyfunction!(server::serve_environment, m)?)?;
    m.add_function(wrap_pyfunction!(shared_client::shared_call, m)?)?;
    Ok(())
}

/// Writes the extension module `_native` of `library` (its `PyInit__native`),
/// for a crate whose C symbols come from elsewhere (the calculator's, from
/// `oxbridge-c`). A library's crate normally writes [`extension!`] instead.
#[macro_export]
macro_rules! python_module {
    ($library:path) => {
        /// The Python extension module `_native`.
        #[$crate::pyo3::pymodule]
        #[pyo3(name = "_native", crate = "oxbridge_py::pyo3")]
        fn __oxbridge_native(
            m: &$crate::pyo3::Bound<'_, $crate::pyo3::types::PyModule>,
        ) -> $crate::pyo3::PyResult<()> {
            $crate::init(m, &$library)
        }
    };
}

/// Makes this crate the Python extension module of the library `$library`
/// (defined with `oxbridge_core::export!` and its `signatures $signatures`):
/// the PyO3 module and every C symbol, from the one definition.
///
/// ```ignore
/// oxbridge_core::export! {
///     /// My functions.
///     pub static MINE = "mine", signatures mine_signatures;
///     /// Doubles.
///     pub fn twice(x: i64) -> i64 { x * 2 }
/// }
/// oxbridge_py::extension!(MINE, mine_signatures);
/// ```
#[macro_export]
macro_rules! extension {
    ($library:ident, $signatures:ident) => {
        $crate::python_module!($library);

        /// The library's C symbols, `oxb_<name>` and `oxb_many`.
        #[doc(hidden)]
        pub mod __oxbridge_c_symbols {
            // The signatures name types as the definitions do.
            #[allow(unused_imports)]
            use super::*;

            $signatures!(oxbridge_py::oxbridge_ffi::c_symbols, super::$library);
        }
    };
}
