//! The library ABI: how a library's shared object hands its whole catalogue
//! and its calls to the oxbridge runtime that loads it.
//!
//! A library's crate writes [`library!`](crate::library!), which exports one
//! symbol, `oxb_library`, returning an [`OxbLibrary`]: the ABI version, the
//! library's name and version, its catalogue (every function's name,
//! parameters, types, result field and error kinds) with the catalogue's
//! checksum, and three entry points that call a function by its index. The
//! runtime ([`crate::host`]) checks the version and the checksum when it
//! loads the library, and builds the same [`Library`] the library was
//! compiled with: every bridge then reaches it as it reaches one compiled in.
//!
//! Every value crosses as a plain C struct; nothing unwinds across, and
//! memory is freed by the side that allocated it.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use oxbridge_core::export::{Arg, Function, Library, OutArray, Type, Value};
use oxbridge_core::{Complex, CoreError, ErrorKind};

use crate::values::OxbStr;
use crate::{panic_message, KeepErrno, OxbStatus, OXB_INTERNAL, OXB_OK};

/// The version of this ABI (the layout of every struct in this module and
/// the meaning of its codes). The runtime loads only libraries of its own.
pub const OXB_LIBRARY_ABI_VERSION: u32 = 1;

/// The code of a [`Type`] in [`OxbValue::ty`]: its position in [`Type::ALL`].
#[must_use]
pub fn type_code(ty: Type) -> u32 {
    let index = Type::ALL.iter().position(|t| *t == ty).unwrap_or(0);
    u32::try_from(index).unwrap_or(0)
}

/// The [`Type`] of a code, when it is one.
#[must_use]
pub fn type_of_code(code: u32) -> Option<Type> {
    Type::ALL.get(usize::try_from(code).ok()?).copied()
}

impl OxbStr {
    /// Borrows `text` (valid while `text` is).
    #[must_use]
    pub const fn of(text: &str) -> Self {
        OxbStr {
            ptr: text.as_ptr(),
            len: text.len(),
        }
    }

    /// The text, when it is UTF-8.
    ///
    /// # Safety
    /// `ptr` is null with `len` 0, or points to `len` bytes that live for `'a`.
    #[must_use]
    pub unsafe fn text<'a>(self) -> Option<&'a str> {
        // SAFETY: the caller's contract.
        std::str::from_utf8(unsafe { crate::slice(self.ptr, self.len) }?).ok()
    }
}

/// One parameter in the catalogue.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OxbParam {
    /// Its name.
    pub name: OxbStr,
    /// Its type's catalogue name ([`Type::name`]).
    pub ty: OxbStr,
}

/// One function in the catalogue.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OxbFunction {
    /// Its name.
    pub name: OxbStr,
    /// Its documentation.
    pub doc: OxbStr,
    /// Its parameters, in order.
    pub params: *const OxbParam,
    /// Their number.
    pub n_params: usize,
    /// Its result type's catalogue name.
    pub returns: OxbStr,
    /// The reply's field for its result.
    pub result_field: OxbStr,
    /// The error kinds it declares, by name.
    pub raises: *const OxbStr,
    /// Their number.
    pub n_raises: usize,
    /// Whether it has a vectorized form.
    pub many: bool,
}

/// One value crossing the ABI: an argument (borrowed from the caller) or a
/// result (owned by the library until [`OxbLibrary::free`]). Which fields
/// hold it depends on `ty`: `int` (bool, i64), `float` (f64: `[x, 0]`,
/// complex: `[re, im]`), or `ptr`/`len` (text and bytes in bytes, arrays in
/// elements) with `cap`, for a result, its allocation's capacity.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OxbValue {
    /// The [`type_code`] of its type.
    pub ty: u32,
    /// A bool (0 or 1) or an i64.
    pub int: i64,
    /// An f64, or a complex number's two parts.
    pub float: [f64; 2],
    /// Text, bytes or an array's first element; null when empty.
    pub ptr: *mut c_void,
    /// Its length.
    pub len: usize,
    /// A result's allocated capacity (for the library to free it).
    pub cap: usize,
}

