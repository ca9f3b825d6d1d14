//! The runtime's Python extension, `oxbridge._native`: the PyO3 bridge of
//! every library, the in-process server and the network clients.
//!
//! The extension exports its own library, the calculator, and loads any
//! other from the library's shared object (`load_library`: a crate that
//! wrote `oxbridge_ffi::library!`), checking its ABI version and checksum.
//! Each library gets a module with every function, its `_many` form, the
//! catalogue its Python package builds clients from, its C header (the
//! ctypes and cffi bridges load the `oxb_*` symbols of its own shared
//! object) and its server for the network bridges.

use oxbridge_core::export::Library;
pub use {oxbridge_ffi, pyo3};

pub mod anchors;
mod arrays;
mod batch;
mod callables;
mod client;
mod direct;
mod errors;
mod registry;
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

/// The catalogue of the module's library, from its one definition: every
/// Python bridge, the stubs and the CLI are derived from it.
#[pyfunction]
#[pyo3(pass_module)]
fn functions(m: &Bound<'_, PyModule>) -> PyResult<Vec<FunctionRow>> {
    Ok(registry::library_of(m)?
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
        .collect())
}

/// Fills the extension module `m` for `library`: the body of the module's
/// initialization, written by [`python_module!`].
///
/// # Errors
/// When Python cannot add an attribute (out of memory), or when this
/// extension already exports another library.
pub fn init(m: &Bound<'_, PyModule>, library: &'static Library) -> PyResult<()> {
    if registry::slot_of(library)? != 0 {
        return Err(pyo3::exceptions::PyImportError::new_err(format!(
            "this extension already exports the library {:?}",
            registry::at(0).map_or("?", |l| l.name)
        )));
    }
    m.add("COMPLEX_IN_PLACE", scalar::check_layout(m.py()))?;
    m.add("RUSTC_VERSION", env!("OXBRIDGE_RUSTC_VERSION"))?;
    m.add("SIMD", oxbridge_simd::level().name())?;
    m.add_function(wrap_pyfunction!(bare, m)?)?;
    m.add_function(wrap_pyfunction!(error_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(load_library, m)?)?;
    m.add_class::<client::grpc::GrpcChannel>()?;
    m.add_function(wrap_pyfunction!(client::shared::shared_call, m)?)?;
    fill(m, 0)
}

/// Adds to `m` everything a library's module holds: its catalogue, its
/// functions and their `_many` forms, its C header, and its server.
fn fill(m: &Bound<'_, PyModule>, slot: usize) -> PyResult<()> {
    let library = registry::at(slot)
        .ok_or_else(|| pyo3::exceptions::PyImportError::new_err("oxbridge: no library"))?;
    m.setattr("_SLOT", slot)?;
    m.add("__version__", oxbridge_core::VERSION)?;
    m.add("ABI_VERSION", oxbridge_ffi::OXB_ABI_VERSION)?;
    m.add(
        "LIBRARY_ABI_VERSION",
        oxbridge_ffi::library::OXB_LIBRARY_ABI_VERSION,
    )?;
    m.add("C_HEADER", oxbridge_ffi::exported::header(library))?;
    m.add("LIBRARY", library.name)?;
    m.add("LIBRARY_VERSION", library.version)?;
    m.add("CHECKSUM", format!("{:016x}", library.checksum()))?;
    m.add("CONTRACT", library.contract())?;
    let direct: Vec<&str> = library
        .functions
        .iter()
        .enumerate()
        .filter(|(index, _)| direct::get(registry::code(slot, *index)).is_some())
        .map(|(_, f)| f.name)
        .collect();
    m.add("DIRECT", pyo3::types::PyTuple::new(m.py(), direct)?)?;
    m.add(
        "DEFAULT_HTTP_PORT",
        oxbridge_server::ground::config::DEFAULT_HTTP_PORT,
    )?;
    m.add(
        "DEFAULT_GRPC_PORT",
        oxbridge_server::ground::config::DEFAULT_GRPC_PORT,
    )?;
    m.add("PARALLEL_THRESHOLD", oxbridge_core::PARALLEL_THRESHOLD)?;
    m.add_function(wrap_pyfunction!(functions, m)?)?;
    callables::register(m, slot)?;
    batch::register(m)?;
    m.add_class::<server::Server>()?;
    m.add_class::<server::ServeOptions>()?;
    m.add_function(wrap_pyfunction!(server::parse_serve_args, m)?)?;
    m.add_function(wrap_pyfunction!(server::default_socket_path, m)?)?;
    m.add_function(wrap_pyfunction!(server::serve_environment, m)?)?;
    Ok(())
}

/// Loads the library in the shared object at `path` (a crate that wrote
/// `oxbridge_ffi::library!`) and returns its module, named `name`: the same
/// attributes as an extension's own (`functions()`, one function each,
/// `many`, `Server`...), with `__file__` the shared object, which the ctypes
/// and cffi bridges load. The library's ABI version and its catalogue's
/// checksum are checked first; a failure is an `ImportError` saying why.
#[pyfunction]
fn load_library<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    name: &str,
) -> PyResult<Bound<'py, PyModule>> {
    let library = oxbridge_ffi::host::load(&path)
        .map_err(|e| pyo3::exceptions::PyImportError::new_err(e.to_string()))?;
    let slot = registry::slot_of(library)?;
    direct::prepare(slot, library);
    let m = PyModule::new(py, name)?;
    m.setattr("__file__", path.display().to_string())?;
    fill(&m, slot)?;
    Ok(m)
}

/// Writes the extension module `_native` of `library` (its `PyInit__native`),
/// for a crate whose C symbols come from elsewhere (the calculator's, from
/// `oxbridge-c`). A library's crate writes `oxbridge_ffi::library!` instead,
/// and the runtime loads it.
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
