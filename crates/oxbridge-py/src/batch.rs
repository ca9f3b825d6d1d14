//! The vectorized form of every numeric exported function on numpy arrays:
//! no copy of the inputs, the GIL released while Rust works.

use numpy::{Complex64, PyReadwriteArray1, PyUntypedArray};
use oxbridge_core::export::{OutArray, Type};
use oxbridge_core::Complex;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::callables::{Few, Slot};
use crate::errors;
use crate::library;

/// Views numpy's `complex128` elements as the core's complex numbers.
pub(crate) fn as_core(slice: &[Complex64]) -> &[Complex] {
    // SAFETY: `Complex64` (num-complex) and `Complex` are both `#[repr(C)]`
    // pairs of f64, real part first, so the layout is identical.
    unsafe { std::slice::from_raw_parts(slice.as_ptr().cast::<Complex>(), slice.len()) }
}

fn as_core_mut(slice: &mut [Complex64]) -> &mut [Complex] {
    // SAFETY: as in `as_core`; the borrow is unique, as `slice` was.
    unsafe { std::slice::from_raw_parts_mut(slice.as_mut_ptr().cast::<Complex>(), slice.len()) }
}

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
#[pyo3(signature = (function, args, out))]
fn many(
    py: Python<'_>,
    function: &str,
    args: &Bound<'_, PyTuple>,
    out: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let f = library()
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(many, m)?)
}