impl OxbValue {
    /// No value.
    pub const EMPTY: OxbValue = OxbValue {
        ty: u32::MAX,
        int: 0,
        float: [0.0; 2],
        ptr: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };

    fn slice<T>(ty: Type, v: &[T]) -> Self {
        OxbValue {
            ty: type_code(ty),
            ptr: v.as_ptr().cast_mut().cast(),
            len: v.len(),
            ..Self::EMPTY
        }
    }

    /// The output array of a vectorized call, lent for the call.
    #[must_use]
    pub fn of_out<T>(ty: Type, v: &mut [T]) -> Self {
        OxbValue {
            ty: type_code(ty),
            ptr: v.as_mut_ptr().cast(),
            len: v.len(),
            ..Self::EMPTY
        }
    }

    fn owned<T>(ty: Type, v: Vec<T>) -> Self {
        let mut v = std::mem::ManuallyDrop::new(v);
        OxbValue {
            ty: type_code(ty),
            ptr: v.as_mut_ptr().cast(),
            len: v.len(),
            cap: v.capacity(),
            ..Self::EMPTY
        }
    }

    /// An argument as it crosses: borrowed, so no bytes are copied.
    #[must_use]
    pub fn of_arg(arg: &Arg<'_>) -> Self {
        let ty = type_code(arg.ty());
        match *arg {
            Arg::Bool(v) => OxbValue {
                ty,
                int: i64::from(v),
                ..Self::EMPTY
            },
            Arg::I64(v) => OxbValue {
                ty,
                int: v,
                ..Self::EMPTY
            },
            Arg::F64(v) => OxbValue {
                ty,
                float: [v, 0.0],
                ..Self::EMPTY
            },
            Arg::Complex(z) => OxbValue {
                ty,
                float: [z.re, z.im],
                ..Self::EMPTY
            },
            Arg::Str(v) => Self::slice(Type::Str, v.as_bytes()),
            Arg::Bytes(v) => Self::slice(Type::Bytes, v),
            Arg::F64Array(v) => Self::slice(Type::F64Array, v),
            Arg::I64Array(v) => Self::slice(Type::I64Array, v),
            Arg::ComplexArray(v) => Self::slice(Type::ComplexArray, v),
        }
    }

    /// A result as it crosses: its buffer handed over, to be freed by
    /// [`OxbValue::free_owned`] on this side.
    #[must_use]
    pub fn of_value(value: Value) -> Self {
        let ty = value.ty();
        match value {
            Value::Str(v) => Self::owned(ty, v.into_bytes()),
            Value::Bytes(v) => Self::owned(ty, v),
            Value::F64Array(v) => Self::owned(ty, v),
            Value::I64Array(v) => Self::owned(ty, v),
            Value::ComplexArray(v) => Self::owned(ty, v),
            scalar => Self::of_arg(&scalar.as_arg()),
        }
    }

    /// The elements at `ptr`, `len` of them.
    ///
    /// # Safety
    /// `ptr` is null or points to `len` live, aligned `T` for `'a`.
    unsafe fn elements<'a, T>(&self) -> Option<&'a [T]> {
        // SAFETY: the caller's contract.
        unsafe { crate::slice(self.ptr.cast::<T>(), self.len) }
    }

    /// The argument this value holds, when it is of type `ty` (or of its
    /// array type, with `many`): borrowed, nothing copied.
    ///
    /// # Safety
    /// A pointer in `self` is valid for its length for `'a`.
    #[must_use]
    pub unsafe fn arg<'a>(&self, ty: Type, many: bool) -> Option<Arg<'a>> {
        let own = type_of_code(self.ty)?;
        if own != ty && !(many && ty.array() == Some(own)) {
            return None;
        }
        // SAFETY: the caller's contract, for each slice.
        unsafe {
            Some(match own {
                Type::Bool => Arg::Bool(self.int != 0),
                Type::I64 => Arg::I64(self.int),
                Type::F64 => Arg::F64(self.float[0]),
                Type::Complex => Arg::Complex(Complex::new(self.float[0], self.float[1])),
                Type::Str => Arg::Str(std::str::from_utf8(self.elements::<u8>()?).ok()?),
                Type::Bytes => Arg::Bytes(self.elements::<u8>()?),
                Type::F64Array => Arg::F64Array(self.elements()?),
                Type::I64Array => Arg::I64Array(self.elements()?),
                Type::ComplexArray => Arg::ComplexArray(self.elements()?),
            })
        }
    }

