//! Batch operations on numpy arrays: no copy of the inputs, the GIL released
//! while Rust works.

use numpy::{Complex64, PyReadonlyArray1, PyReadwriteArray1};
use oxbridge_core::{apply_many, Complex, Op, Rhs};
use pyo3::prelude::*;

use crate::errors;

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

fn not_contiguous(name: &str) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(format!("argument '{name}' must be a contiguous array"))
}

/// `out[:] = a <op> b`, elementwise; `b` is a complex128 array of `a`'s
/// length or one complex. The Python layer (`oxbridge._batch`) converts the
/// inputs and allocates `out`.
#[pyfunction]
#[pyo3(signature = (op, a, b, out))]
fn many(
    py: Python<'_>,
    op: &str,
    a: PyReadonlyArray1<'_, Complex64>,
    b: &Bound<'_, PyAny>,
    mut out: PyReadwriteArray1<'_, Complex64>,
) -> PyResult<()> {
    let op: Op = op.parse().map_err(|e| errors::core_error(py, &e))?;
    let b_array: Option<PyReadonlyArray1<'_, Complex64>> = b.extract().ok();
    let scalar = match &b_array {
        Some(_) => Complex::default(),
        None => crate::scalar::as_complex(b, "b")?,
    };
    let a = as_core(a.as_slice().map_err(|_| not_contiguous("a"))?);
    let b_slice = match &b_array {
        Some(b) => Some(as_core(b.as_slice().map_err(|_| not_contiguous("b"))?)),
        None => None,
    };
    let out = as_core_mut(out.as_slice_mut().map_err(|_| not_contiguous("out"))?);
    let rhs = b_slice.map_or(Rhs::All(scalar), Rhs::Each);
    py.detach(|| apply_many(op, a, rhs, out))
        .map_err(|e| errors::core_error(py, &e))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(many, m)?)
}
