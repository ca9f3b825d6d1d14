//! The vectorized form of every numeric exported function through one entry
//! point per library, `oxb_many`, which finds the function by name and reads
//! each argument as its parameter's element type.

use std::ffi::c_void;
use std::ops::Range;

use oxbridge_core::export::{Arg, Library, OutArray, Type};
use oxbridge_core::{Complex, CoreError};

use crate::values::OxbStr;
use crate::{bytes_arg, slice_arg, slice_arg_mut, Failure};

/// One argument of `oxb_many`: elements of the parameter's type (`OxbComplex`,
/// `double` or `int64_t`, as the function declares it), either one per result
/// or, with `one_for_all`, a single value that applies to every element.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OxbColumn {
    /// First element; null only when `len` is 0.
    pub ptr: *const c_void,
    /// Number of elements (ignored, and taken as 1, when `one_for_all`).
    pub len: usize,
    /// Whether the one element at `ptr` applies to every result.
    pub one_for_all: bool,
}

fn invalid(message: String) -> Failure {
    Failure::Core(CoreError::InvalidArgument(message))
}

/// `len` elements of `T` at `ptr`, checked for null and alignment.
///
/// # Safety
/// A non-null `ptr` points to `len` readable `T` that outlive the call.
unsafe fn elements<'a, T>(
    ptr: *const c_void,
    len: usize,
    name: &'static str,
) -> Result<&'a [T], Failure> {
    // SAFETY: the caller's contract.
    unsafe { slice_arg(ptr.cast::<T>(), len, name) }
}

/// The argument a column gives a parameter of (scalar) type `ty`.
///
/// # Safety
/// As for [`elements`], for the column's length.
unsafe fn column<'a>(c: &OxbColumn, ty: Type, name: &'static str) -> Result<Arg<'a>, Failure> {
    let len = if c.one_for_all { 1 } else { c.len };
    // SAFETY: the caller's contract, passed on.
    Ok(unsafe {
        match (ty, c.one_for_all) {
            (Type::Complex, false) => Arg::ComplexArray(elements(c.ptr, len, name)?),
            (Type::Complex, true) => Arg::Complex(elements::<Complex>(c.ptr, len, name)?[0]),
            (Type::F64, false) => Arg::F64Array(elements(c.ptr, len, name)?),
            (Type::F64, true) => Arg::F64(elements::<f64>(c.ptr, len, name)?[0]),
            (Type::I64, false) => Arg::I64Array(elements(c.ptr, len, name)?),
            (Type::I64, true) => Arg::I64(elements::<i64>(c.ptr, len, name)?[0]),
            _ => return Err(invalid(format!("argument '{name}' has no vectorized form"))),
        }
    })
}

fn bytes_of(arg: &Arg<'_>) -> Option<Range<usize>> {
    let range = match arg {
        Arg::ComplexArray(v) => v.as_ptr_range().start as usize..v.as_ptr_range().end as usize,
        Arg::F64Array(v) => v.as_ptr_range().start as usize..v.as_ptr_range().end as usize,
        Arg::I64Array(v) => v.as_ptr_range().start as usize..v.as_ptr_range().end as usize,
        _ => return None,
    };
    (!range.is_empty()).then_some(range)
}

/// `out_len` writable elements of `T` at `out`.
///
/// # Safety
/// A non-null `out` points to `out_len` writable `T`, disjoint from every
/// input (checked by the caller).
unsafe fn out_elements<'a, T>(out: *mut c_void, out_len: usize) -> Result<&'a mut [T], Failure> {
    // SAFETY: per the contract above.
    unsafe { slice_arg_mut(out.cast::<T>(), out_len, "out") }
}

/// The body of every library's `oxb_many`.
///
/// # Safety
/// `function` is valid for its length; `args` points to `nargs` columns, each
/// valid for its length of the parameter's element type; `out` to `out_len`
/// writable elements of the result's type.
#[doc(hidden)]
pub unsafe fn call_many(
    library: &Library,
    function: OxbStr,
    args: *const crate::many::OxbColumn,
    nargs: usize,
    out: *mut c_void,
    out_len: usize,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract on each pointer, passed on.
    let name = unsafe { bytes_arg(function.ptr, function.len, "function")? };
    let name = std::str::from_utf8(name)
        .map_err(|_| Failure::Core(CoreError::InvalidUtf8 { arg: "function" }))?;
    let f = library.lookup(name)?;
    // Refused before any pointer is read.
    f.check_many()?;
    // SAFETY: as above.
    let columns: &[OxbColumn] = unsafe { elements(args.cast(), nargs, "args")? };
    let args = columns
        .iter()
        .zip(f.params)
        // SAFETY: as above.
        .map(|(c, p)| unsafe { column(c, p.ty, p.name) })
        .collect::<Result<Vec<_>, _>>()?;
    let size = match f.returns {
        Type::Complex => size_of::<Complex>(),
        _ => size_of::<f64>(),
    };
    let start = out as usize;
    let out_range = start..start.saturating_add(out_len.saturating_mul(size));
    let overlaps = |r: &Range<usize>| r.start < out_range.end && out_range.start < r.end;
    if out_len > 0 && args.iter().filter_map(bytes_of).any(|r| overlaps(&r)) {
        return Err(invalid("the output buffer overlaps an input".to_owned()));
    }
    // SAFETY: disjoint from every input (checked above), valid per the contract.
    let mut out = unsafe {
        match f.returns {
            Type::Complex => OutArray::Complex(out_elements(out, out_len)?),
            Type::F64 => OutArray::F64(out_elements(out, out_len)?),
            _ => OutArray::I64(out_elements(out, out_len)?),
        }
    };
    Ok(f.invoke_many(&args, &mut out)?)
}

/// The header's declaration of `oxb_many`.
pub const DECLARATION: &str = "\
// `out[i] = function(args[0][i], args[1][i], ...)` for `i < out_len`: the
// vectorized form of a numeric function, element for element exactly the
// scalar function; large arrays are spread over the cores. Each column holds
// elements of its parameter's type, and `out` of the result's; every column
// that is not `one_for_all` has `out_len` elements. On failure the message
// names the first failing element's index, and `out` holds unspecified values.
OxbStatus oxb_many(OxbStr function,
                   const OxbColumn *args,
                   size_t nargs,
                   void *out,
                   size_t out_len,
                   OxbString *err);

";
