//! The vectorized form of every numeric exported function on numpy arrays:
//! no copy of the inputs, the GIL released while Rust works.

use std::sync::atomic::{AtomicBool, Ordering};

use numpy::{
    Complex64, PyArray1, PyArrayMethods, PyReadwriteArray1, PyUntypedArray, PyUntypedArrayMethods,
};
use oxbridge_core::export::{Arg, Function, OutArray, Type};
use oxbridge_core::Complex;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyComplex, PyDict, PyFloat, PyInt, PyTuple};

use crate::arrays::{as_core, as_core_mut};
use crate::callables::{function_at, guarded, native_function, Few, Slot, FAST_ARGS};
use crate::{errors, registry};

/// The output array, borrowed for writing.
enum Out<'py> {
    Complex(PyReadwriteArray1<'py, Complex64>),
    F64(PyReadwriteArray1<'py, f64>),
    I64(PyReadwriteArray1<'py, i64>),
}

fn out_array<'py>(out: &Bound<'py, PyAny>, returns: Type) -> PyResult<Out<'py>> {
    let py = out.py();
    let wrong = |expected: &str| errors::argument_type(py, "out", out, expected);
    Ok(match returns {
        Type::Complex => Out::Complex(out.extract().map_err(|_| wrong("a complex128 array"))?),
        Type::F64 => Out::F64(out.extract().map_err(|_| wrong("a float64 array"))?),
        _ => Out::I64(out.extract().map_err(|_| wrong("an int64 array"))?),
    })
}

fn not_contiguous(py: Python<'_>) -> PyErr {
    errors::error(
        py,
        "invalid_argument",
        "argument 'out' must be a contiguous array".to_owned(),
    )
}

/// `out[:] = function(*args)` elementwise, for an exported numeric function:
/// each argument a 1-D array of its parameter's element type or one scalar of
/// it. The Python layer (`oxbridge._arrays`) converts the arguments and
/// allocates `out`.
#[pyfunction]
#[pyo3(pass_module, signature = (function, args, out))]
fn many(
    m: &Bound<'_, PyModule>,
    function: &str,
    args: &Bound<'_, PyTuple>,
    out: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let py = m.py();
    let f = registry::library_of(m)?
        .lookup(function)
        .map_err(|e| errors::core_error(py, &e))?;
    let objects: Few<Bound<'_, PyAny>> = args.iter().collect();
    let mut slots: Few<Slot<'_, '_>> = Few::new();
    for (object, param) in objects.iter().zip(f.params) {
        let ty = match param.ty.array() {
            Some(array) if object.is_instance_of::<PyUntypedArray>() => array,
            _ => param.ty,
        };
        slots.push(Slot::read(object, param.name, ty)?);
    }
    let args: Few<_> = slots.iter().map(Slot::arg).collect();
    let mut out = out_array(out, f.returns)?;
    let mut out = match &mut out {
        Out::Complex(a) => OutArray::Complex(as_core_mut(
            a.as_slice_mut().map_err(|_| not_contiguous(py))?,
        )),
        Out::F64(a) => OutArray::F64(a.as_slice_mut().map_err(|_| not_contiguous(py))?),
        Out::I64(a) => OutArray::I64(a.as_slice_mut().map_err(|_| not_contiguous(py))?),
    };
    py.detach(|| f.invoke_many(&args, &mut out))
        .map_err(|e| errors::core_error(py, &e))
}

/// Below this many elements a call keeps the GIL: releasing and retaking it
/// costs more than the work.
const DETACH_FROM: usize = 1 << 14;

/// The common vectorized call, ready as it is: positional arguments, the
/// first a 1-D contiguous array of its parameter's dtype, each other one such
/// an array of the same length or a plain `float` or `complex`, computed into
/// a new array. Anything else goes to the function's `fallback` (the Python
/// layer, which checks, converts and calls [`many`]).
unsafe extern "C" fn fast_many_call(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls this with the GIL held, `slf` the `(index,
    // fallback)` tuple `fast_many` gave it, and `nargsf` positional arguments
    // followed by one per name in `kwnames`, all live for the call.
    unsafe {
        guarded(|py| {
            let slf = Bound::ref_from_ptr(py, &slf).cast::<PyTuple>()?;
            let f = function_at(slf.get_borrowed_item(0)?.as_ptr())?;
            let nargs = usize::try_from(nargsf).unwrap_or(0);
            let kwnames = (!kwnames.is_null()).then(|| Bound::ref_from_ptr(py, &kwnames));
            let nkw = kwnames.map_or(0, |k| k.len().unwrap_or(0));
            let given = std::slice::from_raw_parts(args, nargs + nkw);
            let objects: Few<&Bound<'_, PyAny>> =
                given.iter().map(|p| Bound::ref_from_ptr(py, p)).collect();
            if kwnames.is_none() && nargs == f.params.len() && nargs <= FAST_ARGS && numpy_ready(py)
            {
                if let Some(array) = ready(py, f, &objects)? {
                    return Ok(array);
                }
            }
            let positional = PyTuple::new(py, &objects[..nargs])?;
            let keywords = PyDict::new(py);
            if let Some(names) = kwnames {
                for (name, value) in names.try_iter()?.zip(&objects[nargs..]) {
                    keywords.set_item(name?, value)?;
                }
            }
            slf.get_borrowed_item(1)?.call(positional, Some(&keywords))
        })
    }
}

