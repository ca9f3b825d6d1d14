//! Every exported function as a Python built-in function, derived from its
//! definition: one native function object per [`Function`], called through
//! CPython's vectorcall protocol with no per-function Rust code.
//!
//! Each function object is a `PyCFunction` with `METH_FASTCALL |
//! METH_KEYWORDS` whose `self` is the function's index in the library, so a
//! call costs what a `#[pyfunction]` costs: the arguments are read in place,
//! converted by the declared types, and the result built directly.

use std::borrow::Cow;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use numpy::{Complex64, PyArray1, PyReadonlyArray1};
use oxbridge_core::export::{Arg, Function, Type, Value};
use oxbridge_core::Complex;
use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyComplex, PyFloat, PyInt, PyString, PyTuple};
use smallvec::SmallVec;

use crate::scalar::as_complex;
use crate::{errors, registry};

/// Most functions take few arguments: their conversions stay on the stack.
pub(crate) type Few<T> = SmallVec<[T; 6]>;

/// Adds one native function per exported function of the library in `slot` to `m`.
pub fn register(m: &Bound<'_, PyModule>, slot: usize) -> PyResult<()> {
    let library = registry::at(slot).ok_or_else(|| PyTypeError::new_err("oxbridge: no library"))?;
    for (index, f) in library.functions.iter().enumerate() {
        // A function with a direct call (see `direct`) gets the entry point
        // that tries it; any other pays nothing for it.
        let code = registry::code(slot, index);
        let table = if crate::direct::get(code).is_some() {
            &INDEXED_DIRECT
        } else {
            &INDEXED
        };
        let meth = table
            .get(slot)
            .and_then(|functions| functions.get(index))
            .copied()
            .unwrap_or(trampoline);
        let code = code.into_pyobject(m.py())?.into_any();
        let function = native_function(m, f.name, &text_signature(f), code, meth)?;
        m.add(f.name, function)?;
    }
    Ok(())
}

/// The signature CPython calls a `METH_FASTCALL | METH_KEYWORDS` function through.
pub(crate) type FastCall = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *const *mut ffi::PyObject,
    ffi::Py_ssize_t,
    *mut ffi::PyObject,
) -> *mut ffi::PyObject;

/// A built-in function object named `name` (of module `m`) that calls `meth`
/// with `slf` as its `self`.
pub(crate) fn native_function<'py>(
    m: &Bound<'py, PyModule>,
    name: &str,
    doc: &str,
    slf: Bound<'py, PyAny>,
    meth: FastCall,
) -> PyResult<Bound<'py, PyAny>> {
    let py = m.py();
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: leak_c(name),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: meth,
        },
        ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ml_doc: leak_c(doc),
    }));
    let module_name = m.name()?;
    // SAFETY: `def` lives forever (leaked); `slf` and `module_name` are
    // live objects; the call returns a new reference or null with an error set.
    unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyCFunction_NewEx(def, slf.as_ptr(), module_name.as_ptr()),
        )
    }
}

/// CPython reads a signature from the docstring's first line: `name(a, b)\n--\n\n`.
fn text_signature(f: &Function) -> String {
    let params: Vec<&str> = f.params.iter().map(|p| p.name).collect();
    format!("{}({})\n--\n\n{}", f.name, params.join(", "), f.doc_text())
}

fn leak_c(text: &str) -> *const c_char {
    let text = CString::new(text.replace('\0', "")).unwrap_or_default();
    Box::leak(text.into_boxed_c_str()).as_ptr()
}

/// The entry point of a function past those of [`INDEXED`]: its slot and
/// index are read from `slf`.
unsafe extern "C" fn trampoline(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls this with the GIL held, and passes `nargsf`
    // positional arguments followed by one per name in `kwnames` (a tuple or
    // null), all live for the call; `slf` is the index object `register`
    // gave this function.
    unsafe {
        if let Some(result) = direct_call(code_of(slf), args, nargsf, kwnames) {
            return result;
        }
        guarded(|py| call(py, function_at(slf)?, args, nargsf, kwnames))
    }
}

/// The entry point of function `I` of the library in slot `S`: both are in
/// the code, so a call reads nothing from `slf` (one call into CPython
/// fewer, on every call). `D`: the function has a direct call, tried first.
unsafe extern "C" fn indexed<const S: usize, const I: usize, const D: bool>(
    _slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: as in `trampoline`.
    unsafe {
        if D {
            if let Some(result) = direct_call(Some(registry::code(S, I)), args, nargsf, kwnames) {
                return result;
            }
        }
        guarded(|py| {
            let f = registry::function(registry::code(S, I))
                .ok_or_else(|| PyTypeError::new_err("oxbridge: unknown exported function"))?;
            call(py, f, args, nargsf, kwnames)
        })
    }
}