    /// Frees a result made by [`OxbValue::of_value`] on this side.
    ///
    /// # Safety
    /// `self` came from `of_value` in this shared object, and is freed once.
    pub unsafe fn free_owned(&mut self) {
        if self.cap == 0 {
            return;
        }
        let (ptr, len, cap) = (self.ptr, self.len, self.cap);
        self.ptr = std::ptr::null_mut();
        self.cap = 0;
        // SAFETY: `of_value` leaked a `Vec` of this element type, length
        // and capacity (its type code says which).
        unsafe {
            match type_of_code(self.ty) {
                Some(Type::Str | Type::Bytes) => {
                    drop(Vec::from_raw_parts(ptr.cast::<u8>(), len, cap))
                }
                Some(Type::F64Array) => drop(Vec::from_raw_parts(ptr.cast::<f64>(), len, cap)),
                Some(Type::I64Array) => drop(Vec::from_raw_parts(ptr.cast::<i64>(), len, cap)),
                Some(Type::ComplexArray) => {
                    drop(Vec::from_raw_parts(ptr.cast::<Complex>(), len, cap));
                }
                _ => {}
            }
        }
    }
}

/// A failed call's error, owned by the library until [`OxbLibrary::free`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OxbError {
    /// The index of the failing element of a vectorized call, or -1.
    pub index: i64,
    /// The message of the error (without the index), as an owned `str` value.
    pub message: OxbValue,
}

impl OxbError {
    /// No error.
    pub const EMPTY: OxbError = OxbError {
        index: -1,
        message: OxbValue::EMPTY,
    };

    /// The error as it crosses, and its status (the kind's code).
    fn of(error: &CoreError) -> (OxbStatus, Self) {
        let (index, inner) = match error {
            CoreError::At { index, error } => (i64::try_from(*index).unwrap_or(i64::MAX), &**error),
            e => (-1, e),
        };
        let message = OxbValue::of_value(Value::Str(inner.to_string()));
        (error.kind().code(), OxbError { index, message })
    }

    /// The error a status and this value describe, as the library raised it
    /// (the same kind and the same message on every bridge).
    ///
    /// # Safety
    /// The message's pointer is valid for its length.
    #[must_use]
    pub unsafe fn to_core(&self, status: OxbStatus) -> CoreError {
        // SAFETY: the caller's contract.
        let message = unsafe { self.message.arg(Type::Str, false) };
        let message = match message {
            Some(Arg::Str(text)) => text.to_owned(),
            _ => "a library returned an error without a message".to_owned(),
        };
        let kind = ErrorKind::from_code(status).unwrap_or(ErrorKind::Internal);
        let error = CoreError::new(kind, message);
        match usize::try_from(self.index) {
            Ok(index) => error.at(index),
            Err(_) => error,
        }
    }
}

/// Calls function `index` with `nargs` values at `args`, writing the result
/// to `out` (or the error to `err`, and returns its kind's code).
pub type OxbCall = unsafe extern "C" fn(
    index: usize,
    args: *const OxbValue,
    nargs: usize,
    out: *mut OxbValue,
    err: *mut OxbError,
) -> OxbStatus;

/// Calls the vectorized form of function `index`: each argument an array
/// of its parameter's type or one scalar; the results written to `out`, an
/// array of the result's type (`ptr` and `len` only).
pub type OxbCallMany = unsafe extern "C" fn(
    index: usize,
    args: *const OxbValue,
    nargs: usize,
    out: OxbValue,
    err: *mut OxbError,
) -> OxbStatus;

/// Frees a result or an error message the library handed over.
pub type OxbFree = unsafe extern "C" fn(value: *mut OxbValue);