/// `<name>_many` as a built-in function: [`fast_many_call`]'s path for
/// arrays ready as they are, `fallback(*args, **kwargs)` for anything else.
#[pyfunction]
#[pyo3(pass_module, signature = (name, fallback))]
fn fast_many<'py>(
    m: &Bound<'py, PyModule>,
    name: &str,
    fallback: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = m.py();
    let slot = m.getattr("_SLOT")?.extract::<usize>()?;
    let (index, f) = registry::library_of(m)?
        .functions
        .iter()
        .enumerate()
        .find(|(_, f)| f.name == name && f.many.is_some())
        .ok_or_else(|| {
            errors::error(
                py,
                "invalid_argument",
                format!("{name}() has no vectorized form"),
            )
        })?;
    let doc = fallback
        .getattr("__doc__")
        .and_then(|d| d.extract::<String>())
        .unwrap_or_default();
    let text = format!("{}_many(*args, **kwargs)\n--\n\n{doc}", f.name);
    let code = registry::code(slot, index).into_pyobject(py)?.into_any();
    let slf = PyTuple::new(py, [code, fallback])?;
    native_function(
        m,
        &format!("{}_many", f.name),
        &text,
        slf.into_any(),
        fast_many_call,
    )
}

/// Whether numpy can be used: imported once, on the first vectorized call.
/// Without it every call takes the Python path, which names the extra to install.
fn numpy_ready(py: Python<'_>) -> bool {
    static READY: AtomicBool = AtomicBool::new(false);
    if READY.load(Ordering::Relaxed) {
        return true;
    }
    let ready = py.import("numpy").is_ok();
    READY.store(ready, Ordering::Relaxed);
    ready
}