/// The function's direct call (see `direct`), when it has one and is
/// called with positional arguments only: a new reference, or `None` for
/// the general path.
///
/// # Safety
/// As for [`trampoline`].
#[inline]
unsafe fn direct_call(
    code: Option<usize>,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> Option<*mut ffi::PyObject> {
    let direct = crate::direct::get(code?)?;
    if !kwnames.is_null() {
        return None;
    }
    let nargs = usize::try_from(nargsf).ok()?;
    // SAFETY: the caller's contract: `args` holds `nargs` live objects.
    let given = unsafe { std::slice::from_raw_parts(args, nargs) };
    // SAFETY: the caller's contract: the GIL is held.
    unsafe { direct.call(given) }
}

macro_rules! indexed {
    ($d:literal; $($s:literal)*) => { [$(indexed!(@slot $d $s)),*] };
    (@slot $d:literal $s:literal) => {
        indexed!(@each $d $s; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31)
    };
    (@each $d:literal $s:literal; $($i:literal)*) => { [$(indexed::<$s, $i, $d> as FastCall),*] };
}

/// The entry points of the first functions of the first libraries, by slot
/// and index (see [`indexed`]).
static INDEXED: [[FastCall; 32]; 4] = indexed!(false; 0 1 2 3);

/// The same, for functions with a direct call (see `direct`).
static INDEXED_DIRECT: [[FastCall; 32]; 4] = indexed!(true; 0 1 2 3);

/// Runs `body` with the GIL, as a C entry point: a panic becomes an
/// `InternalError`, the result a new reference or null with the error set,
/// and the caller's `errno` is left as it was.
///
/// # Safety
/// The caller holds the GIL.
pub(crate) unsafe fn guarded(
    body: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>>,
) -> *mut ffi::PyObject {
    // The caller's `errno` as it was, whatever the function leaves in it.
    let _errno = oxbridge_ffi::KeepErrno::now();
    // SAFETY: the caller holds the GIL.
    let py = unsafe { Python::assume_attached() };
    let outcome = catch_unwind(AssertUnwindSafe(|| body(py)));
    let result = match outcome {
        Ok(result) => result,
        Err(_) => Err(errors::error(
            py,
            "internal",
            "internal error in oxbridge: a panic in an exported function".to_owned(),
        )),
    };
    match result {
        Ok(object) => object.into_ptr(),
        Err(e) => {
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}

/// Calls `f` with CPython's vectorcall arguments.
///
/// # Safety
/// The GIL is held; `args` holds `nargsf` positional arguments followed by
/// one per name in `kwnames` (a tuple or null), all live for the call.
unsafe fn call<'py>(
    py: Python<'py>,
    f: &'static Function,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<Bound<'py, PyAny>> {
    // METH_FASTCALL receives the plain count (CPython strips the vectorcall flag).
    let nargs = usize::try_from(nargsf).unwrap_or(0);
    if kwnames.is_null() && nargs == f.params.len() && nargs <= FAST_ARGS {
        // SAFETY: `args` holds `nargs` live objects.
        let given = unsafe { std::slice::from_raw_parts(args, nargs) };
        if let Some(result) = fast_call(py, f, given) {
            return result;
        }
    }
    let kwnames = (!kwnames.is_null()).then(|| {
        // SAFETY: a non-null `kwnames` is a tuple of str, live for the call.
        unsafe { Bound::ref_from_ptr(py, &kwnames) }
    });
    let nkw = kwnames.map_or(0, |k| k.len().unwrap_or(0));
    // SAFETY: `args` holds `nargs + nkw` live objects.
    let given = unsafe { std::slice::from_raw_parts(args, nargs + nkw) };
    let objects = bind(py, f, given, nargs, kwnames)?;
    let mut slots: Few<Slot<'_, 'py>> = SmallVec::new();
    for (object, param) in objects.iter().zip(f.params) {
        slots.push(Slot::read(object, param.name, param.ty)?);
    }
    let args: Few<Arg<'_>> = slots.iter().map(Slot::arg).collect();
    let value = if slots.iter().any(Slot::is_array) {
        py.detach(|| f.invoke(&args))
    } else {
        (f.call)(&args)
    };
    match value {
        Ok(value) => to_python(py, value),
        Err(e) => Err(errors::core_error(py, &e)),
    }
}

/// The exported function whose [`registry::code`] is `slf` (see [`native_function`]).
///
/// # Safety
/// `slf` is a live object and the GIL is held.
pub(crate) unsafe fn function_at(slf: *mut ffi::PyObject) -> PyResult<&'static Function> {
    // SAFETY: as the caller promises.
    let code = unsafe { ffi::PyLong_AsSsize_t(slf) };
    usize::try_from(code)
        .ok()
        .and_then(registry::function)
        .ok_or_else(|| PyTypeError::new_err("oxbridge: unknown exported function"))
}

/// The code a function object's `self` holds (see `registry::code`).
///
/// # Safety
/// The GIL is held; `slf` is the index object `register` gave a function.
unsafe fn code_of(slf: *mut ffi::PyObject) -> Option<usize> {
    // SAFETY: the caller's contract.
    let code = unsafe { ffi::PyLong_AsSsize_t(slf) };
    usize::try_from(code).ok()
}

/// Positional calls of numbers only (the calculator's shape) skip the general
/// path: no keyword matching, nothing to keep alive, no drop glue.
pub(crate) const FAST_ARGS: usize = 4;

#[inline]
fn fast_call<'py>(
    py: Python<'py>,
    f: &Function,
    given: &[*mut ffi::PyObject],
) -> Option<PyResult<Bound<'py, PyAny>>> {
    let plain = |ty| matches!(ty, Type::Complex | Type::F64 | Type::I64 | Type::Bool);
    if !f.params.iter().all(|p| plain(p.ty)) {
        return None;
    }
    let mut args = [Arg::Bool(false); FAST_ARGS];
    for ((slot, ptr), param) in args.iter_mut().zip(given).zip(f.params) {
        // SAFETY: a live argument object, borrowed for the call.
        let object = unsafe { Bound::ref_from_ptr(py, ptr) };
        let arg = if param.ty == Type::Complex {
            as_complex(object, param.name).map(Arg::Complex)
        } else {
            Slot::read(object, param.name, param.ty).map(|s| s.arg_static())
        };
        match arg {
            Ok(arg) => *slot = arg,
            Err(e) => return Some(Err(e)),
        }
    }
    Some(match (f.call)(&args[..given.len()]) {
        Ok(value) => to_python(py, value),
        Err(e) => Err(errors::core_error(py, &e)),
    })
}