/// What `oxb_library` returns: the library, described and callable.
#[repr(C)]
#[derive(Debug)]
pub struct OxbLibrary {
    /// [`OXB_LIBRARY_ABI_VERSION`] of the library's build. Read first; the
    /// rest is laid out as that version says.
    pub abi_version: u32,
    /// The library's name.
    pub name: OxbStr,
    /// Its crate's version.
    pub version: OxbStr,
    /// The version of `oxbridge-core` it was built with.
    pub core_version: OxbStr,
    /// [`Library::checksum`] of its catalogue, as the library computed it.
    pub checksum: u64,
    /// Its functions.
    pub functions: *const OxbFunction,
    /// Their number.
    pub n_functions: usize,
    /// Calls a function.
    pub call: OxbCall,
    /// Calls a vectorized form.
    pub call_many: OxbCallMany,
    /// Frees what the library handed over.
    pub free: OxbFree,
}

/// The catalogue as C structs, built once per library: the structs point
/// into the vectors, which live as long as the process.
#[doc(hidden)]
pub struct Described {
    library: OxbLibrary,
    _functions: Vec<OxbFunction>,
    _params: Vec<Vec<OxbParam>>,
    _raises: Vec<Vec<OxbStr>>,
}

// SAFETY: every pointer in `Described` points into its own vectors or to
// `'static` text, never written after `describe` builds it.
unsafe impl Send for Described {}
// SAFETY: as above: read-only once built.
unsafe impl Sync for Described {}

/// The descriptor of `library`, built into `cell` on the first call: the body
/// of a library's `oxb_library`.
#[doc(hidden)]
pub fn describe(
    library: &'static Library,
    cell: &'static OnceLock<Described>,
    call: OxbCall,
    call_many: OxbCallMany,
) -> *const OxbLibrary {
    let described = cell.get_or_init(|| {
        let params: Vec<Vec<OxbParam>> = library
            .functions
            .iter()
            .map(|f| {
                f.params
                    .iter()
                    .map(|p| OxbParam {
                        name: OxbStr::of(p.name),
                        ty: OxbStr::of(p.ty.name()),
                    })
                    .collect()
            })
            .collect();
        let raises: Vec<Vec<OxbStr>> = library
            .functions
            .iter()
            .map(|f| f.raises.iter().map(|k| OxbStr::of(k.name())).collect())
            .collect();
        let functions: Vec<OxbFunction> = library
            .functions
            .iter()
            .zip(params.iter().zip(&raises))
            .map(|(f, (params, raises))| OxbFunction {
                name: OxbStr::of(f.name),
                doc: OxbStr::of(f.doc),
                params: params.as_ptr(),
                n_params: params.len(),
                returns: OxbStr::of(f.returns.name()),
                result_field: OxbStr::of(f.result_field),
                raises: raises.as_ptr(),
                n_raises: raises.len(),
                many: f.many.is_some(),
            })
            .collect();
        Described {
            library: OxbLibrary {
                abi_version: OXB_LIBRARY_ABI_VERSION,
                name: OxbStr::of(library.name),
                version: OxbStr::of(library.version),
                core_version: OxbStr::of(oxbridge_core::VERSION),
                checksum: library.checksum(),
                functions: functions.as_ptr(),
                n_functions: functions.len(),
                call,
                call_many,
                free: free_value,
            },
            _functions: functions,
            _params: params,
            _raises: raises,
        }
    });
    &raw const described.library
}

/// Frees a value [`call`] or [`call_many`] handed over.
///
/// # Safety
/// `value` is null or points to a value this shared object handed over, not
/// freed before.
unsafe extern "C" fn free_value(value: *mut OxbValue) {
    // SAFETY: the caller's contract: null or a live value.
    if let Some(value) = unsafe { value.as_mut() } {
        // SAFETY: the caller's contract.
        unsafe { value.free_owned() };
    }
}

/// Runs `body` as an entry point of the library ABI: a failure or a panic
/// becomes a status and an error in `err`; `errno` is left as it was.
///
/// # Safety
/// `err` is null or writable.
unsafe fn entry(err: *mut OxbError, body: impl FnOnce() -> Result<(), CoreError>) -> OxbStatus {
    let _errno = KeepErrno::now();
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return OXB_OK,
        Ok(Err(e)) => e,
        Err(payload) => CoreError::new(
            ErrorKind::Internal,
            format!(
                "internal error in oxbridge: {}",
                panic_message(payload.as_ref())
            ),
        ),
    };
    let (status, crossing) = OxbError::of(&error);
    if err.is_null() {
        // Nobody to hand the message to: free it here.
        let mut message = crossing.message;
        // SAFETY: made just above, by `of_value`.
        unsafe { message.free_owned() };
    } else {
        // SAFETY: the caller's contract.
        unsafe { err.write(crossing) };
    }
    if status == OXB_OK {
        OXB_INTERNAL
    } else {
        status
    }
}