/// One operand of [`fast_many`], read without copying.
enum Ready<'py> {
    Complexes(Bound<'py, PyArray1<Complex64>>),
    F64s(Bound<'py, PyArray1<f64>>),
    I64s(Bound<'py, PyArray1<i64>>),
    Scalar(Arg<'static>),
}

fn operand<'py>(object: &Bound<'py, PyAny>, ty: Type, first: bool) -> Option<Ready<'py>> {
    // SAFETY: a live object; the GIL is held.
    let exact = unsafe { numpy::npyffi::PyArray_CheckExact(object.py(), object.as_ptr()) } != 0;
    if exact {
        // An exact `ndarray` only: a subclass (a masked array...) has its own
        // meaning, which the Python layer decides on.
        let contiguous = object
            .cast::<PyUntypedArray>()
            .is_ok_and(|a| a.is_c_contiguous());
        if !contiguous {
            return None;
        }
    }
    match ty {
        Type::Complex => {
            if exact {
                return object
                    .cast::<PyArray1<Complex64>>()
                    .ok()
                    .map(|a| Ready::Complexes(a.clone()));
            }
            if first {
                return None;
            }
            // As `complex(x)` reads a plain complex or float.
            let z = match object.cast_exact::<PyComplex>() {
                Ok(c) => Complex::new(c.real(), c.imag()),
                Err(_) => Complex::new(object.cast_exact::<PyFloat>().ok()?.value(), 0.0),
            };
            Some(Ready::Scalar(Arg::Complex(z)))
        }
        Type::F64 => {
            if exact {
                return object
                    .cast::<PyArray1<f64>>()
                    .ok()
                    .map(|a| Ready::F64s(a.clone()));
            }
            let x = object.cast_exact::<PyFloat>().ok().filter(|_| !first)?;
            Some(Ready::Scalar(Arg::F64(x.value())))
        }
        Type::I64 => {
            if exact {
                return object
                    .cast::<PyArray1<i64>>()
                    .ok()
                    .map(|a| Ready::I64s(a.clone()));
            }
            // An exact `int` in range (never a `bool`, a subclass).
            let x = object.cast_exact::<PyInt>().ok().filter(|_| !first)?;
            Some(Ready::Scalar(Arg::I64(x.extract().ok()?)))
        }
        _ => None,
    }
}

fn ready<'py>(
    py: Python<'py>,
    f: &Function,
    objects: &[&Bound<'py, PyAny>],
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let mut operands: Few<Ready<'py>> = Few::new();
    let mut n = None;
    for (i, (object, param)) in objects.iter().zip(f.params).enumerate() {
        let Some(found) = operand(object, param.ty, i == 0) else {
            return Ok(None);
        };
        let len = match &found {
            Ready::Complexes(a) => Some(a.len()),
            Ready::F64s(a) => Some(a.len()),
            Ready::I64s(a) => Some(a.len()),
            Ready::Scalar(_) => None,
        };
        if let Some(len) = len {
            if *n.get_or_insert(len) != len {
                return Ok(None); // the Python layer names the lengths
            }
        }
        operands.push(found);
    }
    let n = n.unwrap_or(0);
    // Fresh arrays, read-only borrows: no one else can write them meanwhile.
    let reads: Few<_> = operands
        .iter()
        .map(|o| match o {
            Ready::Complexes(a) => a.try_readonly().map(Read::Complexes),
            Ready::F64s(a) => a.try_readonly().map(Read::F64s),
            Ready::I64s(a) => a.try_readonly().map(Read::I64s),
            Ready::Scalar(arg) => Ok(Read::Scalar(*arg)),
        })
        .collect::<Result<_, _>>()
        .map_err(|_| not_readable(py))?;
    let args: Few<Arg<'_>> = reads.iter().map(Read::arg).collect();
    let result = match f.returns {
        Type::Complex => {
            // SAFETY: every element is written before anyone reads it (on an
            // error the array is dropped unread), as with `numpy.empty`.
            let out = unsafe { PyArray1::<Complex64>::new(py, n, false) };
            fill(
                py,
                f,
                &args,
                &mut OutArray::Complex(as_core_mut(
                    // SAFETY: a new array, not shared with anyone yet.
                    unsafe { out.as_slice_mut() }.map_err(|_| not_contiguous(py))?,
                )),
                n,
            )?;
            out.into_any()
        }
        Type::F64 => {
            // SAFETY: as above.
            let out = unsafe { PyArray1::<f64>::new(py, n, false) };
            // SAFETY: as above.
            let slice = unsafe { out.as_slice_mut() }.map_err(|_| not_contiguous(py))?;
            fill(py, f, &args, &mut OutArray::F64(slice), n)?;
            out.into_any()
        }
        Type::I64 => {
            // SAFETY: as above.
            let out = unsafe { PyArray1::<i64>::new(py, n, false) };
            // SAFETY: as above.
            let slice = unsafe { out.as_slice_mut() }.map_err(|_| not_contiguous(py))?;
            fill(py, f, &args, &mut OutArray::I64(slice), n)?;
            out.into_any()
        }
        _ => return Ok(None),
    };
    Ok(Some(result))
}

fn fill(
    py: Python<'_>,
    f: &Function,
    args: &[Arg<'_>],
    out: &mut OutArray<'_>,
    n: usize,
) -> PyResult<()> {
    let outcome = if n < DETACH_FROM {
        f.invoke_many(args, out)
    } else {
        py.detach(|| f.invoke_many(args, out))
    };
    outcome.map_err(|e| errors::core_error(py, &e))
}

/// An operand of [`fast_many`], borrowed for reading.
enum Read<'py> {
    Complexes(numpy::PyReadonlyArray1<'py, Complex64>),
    F64s(numpy::PyReadonlyArray1<'py, f64>),
    I64s(numpy::PyReadonlyArray1<'py, i64>),
    Scalar(Arg<'static>),
}

impl Read<'_> {
    fn arg(&self) -> Arg<'_> {
        match self {
            // Contiguity was checked in `operand`.
            Read::Complexes(a) => Arg::ComplexArray(as_core(a.as_slice().unwrap_or_default())),
            Read::F64s(a) => Arg::F64Array(a.as_slice().unwrap_or_default()),
            Read::I64s(a) => Arg::I64Array(a.as_slice().unwrap_or_default()),
            Read::Scalar(arg) => *arg,
        }
    }
}

fn not_readable(py: Python<'_>) -> PyErr {
    errors::error(
        py,
        "invalid_argument",
        "an argument array is being written by another call".to_owned(),
    )
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(many, m)?)?;
    m.add_function(wrap_pyfunction!(fast_many, m)?)
}