/// The argument objects in parameter order, from positional and keyword arguments.
fn bind<'a, 'py>(
    py: Python<'py>,
    f: &Function,
    given: &'a [*mut ffi::PyObject],
    nargs: usize,
    kwnames: Option<&Bound<'py, PyAny>>,
) -> PyResult<Few<&'a Bound<'py, PyAny>>> {
    let usage = |message: String| errors::error(py, "invalid_type", message);
    let want = f.params.len();
    if nargs > want {
        return Err(usage(format!(
            "{}() takes {want} positional arguments but {nargs} were given",
            f.name
        )));
    }
    let mut bound: Few<Option<&'a Bound<'py, PyAny>>> = SmallVec::from_elem(None, want);
    for (slot, ptr) in bound.iter_mut().zip(&given[..nargs]) {
        // SAFETY: a live argument object, borrowed for the call.
        *slot = Some(unsafe { Bound::ref_from_ptr(py, ptr) });
    }
    if let Some(kwnames) = kwnames {
        let names = kwnames.cast::<PyTuple>()?;
        for (name, ptr) in names.iter().zip(&given[nargs..]) {
            let name = name.cast::<PyString>()?.to_cow()?;
            let Some(i) = f.params.iter().position(|p| p.name == name) else {
                return Err(usage(format!(
                    "{}() got an unexpected keyword argument '{name}'",
                    f.name
                )));
            };
            if bound[i].is_some() {
                return Err(usage(format!(
                    "{}() got multiple values for argument '{name}'",
                    f.name
                )));
            }
            // SAFETY: as above.
            bound[i] = Some(unsafe { Bound::ref_from_ptr(py, ptr) });
        }
    }
    bound
        .iter()
        .zip(f.params)
        .map(|(b, p)| {
            b.ok_or_else(|| {
                usage(format!(
                    "{}() missing required argument '{}'",
                    f.name, p.name
                ))
            })
        })
        .collect()
}

