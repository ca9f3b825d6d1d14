//! A loaded library's scalar functions called straight through their own C
//! symbols, typed: the PyO3 floor of a library.
//!
//! The general path of a library's call converts each argument to the core's
//! form, then to the library ABI's, and back for the result (see
//! `oxbridge_ffi::host`). A function of up to three `int` or `float`
//! arguments and an `int`, `float` or `bool` result also has a C symbol of
//! exactly that shape (`oxb_<name>(int64_t a, double b, ..., T *out,
//! OxbString *err)`, the one ctypes calls): for those, the arguments are
//! read from Python's objects into registers and the symbol is called with
//! them, as a `#[pyfunction]` of the same function would.
//!
//! Only the plain case takes this path: an exact `int` that fits 64 bits or
//! an exact `float` per argument, and a call that succeeds. Anything else (a
//! subclass, `__index__`, an overflow, a failing call) takes the general
//! path, which raises the error with the same class and message as every
//! bridge: exported functions are pure, so calling again is safe.

use std::ffi::c_void;
use std::sync::OnceLock;

use oxbridge_core::export::{Library, Type};
use oxbridge_ffi::{KeepErrno, OxbString};
use pyo3::ffi;

use crate::registry::SLOTS;

/// One function's direct call: the caller monomorphized for its shape, and
/// its library's symbols.
#[derive(Clone, Copy)]
pub(crate) struct Direct {
    call: Caller,
    symbols: Symbols,
}

#[derive(Clone, Copy)]
struct Symbols {
    function: *const c_void,
    free: unsafe extern "C" fn(OxbString),
}

// SAFETY: code addresses in a shared object that stays loaded for the
// process; calling them is what any thread may do.
unsafe impl Send for Symbols {}
// SAFETY: as for `Send`: nothing is written through them.
unsafe impl Sync for Symbols {}

/// The new reference of the result, or `None` for the general path (no
/// Python error is left set then).
type Caller = unsafe fn(Symbols, &[*mut ffi::PyObject]) -> Option<*mut ffi::PyObject>;

/// Each loaded library's direct calls, by slot, then by function index.
static DIRECT: [OnceLock<Box<[Option<Direct>]>>; SLOTS] = [const { OnceLock::new() }; SLOTS];

/// Finds the direct calls of `library` (in `slot`): the functions of a shape
/// this module calls, whose symbols its shared object exports.
pub(crate) fn prepare(slot: usize, library: &'static Library) {
    let Some(cell) = DIRECT.get(slot) else { return };
    cell.get_or_init(|| {
        let free = oxbridge_ffi::host::symbol(library, "oxb_string_free");
        library
            .functions
            .iter()
            .map(|f| {
                let call = pick(
                    &f.params.iter().map(|p| p.ty).collect::<Vec<_>>(),
                    f.returns,
                )?;
                let function = oxbridge_ffi::host::symbol(library, &format!("oxb_{}", f.name))?;
                // SAFETY: `oxb_string_free` has this signature in every
                // version of the C ABI.
                let free: unsafe extern "C" fn(OxbString) = unsafe { std::mem::transmute(free?) };
                Some(Direct {
                    call,
                    symbols: Symbols {
                        function: function.cast_const(),
                        free,
                    },
                })
            })
            .collect()
    });
}

/// The direct call of the function with this code (`registry::code`), if any.
#[inline]
pub(crate) fn get(code: usize) -> Option<&'static Direct> {
    DIRECT.get(code >> 16)?.get()?.get(code & 0xffff)?.as_ref()
}

impl Direct {
    /// The result of the call with `args` (positional, borrowed), a new
    /// reference, or `None` for the general path.
    ///
    /// # Safety
    /// The GIL is held; `args` are live objects.
    #[inline]
    pub(crate) unsafe fn call(&self, args: &[*mut ffi::PyObject]) -> Option<*mut ffi::PyObject> {
        let _errno = KeepErrno::now();
        // SAFETY: the caller's contract; `pick` chose the caller for the
        // symbol's shape.
        unsafe { (self.call)(self.symbols, args) }
    }
}

/// An argument read from a Python object, for the plain case only.
trait In: Copy {
    /// The value of `obj`, or `None` (with no error set) for the general path.
    unsafe fn read(obj: *mut ffi::PyObject) -> Option<Self>;
}

impl In for i64 {
    #[inline]
    unsafe fn read(obj: *mut ffi::PyObject) -> Option<Self> {
        // SAFETY: the caller's contract: a live object, the GIL held.
        unsafe {
            if ffi::PyLong_CheckExact(obj) == 0 {
                return None;
            }
            let mut overflow = 0;
            let value = ffi::PyLong_AsLongLongAndOverflow(obj, &raw mut overflow);
            if overflow != 0 || (value == -1 && !ffi::PyErr_Occurred().is_null()) {
                ffi::PyErr_Clear();
                return None;
            }
            Some(value)
        }
    }
}