/// Most functions take few arguments: their borrowed forms stay on the stack.
const INLINE: usize = 8;

/// Runs `body` with the arguments at `args`, checked against `f`'s parameters.
///
/// # Safety
/// `args` points to `nargs` values whose pointers are valid for the call.
unsafe fn with_arguments<R>(
    f: &Function,
    args: *const OxbValue,
    nargs: usize,
    many: bool,
    body: impl FnOnce(&[Arg<'_>]) -> Result<R, CoreError>,
) -> Result<R, CoreError> {
    f.check_arity(nargs)?;
    // SAFETY: the caller's contract.
    let values = unsafe { crate::slice(args, nargs) }.ok_or_else(|| {
        CoreError::new(
            ErrorKind::Internal,
            "the arguments did not cross the library ABI",
        )
    })?;
    let lift = |(value, param): (&OxbValue, &oxbridge_core::export::Param)| {
        // SAFETY: the caller's contract.
        unsafe { value.arg(param.ty, many) }.ok_or_else(|| {
            CoreError::new(
                ErrorKind::Internal,
                format!(
                    "{}: argument '{}' did not cross the library ABI as {}",
                    f.name,
                    param.name,
                    param.ty.name()
                ),
            )
        })
    };
    if nargs <= INLINE {
        let mut lifted = [Arg::Bool(false); INLINE];
        for (slot, pair) in lifted.iter_mut().zip(values.iter().zip(f.params)) {
            *slot = lift(pair)?;
        }
        body(&lifted[..nargs])
    } else {
        let lifted = values
            .iter()
            .zip(f.params)
            .map(lift)
            .collect::<Result<Vec<_>, _>>()?;
        body(&lifted)
    }
}

/// The body of a library's `call` entry point.
///
/// # Safety
/// As [`OxbCall`]: `args` points to `nargs` values valid for the call; `out`
/// is writable; `err` is null or writable.
#[doc(hidden)]
pub unsafe fn call(
    library: &Library,
    index: usize,
    args: *const OxbValue,
    nargs: usize,
    out: *mut OxbValue,
    err: *mut OxbError,
) -> OxbStatus {
    let body = || {
        let f = function(library, index)?;
        // SAFETY: the caller's contract.
        let value = unsafe { with_arguments(f, args, nargs, false, |args| (f.call)(args))? };
        if out.is_null() {
            return Err(CoreError::InvalidArgument(
                "argument 'out' is a null pointer".to_owned(),
            ));
        }
        // SAFETY: non-null and writable per the contract.
        unsafe { out.write(OxbValue::of_value(value)) };
        Ok(())
    };
    // SAFETY: the caller's contract.
    unsafe { entry(err, body) }
}

/// The body of a library's `call_many` entry point.
///
/// # Safety
/// As [`OxbCallMany`]: `args` as for [`call`]; `out` holds a writable array
/// of its length, disjoint from the arguments.
#[doc(hidden)]
pub unsafe fn call_many(
    library: &Library,
    index: usize,
    args: *const OxbValue,
    nargs: usize,
    out: OxbValue,
    err: *mut OxbError,
) -> OxbStatus {
    let body = || {
        let f = function(library, index)?;
        f.check_many()?;
        let wrong = || {
            CoreError::new(
                ErrorKind::Internal,
                format!(
                    "{}: the output did not cross the library ABI as {}[]",
                    f.name,
                    f.returns.name()
                ),
            )
        };
        if out.ptr.is_null() && out.len > 0 {
            return Err(wrong());
        }
        // SAFETY (each `out_slice`): the caller's contract: writable for
        // the call and disjoint from the arguments; alignment is checked.
        let mut array = match (type_of_code(out.ty), f.returns) {
            (Some(Type::F64Array), Type::F64) => {
                // SAFETY: as above.
                OutArray::F64(unsafe { out_slice(&out) }.ok_or_else(wrong)?)
            }
            (Some(Type::I64Array), Type::I64) => {
                // SAFETY: as above.
                OutArray::I64(unsafe { out_slice(&out) }.ok_or_else(wrong)?)
            }
            (Some(Type::ComplexArray), Type::Complex) => {
                // SAFETY: as above.
                OutArray::Complex(unsafe { out_slice(&out) }.ok_or_else(wrong)?)
            }
            _ => return Err(wrong()),
        };
        // SAFETY: the caller's contract.
        unsafe { with_arguments(f, args, nargs, true, |args| f.invoke_many(args, &mut array)) }
    };
    // SAFETY: the caller's contract.
    unsafe { entry(err, body) }
}

/// The output array of a vectorized call.
///
/// # Safety
/// `out.ptr` is null (with `len` 0) or `len` writable `T` for the call.
unsafe fn out_slice<'a, T>(out: &OxbValue) -> Option<&'a mut [T]> {
    // SAFETY: the caller's contract.
    unsafe { crate::slice_mut(out.ptr.cast::<T>(), out.len) }
}

fn function(library: &Library, index: usize) -> Result<&Function, CoreError> {
    library.functions.get(index).ok_or_else(|| {
        CoreError::new(
            ErrorKind::Internal,
            format!(
                "the library {:?} has no function number {index}",
                library.name
            ),
        )
    })
}

/// Makes this crate an oxbridge library: exports `oxb_library` (the
/// catalogue and its calls, which the oxbridge runtime loads) and the C
/// symbols `oxb_<name>` and `oxb_many` (which ctypes, cffi and C call), all
/// from the one definition `export!` made of `$library` and `$signatures`.
///
/// ```ignore
/// oxbridge_core::export! {
///     /// My functions.
///     pub static MINE = "mine", signatures mine_signatures;
///     /// Doubles.
///     pub fn twice(x: i64) -> i64 { x * 2 }
/// }
/// oxbridge_ffi::library!(MINE, mine_signatures);
/// ```
#[macro_export]
macro_rules! library {
    ($library:ident, $signatures:ident) => {
        /// The library's C symbols and its entry for the oxbridge runtime.
        #[doc(hidden)]
        pub mod __oxbridge_library {
            // The signatures name types as the definitions do.
            #[allow(unused_imports)]
            use super::*;

            $signatures!($crate::c_symbols, super::$library);

            /// The library, described for the oxbridge runtime.
            #[no_mangle]
            pub extern "C" fn oxb_library() -> *const $crate::library::OxbLibrary {
                $crate::describe_library!(super::$library)
            }
        }
    };
}

/// The descriptor of `$library`, made once: its entry points call it by
/// index. The body of a library's `oxb_library` (see [`library!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! describe_library {
    ($library:path) => {{
        static DESCRIBED: ::std::sync::OnceLock<$crate::library::Described> =
            ::std::sync::OnceLock::new();

        /// # Safety
        /// See [`OxbCall`]($crate::library::OxbCall).
        unsafe extern "C" fn call(
            index: usize,
            args: *const $crate::library::OxbValue,
            nargs: usize,
            out: *mut $crate::library::OxbValue,
            err: *mut $crate::library::OxbError,
        ) -> $crate::OxbStatus {
            // SAFETY: the runtime's contract, passed on.
            unsafe { $crate::library::call(&$library, index, args, nargs, out, err) }
        }

        /// # Safety
        /// See [`OxbCallMany`]($crate::library::OxbCallMany).
        unsafe extern "C" fn call_many(
            index: usize,
            args: *const $crate::library::OxbValue,
            nargs: usize,
            out: $crate::library::OxbValue,
            err: *mut $crate::library::OxbError,
        ) -> $crate::OxbStatus {
            // SAFETY: the runtime's contract, passed on.
            unsafe { $crate::library::call_many(&$library, index, args, nargs, out, err) }
        }

        $crate::library::describe(&$library, &DESCRIBED, call, call_many)
    }};
}