/// One argument, converted from Python and kept alive for the call.
pub(crate) enum Slot<'a, 'py> {
    Plain(Arg<'static>),
    Text(Cow<'a, str>),
    Bytes(&'a [u8]),
    F64s(PyReadonlyArray1<'py, f64>),
    I64s(PyReadonlyArray1<'py, i64>),
    Complexes(PyReadonlyArray1<'py, Complex64>),
}

impl<'a, 'py> Slot<'a, 'py> {
    #[inline]
    pub(crate) fn read(
        value: &'a Bound<'py, PyAny>,
        name: &'static str,
        ty: Type,
    ) -> PyResult<Self> {
        let py = value.py();
        let wrong = |expected: &str| errors::argument_type(py, name, value, expected);
        Ok(match ty {
            Type::Complex => Slot::Plain(Arg::Complex(as_complex(value, name)?)),
            Type::F64 => {
                if value.is_instance_of::<PyString>() || !has_float(value) {
                    return Err(wrong("float"));
                }
                Slot::Plain(Arg::F64(value.extract::<f64>()?))
            }
            Type::I64 => {
                if !value.is_instance_of::<PyInt>() || value.is_instance_of::<PyBool>() {
                    return Err(wrong("int"));
                }
                Slot::Plain(Arg::I64(value.extract::<i64>().map_err(|_| {
                    errors::error(
                        py,
                        "invalid_argument",
                        format!("argument '{name}' must be an integer from -2**63 to 2**63-1"),
                    )
                })?))
            }
            Type::Bool => match value.cast::<PyBool>() {
                Ok(b) => Slot::Plain(Arg::Bool(b.is_true())),
                Err(_) => return Err(wrong("bool")),
            },
            Type::Str => {
                let Ok(s) = value.cast::<PyString>() else {
                    return Err(wrong("str"));
                };
                // A `str` with lone surrogates has no UTF-8 form: the same
                // error the C ABI gives for invalid UTF-8.
                Slot::Text(s.to_str().map(Cow::Borrowed).map_err(|_| {
                    errors::core_error(py, &oxbridge_core::CoreError::InvalidUtf8 { arg: name })
                })?)
            }
            Type::Bytes => match value.cast::<PyBytes>() {
                Ok(b) => Slot::Bytes(b.as_bytes()),
                Err(_) => return Err(wrong("bytes")),
            },
            Type::F64Array => Slot::F64s(array(value, name, "a 1-D float64 array")?),
            Type::I64Array => Slot::I64s(array(value, name, "a 1-D int64 array")?),
            Type::ComplexArray => Slot::Complexes(array(value, name, "a 1-D complex128 array")?),
        })
    }

    pub(crate) fn arg(&self) -> Arg<'_> {
        match self {
            Slot::Plain(arg) => *arg,
            Slot::Text(text) => Arg::Str(text),
            Slot::Bytes(bytes) => Arg::Bytes(bytes),
            // Contiguity was checked in `array`.
            Slot::F64s(a) => Arg::F64Array(a.as_slice().unwrap_or_default()),
            Slot::I64s(a) => Arg::I64Array(a.as_slice().unwrap_or_default()),
            Slot::Complexes(a) => {
                Arg::ComplexArray(crate::arrays::as_core(a.as_slice().unwrap_or_default()))
            }
        }
    }

    /// The argument of a number or bool (the fast path reads only those).
    fn arg_static(&self) -> Arg<'static> {
        match self {
            Slot::Plain(arg) => *arg,
            _ => Arg::Bool(false),
        }
    }

    fn is_array(&self) -> bool {
        matches!(self, Slot::F64s(_) | Slot::I64s(_) | Slot::Complexes(_))
    }
}

fn has_float(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<PyFloat>()
        || value.is_instance_of::<PyInt>()
        || value.hasattr("__float__").unwrap_or(false)
        || value.hasattr("__index__").unwrap_or(false)
}

fn array<'py, T: numpy::Element>(
    value: &Bound<'py, PyAny>,
    name: &'static str,
    expected: &str,
) -> PyResult<PyReadonlyArray1<'py, T>> {
    let py = value.py();
    let array: PyReadonlyArray1<'py, T> = value
        .extract()
        .map_err(|_| errors::argument_type(py, name, value, expected))?;
    if array.as_slice().is_err() {
        return Err(errors::error(
            py,
            "invalid_argument",
            format!("argument '{name}' must be a contiguous array"),
        ));
    }
    Ok(array)
}

fn to_python(py: Python<'_>, value: Value) -> PyResult<Bound<'_, PyAny>> {
    Ok(match value {
        Value::Bool(v) => PyBool::new(py, v).to_owned().into_any(),
        Value::I64(v) => v.into_pyobject(py)?.into_any(),
        Value::F64(v) => PyFloat::new(py, v).into_any(),
        Value::Complex(z) => PyComplex::from_doubles(py, z.re, z.im).into_any(),
        Value::Str(s) => PyString::new(py, &s).into_any(),
        Value::Bytes(b) => PyBytes::new(py, &b).into_any(),
        Value::F64Array(v) => PyArray1::from_vec(py, v).into_any(),
        Value::I64Array(v) => PyArray1::from_vec(py, v).into_any(),
        Value::ComplexArray(v) => {
            let v: Vec<Complex64> = v
                .into_iter()
                .map(|z: Complex| Complex64::new(z.re, z.im))
                .collect();
            PyArray1::from_vec(py, v).into_any()
        }
    })
}