impl In for f64 {
    #[inline]
    unsafe fn read(obj: *mut ffi::PyObject) -> Option<Self> {
        // SAFETY: the caller's contract: a live object, the GIL held.
        unsafe { (ffi::PyFloat_CheckExact(obj) != 0).then(|| ffi::PyFloat_AsDouble(obj)) }
    }
}

/// A result handed to Python.
trait Out: Copy + Default {
    /// A new reference (null with an error set when out of memory).
    unsafe fn into_py(self) -> *mut ffi::PyObject;
}

impl Out for i64 {
    #[inline]
    unsafe fn into_py(self) -> *mut ffi::PyObject {
        // SAFETY: the GIL is held (the caller's contract).
        unsafe { ffi::PyLong_FromLongLong(self) }
    }
}

impl Out for f64 {
    #[inline]
    unsafe fn into_py(self) -> *mut ffi::PyObject {
        // SAFETY: as for `i64`.
        unsafe { ffi::PyFloat_FromDouble(self) }
    }
}

impl Out for bool {
    #[inline]
    unsafe fn into_py(self) -> *mut ffi::PyObject {
        // SAFETY: as for `i64`.
        unsafe { ffi::PyBool_FromLong(std::ffi::c_long::from(self)) }
    }
}

/// Calls `symbols.function` as `f(args..., out, err)`: its result, or
/// `None` when it failed (its message freed: the general path raises it).
macro_rules! caller {
    ($name:ident; $($arg:ident: $ty:ident),*) => {
        unsafe fn $name<$($ty: In,)* R: Out>(
            symbols: Symbols,
            args: &[*mut ffi::PyObject],
        ) -> Option<*mut ffi::PyObject> {
            let &[$($arg),*] = args else { return None };
            // SAFETY: the caller's contract: live objects, the GIL held.
            $(let $arg = unsafe { $ty::read($arg) }?;)*
            let function: unsafe extern "C" fn($($ty,)* *mut R, *mut OxbString) -> i32 = {
                // SAFETY: `pick` chose these types from the function's
                // catalogue entry, whose C symbol has exactly this signature.
                unsafe { std::mem::transmute(symbols.function) }
            };
            let mut out = R::default();
            let mut err = OxbString { ptr: std::ptr::null_mut(), len: 0 };
            // SAFETY: `out` and `err` are writable; the symbol never unwinds.
            let status = unsafe { function($($arg,)* &raw mut out, &raw mut err) };
            if status != 0 {
                // SAFETY: the library handed `err` over; freed once, by it.
                unsafe { (symbols.free)(err) };
                return None;
            }
            // SAFETY: the GIL is held.
            Some(unsafe { out.into_py() })
        }
    };
}

caller!(call0;);
caller!(call1; a: A);
caller!(call2; a: A, b: B);
caller!(call3; a: A, b: B, c: C);

/// The caller for a function of `params` to `returns`, if it has one.
fn pick(params: &[Type], returns: Type) -> Option<Caller> {
    match returns {
        Type::I64 => pick_params::<i64>(params),
        Type::F64 => pick_params::<f64>(params),
        Type::Bool => pick_params::<bool>(params),
        _ => None,
    }
}

fn pick_params<R: Out>(params: &[Type]) -> Option<Caller> {
    match *params {
        [] => Some(call0::<R>),
        [a] => match a {
            Type::I64 => Some(call1::<i64, R>),
            Type::F64 => Some(call1::<f64, R>),
            _ => None,
        },
        [a, b] => match a {
            Type::I64 => pick2::<i64, R>(b),
            Type::F64 => pick2::<f64, R>(b),
            _ => None,
        },
        [a, b, c] => match a {
            Type::I64 => pick3::<i64, R>(b, c),
            Type::F64 => pick3::<f64, R>(b, c),
            _ => None,
        },
        _ => None,
    }
}

fn pick2<A: In, R: Out>(b: Type) -> Option<Caller> {
    match b {
        Type::I64 => Some(call2::<A, i64, R>),
        Type::F64 => Some(call2::<A, f64, R>),
        _ => None,
    }
}

fn pick3<A: In, R: Out>(b: Type, c: Type) -> Option<Caller> {
    match b {
        Type::I64 => pick3c::<A, i64, R>(c),
        Type::F64 => pick3c::<A, f64, R>(c),
        _ => None,
    }
}

fn pick3c<A: In, B: In, R: Out>(c: Type) -> Option<Caller> {
    match c {
        Type::I64 => Some(call3::<A, B, i64, R>),
        Type::F64 => Some(call3::<A, B, f64, R>),
        _ => None,
    }
}
