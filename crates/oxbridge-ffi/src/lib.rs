//! The C ABI of oxbridge.
//!
//! Every `oxb_*` function returns an [`OxbStatus`] and writes its result through
//! out-parameters; none unwinds: a panic becomes [`OXB_INTERNAL`]. When a
//! function fails and its `err` parameter is not null, it receives an owned
//! UTF-8 message, released with [`oxb_string_free`]. Strings go in as pointer
//! plus length, so they may hold NUL bytes; invalid UTF-8 is an
//! [`OXB_INVALID_ARGUMENT`], never undefined behaviour.
//!
//! Callers check [`oxb_abi_version`] against [`OXB_ABI_VERSION`] at load time.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use oxbridge_core::{Complex, CoreError, ErrorKind};

/// Bumped whenever a signature or struct in this header changes.
pub const OXB_ABI_VERSION: u32 = 4;

/// Status code returned by every `oxb_*` function.
pub type OxbStatus = i32;
/// Success.
pub const OXB_OK: OxbStatus = 0;
/// Division by zero.
pub const OXB_ZERO_DIVISION: OxbStatus = 1;
/// A bad argument: null pointer, invalid UTF-8, unknown operation.
pub const OXB_INVALID_ARGUMENT: OxbStatus = 2;
/// A fault inside oxbridge (a caught panic). Please report it.
pub const OXB_INTERNAL: OxbStatus = 3;
/// A result too large to represent.
pub const OXB_OVERFLOW: OxbStatus = 4;

// Literals above so that cbindgen can print them; the core's kinds decide.
const _: () = assert!(OXB_ZERO_DIVISION == ErrorKind::ZeroDivision.code());
const _: () = assert!(OXB_INVALID_ARGUMENT == ErrorKind::InvalidArgument.code());
const _: () = assert!(OXB_INTERNAL == ErrorKind::Internal.code());
const _: () = assert!(OXB_OVERFLOW == ErrorKind::Overflow.code());

/// A complex number: the layout of C's `double _Complex` and numpy's complex128.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OxbComplex {
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
}

impl From<OxbComplex> for Complex {
    fn from(z: OxbComplex) -> Self {
        Complex::new(z.re, z.im)
    }
}

impl From<Complex> for OxbComplex {
    fn from(z: Complex) -> Self {
        OxbComplex { re: z.re, im: z.im }
    }
}

/// A byte string owned by this library (UTF-8, not NUL-terminated).
/// Release it with [`oxb_string_free`]; `{NULL, 0}` is the empty value.
#[repr(C)]
#[derive(Debug)]
pub struct OxbString {
    /// First byte, or null when empty.
    pub ptr: *mut u8,
    /// Number of bytes.
    pub len: usize,
}

impl OxbString {
    const EMPTY: OxbString = OxbString {
        ptr: ptr::null_mut(),
        len: 0,
    };

    fn from_string(s: String) -> Self {
        Self::from_bytes(s.into_bytes())
    }

    fn from_bytes(bytes: Vec<u8>) -> Self {
        if bytes.is_empty() {
            return Self::EMPTY;
        }
        let boxed: Box<[u8]> = bytes.into_boxed_slice();
        let len = boxed.len();
        let ptr = Box::into_raw(boxed).cast::<u8>();
        OxbString { ptr, len }
    }
}

/// What went wrong inside an entry point, before it becomes a status.
#[doc(hidden)]
pub enum Failure {
    Core(CoreError),
    Panic(String),
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        Failure::Core(e)
    }
}

#[doc(hidden)]
pub fn null_argument(name: &'static str) -> Failure {
    Failure::Core(CoreError::InvalidArgument(format!(
        "argument '{name}' is a null pointer"
    )))
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// The calling thread's C `errno`, put back as it was when this is dropped.
///
/// A call into a library may leave `errno` set (the C library's `pow`,
/// `exp`, `hypot` set `ERANGE` on overflow) where the caller's own code
/// reads it later: CPython's complex `abs` of a NaN reads a stale `errno`
/// and raises `OverflowError`. Every bridge call in process holds one of
/// these, so a call leaves `errno` as it found it.
#[doc(hidden)]
pub struct KeepErrno(#[cfg(target_os = "linux")] libc::c_int);

impl KeepErrno {
    /// The value now, to be restored.
    #[must_use]
    #[inline]
    pub fn now() -> Self {
        #[cfg(target_os = "linux")]
        // SAFETY: `__errno_location` returns the calling thread's own
        // `errno`, valid for the thread's life.
        return KeepErrno(unsafe { *libc::__errno_location() });
        #[cfg(not(target_os = "linux"))]
        KeepErrno()
    }
}

impl Drop for KeepErrno {
    #[inline]
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        // SAFETY: as in `now`; this value was taken on this thread (the
        // type is neither `Send` nor moved across threads by its users).
        unsafe {
            *libc::__errno_location() = self.0;
        }
    }
}

/// Runs `body`, converting its error or panic into a status and, when `err` is
/// not null, an owned message. The one place where failures cross the ABI;
/// the caller's `errno` is left as it was (see [`KeepErrno`]).
///
/// # Safety
/// `err` is null or writable storage for one [`OxbString`].
#[doc(hidden)]
pub unsafe fn guard(err: *mut OxbString, body: impl FnOnce() -> Result<(), Failure>) -> OxbStatus {
    let _errno = KeepErrno::now();
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return OXB_OK,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::Panic(panic_message(payload.as_ref())),
    };
    let (status, message) = match failure {
        Failure::Core(e) => (e.kind().code(), e.to_string()),
        Failure::Panic(msg) => (OXB_INTERNAL, format!("internal error in oxbridge: {msg}")),
    };
    if !err.is_null() {
        // SAFETY: the caller passes either null or a pointer to writable
        // storage for one OxbString, as documented on every entry point.
        unsafe { err.write(OxbString::from_string(message)) };
    }
    status
}

/// `len` elements of `T` at `ptr`, borrowed: empty for a null `ptr` with
/// `len` 0, `None` for a null `ptr` with a length or one not aligned for
/// `T`. The one place the C ABI makes a slice of a pointer and a length.
///
/// # Safety
/// A non-null, aligned `ptr` points to `len` readable `T` that live for `'a`.
#[doc(hidden)]
#[must_use]
pub unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> Option<&'a [T]> {
    if ptr.is_null() {
        return (len == 0).then_some(&[]);
    }
    // SAFETY: non-null and aligned (checked); the caller promises the rest.
    ptr.is_aligned()
        .then(|| unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// [`slice`], writable.
///
/// # Safety
/// A non-null, aligned `ptr` points to `len` writable `T`, borrowed by
/// nothing else, that live for `'a`.
#[doc(hidden)]
#[must_use]
pub unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize) -> Option<&'a mut [T]> {
    if ptr.is_null() {
        return (len == 0).then_some(&mut []);
    }
    // SAFETY: non-null and aligned (checked); the caller promises the rest.
    ptr.is_aligned()
        .then(|| unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// The argument `name`'s elements, as [`slice`] makes them, or the error
/// every entry point gives for a null or misaligned pointer.
///
/// # Safety
/// As for [`slice`].
#[doc(hidden)]
pub unsafe fn slice_arg<'a, T>(
    ptr: *const T,
    len: usize,
    name: &'static str,
) -> Result<&'a [T], Failure> {
    // SAFETY: the caller's contract.
    unsafe { slice(ptr, len) }.ok_or_else(|| refused_pointer(ptr.is_null(), name))
}

/// The error for a pointer [`slice`] refused.
fn refused_pointer(null: bool, name: &'static str) -> Failure {
    if null {
        null_argument(name)
    } else {
        Failure::Core(CoreError::InvalidArgument(format!(
            "argument '{name}' is not aligned for its element type"
        )))
    }
}

/// [`slice_arg`], writable.
///
/// # Safety
/// As for [`slice_mut`].
#[doc(hidden)]
pub unsafe fn slice_arg_mut<'a, T>(
    ptr: *mut T,
    len: usize,
    name: &'static str,
) -> Result<&'a mut [T], Failure> {
    // SAFETY: the caller's contract.
    unsafe { slice_mut(ptr, len) }.ok_or_else(|| refused_pointer(ptr.is_null(), name))
}

/// Borrows `len` bytes at `ptr`; null is accepted only for an empty string.
///
/// # Safety
/// A non-null `ptr` must point to `len` readable bytes that outlive the call.
#[doc(hidden)]
pub unsafe fn bytes_arg<'a>(
    ptr: *const u8,
    len: usize,
    name: &'static str,
) -> Result<&'a [u8], Failure> {
    // SAFETY: the caller's contract.
    unsafe { slice_arg(ptr, len, name) }
}

/// Writes `value` to the out-parameter `out`, refusing null.
///
/// # Safety
/// A non-null `out` must be valid for a write of `T`.
#[doc(hidden)]
pub unsafe fn write_out<T>(out: *mut T, value: T) -> Result<(), Failure> {
    if out.is_null() {
        return Err(null_argument("out"));
    }
    // SAFETY: non-null, and the caller promises it is writable.
    unsafe { out.write(value) };
    Ok(())
}

/// The ABI version of this library; compare with [`OXB_ABI_VERSION`] of the
/// header the caller was built against.
#[no_mangle]
pub extern "C" fn oxb_abi_version() -> u32 {
    OXB_ABI_VERSION
}

/// Releases a string this library returned. `{NULL, 0}` is accepted and does
/// nothing; freeing the same string twice is the caller's bug, as with `free`.
///
/// # Safety
/// `s` came from this library and was not freed before.
#[no_mangle]
pub unsafe extern "C" fn oxb_string_free(s: OxbString) {
    if s.ptr.is_null() {
        return;
    }
    // SAFETY: `ptr`/`len` came from `OxbString::from_string`, which leaked a
    // `Box<[u8]>` of exactly this length.
    drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(s.ptr, s.len)) });
}

pub mod exported;
pub mod host;
pub mod library;
pub mod many;
pub mod values;

// The calculator's symbols, for this crate's own tests: a library's symbols
// are written into its own shared library (`oxbridge-c`, an extension), never
// into this crate, which every library links.
#[cfg(test)]
mod calculator {
    // The signatures name these types as the definitions do.
    use oxbridge_core::{Complex, CoreError};

    oxbridge_core::calculator_signatures!(crate::c_symbols, oxbridge_core::CALCULATOR);
}

#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod tests;
